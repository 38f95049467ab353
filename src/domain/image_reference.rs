//! Image references as Docker reads them (its `reference` grammar), checked before any Docker
//! call: a reference Docker calls invalid is the request's fault (400), not the engine's (502).
//!
//! `[host[:port]/]path[:tag][@sha256:<64 hex>]`: the path is `/`-separated components of
//! lowercase letters and digits joined by `.`, `_`, `__` or dashes; the first component is a
//! registry host when there is more than one and it has a `.` or `:`, is `localhost`, or has an
//! uppercase letter (as Docker splits it).

/// Docker refuses a name (without tag and digest) longer than this.
const MAX_NAME: usize = 255;
const MAX_TAG: usize = 128;

/// Reads the `image` of a body (a deploy or a recreate): trimmed, or an error naming the field.
pub fn parse(raw: &str) -> Result<String, String> {
    let image = raw.trim();
    if image.is_empty() {
        return Err("`image` must not be empty; name an image present on the Docker host".into());
    }
    check(image).map_err(|why| {
        format!(
            "`image` {raw:?} is not an image reference ({why}); write e.g. mock-app:latest or registry.example:5000/team/app:1.2"
        )
    })?;
    Ok(image.to_string())
}

fn check(image: &str) -> Result<(), &'static str> {
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    if let Some(digest) = digest {
        let hex = digest.strip_prefix("sha256:").unwrap_or_default();
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err("a digest is @sha256: and 64 lowercase hex digits");
        }
    }
    // The tag follows a ':' after the last '/'; a ':' before it is the registry's port.
    let last_part = rest.rfind('/').map_or(0, |at| at + 1);
    let (name, tag) = match rest[last_part..].rfind(':') {
        Some(at) => (&rest[..last_part + at], Some(&rest[last_part + at + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    if name.len() > MAX_NAME {
        return Err("the name is longer than 255 characters");
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 && is_registry(components[0]) {
        check_registry(components.remove(0))?;
    }
    components.into_iter().try_for_each(check_path_component)
}

/// Whether Docker reads the first of several components as a registry host.
fn is_registry(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

/// `host[:port]`: DNS labels of letters, digits and inner dashes joined by dots, or an IPv6
/// address in brackets; the port is digits.
fn check_registry(registry: &str) -> Result<(), &'static str> {
    const BAD: &str = "the registry must be host or host:port";
    let (host, port) = match registry.strip_prefix('[') {
        Some(v6) => {
            let (address, after) = v6.split_once(']').ok_or(BAD)?;
            let ok =
                !address.is_empty() && address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
            if !ok {
                return Err(BAD);
            }
            match after {
                "" => ("", None),
                _ => ("", Some(after.strip_prefix(':').ok_or(BAD)?)),
            }
        }
        None => match registry.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        },
    };
    let label_ok = |label: &str| {
        let bytes = label.as_bytes();
        !bytes.is_empty()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-'
    };
    if !registry.starts_with('[') && !host.split('.').all(label_ok) {
        return Err(BAD);
    }
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BAD);
        }
    }
    Ok(())
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
fn check_path_component(component: &str) -> Result<(), &'static str> {
    const BAD: &str =
        "each part of the name is lowercase letters and digits, joined by '.', '_', '__' or '-'";
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return Err(BAD);
    };
    if !alnum(first) || !alnum(last) {
        return Err(BAD);
    }
    // Between runs of letters and digits: one separator.
    for separator in component.split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        let ok = matches!(separator, "" | "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok {
            return Err(BAD);
        }
    }
    Ok(())
}

/// `[\w][\w.-]{0,127}`
fn check_tag(tag: &str) -> Result<(), &'static str> {
    const BAD: &str =
        "a tag is up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'";
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ok = tag.len() <= MAX_TAG
        && tag.bytes().next().is_some_and(word)
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-');
    ok.then_some(()).ok_or(BAD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_docker_accepts_are_accepted() {
        let digest = format!("app@sha256:{}", "a".repeat(64));
        let long_tag = format!("app:{}", "t".repeat(128));
        for good in [
            "i",
            "mock-app:latest",
            " mock-app:nohc ",
            "library/ubuntu",
            "ns/a__b.c_d---e",
            "localhost/app",
            "localhost:5000/team/app:1.2-rc_3",
            "127.0.0.1:5000/app",
            "registry.example.com/a/b/c:v1",
            "Registry.Example/app",
            "[::1]:5000/app:x",
            &digest,
            &format!("127.0.0.1:5000/app:1@sha256:{}", "0".repeat(64)),
            &long_tag,
        ] {
            assert_eq!(parse(good).as_deref(), Ok(good.trim()), "{good}");
        }
    }

    #[test]
    fn references_docker_calls_invalid_are_refused_naming_the_field() {
        let long_name = "a".repeat(256);
        let long_tag = format!("app:{}", "t".repeat(129));
        for bad in [
            "MOCK-APP:LATEST",
            "Mock-app",
            "app:",
            "app:.x",
            "app:-x",
            "app:a/b",
            ":tag",
            "-app",
            "app-",
            "a..b",
            "a___b",
            "a.-b",
            "a//b",
            "/app",
            "app/",
            "app@sha256:abc",
            "app@md5:00",
            &format!("app@sha256:{}", "A".repeat(64)),
            "host:port/app",
            "-host.com/app",
            "[zz]/app",
            "app name",
            "app\0",
            "ünïcode",
            &long_name,
            &long_tag,
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.starts_with("`image`"), "{bad}: {err}");
        }
        assert!(parse("  ").unwrap_err().contains("must not be empty"));
    }
}
