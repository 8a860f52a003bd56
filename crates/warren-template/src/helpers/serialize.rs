//! Serialization helpers: `toJson`, `toToml`, `toYaml`.
//!
//! `toJson` is serde_json's pretty printer (two-space indent, no trailing newline). `toToml`
//! turns an object into a TOML document (values before tables, ending in a newline) and
//! anything else into a bare TOML value (`"text"`, `42`, `["a", "b"]`); `null` has no TOML form
//! and is an error, as in Habitat. `toYaml` is `serde_yaml` 0.9's output (no `---` header,
//! trailing newline), produced by `serde_norway`: serde_yaml is deprecated and unmaintained, and
//! serde_norway is a maintained fork of serde_yaml 0.9 *and* of the libyaml port under it that
//! keeps its output format, so `toYaml` prints what a Habitat built against serde_yaml prints.
//! (serde_yaml_ng, the other fork, still depends on the unmaintained `unsafe-libyaml`.)

use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
};
use serde_json::Value as Json;

use super::fail;

fn first_param<'a>(h: &'a Helper<'_>, name: &str) -> Result<&'a Json, RenderError> {
    h.param(0)
        .map(|p| p.value())
        .ok_or_else(|| fail(format!("Expected 1 parameter for \"{name}\"")))
}

#[derive(Clone, Copy)]
pub(super) struct ToJson;

impl HelperDef for ToJson {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let value = first_param(h, "toJson")?;
        let json = serde_json::to_string_pretty(value)
            .map_err(|e| fail(format!("Can't serialize parameter to JSON: {e}")))?;
        out.write(&json)?;
        Ok(())
    }
}

#[derive(Clone, Copy)]
pub(super) struct ToToml;

/// TOML text for a JSON value: a document for an object, a bare value otherwise.
pub(super) fn to_toml(value: &Json) -> Result<String, toml::ser::Error> {
    if value.is_object() {
        toml::to_string(value)
    } else {
        let mut text = String::new();
        serde::Serialize::serialize(value, toml::ser::ValueSerializer::new(&mut text))?;
        Ok(text)
    }
}

impl HelperDef for ToToml {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let value = first_param(h, "toToml")?;
        let toml =
            to_toml(value).map_err(|e| fail(format!("Can't serialize parameter to TOML: {e}")))?;
        out.write(&toml)?;
        Ok(())
    }
}

#[derive(Clone, Copy)]
pub(super) struct ToYaml;

impl HelperDef for ToYaml {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let value = first_param(h, "toYaml")?;
        let yaml = serde_norway::to_string(value)
            .map_err(|e| fail(format!("Can't serialize parameter to YAML: {e}")))?;
        out.write(&yaml)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use expect_test::expect;
    use serde_json::json;

    use crate::helpers::test_support::render;

    fn data() -> serde_json::Value {
        json!({
            "cfg": {
                "port": 6379,
                "name": "redis",
                "tls": { "enabled": false, "ciphers": ["A", "B"] },
                "users": [{ "name": "x" }],
                "ratio": 0.5,
            }
        })
    }

    #[test]
    fn to_json_is_pretty() {
        expect![[r#"
            {
              "enabled": false,
              "ciphers": [
                "A",
                "B"
              ]
            }"#]]
        .assert_eq(&render("{{toJson cfg.tls}}", &data()).unwrap());
        assert_eq!(render("{{toJson cfg.port}}", &data()).unwrap(), "6379");
        assert_eq!(render("{{toJson cfg.missing}}", &data()).unwrap(), "null");
    }

    #[test]
    fn to_toml_table_is_a_document_with_tables_last() {
        expect![[r#"
            port = 6379
            name = "redis"
            ratio = 0.5

            [tls]
            enabled = false
            ciphers = ["A", "B"]

            [[users]]
            name = "x"
        "#]]
        .assert_eq(&render("{{toToml cfg}}", &data()).unwrap());
    }

    #[test]
    fn to_toml_scalar_is_a_bare_value() {
        let out = render(
            "name = {{toToml cfg.name}}\nport = {{toToml cfg.port}}\nciphers = {{toToml cfg.tls.ciphers}}",
            &data(),
        );
        assert_eq!(
            out.unwrap(),
            "name = \"redis\"\nport = 6379\nciphers = [\"A\", \"B\"]"
        );
        let err = render("{{toToml cfg.missing}}", &data()).unwrap_err();
        assert!(err.contains("Can't serialize parameter to TOML"), "{err}");
    }

    #[test]
    fn to_yaml_matches_serde_yaml() {
        expect![[r#"
            enabled: false
            ciphers:
            - A
            - B
        "#]]
        .assert_eq(&render("{{toYaml cfg.tls}}", &data()).unwrap());
        assert_eq!(render("{{toYaml cfg.name}}", &data()).unwrap(), "redis\n");
    }
}
