//! An instance's named volumes, from the deploy body's `volumes: {"<name>": "/path/in/container"}`.
//! Only named volumes exist here: a key that looks like a host path is refused, so no deploy
//! body can mount anything of the host.

use std::collections::BTreeMap;

/// Most volumes one instance may have.
pub const MAX_VOLUMES: usize = 16;
const MAX_VOLUME_NAME: usize = 64;

/// One volume of an instance: its short name and where it is mounted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Volume {
    pub name: String,
    pub target: String,
}

/// The engine's name of an instance's volume: `spawner-<instance>-<volume>`. Two instances can
/// come to the same name (`a` + `b-c`, `a-b` + `c`); the volume's labels tell whose it is.
pub fn engine_name(instance: &str, volume: &str) -> String {
    format!("spawner-{instance}-{volume}")
}

/// Parses and checks the `volumes` field, sorted by name.
pub fn parse(raw: &BTreeMap<String, String>) -> Result<Vec<Volume>, String> {
    if raw.len() > MAX_VOLUMES {
        return Err(format!(
            "`volumes` has {} entries; an instance may have at most {MAX_VOLUMES}",
            raw.len()
        ));
    }
    let mut targets = BTreeMap::new();
    let mut volumes = Vec::with_capacity(raw.len());
    for (name, target) in raw {
        check_name(name)?;
        let target = check_target(name, target)?;
        if let Some(other) = targets.insert(target.clone(), name.clone()) {
            return Err(format!(
                "`volumes.{name}` and `volumes.{other}` are both mounted at {target:?}; give each its own path"
            ));
        }
        volumes.push(Volume {
            name: name.clone(),
            target,
        });
    }
    Ok(volumes)
}

fn check_name(name: &str) -> Result<(), String> {
    let looks_like_a_path = name.contains(['/', '\\', ':']) || name.starts_with(['.', '~']);
    if looks_like_a_path {
        return Err(format!(
            "`volumes` key {name:?} is a host path: host paths are never mounted; name a volume instead, e.g. {{\"data\": \"/data\"}}"
        ));
    }
    let valid = !name.is_empty()
        && name.len() <= MAX_VOLUME_NAME
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        return Err(format!(
            "`volumes` key {name:?} is not a volume name: use 1–{MAX_VOLUME_NAME} letters, digits, '_', '-' or '.', starting with a letter or digit"
        ));
    }
    Ok(())
}

/// Where Docker mounts a container's own files, or the kernel's: a volume there fails the start.
const SYSTEM_DIRS: [&str; 3] = ["proc", "sys", "dev"];
const DOCKER_FILES: [&str; 4] = [
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/.dockerenv",
];
/// Linux's limits on a path and on one of its parts (bytes).
const MAX_PATH: usize = 4095;
const MAX_PATH_PART: usize = 255;

/// An absolute path, normalized (no empty or `.` parts, no trailing `/`), that Docker can mount
/// a volume at when the container starts.
fn check_target(name: &str, raw: &str) -> Result<String, String> {
    let field = format!("`volumes.{name}`");
    let target = raw.trim();
    if target.chars().any(char::is_control) {
        return Err(format!(
            "{field} {raw:?} must not contain control characters"
        ));
    }
    let parts: Vec<&str> = target
        .split('/')
        .filter(|part| !matches!(*part, "" | "."))
        .collect();
    if !target.starts_with('/') || parts.is_empty() {
        return Err(format!(
            "{field} {raw:?} must be an absolute path in the container other than /, e.g. \"/data\""
        ));
    }
    if parts.contains(&"..") {
        return Err(format!("{field} {raw:?} must not contain '..'"));
    }
    let normalized = format!("/{}", parts.join("/"));
    if normalized.len() > MAX_PATH || parts.iter().any(|p| p.len() > MAX_PATH_PART) {
        return Err(format!(
            "{field} is too long: at most {MAX_PATH} bytes, {MAX_PATH_PART} per part"
        ));
    }
    if SYSTEM_DIRS.contains(&parts[0]) || DOCKER_FILES.contains(&normalized.as_str()) {
        return Err(format!(
            "{field} {raw:?} is where Docker or the kernel mounts the container's own files (/proc, /sys, /dev, /etc/hosts, …); choose another path, e.g. \"/data\""
        ));
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_json(json: &str) -> Result<Vec<Volume>, String> {
        parse(&serde_json::from_str(json).unwrap())
    }

    #[test]
    fn named_volumes_are_accepted_and_sorted() {
        let volumes = parse_json(r#"{"work":"/home/user/work/","cache":"/cache"}"#).unwrap();
        assert_eq!(volumes[0].name, "cache");
        assert_eq!(volumes[1].target, "/home/user/work");
        assert_eq!(engine_name("minion-1", "work"), "spawner-minion-1-work");
    }

    #[test]
    fn host_paths_and_bad_targets_are_refused_naming_the_field() {
        for (json, expected) in [
            (r#"{"/srv/data":"/data"}"#, "is a host path"),
            (r#"{"./data":"/data"}"#, "is a host path"),
            (r#"{"~/data":"/data"}"#, "is a host path"),
            (r#"{"C:\\data":"/data"}"#, "is a host path"),
            (r#"{"":"/data"}"#, "not a volume name"),
            (r#"{"a b":"/data"}"#, "not a volume name"),
            (
                r#"{"data":"data"}"#,
                "`volumes.data` \"data\" must be an absolute path",
            ),
            (r#"{"data":"/"}"#, "other than /"),
            (r#"{"data":"/a/../etc"}"#, "'..'"),
            (r#"{"data":"/a\u0000"}"#, "control characters"),
            (
                r#"{"data":"/proc"}"#,
                "`volumes.data` \"/proc\" is where Docker",
            ),
            (r#"{"data":"/sys/x"}"#, "is where Docker"),
            (r#"{"data":"//dev/"}"#, "is where Docker"),
            (r#"{"data":"/etc/./hosts"}"#, "is where Docker"),
            (r#"{"data":"/.dockerenv"}"#, "is where Docker"),
            (r#"{"a":"/d","b":"/./d//"}"#, "both mounted at \"/d\""),
            (r#"{"a":"/d","b":"/d/"}"#, "both mounted at \"/d\""),
        ] {
            let err = parse_json(json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
        }
        let many: BTreeMap<String, String> = (0..17)
            .map(|i| (format!("v{i}"), format!("/v{i}")))
            .collect();
        assert!(parse(&many).unwrap_err().contains("at most 16"));
        let long = BTreeMap::from([("v".to_string(), format!("/{}", "a".repeat(256)))]);
        assert!(parse(&long).unwrap_err().contains("too long"));
    }
}
