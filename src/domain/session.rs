//! Signed instance cookies: the value `<name>.<expires>.<signature>`, where `expires` is in Unix
//! seconds and `signature` is base64url(HMAC-SHA256(secret, "<name>.<expires>")). Instance names
//! cannot contain `.`, so the three parts split without ambiguity, and `minion-1.…` can never be
//! read as `minion-10`. Verification is constant-time and checks the expiry only after the
//! signature, so a forged value learns nothing.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::InstanceName;

type HmacSha256 = Hmac<Sha256>;

/// A key that signs or verifies; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub const MIN_LEN: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.len() < Self::MIN_LEN {
            return Err(format!(
                "a secret of {} characters is too short; use at least {} (e.g. openssl rand -hex 32)",
                raw.len(),
                Self::MIN_LEN
            ));
        }
        Ok(Self(raw.as_bytes().to_vec()))
    }

    /// 32 random bytes from the operating system.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source");
        Self(bytes.to_vec())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("not a signed session value")]
    Malformed,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the session has expired")]
    Expired,
}

/// The key ring: the first secret signs, every one verifies, so a secret is rotated by putting
/// a new one first and dropping the old one once its sessions have expired.
#[derive(Debug, Clone)]
pub struct Keys {
    secrets: Vec<Secret>,
}

impl Keys {
    /// `None` without a secret.
    pub fn new(secrets: Vec<Secret>) -> Option<Self> {
        (!secrets.is_empty()).then_some(Self { secrets })
    }

    pub fn sign(&self, name: &InstanceName, expires: SystemTime) -> String {
        let payload = format!("{name}.{}", unix_seconds(expires));
        let signature = mac(&self.secrets[0], &payload).finalize().into_bytes();
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The instance a value was signed for, if the signature is one of ours and not expired.
    pub fn verify(&self, value: &str, now: SystemTime) -> Result<InstanceName, SessionError> {
        let mut parts = value.split('.');
        let (Some(name), Some(expires), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SessionError::Malformed);
        };
        let name = InstanceName::parse(name).map_err(|_| SessionError::Malformed)?;
        if expires.is_empty() || expires.len() > 20 || !expires.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(SessionError::Malformed);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| SessionError::Malformed)?;
        let payload = format!("{name}.{expires}");
        let genuine = self
            .secrets
            .iter()
            .any(|secret| mac(secret, &payload).verify_slice(&signature).is_ok());
        if !genuine {
            return Err(SessionError::BadSignature);
        }
        let expires: u64 = expires.parse().map_err(|_| SessionError::Malformed)?;
        if unix_seconds(now) >= expires {
            return Err(SessionError::Expired);
        }
        Ok(name)
    }
}

fn mac(secret: &Secret, payload: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    mac
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secrets: &[&str]) -> Keys {
        Keys::new(secrets.iter().map(|s| Secret::parse(s).unwrap()).collect()).unwrap()
    }

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn name(n: &str) -> InstanceName {
        InstanceName::parse(n).unwrap()
    }

    #[test]
    fn a_signed_value_verifies_to_its_name_until_it_expires() {
        let k = keys(&[A]);
        let value = k.sign(&name("minion-1"), at(1000));
        assert_eq!(k.verify(&value, at(999)), Ok(name("minion-1")));
        assert_eq!(k.verify(&value, at(1000)), Err(SessionError::Expired));
    }

    #[test]
    fn rotation_the_first_secret_signs_and_every_secret_verifies() {
        let old = keys(&[A]).sign(&name("m"), at(1000));
        let rotated = keys(&[B, A]);
        assert_eq!(rotated.verify(&old, at(1)), Ok(name("m")));
        let new = rotated.sign(&name("m"), at(1000));
        assert_eq!(keys(&[B]).verify(&new, at(1)), Ok(name("m")));
        assert_eq!(
            keys(&[A]).verify(&new, at(1)),
            Err(SessionError::BadSignature)
        );
    }

    #[test]
    fn every_change_to_a_value_is_refused() {
        let k = keys(&[A]);
        let value = k.sign(&name("minion-1"), at(1000));
        let (payload, signature) = value.rsplit_once('.').unwrap();
        let forged = [
            value.replace("minion-1", "minion-2"),
            value.replace("minion-1", "minion-10"),
            value.replace(".1000.", ".9999."),
            keys(&[B]).sign(&name("minion-1"), at(1000)),
            value[..value.len() - 1].to_string(),
            payload.to_string(),
            format!("{payload}."),
            format!("{payload}.{signature}.x"),
            "minion-1".to_string(),
            String::new(),
            format!("minion-1..{signature}"),
            format!("minion-1.-5.{signature}"),
        ];
        for f in forged {
            assert!(k.verify(&f, at(1)).is_err(), "{f:?} passed");
        }
    }

    #[test]
    fn short_secrets_are_refused_and_never_shown() {
        assert!(Secret::parse("changeme")
            .unwrap_err()
            .contains("at least 32"));
        assert_eq!(
            format!("{:?}", Secret::parse(A).unwrap()),
            "Secret(redacted)"
        );
        assert_ne!(Secret::generate(), Secret::generate());
    }
}
