//! Parsers for setting values: each takes the raw text, whatever layer it came from, and returns
//! the value or a reason a user can act on (the caller adds which setting it was).

use std::str::FromStr;
use std::time::Duration;

use crate::domain::session::Secret;
use crate::domain::ApiToken;

/// Why a value was refused: a sentence saying what to write instead, or a file the value names
/// that cannot be used, with the file's own error kept as the source.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read {file}")]
    Unreadable {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file} cannot be used")]
    Unusable {
        file: String,
        #[source]
        source: crate::domain::registry::ConfigFileError,
    },
}

/// Any text, as written.
pub fn text(raw: String) -> Result<String, Refusal> {
    Ok(raw)
}

/// Any text, without the spaces around it.
pub fn trimmed(raw: String) -> Result<String, Refusal> {
    Ok(raw.trim().to_string())
}

impl From<String> for Refusal {
    fn from(sentence: String) -> Self {
        Refusal::Invalid(sentence)
    }
}

pub fn parse<T: FromStr>(raw: String) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    raw.trim().parse().map_err(|e: T::Err| e.to_string())
}

pub fn non_empty(raw: String) -> Result<String, String> {
    if raw.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(raw.trim().to_string())
    }
}

pub fn duration(raw: String) -> Result<Duration, String> {
    humantime::parse_duration(raw.trim())
        .map_err(|e| format!("{e}; write a duration such as 500ms, 2s or 1m"))
}

pub fn positive_duration(raw: String) -> Result<Duration, String> {
    let d = duration(raw)?;
    if d.is_zero() {
        Err("must be longer than zero".into())
    } else {
        Ok(d)
    }
}

pub fn boolean(raw: String) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("write true or false".into()),
    }
}

pub fn status(raw: String) -> Result<u16, String> {
    match raw.trim().parse::<u16>() {
        Ok(s) if (100..=599).contains(&s) => Ok(s),
        _ => Err("write an HTTP status between 100 and 599".into()),
    }
}

pub fn cookie_key(raw: String) -> Result<String, String> {
    let ok = !raw.is_empty()
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
    if ok {
        Ok(raw)
    } else {
        Err("a cookie name uses letters, digits and !#$%&'*+-.^_`|~ only".into())
    }
}

pub fn path(raw: String) -> Result<String, String> {
    let p = raw.trim().trim_end_matches('/');
    if !raw.trim().starts_with('/') {
        return Err("a path starts with '/'".into());
    }
    Ok(if p.is_empty() { "/".into() } else { p.into() })
}

pub fn prefix(raw: String) -> Result<String, String> {
    if raw.trim().is_empty() {
        return Ok(String::new());
    }
    path(raw).map(|p| if p == "/" { String::new() } else { p })
}

pub fn http_url(raw: String) -> Result<String, String> {
    let url = raw.trim().trim_end_matches('/').to_string();
    match url.parse::<actix_web::http::Uri>() {
        Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some() => Ok(url),
        Ok(_) => Err("write an http:// URL with a host, e.g. http://traefik:8080".into()),
        Err(e) => Err(e.to_string()),
    }
}

pub fn positive_count(raw: String) -> Result<usize, String> {
    match raw.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("write a whole number above zero".into()),
    }
}

/// A count where 0 means "no limit" (`None`).
pub fn optional_count(raw: String) -> Result<Option<usize>, String> {
    match raw.trim().parse::<usize>() {
        Ok(0) => Ok(None),
        Ok(n) => Ok(Some(n)),
        _ => Err("write a whole number (0: no limit)".into()),
    }
}

/// A duration where 0 means "never" (`None`).
pub fn optional_duration(raw: String) -> Result<Option<Duration>, String> {
    let d = duration(raw).map_err(|e| format!("{e} (0: never)"))?;
    if d > crate::domain::idle::MAX_TIMEOUT {
        return Err("write at most 365 days, the longest idle timeout (0: never)".into());
    }
    Ok((!d.is_zero()).then_some(d))
}

/// Comma-separated secrets; empty: none.
pub fn secret_list(raw: String) -> Result<Vec<Secret>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Secret::parse)
        .collect()
}

/// The lines of a file that are not empty and not `#` comments; an empty path: none.
fn file_lines(raw: &str) -> Result<Vec<String>, Refusal> {
    let path = raw.trim();
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(path).map_err(|source| Refusal::Unreadable {
        file: path.to_string(),
        source,
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}

pub fn secret_file(raw: String) -> Result<Vec<Secret>, Refusal> {
    file_lines(&raw)?
        .iter()
        .map(|line| Secret::parse(line).map_err(Refusal::from))
        .collect()
}

pub fn token(raw: String) -> Result<Option<ApiToken>, String> {
    match raw.trim() {
        "" => Ok(None),
        t => ApiToken::parse(t).map(Some),
    }
}

pub fn token_file(raw: String) -> Result<Option<ApiToken>, Refusal> {
    match file_lines(&raw)?.first() {
        None if raw.trim().is_empty() => Ok(None),
        None => Err(Refusal::Invalid(
            "the file is empty; put the token on its first line".into(),
        )),
        Some(line) => Ok(Some(ApiToken::parse(line)?)),
    }
}

pub fn memory(raw: String) -> Result<u64, String> {
    let bytes = crate::domain::limits::parse_memory(&raw)?;
    if bytes < crate::domain::limits::MIN_MEMORY {
        return Err("Docker needs at least 6m".into());
    }
    Ok(bytes)
}

pub fn cpus(raw: String) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(c) if c.is_finite() && c >= crate::domain::limits::MIN_CPUS => Ok(c),
        _ => Err(format!(
            "write a number of CPUs of at least {} (Docker's least), e.g. 0.5 or 2",
            crate::domain::limits::MIN_CPUS
        )),
    }
}

pub fn pids(raw: String) -> Result<u32, String> {
    match raw.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("write a whole number above zero".into()),
    }
}

/// Capability names as Docker takes them (`NET_RAW`, also `CAP_NET_RAW`), or `ALL`.
pub fn capabilities(raw: String) -> Result<Vec<String>, String> {
    raw.split(',')
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
        .map(|c| {
            if c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_') {
                Ok(c)
            } else {
                Err(format!("{c:?} is not a capability name such as NET_RAW"))
            }
        })
        .collect()
}

pub fn subnet(raw: String) -> Result<ipnet::Ipv4Net, String> {
    let net: ipnet::Ipv4Net = raw.trim().parse().map_err(|_| {
        format!("{raw:?} is not an IPv4 subnet; write it as address/prefix, e.g. 10.213.0.0/16")
    })?;
    if net.prefix_len() > 28 {
        return Err(format!(
            "{raw:?} holds too few addresses; use a prefix of /28 or shorter"
        ));
    }
    if net.network() != net.addr() {
        return Err(format!(
            "{raw:?} has host bits set; did you mean {}?",
            net.trunc()
        ));
    }
    Ok(net)
}

/// A Docker `config.json` that must be readable and well-formed at start (it is read again at
/// each pull, so a later `docker login` takes effect).
pub fn registry_auth_file(raw: String) -> Result<Option<std::path::PathBuf>, Refusal> {
    let file = raw.trim().to_string();
    if file.is_empty() {
        return Ok(None);
    }
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(source) => return Err(Refusal::Unreadable { file, source }),
    };
    if let Err(source) = crate::domain::registry::parse_config(&text) {
        return Err(Refusal::Unusable { file, source });
    }
    Ok(Some(file.into()))
}
