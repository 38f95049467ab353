//! Parsers for setting values: each takes the raw text, whatever layer it came from, and returns
//! the value or a reason a user can act on (the caller adds which setting it was).

use std::str::FromStr;
use std::time::Duration;

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
