//! Reading the instance cookie out of the `Cookie` headers, byte for byte.
//!
//! traefik routes a request by matching its rule against each `Cookie` header on its own, and
//! spawner authorises it by reading them here: two parsers. Authorisation no longer depends on
//! them agreeing (the instance router tells spawner which instance it routed to), but a reading
//! that silently skips what it cannot decode is how the last hole opened, so this one refuses
//! instead: any byte outside visible ASCII, space and tab, a pair whose name is the cookie's
//! name give or take whitespace or case, or more than one instance cookie, and the request is
//! [`InstanceCookie::Refused`]. Nothing is trimmed that traefik's rule
//! (`(?:^|;\s*)instance=…(?:;|$)`) does not skip: whitespace after a `;`, nothing else.

use actix_web::http::header::HeaderValue;

/// What the `Cookie` headers say about the instance cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceCookie {
    /// No instance cookie at all.
    Absent,
    /// Exactly one `instance=<value>`, the value as sent (not trimmed, not unquoted).
    One(String),
    /// Something spawner will not guess about (the reason, for the log).
    Refused(&'static str),
}

/// Reads every `Cookie` header, in order, for the pair named `key`.
pub fn read<'a>(headers: impl IntoIterator<Item = &'a HeaderValue>, key: &str) -> InstanceCookie {
    let mut found: Option<&str> = None;
    for header in headers {
        let bytes = header.as_bytes();
        if !bytes
            .iter()
            .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
        {
            return InstanceCookie::Refused("a Cookie header with bytes that are not ASCII text");
        }
        // Checked above: visible ASCII, space and tab only.
        let text = std::str::from_utf8(bytes).unwrap_or_default();
        for (i, pair) in text.split(';').enumerate() {
            // traefik's `;\s*`: whitespace may follow a separator, never start the header.
            let pair = if i == 0 {
                pair
            } else {
                pair.trim_start_matches([' ', '\t'])
            };
            let value = match pair.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
                Some(value) => value,
                None if looks_like(pair, key) => {
                    return InstanceCookie::Refused("an instance cookie in an unusual shape")
                }
                None => continue,
            };
            if found.replace(value).is_some() {
                return InstanceCookie::Refused("two instance cookies");
            }
        }
    }
    found.map_or(InstanceCookie::Absent, |v| {
        InstanceCookie::One(v.to_string())
    })
}

/// A pair that some parser could take for the instance cookie: its name is `key` once
/// whitespace is trimmed and case ignored (`instance =`, `Instance=`, a bare `instance`).
fn looks_like(pair: &str, key: &str) -> bool {
    let name = pair.split_once('=').map_or(pair, |(name, _)| name);
    name.trim_matches([' ', '\t']).eq_ignore_ascii_case(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(headers: &[&[u8]]) -> InstanceCookie {
        let values: Vec<HeaderValue> = headers
            .iter()
            .map(|h| HeaderValue::from_bytes(h).unwrap())
            .collect();
        read(&values, "instance")
    }

    fn one(v: &str) -> InstanceCookie {
        InstanceCookie::One(v.into())
    }

    #[test]
    fn the_instance_cookie_is_found_among_others_in_any_header() {
        assert_eq!(read_all(&[b"instance=a.1.s"]), one("a.1.s"));
        assert_eq!(read_all(&[b"x=1; instance=a; y=2"]), one("a"));
        assert_eq!(read_all(&[b"x=1;instance=a"]), one("a"));
        assert_eq!(read_all(&[b"x=1;\t instance=a"]), one("a"));
        assert_eq!(read_all(&[b"x=1", b"instance=a"]), one("a"));
        assert_eq!(
            read_all(&[b"myinstance=a; instances=b"]),
            InstanceCookie::Absent
        );
        assert_eq!(read_all(&[]), InstanceCookie::Absent);
    }

    #[test]
    fn values_are_taken_as_sent() {
        assert_eq!(read_all(&[b"instance=a ; x=1"]), one("a "));
        assert_eq!(read_all(&[b"instance=\"a\""]), one("\"a\""));
        assert_eq!(read_all(&[b"instance="]), one(""));
        assert_eq!(read_all(&[b"instance=a=b"]), one("a=b"));
    }

    #[test]
    fn two_instance_cookies_are_refused_in_one_header_or_across_headers() {
        for headers in [
            &[&b"instance=a; instance=b"[..]][..],
            &[b"instance=a", b"instance=b"],
            &[b"instance=a", b"x=1; instance=a"],
        ] {
            assert!(matches!(read_all(headers), InstanceCookie::Refused(_)));
        }
    }

    #[test]
    fn undecodable_headers_refuse_the_request_wherever_they_are() {
        for headers in [
            &[&b"instance=a; z=\xff"[..]][..],
            &[b"instance=a", b"instance=b; z=\xff"],
            &[b"z=\xc3\xa9", b"instance=a"],
        ] {
            assert!(
                matches!(read_all(headers), InstanceCookie::Refused(_)),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn names_that_only_look_like_the_key_are_refused_not_skipped() {
        for header in [
            &b"instance =a"[..],
            b"instance\t=a",
            b"Instance=a",
            b"INSTANCE=a",
            b"x=1; instance =a",
            b"x=1; instance",
            b"instance",
            b"x=1;  Instance\t= a",
        ] {
            assert!(
                matches!(read_all(&[header]), InstanceCookie::Refused(_)),
                "{:?}",
                String::from_utf8_lossy(header)
            );
        }
    }

    #[test]
    fn a_cookie_inside_another_cookies_value_is_not_the_instance_cookie() {
        assert_eq!(read_all(&[b"x=instance=a"]), InstanceCookie::Absent);
        assert_eq!(read_all(&[b"x=\"instance=a\""]), InstanceCookie::Absent);
    }
}
