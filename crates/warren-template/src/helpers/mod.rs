//! Habitat's template helpers (spec §8.4), registered on a handlebars registry next to
//! handlebars' own built-ins (`if`, `unless`, `each`, `with`, `lookup`, `raw`, `log`, `eq`,
//! `ne`, `gt`, `gte`, `lt`, `lte`, `and`, `or`, `not`, `len`).
//!
//! Each helper reproduces Habitat's behaviour, quirks included, and its error messages; where
//! Habitat would panic (an `alive` that is not a boolean, a `pkg.deps` that is not a list) these
//! treat the value as absent instead. They do not read anything outside the render context,
//! except `pkgPathFor`, which needs the file-system root the paths are under.

mod each_alive;
mod pkg_path_for;
mod serialize;
mod strings;

use std::path::PathBuf;

use handlebars::{Handlebars, RenderError, RenderErrorReason};
use serde_json::Value as Json;

/// Registers every Habitat helper on `registry`. `fs_root` prefixes the paths `pkgPathFor`
/// returns (`/` on a normal host).
pub(crate) fn register(registry: &mut Handlebars<'static>, fs_root: PathBuf) {
    registry.register_helper("eachAlive", Box::new(each_alive::EachAlive));
    registry.register_helper("pkgPathFor", Box::new(pkg_path_for::PkgPathFor { fs_root }));
    registry.register_helper("strConcat", Box::new(strings::StrConcat));
    registry.register_helper("strJoin", Box::new(strings::StrJoin));
    registry.register_helper("strReplace", Box::new(strings::StrReplace));
    registry.register_helper("toUppercase", Box::new(strings::TO_UPPERCASE));
    registry.register_helper("toLowercase", Box::new(strings::TO_LOWERCASE));
    registry.register_helper("toJson", Box::new(serialize::ToJson));
    registry.register_helper("toToml", Box::new(serialize::ToToml));
    registry.register_helper("toYaml", Box::new(serialize::ToYaml));
}

/// A helper failure carrying Habitat's message.
fn fail(message: impl Into<String>) -> RenderError {
    RenderErrorReason::Other(message.into()).into()
}

/// Habitat's own truthiness (its `JsonTruthy`): zero and non-finite numbers are false, as are
/// empty strings, lists and objects.
fn truthy(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(f64::is_normal),
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
    }
}

/// A value as Habitat's `strConcat` and `strJoin` print it: compact JSON with every `"`
/// removed (so strings lose their quotes, and any quote inside them too).
fn unquoted(value: &Json) -> String {
    value.to_string().replace('"', "")
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Renders a one-off template with every helper registered, for the helper tests.

    use handlebars::Handlebars;
    use serde_json::Value;

    pub(crate) fn registry() -> Handlebars<'static> {
        let mut hb = Handlebars::new();
        hb.register_escape_fn(handlebars::no_escape);
        super::register(&mut hb, "/".into());
        hb
    }

    pub(crate) fn render(template: &str, data: &Value) -> Result<String, String> {
        registry()
            .render_template(template, data)
            .map_err(|e| e.to_string())
    }
}
