//! The name of an instance, parsed once: what Docker, traefik's rules, host names and cookies
//! all accept.

use std::fmt;

/// A container name spawner accepts: 2–63 of `[A-Za-z0-9_-]`, starting with a letter or digit.
/// Such a name is a valid hostname label, cookie value and literal inside a traefik regex, and a
/// container name Docker accepts (it refuses names of one character).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceName(String);

pub const MIN_NAME_LEN: usize = 2;
pub const MAX_NAME_LEN: usize = 63;

impl InstanceName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("`name` must not be empty".into());
        }
        if raw.len() < MIN_NAME_LEN {
            return Err(format!(
                "`name` {raw:?} is too short: Docker needs at least {MIN_NAME_LEN} characters"
            ));
        }
        if raw.len() > MAX_NAME_LEN {
            return Err(format!(
                "`name` is {} characters long; use at most {MAX_NAME_LEN}",
                raw.len()
            ));
        }
        if !raw.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(format!(
                "`name` {raw:?} must start with a letter or a digit"
            ));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "`name` {raw:?} contains {bad:?}; use only letters, digits, '-' and '_'"
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_accepted() {
        for ok in ["minion-1", "a1", "A_b-9", "9lives", &"x".repeat(63)] {
            assert!(InstanceName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn names_that_are_not_hostnames_are_refused_with_the_field_named() {
        for bad in [
            "",
            "a",
            "../x",
            "a b",
            "-lead",
            "_lead",
            "a.b",
            "a/b",
            "é",
            &"x".repeat(64),
        ] {
            let err = InstanceName::parse(bad).unwrap_err();
            assert!(err.contains("`name`"), "{bad}: {err}");
        }
    }
}
