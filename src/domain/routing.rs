//! How traefik tells instances apart, and so which instance a request is for: by the instance
//! cookie (every instance on the site's one origin), by path (`<prefix>/<name>/`, one origin
//! too), or by host (`<name>.<host_domain>`, each instance its own web origin).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    Cookie,
    Path,
    Host,
}

impl Routing {
    /// `routing`'s value; empty means what the old flag `use_path_routing` says.
    pub fn parse(raw: &str, use_path_routing: bool) -> Result<Self, String> {
        let routing = match raw.trim().to_ascii_lowercase().as_str() {
            "" if use_path_routing => return Ok(Self::Path),
            "" | "cookie" => Self::Cookie,
            "path" => Self::Path,
            "host" => Self::Host,
            _ => return Err("write cookie, path or host".into()),
        };
        if use_path_routing && routing != Self::Path {
            return Err(format!(
                "{routing} contradicts use_path_routing=true; set only routing"
            ));
        }
        Ok(routing)
    }

    /// A new instance's name is also a host name in host routing, where case does not count
    /// (traefik's `Host` matcher ignores it, browsers lowercase it): `Alice` and `alice` would
    /// share one host, and the second would take it over. So names are lowercase there.
    pub fn check_name(self, name: &str) -> Result<(), String> {
        if self == Self::Host && name.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "`name` {name:?}: with host routing a name is part of a host name, where case \
                 does not count; use lowercase letters"
            ));
        }
        Ok(())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cookie => "cookie",
            Self::Path => "path",
            Self::Host => "host",
        }
    }
}

impl fmt::Display for Routing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `host_domain`: the parent domain of the instances' hosts, required with `routing = host`.
/// Lowercase DNS labels (`apps.example.com`, `spawner.localhost`).
pub fn parse_host_domain(raw: &str, routing: Routing) -> Result<String, String> {
    let domain = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    if domain.is_empty() {
        return match routing {
            Routing::Host => Err("is required with routing=host, e.g. apps.example.com".into()),
            _ => Ok(domain),
        };
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if domain.len() <= 200 && domain.split('.').all(label_ok) {
        Ok(domain)
    } else {
        Err("write a domain name such as apps.example.com (letters, digits, '-' and '.')".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_old_flag_means_path_and_contradictions_are_refused() {
        assert_eq!(Routing::parse("", false), Ok(Routing::Cookie));
        assert_eq!(Routing::parse("", true), Ok(Routing::Path));
        assert_eq!(Routing::parse("Host", false), Ok(Routing::Host));
        assert_eq!(Routing::parse("path", true), Ok(Routing::Path));
        assert!(Routing::parse("host", true).is_err());
        assert!(Routing::parse("domain", false).is_err());
    }

    #[test]
    fn host_mode_takes_lowercase_names_only() {
        assert!(Routing::Host.check_name("alice-2").is_ok());
        assert!(Routing::Host.check_name("Alice").is_err());
        assert!(Routing::Cookie.check_name("Alice").is_ok());
        assert!(Routing::Path.check_name("Alice").is_ok());
    }

    #[test]
    fn host_mode_needs_a_domain_name() {
        assert!(parse_host_domain("", Routing::Host).is_err());
        assert_eq!(parse_host_domain("", Routing::Cookie), Ok(String::new()));
        assert_eq!(
            parse_host_domain("Apps.Example.com.", Routing::Host),
            Ok("apps.example.com".into())
        );
        for bad in ["a..b", "-a.b", "a_b.c", "a b", "a/b"] {
            assert!(parse_host_domain(bad, Routing::Host).is_err(), "{bad}");
        }
    }
}
