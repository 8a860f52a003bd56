//! `eachAlive`: `each` restricted to members whose `alive` is true.
//!
//! Habitat's quirks, reproduced: over a list, `@index` counts the alive items from **1**, and
//! `@first`/`@last` mark the first and last alive item; over an object (`{{#eachAlive
//! svc.leader}}`), the block runs once per key of the object (with `@key` and `@first`, no
//! `@last` or `@index`) and only if the object itself is alive. The `{{else}}` branch runs only
//! when the parameter is falsy (missing, `null`, an empty list or object), not when a non-empty
//! list merely has no alive member: that renders nothing, as in Habitat. A truthy parameter that
//! is neither a list nor an object is an error.

use handlebars::{
    BlockContext, BlockParams, Context, Handlebars, Helper, HelperDef, HelperResult, Output,
    PathAndJson, RenderContext, RenderErrorReason, Renderable,
};
use serde_json::Value as Json;

use super::{fail, truthy};

#[derive(Clone, Copy)]
pub(super) struct EachAlive;

fn is_alive(item: &Json) -> bool {
    item.get("alive").and_then(Json::as_bool) == Some(true)
}

/// A block whose `this` is the helper's parameter: by path when it came from the context (so
/// `../` and `@root` keep working), by value otherwise.
fn new_block<'rc>(param: &PathAndJson<'rc>) -> BlockContext<'rc> {
    let mut block = BlockContext::new();
    match param.context_path() {
        Some(path) => block.base_path_mut().clone_from(path),
        None => block.set_base_value(param.value().clone()),
    }
    block
}

/// Points the block's `this` at one item (`base/segment`, or the item's value) and binds the
/// block parameters (`as |item key|`).
fn enter_item<'rc>(
    block: &mut BlockContext<'rc>,
    h: &Helper<'rc>,
    base: Option<&Vec<String>>,
    segment: String,
    key: Json,
    item: &Json,
) -> Result<(), handlebars::RenderError> {
    match base {
        Some(base) => {
            let mut path = Vec::with_capacity(base.len() + 1);
            path.extend_from_slice(base);
            path.push(segment);
            *block.base_path_mut() = path;
        }
        None => block.set_base_value(item.clone()),
    }
    let mut params = BlockParams::new();
    let value_name = match (h.block_param(), h.block_param_pair()) {
        (Some(name), _) => name,
        (None, Some((name, key_name))) => {
            params.add_value(key_name, key)?;
            name
        }
        (None, None) => return Ok(()),
    };
    match base {
        // Relative to the block's base path, which now is the item.
        Some(_) => params.add_path(value_name, Vec::new())?,
        None => params.add_value(value_name, item.clone())?,
    }
    block.set_block_params(params);
    Ok(())
}

impl HelperDef for EachAlive {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let param = h
            .param(0)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("eachAlive", 0))?;
        let Some(template) = h.template() else {
            return Ok(());
        };
        let value = param.value();
        if !truthy(value) {
            if let Some(inverse) = h.inverse() {
                inverse.render(r, ctx, rc, out)?;
            }
            return Ok(());
        }
        let base = param.context_path();
        match value {
            Json::Array(list) => {
                let alive: Vec<(usize, &Json)> = list
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| is_alive(m))
                    .collect();
                rc.push_block(new_block(param));
                for (n, (i, item)) in alive.iter().enumerate() {
                    if let Some(block) = rc.block_mut() {
                        let index = Json::from(n + 1);
                        block.set_local_var("first", Json::Bool(n == 0));
                        block.set_local_var("last", Json::Bool(n + 1 == alive.len()));
                        block.set_local_var("index", index.clone());
                        enter_item(block, h, base, i.to_string(), index, item)?;
                    }
                    template.render(r, ctx, rc, out)?;
                }
                rc.pop_block();
                Ok(())
            }
            Json::Object(object) => {
                if !is_alive(value) {
                    return Ok(());
                }
                rc.push_block(new_block(param));
                for (n, (key, item)) in object.iter().enumerate() {
                    if let Some(block) = rc.block_mut() {
                        block.set_local_var("first", Json::Bool(n == 0));
                        block.set_local_var("key", Json::from(key.as_str()));
                        enter_item(block, h, base, key.clone(), Json::from(key.as_str()), item)?;
                    }
                    template.render(r, ctx, rc, out)?;
                }
                rc.pop_block();
                Ok(())
            }
            _ => Err(fail(
                "eachAlive: the parameter is not iterable; give it a list of members or a member",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use crate::helpers::test_support::render;

    fn members() -> serde_json::Value {
        json!({ "members": [
            { "id": "a", "alive": false },
            { "id": "b", "alive": true },
            { "id": "c" },
            { "id": "d", "alive": true },
            "not a member",
            { "id": "e", "alive": "yes" },
            { "id": "f", "alive": true },
        ]})
    }

    #[test]
    fn iterates_alive_members_with_one_based_index() {
        let out = render(
            "{{#eachAlive members}}[{{@index}}{{#if @first}} first{{/if}}{{#if @last}} last{{/if}}:{{id}}]{{/eachAlive}}",
            &members(),
        );
        assert_eq!(out.unwrap(), "[1 first:b][2:d][3 last:f]");
    }

    #[test]
    fn block_params_and_parent_paths_work() {
        let data = json!({ "port": 6379, "members": members()["members"] });
        let out = render(
            "{{#eachAlive members as |m i|}}{{i}}={{m.id}}:{{../port}} {{/eachAlive}}",
            &data,
        );
        assert_eq!(out.unwrap(), "1=b:6379 2=d:6379 3=f:6379 ");
    }

    #[test]
    fn else_runs_only_for_a_falsy_parameter() {
        let t = "{{#eachAlive members}}{{id}}{{else}}nobody{{/eachAlive}}";
        assert_eq!(render(t, &json!({ "members": [] })).unwrap(), "nobody");
        assert_eq!(render(t, &json!({})).unwrap(), "nobody");
        // Habitat quirk: a non-empty list with no alive member renders nothing at all.
        let dead = json!({ "members": [{ "id": "a", "alive": false }] });
        assert_eq!(render(t, &dead).unwrap(), "");
    }

    #[test]
    fn an_object_renders_its_keys_only_if_alive() {
        let t = "{{#eachAlive leader}}{{#if @first}}^{{/if}}{{@key}}={{this}};{{/eachAlive}}";
        let alive = json!({ "leader": { "alive": true, "id": "b" } });
        assert_eq!(render(t, &alive).unwrap(), "^alive=true;id=b;");
        let dead = json!({ "leader": { "alive": false, "id": "b" } });
        assert_eq!(render(t, &dead).unwrap(), "");
    }

    #[test]
    fn a_scalar_parameter_is_an_error() {
        let err = render(
            "{{#eachAlive name}}x{{/eachAlive}}",
            &json!({ "name": "redis" }),
        )
        .unwrap_err();
        assert!(err.contains("not iterable"), "{err}");
    }

    #[test]
    fn works_on_values_without_a_context_path() {
        let t =
            "{{#with (lookup this \"members\")}}{{#eachAlive this}}{{id}}{{/eachAlive}}{{/with}}";
        assert_eq!(render(t, &members()).unwrap(), "bdf");
    }
}
