//! Forwarding a child's output line by line.

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Longest line [`for_each_line`] passes on in one piece, in bytes; longer lines are split.
pub const MAX_LINE: usize = 64 * 1024;

/// Reads `reader` line by line until EOF (or a read error), calling `f` for each line without
/// its `\n`. Invalid UTF-8 is replaced (lossy). A line longer than [`MAX_LINE`] bytes is passed on
/// in pieces of at most that size, cut before a multi-byte character rather than through it. A
/// last line without a newline is passed on at EOF.
pub async fn for_each_line(reader: impl AsyncRead + Unpin, mut f: impl FnMut(&str)) {
    let mut reader = BufReader::new(reader);
    let mut line: Vec<u8> = Vec::new();
    loop {
        let buf = match reader.fill_buf().await {
            Ok([]) => break,
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::debug!(error = %e, "reading child output");
                break;
            }
        };
        if line.len() == MAX_LINE {
            // Split only once we know the line goes on, so a line of exactly MAX_LINE bytes is
            // not followed by an empty one.
            if buf[0] == b'\n' {
                reader.consume(1);
                emit_all(&mut line, &mut f);
                continue;
            }
            let cut = char_boundary(&line);
            emit(&mut line, cut, &mut f);
        }
        let take = &buf[..buf.len().min(MAX_LINE - line.len())];
        match take.iter().position(|&b| b == b'\n') {
            Some(i) => {
                line.extend_from_slice(&take[..i]);
                reader.consume(i + 1);
                emit_all(&mut line, &mut f);
            }
            None => {
                let n = take.len();
                line.extend_from_slice(take);
                reader.consume(n);
            }
        }
    }
    if !line.is_empty() {
        emit_all(&mut line, &mut f);
    }
}

/// Passes `line[..end]` to `f` and keeps the rest (an incomplete character) for the next piece.
fn emit(line: &mut Vec<u8>, end: usize, f: &mut impl FnMut(&str)) {
    f(&String::from_utf8_lossy(&line[..end]));
    line.drain(..end);
}

/// Passes all of `line` to `f`.
fn emit_all(line: &mut Vec<u8>, f: &mut impl FnMut(&str)) {
    let end = line.len();
    emit(line, end, f);
}

/// Where to cut a full buffer: before a trailing, incomplete UTF-8 character, else at the end.
fn char_boundary(b: &[u8]) -> usize {
    let n = b.len();
    for back in 1..=n.min(4) {
        let byte = b[n - back];
        if byte & 0xC0 != 0x80 {
            let len = match byte {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => 1,
            };
            return if len > back { n - back } else { n };
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(input: &[u8]) -> Vec<String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut out = Vec::new();
        rt.block_on(for_each_line(input, |l| out.push(l.to_owned())));
        out
    }

    #[test]
    fn lines_are_split_on_newlines_and_the_last_one_needs_none() {
        assert_eq!(lines_of(b"a\nb\n\nc"), ["a", "b", "", "c"]);
        assert_eq!(lines_of(b"a\n"), ["a"]);
        assert!(lines_of(b"").is_empty());
        assert_eq!(lines_of(b"bad \xff byte\n"), ["bad \u{fffd} byte"]);
    }

    #[test]
    fn long_lines_are_split_at_max_line() {
        let mut input = vec![b'a'; 100 * 1024];
        input.extend_from_slice(b"\nnext\n");
        let out = lines_of(&input);
        assert_eq!(out.len(), 3);
        assert_eq!(
            (out[0].len(), out[1].len()),
            (MAX_LINE, 100 * 1024 - MAX_LINE)
        );
        assert_eq!(out[2], "next");

        // Exactly MAX_LINE bytes, then a newline: one line, no empty one after it.
        let mut input = vec![b'b'; MAX_LINE];
        input.extend_from_slice(b"\nz");
        let out = lines_of(&input);
        assert_eq!(
            out.iter().map(String::len).collect::<Vec<_>>(),
            [MAX_LINE, 1]
        );
    }

    #[test]
    fn long_lines_are_not_cut_through_a_character() {
        let line = "€".repeat(30_000); // 3 bytes each; MAX_LINE is not a multiple of 3
        let out = lines_of(format!("{line}\n").as_bytes());
        assert_eq!(out.len(), 2);
        assert!(
            out.iter()
                .all(|l| !l.contains('\u{fffd}') && l.len() <= MAX_LINE)
        );
        assert_eq!(out.concat(), line);
    }
}
