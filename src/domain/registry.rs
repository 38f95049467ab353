//! Registry credentials from a Docker `config.json` (the `registry_auth_file` setting): which
//! registry an image comes from, and the credentials the file holds for it.

use std::collections::BTreeMap;

use base64::Engine as _;

/// Credentials for one registry, as a Docker `config.json` gives them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
    /// The registry's address as `config.json` names it, e.g. `127.0.0.1:5000`.
    pub server: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RegistryAuth({}@{}, password hidden)",
            self.username, self.server
        )
    }
}

/// Docker Hub's key in `config.json`.
const DOCKER_HUB: &str = "https://index.docker.io/v1/";

/// The registry an image reference names: its first part when that is a host (it has a `.` or
/// a `:`, or is `localhost`), else Docker Hub.
pub fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => DOCKER_HUB,
    }
}

#[derive(serde::Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, Entry>,
}

#[derive(serde::Deserialize)]
struct Entry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// Why a `config.json` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("it is not a Docker config.json")]
    NotJson(#[source] serde_json::Error),
    #[error("auths.{server}.auth is not base64 of user:password")]
    BadAuth { server: String },
}

/// Every registry's credentials in a `config.json`'s text. Keys are compared without a scheme
/// or a trailing path (`https://127.0.0.1:5000/v2/` is `127.0.0.1:5000`), as `docker login`
/// may write either.
pub fn parse_config(text: &str) -> Result<Vec<RegistryAuth>, ConfigFileError> {
    let file: ConfigFile = serde_json::from_str(text).map_err(ConfigFileError::NotJson)?;
    let mut found = Vec::new();
    for (server, entry) in file.auths {
        let bad_auth = || ConfigFileError::BadAuth {
            server: server.clone(),
        };
        let (username, password) = match (&entry.auth, entry.username, entry.password) {
            (Some(auth), _, _) if !auth.is_empty() => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(bad_auth)?;
                let (user, pass) = decoded.split_once(':').ok_or_else(bad_auth)?;
                (user.to_string(), pass.to_string())
            }
            (_, Some(user), Some(pass)) => (user, pass),
            // Credential helpers (credsStore) keep nothing here: nothing to use.
            _ => continue,
        };
        found.push(RegistryAuth {
            username,
            password,
            server,
        });
    }
    Ok(found)
}

fn bare(server: &str) -> &str {
    let without_scheme = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    without_scheme.split('/').next().unwrap_or(without_scheme)
}

/// The credentials for `image` among `all`, if any.
pub fn for_image(all: &[RegistryAuth], image: &str) -> Option<RegistryAuth> {
    let registry = registry_of(image);
    let hub = registry == DOCKER_HUB;
    all.iter()
        .find(|a| {
            if hub {
                matches!(
                    bare(&a.server),
                    "index.docker.io" | "docker.io" | "registry-1.docker.io"
                )
            } else {
                bare(&a.server) == registry
            }
        })
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_is_the_first_part_when_it_is_a_host() {
        assert_eq!(registry_of("127.0.0.1:5000/app:1"), "127.0.0.1:5000");
        assert_eq!(registry_of("localhost/app"), "localhost");
        assert_eq!(registry_of("ghcr.io/o/app"), "ghcr.io");
        assert_eq!(registry_of("library/debian"), DOCKER_HUB);
        assert_eq!(registry_of("mock-app:latest"), DOCKER_HUB);
    }

    #[test]
    fn credentials_are_found_for_the_images_registry() {
        let text = r#"{"auths":{
            "127.0.0.1:5000":{"auth":"dXNlcjpwYXNzOndvcmQ="},
            "https://ghcr.io/v2/":{"username":"u","password":"p"},
            "https://index.docker.io/v1/":{"auth":"aHViOnNlY3JldA=="},
            "helper.example":{}}}"#;
        let all = parse_config(text).unwrap();
        let local = for_image(&all, "127.0.0.1:5000/app:2").unwrap();
        assert_eq!(
            (local.username.as_str(), local.password.as_str()),
            ("user", "pass:word")
        );
        assert_eq!(for_image(&all, "ghcr.io/o/app").unwrap().username, "u");
        assert_eq!(for_image(&all, "debian").unwrap().password, "secret");
        assert!(for_image(&all, "quay.io/x").is_none());
        assert!(
            !format!("{local:?}").contains("pass:word"),
            "Debug hides the password"
        );
    }

    #[test]
    fn a_broken_file_says_what_is_wrong_and_keeps_the_json_error_as_its_cause() {
        let not_json = parse_config("{").unwrap_err();
        assert!(not_json.to_string().contains("not a Docker config.json"));
        let cause = std::error::Error::source(&not_json).expect("the JSON error is kept");
        assert!(cause.to_string().contains("EOF"), "{cause}");
        let bad = r#"{"auths":{"r.example":{"auth":"!!"}}}"#;
        assert!(parse_config(bad)
            .unwrap_err()
            .to_string()
            .contains("auths.r.example.auth"));
    }
}
