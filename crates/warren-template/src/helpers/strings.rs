//! String helpers: `strConcat`, `strJoin`, `strReplace`, `toUppercase`, `toLowercase`.
//!
//! Habitat's quirks, reproduced: `strConcat` and `strJoin` print each value as compact JSON with
//! every `"` removed (numbers and booleans as written, lists as `[a,b]`, a string's own quotes
//! gone) and skip objects; the other three take strings only and fail on anything else, with
//! Habitat's messages.

use handlebars::{Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext};

use super::{fail, unquoted};

fn str_param<'a>(h: &'a Helper<'_>, index: usize) -> Option<&'a str> {
    h.param(index).and_then(|p| p.value().as_str())
}

#[derive(Clone, Copy)]
pub(super) struct StrConcat;

impl HelperDef for StrConcat {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        for param in h.params() {
            let value = param.value();
            if !value.is_object() {
                out.write(&unquoted(value))?;
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
pub(super) struct StrJoin;

impl HelperDef for StrJoin {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let usage = || fail("Expected 2 parameters for \"strJoin\"");
        let list = h
            .param(0)
            .and_then(|p| p.value().as_array())
            .ok_or_else(usage)?;
        let separator = str_param(h, 1).ok_or_else(usage)?;
        let joined = list
            .iter()
            .filter(|v| !v.is_object())
            .map(unquoted)
            .collect::<Vec<_>>()
            .join(separator);
        out.write(&joined)?;
        Ok(())
    }
}

#[derive(Clone, Copy)]
pub(super) struct StrReplace;

impl HelperDef for StrReplace {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let usage = || fail("Expected 3 string parameters for \"strReplace\"");
        let text = str_param(h, 0).ok_or_else(usage)?;
        let old = str_param(h, 1).ok_or_else(usage)?;
        let new = str_param(h, 2).ok_or_else(usage)?;
        out.write(&text.replace(old, new))?;
        Ok(())
    }
}

/// `toUppercase` / `toLowercase`: one string parameter, converted.
#[derive(Clone, Copy)]
pub(super) struct ChangeCase {
    pub(super) name: &'static str,
    pub(super) convert: fn(&str) -> String,
}

/// `toUppercase`.
pub(super) const TO_UPPERCASE: ChangeCase = ChangeCase {
    name: "toUppercase",
    convert: str::to_uppercase,
};

/// `toLowercase`.
pub(super) const TO_LOWERCASE: ChangeCase = ChangeCase {
    name: "toLowercase",
    convert: str::to_lowercase,
};

impl HelperDef for ChangeCase {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let text = str_param(h, 0)
            .ok_or_else(|| fail(format!("Expected a string parameter for \"{}\"", self.name)))?;
        out.write(&(self.convert)(text))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use crate::helpers::test_support::render;

    #[test]
    fn str_concat_strips_quotes_and_skips_objects() {
        let data = json!({
            "host": "db", "port": 5432, "on": true, "list": ["a", 1], "obj": { "x": 1 },
            "quoted": "say \"hi\"",
        });
        let out = render(
            "{{strConcat host \":\" port \"/\" on obj list \"-\" quoted missing}}",
            &data,
        );
        // A missing value is null, which prints as `null` (Habitat does the same).
        assert_eq!(out.unwrap(), "db:5432/true[a,1]-say \\hi\\null");
    }

    #[test]
    fn str_concat_works_as_a_subexpression() {
        let data = json!({ "a": "x", "b": "y" });
        let out = render("{{#if (eq (strConcat a b) \"xy\")}}same{{/if}}", &data);
        assert_eq!(out.unwrap(), "same");
    }

    #[test]
    fn str_join_joins_non_objects() {
        let data = json!({ "list": ["a", 2, { "skip": true }, false, null] });
        assert_eq!(
            render("{{strJoin list \",\"}}", &data).unwrap(),
            "a,2,false,null"
        );
        assert_eq!(
            render("{{strJoin empty \",\"}}", &json!({ "empty": [] })).unwrap(),
            ""
        );
    }

    #[test]
    fn str_join_needs_a_list_and_a_separator() {
        for t in [
            "{{strJoin list}}",
            "{{strJoin \"abc\" \",\"}}",
            "{{strJoin list 1}}",
        ] {
            let err = render(t, &json!({ "list": ["a"] })).unwrap_err();
            assert!(
                err.contains("Expected 2 parameters for \"strJoin\""),
                "{t}: {err}"
            );
        }
    }

    #[test]
    fn str_replace_replaces_every_occurrence() {
        let data = json!({ "path": "/a/b/c" });
        assert_eq!(
            render("{{strReplace path \"/\" \"_\"}}", &data).unwrap(),
            "_a_b_c"
        );
        let err = render("{{strReplace path \"/\"}}", &data).unwrap_err();
        assert!(err.contains("Expected 3 string parameters"), "{err}");
        let err = render("{{strReplace 12 \"1\" \"2\"}}", &data).unwrap_err();
        assert!(err.contains("Expected 3 string parameters"), "{err}");
    }

    #[test]
    fn case_conversion() {
        let data = json!({ "v": "MiXed ß", "n": 1 });
        assert_eq!(render("{{toUppercase v}}", &data).unwrap(), "MIXED SS");
        assert_eq!(render("{{toLowercase v}}", &data).unwrap(), "mixed ß");
        let err = render("{{toUppercase n}}", &data).unwrap_err();
        assert!(
            err.contains("Expected a string parameter for \"toUppercase\""),
            "{err}"
        );
        let err = render("{{toLowercase missing}}", &data).unwrap_err();
        assert!(
            err.contains("Expected a string parameter for \"toLowercase\""),
            "{err}"
        );
    }
}
