//! Checks shared by the client (before sending) and the server (before the handler): TOML
//! syntax, payload size, upload file names.
//!
//! Pure functions returning a one-line message. They check form only: whether a service group
//! exists or a version is new is the handler's business.

/// The most a gossiped configuration or file may hold, in bytes (Habitat's limit: 64 KiB).
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// The largest request the server decodes, in bytes (a payload plus its fields, with room).
/// A larger request is refused before it reaches the handler.
pub const MAX_REQUEST_BYTES: usize = 128 * 1024;

/// Checks that `bytes` is a UTF-8 TOML document. `Err` is one line with the parser's message and
/// its position, e.g. `invalid TOML at line 2, column 5: string values must be quoted`.
///
/// An empty document is valid (an empty table), as it is for Habitat.
pub fn validate_toml(bytes: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "the configuration is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        )
    })?;
    match text.parse::<toml::Table>() {
        Ok(_) => Ok(()),
        Err(e) => {
            let message = one_line(e.message());
            Err(match e.span() {
                Some(span) => {
                    let (line, column) = position(text, span.start);
                    format!("invalid TOML at line {line}, column {column}: {message}")
                }
                None => format!("invalid TOML: {message}"),
            })
        }
    }
}

/// Checks the form of an encrypted payload: UTF-8 text of five lines, the first `BOX-1`
/// (Habitat's box, spec §5.2). Only a holder of the service's secret key can check the rest.
pub fn validate_box(bytes: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "the encrypted payload is not UTF-8 text (expected a BOX-1 box)".to_owned())?;
    let lines: Vec<&str> = text.trim_end().lines().collect();
    if lines.first() != Some(&"BOX-1") || lines.len() != 5 {
        return Err(
            "the encrypted payload is not a BOX-1 box (five lines, the first BOX-1)".to_owned(),
        );
    }
    Ok(())
}

/// Checks that `name` is a plain file name: not empty, no `/` (nor `\`), not `.` or `..`, no
/// NUL or other control character, at most 255 bytes.
pub fn validate_filename(name: &str) -> Result<(), String> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.contains(['/', '\\']) {
        Some("contains a path separator; give a plain file name")
    } else if name == "." || name == ".." {
        Some("is not a file name")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else if name.len() > 255 {
        Some("is longer than 255 bytes")
    } else {
        None
    };
    match problem {
        Some(p) => Err(format!("the file name {name:?} {p}")),
        None => Ok(()),
    }
}

/// Checks a payload's length against [`MAX_PAYLOAD_BYTES`]; `what` names it in the message.
pub(crate) fn check_payload_size(len: usize, what: &str) -> Result<(), String> {
    if len > MAX_PAYLOAD_BYTES {
        Err(format!(
            "the {what} is {len} bytes; the most that can be gossiped is {MAX_PAYLOAD_BYTES} bytes (64 KiB)"
        ))
    } else {
        Ok(())
    }
}

/// 1-based line and column (in characters) of byte offset `at` in `text`.
fn position(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .unwrap_or_default()
        .chars()
        .count()
        + 1;
    (line, column)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn toml_ok_and_empty() {
        assert_eq!(validate_toml(b"port = 6379\n[a]\nb = \"c\"\n"), Ok(()));
        assert_eq!(validate_toml(b""), Ok(()));
    }

    #[test]
    fn toml_errors_carry_position_and_message() {
        let e = validate_toml(b"port = 6379\nname = bare\n").unwrap_err();
        assert!(e.starts_with("invalid TOML at line 2, column 8: "), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = validate_toml(b"a = 1\na = 2\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("duplicate"), "{e}");
    }

    #[test]
    fn toml_not_utf8() {
        let e = validate_toml(b"a = \"\xff\"").unwrap_err();
        assert_eq!(
            e,
            "the configuration is not UTF-8 (invalid byte at offset 5)"
        );
    }

    #[test]
    fn filenames() {
        for ok in ["redis.conf", "a b", ".hidden", "x..y"] {
            assert_eq!(validate_filename(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a/b", "/etc/passwd", "..", ".", "a\\b", "a\0b", "a\nb"] {
            assert!(validate_filename(bad).is_err(), "{bad:?}");
        }
        assert!(validate_filename(&"x".repeat(256)).is_err());
        assert!(validate_filename(&"x".repeat(255)).is_ok());
    }

    #[test]
    fn payload_limit_is_inclusive() {
        assert!(check_payload_size(MAX_PAYLOAD_BYTES, "file").is_ok());
        let e = check_payload_size(MAX_PAYLOAD_BYTES + 1, "file").unwrap_err();
        assert_eq!(
            e,
            "the file is 65537 bytes; the most that can be gossiped is 65536 bytes (64 KiB)"
        );
    }
}
