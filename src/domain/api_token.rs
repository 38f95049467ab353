//! The private API's bearer token. Compared in constant time (as SHA-256 digests, so not even
//! its length leaks), and never shown by `Debug`. It also keys what the admin page's cookie is
//! signed with ([`ApiToken::sign`]), so that cookie is never the token itself.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Clone)]
pub struct ApiToken([u8; 32]);

impl ApiToken {
    pub const MIN_LEN: usize = 16;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.len() < Self::MIN_LEN || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "a token needs at least {} characters and no spaces (e.g. openssl rand -hex 32)",
                Self::MIN_LEN
            ));
        }
        Ok(Self(Sha256::digest(raw.as_bytes()).into()))
    }

    /// An HMAC-SHA256 of `message` keyed with this token (its digest): proof that whoever made
    /// it knew the token, which reveals nothing of the token itself (the admin page's cookie).
    pub fn sign(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// Whether `presented` is this token.
    pub fn matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.0.ct_eq(&digest).into()
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_itself_matches() {
        let token = ApiToken::parse("0123456789abcdef0123").unwrap();
        assert!(token.matches("0123456789abcdef0123"));
        for other in ["", "0123456789abcdef012", "0123456789abcdef01234", "x"] {
            assert!(!token.matches(other), "{other}");
        }
        assert!(ApiToken::parse("short").is_err());
        assert!(ApiToken::parse("with a space in it 123").is_err());
    }
}
