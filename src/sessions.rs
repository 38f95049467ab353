//! Issuing and reading instance cookies. With `cookie_signing` (the default) a cookie is a signed
//! session ([`crate::domain::session`]) that only spawner can issue; without it, the old plain
//! `instance=<name>` that anyone can write, kept for the old clients.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::configuration::Settings;
use crate::domain::session::{Keys, Secret};
use crate::domain::{InstanceName, Routing};

pub enum CookieMode {
    Signed(Keys),
    /// The old spawner's cookie: the bare instance name.
    Plain,
}

pub struct Sessions {
    mode: CookieMode,
    cookie_key: String,
    ttl: Duration,
    secure: bool,
    /// With host routing, the cookie's `Domain`: the browser sends it to every instance host,
    /// and `/auth` checks it against the instance traefik routed to.
    domain: Option<String>,
}

/// What `POST /deploy/{name}/session` answers (and `POST /deploy` includes).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IssuedSession {
    /// `instance=<value>`, for a `Cookie` header.
    pub cookie: String,
    /// The whole `Set-Cookie` header a home app sends to the browser.
    pub set_cookie: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub expires: String,
}

impl Sessions {
    /// From the settings; without a configured secret, one is made up for this process (and
    /// said so in the log: sessions then end with it).
    pub fn from_settings(settings: &Settings) -> Self {
        let mode = if !settings.sessions.cookie_signing {
            log::warn!(
                "cookie_signing is off: the instance cookie is the bare instance name, and anyone who \
                 writes instance=<name> reaches that instance"
            );
            CookieMode::Plain
        } else if let Some(keys) = Keys::new(settings.sessions.cookie_secrets.clone()) {
            CookieMode::Signed(keys)
        } else {
            log::warn!(
                "no cookie_secret configured: signing sessions with a secret made up at start; \
                 sessions will not survive a restart of spawner"
            );
            CookieMode::Signed(Keys::new(vec![Secret::generate()]).expect("one secret"))
        };
        Self {
            mode,
            cookie_key: settings.sessions.cookie_key.clone(),
            ttl: settings.sessions.session_ttl,
            secure: settings.sessions.cookie_secure,
            domain: (settings.traefik.routing == Routing::Host)
                .then(|| settings.traefik.host_domain.clone()),
        }
    }

    /// The instance a cookie value names, if it is a session spawner issued for that instance
    /// (`epoch_of` tells its current epoch, `None` if there is no such instance) and still valid.
    pub fn instance_of<E: AsRef<str>>(
        &self,
        value: &str,
        now: SystemTime,
        epoch_of: impl FnOnce(&InstanceName) -> Option<E>,
    ) -> Option<InstanceName> {
        match &self.mode {
            CookieMode::Signed(keys) => keys.verify(value, now, epoch_of).ok(),
            CookieMode::Plain => InstanceName::parse(value).ok(),
        }
    }

    /// Whether `/auth` must see a session cookie even where the path names the instance.
    pub fn signed(&self) -> bool {
        matches!(self.mode, CookieMode::Signed(_))
    }

    /// A session for instance `name`, whose epoch (label `spawner.session-epoch`) is `epoch`.
    pub fn issue(&self, name: &InstanceName, epoch: &str, now: SystemTime) -> IssuedSession {
        let expires = now + self.ttl;
        let value = match &self.mode {
            CookieMode::Signed(keys) => keys.sign(name, epoch, expires),
            CookieMode::Plain => name.to_string(),
        };
        let cookie = format!("{}={value}", self.cookie_key);
        let secure = if self.secure { "; Secure" } else { "" };
        let domain = self
            .domain
            .as_ref()
            .map_or_else(String::new, |d| format!("; Domain={d}"));
        let set_cookie = format!(
            "{cookie}; Path=/; Max-Age={}; Expires={}; HttpOnly; SameSite=Lax{domain}{secure}",
            self.ttl.as_secs(),
            httpdate::fmt_http_date(expires)
        );
        IssuedSession {
            cookie,
            set_cookie,
            expires: humantime::format_rfc3339_seconds(expires).to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(adjust: impl FnOnce(&mut Settings)) -> Sessions {
        let mut settings = Settings::for_tests();
        settings.sessions.cookie_secrets = vec![Secret::parse(&"s".repeat(32)).unwrap()];
        adjust(&mut settings);
        Sessions::from_settings(&settings)
    }

    #[test]
    fn an_issued_cookie_names_its_instance_and_carries_the_documented_attributes() {
        let s = sessions(|_| {});
        let name = InstanceName::parse("minion-1").unwrap();
        let now = SystemTime::now();
        let issued = s.issue(&name, "e", now);
        let value = issued.cookie.strip_prefix("instance=").unwrap();
        assert_eq!(s.instance_of(value, now, |_| Some("e")), Some(name));
        assert!(issued.set_cookie.starts_with(&issued.cookie));
        for attribute in [
            "; Path=/",
            "; HttpOnly",
            "; SameSite=Lax",
            "; Max-Age=43200",
        ] {
            assert!(
                issued.set_cookie.contains(attribute),
                "{}",
                issued.set_cookie
            );
        }
        assert!(!issued.set_cookie.contains("Secure"));
        let secure = sessions(|s| s.sessions.cookie_secure = true).issue(
            &InstanceName::parse("m2").unwrap(),
            "e",
            now,
        );
        assert!(secure.set_cookie.ends_with("; Secure"));
        let host = sessions(|s| {
            s.traefik.routing = Routing::Host;
            s.traefik.host_domain = "apps.example.com".into();
            s.sessions.cookie_secure = true;
        })
        .issue(&InstanceName::parse("m2").unwrap(), "e", SystemTime::now());
        assert!(host
            .set_cookie
            .ends_with("; Domain=apps.example.com; Secure"));
    }

    #[test]
    fn plain_mode_reads_and_issues_the_bare_name() {
        let s = sessions(|s| s.sessions.cookie_signing = false);
        let now = SystemTime::now();
        assert_eq!(
            s.instance_of("minion-1", now, |_| None::<&str>),
            Some(InstanceName::parse("minion-1").unwrap())
        );
        let issued = s.issue(&InstanceName::parse("minion-1").unwrap(), "e", now);
        assert_eq!(issued.cookie, "instance=minion-1");
        assert!(!s.signed());
    }

    #[test]
    fn signed_mode_refuses_the_bare_name() {
        let s = sessions(|_| {});
        let any = |_: &InstanceName| Some(String::new());
        assert_eq!(s.instance_of("minion-1", SystemTime::now(), any), None);
    }
}
