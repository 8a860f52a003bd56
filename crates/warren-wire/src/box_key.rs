//! Habitat's encryption ("box") keys and its `BOX-1` signed box (spec §5.2), for gossiped
//! configuration and files sent with `--user`.
//!
//! A box key pair is a Curve25519 key pair as libsodium's `crypto_box` uses it. Habitat stores
//! each half in its key cache (`/hab/cache/keys`) as a four-line file: `BOX-PUB-1` or
//! `BOX-SEC-1`, `<name>-<revision>`, a blank line, the base64 key; named
//! `<name>-<revision>.pub` or `<name>-<revision>.box.key`. A user key is named after the user
//! (`alice`); a service key after its service group and organization (`redis.default@acme`).
//!
//! A `BOX-1` text is five lines: `BOX-1`, the sender's (user's) key name with revision, the
//! recipient's (service's) key name with revision, the base64 nonce and the base64 ciphertext
//! of `crypto_box` (curve25519-xsalsa20-poly1305) from the user's secret key to the service's
//! public key. It is opened with the service's secret key and the user's public key, both looked
//! up by the exact revisions the box names.
//!
//! What this module does not do: the anonymous `ANONYMOUS-BOX-1` (sealed box) form, origin
//! signing keys, or deciding which service a box is for (the caller passes the key cache and
//! gets the plaintext or an error naming the missing key).

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crypto_box::aead::Aead as _;
use crypto_box::{PublicKey, SalsaBox, SecretKey};
use rand::RngCore;
use thiserror::Error;

/// First line of a public box key file.
pub const PUBLIC_HEADER: &str = "BOX-PUB-1";
/// First line of a secret box key file.
pub const SECRET_HEADER: &str = "BOX-SEC-1";
/// First line of a signed box.
pub const BOX_HEADER: &str = "BOX-1";
/// Length of a nonce.
pub const NONCE_LEN: usize = 24;

/// Which half of a key pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Half {
    /// `BOX-PUB-1`, `<name>-<rev>.pub`.
    Public,
    /// `BOX-SEC-1`, `<name>-<rev>.box.key`.
    Secret,
}

impl Half {
    fn header(self) -> &'static str {
        match self {
            Half::Public => PUBLIC_HEADER,
            Half::Secret => SECRET_HEADER,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Half::Public => ".pub",
            Half::Secret => ".box.key",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Half::Public => "public",
            Half::Secret => "secret",
        }
    }
}

/// Why a box key or a box could not be used. Nothing is written on any error.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BoxError {
    /// A key file is malformed (`what` names the file or says "key text").
    #[error("{what}: {message}")]
    BadKeyFile {
        /// The file.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// A `BOX-1` text is malformed.
    #[error("not a BOX-1 box: {0}")]
    BadBox(String),
    /// A key the box needs is not in the key cache.
    #[error(
        "no {half} key {name_with_rev} in {}: put {file} there (the {role})",
        cache.display()
    )]
    MissingKey {
        /// `<name>-<revision>`.
        name_with_rev: String,
        /// Which half.
        half: &'static str,
        /// The file that was looked for.
        file: String,
        /// `sender's` / `service's` role in words.
        role: &'static str,
        /// The key cache.
        cache: PathBuf,
    },
    /// No key of that name at all (for encrypting with the newest revision).
    #[error("no {half} key named {name} (any revision) in {}", cache.display())]
    NoKeyNamed {
        /// The key name.
        name: String,
        /// Which half.
        half: &'static str,
        /// The key cache.
        cache: PathBuf,
    },
    /// The box does not open with these keys (wrong key pair, or altered in transit).
    #[error(
        "the box from {sender} to {recipient} does not open with the keys in the cache \
         (wrong key, or the box was altered)"
    )]
    Open {
        /// Sender key name with revision.
        sender: String,
        /// Recipient key name with revision.
        recipient: String,
    },
    /// A name for a new key is invalid.
    #[error("invalid box key name {0:?}: non-empty, one line, no '/'")]
    BadName(String),
    /// Reading or writing a key file failed.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        message: String,
    },
}

/// One half of a box key pair with its name and revision. `Debug` hides the key.
#[derive(Clone, PartialEq, Eq)]
pub struct BoxKey {
    name: String,
    revision: String,
    half: Half,
    key: [u8; 32],
}

impl fmt::Debug for BoxKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxKey")
            .field("name", &self.name)
            .field("revision", &self.revision)
            .field("half", &self.half)
            .finish_non_exhaustive()
    }
}

fn split_name_rev(line: &str) -> Option<(&str, &str)> {
    let (name, rev) = line.rsplit_once('-')?;
    (!name.is_empty() && rev.len() == 14 && rev.bytes().all(|b| b.is_ascii_digit()))
        .then_some((name, rev))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['\n', '\r', '/', '\\', '\0']) && name != "." && name != ".."
}

impl BoxKey {
    /// Parses a key file's text; `what` names it in errors.
    pub fn parse(text: &str, what: &str) -> Result<BoxKey, BoxError> {
        let bad = |message: String| BoxError::BadKeyFile {
            what: what.to_owned(),
            message,
        };
        let mut lines = text.lines();
        let half = match lines.next() {
            Some(PUBLIC_HEADER) => Half::Public,
            Some(SECRET_HEADER) => Half::Secret,
            other => {
                return Err(bad(format!(
                    "line 1: expected BOX-PUB-1 or BOX-SEC-1, found {:?}",
                    other.unwrap_or("")
                )));
            }
        };
        let name_rev = lines.next().unwrap_or("");
        let (name, revision) = split_name_rev(name_rev).ok_or_else(|| {
            bad(format!(
                "line 2: expected <name>-<14-digit revision>, found {name_rev:?}"
            ))
        })?;
        if lines.next().is_some_and(|l| !l.is_empty()) {
            return Err(bad("line 3: expected an empty line".to_owned()));
        }
        let encoded = lines.next().unwrap_or("").trim();
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|e| bad(format!("line 4: the key is not valid base64: {e}")))?;
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            bad(format!(
                "line 4: the key is {} bytes, expected 32",
                bytes.len()
            ))
        })?;
        if lines.any(|l| !l.trim().is_empty()) {
            return Err(bad("unexpected text after the key".to_owned()));
        }
        Ok(BoxKey {
            name: name.to_owned(),
            revision: revision.to_owned(),
            half,
            key,
        })
    }

    /// A new key pair `(public, secret)` named `name` at `revision` (14 digits).
    pub fn generate_pair(
        name: &str,
        revision: &str,
        rng: &mut impl RngCore,
    ) -> Result<(BoxKey, BoxKey), BoxError> {
        if !valid_name(name) {
            return Err(BoxError::BadName(name.to_owned()));
        }
        if split_name_rev(&format!("{name}-{revision}")).is_none() {
            return Err(BoxError::BadName(format!("{name}-{revision}")));
        }
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let secret = SecretKey::from(bytes);
        let public = *secret.public_key().as_bytes();
        let make = |half, key| BoxKey {
            name: name.to_owned(),
            revision: revision.to_owned(),
            half,
            key,
        };
        Ok((
            make(Half::Public, public),
            make(Half::Secret, secret.to_bytes()),
        ))
    }

    /// The public half of a secret key (the same key for a public one).
    pub fn public(&self) -> BoxKey {
        match self.half {
            Half::Public => self.clone(),
            Half::Secret => BoxKey {
                half: Half::Public,
                key: *SecretKey::from(self.key).public_key().as_bytes(),
                ..self.clone()
            },
        }
    }

    /// The key's name (`alice`, `redis.default@acme`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The revision, 14 digits.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// Which half.
    pub fn half(&self) -> Half {
        self.half
    }

    /// `<name>-<revision>`.
    pub fn name_with_rev(&self) -> String {
        format!("{}-{}", self.name, self.revision)
    }

    /// `<name>-<revision>.pub` or `<name>-<revision>.box.key`.
    pub fn file_name(&self) -> String {
        format!("{}{}", self.name_with_rev(), self.half.suffix())
    }

    /// The file's text, as Habitat writes it (no newline after the key).
    pub fn to_file_string(&self) -> String {
        format!(
            "{}\n{}\n\n{}",
            self.half.header(),
            self.name_with_rev(),
            STANDARD.encode(self.key)
        )
    }

    /// The raw 32 key bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.key
    }
}

/// Habitat's service key name: `<service>.<group>@<org>`.
pub fn service_key_name(service_group: &str, org: &str) -> String {
    format!("{service_group}@{org}")
}

/// A parsed `BOX-1` text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedBox {
    /// The sender's (user's) key name with revision.
    pub sender: String,
    /// The recipient's (service's) key name with revision.
    pub recipient: String,
    /// The nonce.
    pub nonce: [u8; NONCE_LEN],
    /// The `crypto_box` ciphertext (tag first, as libsodium's easy API).
    pub ciphertext: Vec<u8>,
}

impl SignedBox {
    /// Parses a `BOX-1` text (bytes, as a rumor carries it).
    pub fn parse(bytes: &[u8]) -> Result<SignedBox, BoxError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| BoxError::BadBox("not UTF-8 text".to_owned()))?;
        let mut lines = text.lines();
        let mut line = |n: usize, what: &str| {
            lines
                .next()
                .ok_or_else(|| BoxError::BadBox(format!("line {n} ({what}) is missing")))
        };
        let header = line(1, "BOX-1")?;
        if header != BOX_HEADER {
            return Err(BoxError::BadBox(format!(
                "line 1: expected BOX-1, found {header:?}"
            )));
        }
        let sender = line(2, "the sender's key")?.to_owned();
        let recipient = line(3, "the recipient's key")?.to_owned();
        for (n, name) in [(2, &sender), (3, &recipient)] {
            if split_name_rev(name).is_none() || !valid_name(name) {
                return Err(BoxError::BadBox(format!(
                    "line {n}: expected <key name>-<14-digit revision>, found {name:?}"
                )));
            }
        }
        let nonce = STANDARD
            .decode(line(4, "the nonce")?.trim())
            .map_err(|e| BoxError::BadBox(format!("line 4: the nonce is not base64: {e}")))?;
        let nonce: [u8; NONCE_LEN] = nonce.as_slice().try_into().map_err(|_| {
            BoxError::BadBox(format!(
                "line 4: the nonce is {} bytes, expected 24",
                nonce.len()
            ))
        })?;
        let ciphertext = STANDARD
            .decode(line(5, "the ciphertext")?.trim())
            .map_err(|e| BoxError::BadBox(format!("line 5: the ciphertext is not base64: {e}")))?;
        Ok(SignedBox {
            sender,
            recipient,
            nonce,
            ciphertext,
        })
    }

    /// Opens the box with the recipient's secret key and the sender's public key.
    pub fn open(
        &self,
        recipient_secret: &BoxKey,
        sender_public: &BoxKey,
    ) -> Result<Vec<u8>, BoxError> {
        let fail = || BoxError::Open {
            sender: self.sender.clone(),
            recipient: self.recipient.clone(),
        };
        if recipient_secret.half != Half::Secret || sender_public.half != Half::Public {
            return Err(fail());
        }
        let b = SalsaBox::new(
            &PublicKey::from(sender_public.key),
            &SecretKey::from(recipient_secret.key),
        );
        b.decrypt(&self.nonce.into(), self.ciphertext.as_slice())
            .map_err(|_| fail())
    }
}

impl fmt::Display for SignedBox {
    /// Habitat's layout: five lines, no newline at the end.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{BOX_HEADER}\n{}\n{}\n{}\n{}",
            self.sender,
            self.recipient,
            STANDARD.encode(self.nonce),
            STANDARD.encode(&self.ciphertext)
        )
    }
}

/// Encrypts `plaintext` from `sender_secret` (a user's secret key) to `recipient_public` (a
/// service's public key) with a random nonce: the `BOX-1` text.
pub fn seal(
    plaintext: &[u8],
    sender_secret: &BoxKey,
    recipient_public: &BoxKey,
    rng: &mut impl RngCore,
) -> Result<String, BoxError> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    seal_with_nonce(plaintext, sender_secret, recipient_public, nonce)
}

/// [`seal`] with a given nonce (for known-answer tests; never reuse a nonce).
pub fn seal_with_nonce(
    plaintext: &[u8],
    sender_secret: &BoxKey,
    recipient_public: &BoxKey,
    nonce: [u8; NONCE_LEN],
) -> Result<String, BoxError> {
    if sender_secret.half != Half::Secret || recipient_public.half != Half::Public {
        return Err(BoxError::BadName(
            "seal needs the sender's secret key and the recipient's public key".to_owned(),
        ));
    }
    let b = SalsaBox::new(
        &PublicKey::from(recipient_public.key),
        &SecretKey::from(sender_secret.key),
    );
    let ciphertext = b
        .encrypt(&nonce.into(), plaintext)
        .map_err(|_| BoxError::BadBox("encryption failed".to_owned()))?;
    Ok(SignedBox {
        sender: sender_secret.name_with_rev(),
        recipient: recipient_public.name_with_rev(),
        nonce,
        ciphertext,
    }
    .to_string())
}

/// Habitat's key cache directory (`<fs-root>/hab/cache/keys`), for box keys.
#[derive(Clone, Debug)]
pub struct KeyCache {
    dir: PathBuf,
}

impl KeyCache {
    /// The cache at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> KeyCache {
        KeyCache { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key `<name_with_rev>` of that half; `role` says whose it is in the error.
    fn exact(
        &self,
        name_with_rev: &str,
        half: Half,
        role: &'static str,
    ) -> Result<BoxKey, BoxError> {
        let file = format!("{name_with_rev}{}", half.suffix());
        let path = self.dir.join(&file);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BoxError::MissingKey {
                    name_with_rev: name_with_rev.to_owned(),
                    half: half.noun(),
                    file,
                    role,
                    cache: self.dir.clone(),
                });
            }
            Err(e) => {
                return Err(BoxError::Io {
                    path,
                    message: e.to_string(),
                });
            }
        };
        let key = BoxKey::parse(&text, &path.display().to_string())?;
        if key.half != half || key.name_with_rev() != name_with_rev {
            return Err(BoxError::BadKeyFile {
                what: path.display().to_string(),
                message: format!("expected the {} key {name_with_rev}", half.noun()),
            });
        }
        Ok(key)
    }

    /// The newest revision of key `name` of that half.
    pub fn newest(&self, name: &str, half: Half) -> Result<BoxKey, BoxError> {
        if !valid_name(name) {
            return Err(BoxError::BadName(name.to_owned()));
        }
        let prefix = format!("{name}-");
        let mut best: Option<String> = None;
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let Some(rev) = file
                    .strip_prefix(&prefix)
                    .and_then(|r| r.strip_suffix(half.suffix()))
                else {
                    continue;
                };
                if split_name_rev(&format!("{name}-{rev}")).is_some_and(|(n, _)| n == name)
                    && best.as_deref().is_none_or(|b| rev > b)
                {
                    best = Some(rev.to_owned());
                }
            }
        }
        match best {
            Some(rev) => self.exact(&format!("{name}-{rev}"), half, "newest revision"),
            None => Err(BoxError::NoKeyNamed {
                name: name.to_owned(),
                half: half.noun(),
                cache: self.dir.clone(),
            }),
        }
    }

    /// Opens a `BOX-1` payload with the service's secret key and the user's public key named in
    /// it.
    pub fn open(&self, payload: &[u8]) -> Result<Vec<u8>, BoxError> {
        let sealed = SignedBox::parse(payload)?;
        let service = self.exact(&sealed.recipient, Half::Secret, "service's secret key")?;
        let user = self.exact(&sealed.sender, Half::Public, "sending user's public key")?;
        sealed.open(&service, &user)
    }

    /// Writes `key` as Habitat names it (mode 0644 for public, 0600 for secret halves); an
    /// existing file of that name is left alone. Returns the path.
    pub fn write(&self, key: &BoxKey) -> Result<PathBuf, BoxError> {
        let io = |path: &Path, e: std::io::Error| BoxError::Io {
            path: path.to_owned(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let path = self.dir.join(key.file_name());
        if path.exists() {
            return Ok(path);
        }
        let tmp = self.dir.join(format!(".{}.tmp", key.file_name()));
        {
            use std::io::Write as _;
            #[cfg(unix)]
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            opts.mode(match key.half {
                Half::Public => 0o644,
                Half::Secret => 0o600,
            });
            let mut f = opts.open(&tmp).map_err(|e| io(&tmp, e))?;
            f.write_all(key.to_file_string().as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| io(&tmp, e))?;
        }
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        Ok(path)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand_xoshiro::rand_core::SeedableRng;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn key(name: &str, half: Half, bytes: &[u8]) -> BoxKey {
        BoxKey {
            name: name.to_owned(),
            revision: "20260101000000".to_owned(),
            half,
            key: bytes.try_into().unwrap(),
        }
    }

    /// The libsodium `crypto_box` (curve25519-xsalsa20poly1305) vector that RustCrypto's
    /// `crypto_box` tests adapt from PHP sodium_compat: Alice's secret key to Bob's public key.
    #[test]
    fn known_answer_crypto_box() {
        let alice_sk = hex("68f208412d8dd5db9d0c6d18512e86f0ec75665ab841372d57b042b27ef89d4c");
        let alice_pk = hex("ac3a70ba35df3c3fae427a7c72021d68f2c1e044040b75f17313c0c8b5d4241d");
        let bob_sk = hex("b581fb5ae182a16f603f39270d4e3b95bc008310b727a11dd4e784a0044d461b");
        let bob_pk = hex("e8980c86e032f1eb2975052e8d65bddd15c3b59641174ec9678a53789d92c754");
        let nonce: [u8; 24] = hex("69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37")
            .try_into()
            .unwrap();
        let plaintext = hex(
            "be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffc
             e5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb31
             0e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde
             048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f93776384864
             5e0705",
        );
        let ciphertext = hex(
            "c03f27d188ef650cd12936913137bb17ed4c98c2648939e2e1d2e855470a7b8c
             632cabfd5ab3b3c2d313dc8c9ecf5da173e1f9c318cdef1dced6d2519e695085
             e6b5c401a2bd5331442986c7076d412625497c4cb2fd94c6f103961033b2c930
             d7e82e0341f29d3879bd6ab9d881ea3a1f365d634e653c6e171aac7fc1e76934
             d23be6f04a54010808dbf0f9bd30f63b68d026",
        );
        let alice = key("alice", Half::Secret, &alice_sk);
        assert_eq!(alice.public().bytes().as_slice(), alice_pk.as_slice());
        let bob_public = key("bob", Half::Public, &bob_pk);
        let text = seal_with_nonce(&plaintext, &alice, &bob_public, nonce).unwrap();
        let sealed = SignedBox::parse(text.as_bytes()).unwrap();
        assert_eq!(sealed.ciphertext, ciphertext);
        assert_eq!(sealed.sender, "alice-20260101000000");
        let opened = sealed
            .open(&key("bob", Half::Secret, &bob_sk), &alice.public())
            .unwrap();
        assert_eq!(opened, plaintext);
    }

    /// Habitat's own fixture user key pair (`ruby-rhod-20200813204159`): the public key file
    /// is the one derived from the secret key file.
    #[test]
    fn habitat_fixture_key_pair_matches() {
        let secret = BoxKey::parse(
            "BOX-SEC-1\nruby-rhod-20200813204159\n\nzOHZ45DTUm4mIvU9g+OsIW/CFqjMtJvjtUx+5HtJ2Rc=",
            "fixture",
        )
        .unwrap();
        let public = BoxKey::parse(
            "BOX-PUB-1\nruby-rhod-20200813204159\n\njJZxtCxhf92SLWWvMgO8WgN/W0uATXxtzOyaK6Eo4Rg=",
            "fixture",
        )
        .unwrap();
        assert_eq!(secret.name(), "ruby-rhod");
        assert_eq!(secret.public(), public);
        assert_eq!(public.file_name(), "ruby-rhod-20200813204159.pub");
        assert_eq!(secret.file_name(), "ruby-rhod-20200813204159.box.key");
        assert_eq!(
            BoxKey::parse(&secret.to_file_string(), "again").unwrap(),
            secret
        );
    }

    #[test]
    fn habitat_box_text_parses() {
        // The layout of Habitat's own BOX-1 test message.
        let text = "BOX-1\nruby-rhod-20200813204159\nservice-key-valid.default@acme-20160509181736\nB7e4QAO4aKZFNbiBQAOm+8kZhqVDtOwo\n+faMzEwgX1EDcjl9ab4MVBR8klaQnLegxSmGygWOHU+Y8PUz";
        let sealed = SignedBox::parse(text.as_bytes()).unwrap();
        assert_eq!(
            sealed.recipient,
            "service-key-valid.default@acme-20160509181736"
        );
        assert_eq!(sealed.ciphertext.len(), 36);
        assert_eq!(sealed.to_string(), text);
    }

    #[test]
    fn round_trip_through_the_cache_and_errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let cache = KeyCache::new(dir.path());
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::from_seed([9; 32]);
        let (user_pub, user_sec) =
            BoxKey::generate_pair("alice", "20260101000000", &mut rng).unwrap();
        let (svc_pub, svc_sec) = BoxKey::generate_pair(
            &service_key_name("redis.default", "acme"),
            "20260101000000",
            &mut rng,
        )
        .unwrap();
        let text = seal(b"port = 1\n", &user_sec, &svc_pub, &mut rng).unwrap();
        assert!(
            text.starts_with("BOX-1\nalice-20260101000000\nredis.default@acme-20260101000000\n")
        );

        // Nothing in the cache: the service's secret key is named.
        let err = cache.open(text.as_bytes()).unwrap_err().to_string();
        assert!(
            err.contains("redis.default@acme-20260101000000.box.key"),
            "{err}"
        );
        cache.write(&svc_sec).unwrap();
        // Now the user's public key is missing.
        let err = cache.open(text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("alice-20260101000000.pub"), "{err}");
        cache.write(&user_pub).unwrap();
        assert_eq!(cache.open(text.as_bytes()).unwrap(), b"port = 1\n");

        // The newest revision is found for encrypting.
        let (_, newer) = BoxKey::generate_pair("alice", "20270101000000", &mut rng).unwrap();
        cache.write(&newer).unwrap();
        cache.write(&user_sec).unwrap();
        assert_eq!(
            cache.newest("alice", Half::Secret).unwrap().revision(),
            "20270101000000"
        );
        assert!(matches!(
            cache.newest("bob", Half::Secret),
            Err(BoxError::NoKeyNamed { .. })
        ));

        // A box from another user of the same name (wrong key) does not open.
        let (_, mallory) = BoxKey::generate_pair("alice", "20260101000000", &mut rng).unwrap();
        let forged = seal(b"port = 2\n", &mallory, &svc_pub, &mut rng).unwrap();
        assert!(matches!(
            cache.open(forged.as_bytes()),
            Err(BoxError::Open { .. })
        ));
        // An altered ciphertext does not open either.
        let mut sealed = SignedBox::parse(text.as_bytes()).unwrap();
        sealed.ciphertext[20] ^= 1;
        assert!(matches!(
            cache.open(sealed.to_string().as_bytes()),
            Err(BoxError::Open { .. })
        ));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            "",
            "BOX-1",
            "BOX-2\na-20260101000000\nb-20260101000000\nAAAA\nAAAA",
            "BOX-1\na\nb-20260101000000\nAAAA\nAAAA",
            "BOX-1\na-20260101000000\nb-20260101000000\n!!\nAAAA",
            "BOX-1\na-20260101000000\nb-20260101000000\nAAAA\nAAAA",
            "BOX-1\n../x-20260101000000\nb-20260101000000\nAAAA\nAAAA",
        ] {
            assert!(SignedBox::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(SignedBox::parse(&[0xff, 0xfe]).is_err());
        for bad in [
            "",
            "BOX-PUB-1",
            "BOX-PUB-1\nx-1\n\nAAAA",
            "SYM-SEC-1\nx-20260101000000\n\nAAAA",
        ] {
            assert!(BoxKey::parse(bad, "t").is_err(), "{bad:?}");
        }
    }
}
