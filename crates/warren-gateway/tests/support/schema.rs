//! A JSON-schema checker for the subset Habitat's gateway schemas use: `type` (one or a list),
//! `enum`, `required`, `properties`, `additionalProperties` (a schema or `false`), `items`,
//! `oneOf`, and `$ref` to `#/definitions/…` or to `<file>#/definitions/…` in a sibling schema.
//! Everything else (`description`, `default`, `examples`, `$deprecated`, `$comment`) is
//! ignored. It reports every problem, with its JSON path, rather than stopping at the first.

use std::collections::HashMap;

use serde_json::Value;

/// Schemas by file name, for `$ref`s to other files; `fallback` names a file whose
/// `definitions` are used when a `#/definitions/x` is missing locally (Habitat's services
/// schema refers to a `package_identifier` that only `render_context_schema.json` defines).
pub struct Schemas {
    pub files: HashMap<String, Value>,
    pub fallback: Option<String>,
}

impl Schemas {
    pub fn none() -> Self {
        Schemas {
            files: HashMap::new(),
            fallback: None,
        }
    }
}

pub fn check(schema: &Value, doc: &Value, ext: &Schemas) -> Vec<String> {
    let mut errs = Vec::new();
    walk(schema, schema, doc, "$", ext, &mut errs);
    errs
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn definition<'a>(root: &'a Value, name: &str) -> Option<&'a Value> {
    root.get("definitions")?.get(name)
}

fn walk(root: &Value, schema: &Value, v: &Value, at: &str, ext: &Schemas, errs: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let (file, pointer) = r.split_once('#').unwrap_or((r, ""));
        let name = pointer.strip_prefix("/definitions/").unwrap_or("");
        let target_root = if file.is_empty() {
            root
        } else {
            ext.files.get(file).unwrap_or(&Value::Null)
        };
        let found = definition(target_root, name)
            .map(|d| (target_root, d))
            .or_else(|| {
                let fb = ext.files.get(ext.fallback.as_deref()?)?;
                definition(fb, name).map(|d| (fb, d))
            });
        match found {
            Some((r2, d)) => walk(r2, d, v, at, ext, errs),
            None => errs.push(format!("{at}: unresolved $ref {r}")),
        }
    }
    if let Some(t) = schema.get("type") {
        let wanted: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let actual = type_name(v);
        let ok = wanted.contains(&actual) || (actual == "integer" && wanted.contains(&"number"));
        if !ok {
            errs.push(format!("{at}: is {actual}, schema wants {wanted:?}"));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(v)
    {
        errs.push(format!("{at}: {v} is not one of {options:?}"));
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|o| {
                let mut e = Vec::new();
                walk(root, o, v, at, ext, &mut e);
                e.is_empty()
            })
            .count();
        if matching != 1 {
            errs.push(format!(
                "{at}: matches {matching} of oneOf's {} options",
                options.len()
            ));
        }
    }
    if let Value::Object(obj) = v {
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for k in req.iter().filter_map(Value::as_str) {
                if !obj.contains_key(k) {
                    errs.push(format!("{at}: missing required key {k:?}"));
                }
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, child) in obj {
            let path = format!("{at}.{k}");
            match props.and_then(|p| p.get(k)) {
                Some(s) => walk(root, s, child, &path, ext, errs),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => errs.push(format!("{path}: key not allowed")),
                    Some(s @ Value::Object(_)) => walk(root, s, child, &path, ext, errs),
                    _ => {}
                },
            }
        }
    }
    if let (Value::Array(items), Some(s)) = (v, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            walk(root, s, item, &format!("{at}[{i}]"), ext, errs);
        }
    }
}
