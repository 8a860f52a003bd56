//! Habitat's legacy `obj[idx]` indexing, rewritten to `obj.[idx]` before a template is parsed.
//!
//! Old handlebars versions accepted `{{svc.members[0].sys.ip}}`; today's reject it (or, worse,
//! read `x[0]` as a helper call with a literal argument). Habitat only prints a deprecation
//! warning (habitat#6323). Warren rewrites the expression so such plans keep rendering, and
//! reports a [`LegacySyntaxWarning`] per line so the author can fix the template.
//!
//! Only `[` glued to a path inside a mustache (`{{ ... }}`) is touched: plain text such as
//! TOML's `[section]`, quoted string literals, `{{! comments }}`, a `[` after a space (a
//! handlebars segment literal, `{{lookup this [a b]}}`) and the inside of a segment literal are
//! left alone. Raw blocks (`{{{{raw}}}}`) are not recognised; their content is treated like any
//! other template text.

use std::fmt;

/// A line that used the legacy `obj[idx]` syntax and was rewritten.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacySyntaxWarning {
    /// The template file (or name, for templates registered from a string).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// The line as written.
    pub original: String,
    /// The line as rendered.
    pub rewritten: String,
}

impl fmt::Display for LegacySyntaxWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: deprecated object access syntax; use 'object.[index]' instead of \
             'object[index]' (habitat#6323): change '{}' to '{}'",
            self.file,
            self.line,
            self.original.trim(),
            self.rewritten.trim()
        )
    }
}

/// Rewrites every legacy index in `source`. Returns `None` when there is none, so the common
/// case costs no allocation.
pub(crate) fn rewrite(source: &str) -> Option<String> {
    if !source.contains('[') {
        return None;
    }
    let mut out = String::with_capacity(source.len() + 8);
    let mut changed = false;
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        let (text, tail) = rest.split_at(open);
        out.push_str(text);
        let consumed = rewrite_mustache(tail, &mut out, &mut changed);
        rest = tail.get(consumed..).unwrap_or("");
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// Copies one mustache starting at `tail` (which begins with `{{`) into `out`, rewriting legacy
/// indexes; returns how many bytes it consumed.
fn rewrite_mustache(tail: &str, out: &mut String, changed: &mut bool) -> usize {
    let body_start = tail.len() - tail.trim_start_matches('{').len();
    let body = tail.get(body_start..).unwrap_or("");
    let body = body.strip_prefix('~').unwrap_or(body);
    let end = if body.starts_with("!--") {
        tail.find("--}}").map(|i| i + 4)
    } else if body.starts_with('!') {
        tail.find("}}").map(|i| i + 2)
    } else {
        None
    };
    if body.starts_with('!') {
        // A comment: copied as is, up to its end (or to the end of the template).
        let end = end.unwrap_or(tail.len());
        out.push_str(tail.get(..end).unwrap_or(tail));
        return end;
    }

    let mut quote: Option<char> = None;
    let mut in_segment = false;
    let mut prev: Option<char> = None;
    let mut iter = tail.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else if in_segment {
            if c == ']' {
                in_segment = false;
            }
        } else if c == '"' || c == '\'' {
            quote = Some(c);
        } else if c == '[' {
            if prev.is_some_and(|p| p.is_alphanumeric() || matches!(p, '_' | '-' | ']')) {
                out.push('.');
                *changed = true;
            }
            in_segment = true;
        } else if c == '}' && i >= body_start && iter.peek().is_some_and(|(_, n)| *n == '}') {
            // The closing braces (two or three) end the mustache.
            let close = tail.get(i..).unwrap_or("");
            let n = close.len() - close.trim_start_matches('}').len();
            out.push_str(close.get(..n).unwrap_or(close));
            return i + n;
        }
        out.push(c);
        prev = Some(c);
    }
    tail.len()
}

/// One warning per line that `rewrite` changed. `rewritten` must come from `rewrite(original)`:
/// the rewrite only inserts `.` characters, so lines correspond one to one.
pub(crate) fn warnings(file: &str, original: &str, rewritten: &str) -> Vec<LegacySyntaxWarning> {
    original
        .lines()
        .zip(rewritten.lines())
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| LegacySyntaxWarning {
            file: file.to_owned(),
            line: i + 1,
            original: a.to_owned(),
            rewritten: b.to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn rewrites_indexes_glued_to_paths() {
        let cases = [
            (
                "{{bind.db.members[0].sys.ip}}",
                "{{bind.db.members.[0].sys.ip}}",
            ),
            ("{{a[0][1]}}", "{{a.[0].[1]}}"),
            (
                "{{#if svc.members[1]}}x{{/if}}",
                "{{#if svc.members.[1]}}x{{/if}}",
            ),
            ("{{{cfg.list[2]}}}", "{{{cfg.list.[2]}}}"),
            ("{{~ cfg.x[0] ~}}", "{{~ cfg.x.[0] ~}}"),
            ("a\n{{x[0]}} [b] {{y[1]}}", "a\n{{x.[0]}} [b] {{y.[1]}}"),
        ];
        for (from, to) in cases {
            assert_eq!(rewrite(from).as_deref(), Some(to), "{from}");
        }
    }

    #[test]
    fn leaves_everything_else_alone() {
        for src in [
            "[section]\nkey = 1\n[[array.of.tables]]",
            "{{members.[0]}}",
            "{{lookup this [a b]}}",
            "{{strConcat \"a[0]\" 'b[1]'}}",
            "{{! a[0] }}{{!-- b[0] }} --}}",
            "{{x}} y[0]",
            "{{a.[b[0]]}}",
            "no mustache [0]",
            "unterminated {{ a",
        ] {
            assert_eq!(rewrite(src), None, "{src}");
        }
    }

    #[test]
    fn warnings_name_file_and_line() {
        let src = "port {{cfg.port}}\nreplica {{svc.members[0].sys.ip}}\n";
        let new = rewrite(src).unwrap();
        let w = warnings("config/redis.config", src, &new);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, 2);
        let text = w[0].to_string();
        assert!(
            text.starts_with("config/redis.config:2: deprecated"),
            "{text}"
        );
        assert!(
            text.contains("'replica {{svc.members.[0].sys.ip}}'"),
            "{text}"
        );
    }
}
