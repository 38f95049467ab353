//! Signed instance cookies: the value `<name>.<expires>.<signature>`, where `expires` is in Unix
//! seconds and `signature` is base64url(HMAC-SHA256(secret, "<name>.<expires>.<epoch>")). The
//! epoch is a random value the instance got when it was created (a label), not in the cookie: a
//! session is for one instance, and dies with it, even if another is later created under the
//! same name. Instance names cannot contain `.`, so the parts split without ambiguity, and
//! `minion-1.…` can never be read as `minion-10`. Verification is constant-time and checks the
//! expiry only after the signature, so a forged value learns nothing.

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
    #[error("no such instance")]
    UnknownInstance,
}

/// The key ring: the first secret signs, every one verifies, so a secret is rotated by putting
/// a new one first and dropping the old one once its sessions have expired. Each secret is kept
/// as an HMAC already keyed with it (cloned per use): keying hashes the secret twice, which
/// `/auth` would otherwise do on every request.
#[derive(Clone)]
pub struct Keys {
    keyed: Vec<HmacSha256>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keys({} secret(s), redacted)", self.keyed.len())
    }
}

/// The longest signature that can be ours (an HMAC-SHA256 is 32 bytes).
const SIGNATURE_LEN: usize = 32;

impl Keys {
    /// `None` without a secret.
    pub fn new(secrets: Vec<Secret>) -> Option<Self> {
        let keyed = secrets
            .iter()
            .map(|secret| {
                HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length")
            })
            .collect::<Vec<_>>();
        (!keyed.is_empty()).then_some(Self { keyed })
    }

    /// A session for the instance `name` whose creation gave it `epoch`.
    pub fn sign(&self, name: &InstanceName, epoch: &str, expires: SystemTime) -> String {
        let expires = unix_seconds(expires).to_string();
        let signature = mac(&self.keyed[0], name.as_str(), &expires, epoch)
            .finalize()
            .into_bytes();
        format!("{name}.{expires}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The instance a value was signed for, if the signature is one of ours for that instance's
    /// current `epoch_of` (`None`: no such instance) and it has not expired.
    pub fn verify<E: AsRef<str>>(
        &self,
        value: &str,
        now: SystemTime,
        epoch_of: impl FnOnce(&InstanceName) -> Option<E>,
    ) -> Result<InstanceName, SessionError> {
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
        // Decoded onto the stack: a value too long to be ours fails here.
        let mut decoded = [0u8; SIGNATURE_LEN];
        let length = URL_SAFE_NO_PAD
            .decode_slice(signature, &mut decoded)
            .map_err(|_| SessionError::Malformed)?;
        let signature = &decoded[..length];
        let epoch = epoch_of(&name).ok_or(SessionError::UnknownInstance)?;
        let genuine = self.keyed.iter().any(|keyed| {
            mac(keyed, name.as_str(), expires, epoch.as_ref())
                .verify_slice(signature)
                .is_ok()
        });
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

/// The MAC of `<name>.<expires>.<epoch>` under `keyed`'s secret.
fn mac(keyed: &HmacSha256, name: &str, expires: &str, epoch: &str) -> HmacSha256 {
    let mut mac = keyed.clone();
    for part in [name, ".", expires, ".", epoch] {
        mac.update(part.as_bytes());
    }
    mac
}

/// A new instance's epoch: 16 random hex digits.
pub fn new_epoch() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

    const EPOCH: &str = "0123456789abcdef";

    fn current(_: &InstanceName) -> Option<&'static str> {
        Some(EPOCH)
    }

    #[test]
    fn a_signed_value_verifies_to_its_name_until_it_expires() {
        let k = keys(&[A]);
        let value = k.sign(&name("minion-1"), EPOCH, at(1000));
        assert_eq!(k.verify(&value, at(999), current), Ok(name("minion-1")));
        assert_eq!(
            k.verify(&value, at(1000), current),
            Err(SessionError::Expired)
        );
    }

    #[test]
    fn a_session_dies_with_its_instance_even_if_the_name_comes_back() {
        let k = keys(&[A]);
        let value = k.sign(&name("minion-1"), EPOCH, at(1000));
        let recreated = |_: &InstanceName| Some("fedcba9876543210");
        assert_eq!(
            k.verify(&value, at(1), recreated),
            Err(SessionError::BadSignature)
        );
        let gone = |_: &InstanceName| None::<String>;
        assert_eq!(
            k.verify(&value, at(1), gone),
            Err(SessionError::UnknownInstance)
        );
        assert_ne!(new_epoch(), new_epoch());
        assert_eq!(new_epoch().len(), 16);
    }

    #[test]
    fn rotation_the_first_secret_signs_and_every_secret_verifies() {
        let old = keys(&[A]).sign(&name("m2"), EPOCH, at(1000));
        let rotated = keys(&[B, A]);
        assert_eq!(rotated.verify(&old, at(1), current), Ok(name("m2")));
        let new = rotated.sign(&name("m2"), EPOCH, at(1000));
        assert_eq!(keys(&[B]).verify(&new, at(1), current), Ok(name("m2")));
        assert_eq!(
            keys(&[A]).verify(&new, at(1), current),
            Err(SessionError::BadSignature)
        );
    }

    #[test]
    fn every_change_to_a_value_is_refused() {
        let k = keys(&[A]);
        let value = k.sign(&name("minion-1"), EPOCH, at(1000));
        let (payload, signature) = value.rsplit_once('.').unwrap();
        let forged = [
            value.replace("minion-1", "minion-2"),
            value.replace("minion-1", "minion-10"),
            value.replace(".1000.", ".9999."),
            keys(&[B]).sign(&name("minion-1"), EPOCH, at(1000)),
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
            assert!(k.verify(&f, at(1), current).is_err(), "{f:?} passed");
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
