//! Test helpers: locating Habitat's captured bytes, a minimal protobuf text-format reader, and a
//! minimal ZMTP frame splitter. Test-only; not a general parser of either format.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

/// `/work/shared/habitat/wire` (beside the repository), or a clear failure.
pub fn wire_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/habitat/wire");
    assert!(
        dir.is_dir(),
        "captured Habitat wire fixtures not found at {}; they live in shared/habitat/wire beside \
         the repository checkout (e.g. /work/shared next to /work/main)",
        dir.display()
    );
    dir
}

/// Files in `dir` whose names end with `suffix`, sorted.
pub fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().ends_with(suffix))
        .collect();
    v.sort();
    v
}

/// A value in protobuf text format.
#[derive(Debug, Clone)]
pub enum Value {
    /// A quoted string, unescaped to bytes.
    Str(Vec<u8>),
    /// A number, enum name or boolean, as written.
    Scalar(String),
    /// A nested message.
    Msg(Node),
}

/// A message in protobuf text format: its fields in order.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub fields: Vec<(String, Value)>,
}

impl Node {
    pub fn parse(text: &str) -> Node {
        let mut p = Parser {
            b: text.as_bytes(),
            i: 0,
        };
        let n = p.message();
        p.ws();
        assert_eq!(p.i, p.b.len(), "trailing text in text-format input");
        n
    }

    pub fn all(&self, name: &str) -> Vec<&Value> {
        self.fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v)
            .collect()
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn msg(&self, name: &str) -> &Node {
        match self.get(name) {
            Some(Value::Msg(n)) => n,
            other => panic!("field {name}: expected a message, got {other:?}"),
        }
    }

    pub fn msgs(&self, name: &str) -> Vec<&Node> {
        self.all(name)
            .into_iter()
            .map(|v| match v {
                Value::Msg(n) => n,
                other => panic!("field {name}: expected a message, got {other:?}"),
            })
            .collect()
    }

    pub fn bytes(&self, name: &str) -> Vec<u8> {
        match self.get(name) {
            Some(Value::Str(s)) => s.clone(),
            other => panic!("field {name}: expected a string, got {other:?}"),
        }
    }

    pub fn str(&self, name: &str) -> String {
        String::from_utf8(self.bytes(name)).unwrap()
    }

    pub fn strs(&self, name: &str) -> Vec<String> {
        self.all(name)
            .into_iter()
            .map(|v| match v {
                Value::Str(s) => String::from_utf8(s.clone()).unwrap(),
                other => panic!("field {name}: expected a string, got {other:?}"),
            })
            .collect()
    }

    pub fn scalar(&self, name: &str) -> &str {
        match self.get(name) {
            Some(Value::Scalar(s)) => s,
            other => panic!("field {name}: expected a scalar, got {other:?}"),
        }
    }

    pub fn u64(&self, name: &str) -> u64 {
        self.scalar(name).parse().unwrap()
    }

    pub fn boolean(&self, name: &str) -> bool {
        match self.scalar(name) {
            "true" => true,
            "false" => false,
            other => panic!("field {name}: {other} is not a bool"),
        }
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn message(&mut self) -> Node {
        let mut node = Node::default();
        while let Some(c) = self.peek() {
            if c == b'}' {
                break;
            }
            let start = self.i;
            while self.i < self.b.len()
                && (self.b[self.i].is_ascii_alphanumeric() || self.b[self.i] == b'_')
            {
                self.i += 1;
            }
            assert!(self.i > start, "expected a field name at byte {start}");
            let name = String::from_utf8(self.b[start..self.i].to_vec()).unwrap();
            match self.peek() {
                Some(b'{') => {
                    self.i += 1;
                    let inner = self.message();
                    assert_eq!(self.peek(), Some(b'}'), "unclosed message {name}");
                    self.i += 1;
                    node.fields.push((name, Value::Msg(inner)));
                }
                Some(b':') => {
                    self.i += 1;
                    let v = if self.peek() == Some(b'"') {
                        self.string()
                    } else {
                        self.scalar()
                    };
                    node.fields.push((name, v));
                }
                other => panic!("unexpected {other:?} after field {name}"),
            }
        }
        node
    }

    fn scalar(&mut self) -> Value {
        let start = self.i;
        while self.i < self.b.len()
            && !self.b[self.i].is_ascii_whitespace()
            && self.b[self.i] != b'}'
        {
            self.i += 1;
        }
        Value::Scalar(String::from_utf8(self.b[start..self.i].to_vec()).unwrap())
    }

    fn string(&mut self) -> Value {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let c = self.b[self.i];
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = self.b[self.i];
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'"' | b'\'' | b'\\' => out.push(e),
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.b.get(self.i) {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.i += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(u8::try_from(v).unwrap());
                        }
                        other => panic!("unsupported escape \\{}", other as char),
                    }
                }
                _ => out.push(c),
            }
        }
        Value::Str(out)
    }
}

/// The message bodies in one direction of a ZMTP 3 session: skips the 64-byte greeting, skips
/// command frames, returns message frames (short and long).
pub fn zmtp_messages(bytes: &[u8]) -> Vec<Vec<u8>> {
    assert!(
        bytes.len() >= 64 && bytes[0] == 0xff && bytes[9] == 0x7f,
        "not a ZMTP greeting"
    );
    let mut i = 64;
    let mut out = Vec::new();
    while i < bytes.len() {
        let flags = bytes[i];
        let (len, hdr) = if flags & 0x02 != 0 {
            (
                u64::from_be_bytes(bytes[i + 1..i + 9].try_into().unwrap()) as usize,
                9,
            )
        } else {
            (usize::from(bytes[i + 1]), 2)
        };
        let body = &bytes[i + hdr..i + hdr + len];
        if flags & 0x04 == 0 {
            assert_eq!(flags & 0x01, 0, "multi-frame messages are not expected");
            out.push(body.to_vec());
        }
        i += hdr + len;
    }
    out
}
