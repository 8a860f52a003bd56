//! Bearer-token authentication (`HAB_SUP_GATEWAY_AUTH_TOKEN`, spec §10.1).
//!
//! When a token is configured, every route except `/healthz` and `/readyz` requires
//! `Authorization: Bearer <token>`; the server answers 401 with an empty body otherwise. The
//! token is compared in constant time (`subtle`), so response timing does not reveal how much
//! of a guess was right (its length may show). The scheme name is matched without regard to
//! case (RFC 9110 §11.1) and whitespace around the token is ignored.
//!
//! What it does **not** do: read the environment (the binary does, then calls
//! [`AuthToken::new`]), rate-limit guesses, or support other schemes.

use subtle::ConstantTimeEq;

/// Name of the environment variable Habitat reads the token from.
pub const AUTH_TOKEN_ENV: &str = "HAB_SUP_GATEWAY_AUTH_TOKEN";

/// A configured gateway token. Its `Debug` output never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken(Vec<u8>);

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

impl AuthToken {
    /// A token from its text; `None` when it is empty or only whitespace (an unset or empty
    /// `HAB_SUP_GATEWAY_AUTH_TOKEN` means no authentication, as in Habitat).
    pub fn new(token: &str) -> Option<AuthToken> {
        let t = token.trim();
        (!t.is_empty()).then(|| AuthToken(t.as_bytes().to_vec()))
    }

    /// Whether an `Authorization` header value (if any) carries this token.
    pub fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some(token) = bearer(value) else {
            return false;
        };
        bool::from(token.ct_eq(&self.0))
    }
}

/// The credentials of a `Bearer` header value.
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let space = value.iter().position(|b| *b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    scheme
        .eq_ignore_ascii_case(b"bearer")
        .then(|| rest.trim_ascii())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn accepts_only_the_exact_bearer_token() {
        let t = AuthToken::new("s3cret").unwrap();
        assert!(t.accepts(Some(b"Bearer s3cret")));
        assert!(t.accepts(Some(b"bearer  s3cret ")));
        assert!(!t.accepts(None));
        assert!(!t.accepts(Some(b"Bearer s3cre")));
        assert!(!t.accepts(Some(b"Bearer s3cret2")));
        assert!(!t.accepts(Some(b"Basic s3cret")));
        assert!(!t.accepts(Some(b"Bearer")));
        assert!(!t.accepts(Some(b"s3cret")));
        assert!(!t.accepts(Some(b"Bearer ")));
    }

    #[test]
    fn empty_means_no_auth_and_debug_hides_the_token() {
        assert!(AuthToken::new("").is_none());
        assert!(AuthToken::new("  ").is_none());
        let t = AuthToken::new("visible?").unwrap();
        assert!(!format!("{t:?}").contains("visible"));
    }
}
