//! Settings and where they come from: defaults < `spawner.toml` (`--config` / `SPAWNER_CONFIG`) <
//! environment `SPAWNER_<KEY>` < command-line `--key-with-dashes`.
//!
//! One table ([`SETTINGS`]) names every setting once, with its default and help; the command line,
//! `--help`, the layering and the error messages are all built from it, so a setting cannot be
//! documented in one place and missing in another. Every value is read as text from whichever
//! layer set it and parsed here, so a bad value gets the same message, naming the setting, whatever
//! layer it came from.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use clap::{Arg, ArgAction, Command};

/// key, default, value name, help.
pub const SETTINGS: &[(&str, &str, &str, &str)] = &[
    (
        "api_addr",
        "0.0.0.0:8008",
        "ADDR",
        "Address of the private API (deploy, traefik config)",
    ),
    (
        "auth_addr",
        "0.0.0.0:8000",
        "ADDR",
        "Address of the ForwardAuth endpoint (/auth)",
    ),
    (
        "docker_host",
        "",
        "URL",
        "Docker endpoint, e.g. unix:///var/run/docker.sock (empty: DOCKER_HOST, else the local socket)",
    ),
    (
        "network",
        "traefiknet",
        "NETWORK",
        "Docker network instances are created on",
    ),
    (
        "allowed_networks",
        "",
        "LIST",
        "Comma-separated networks a deploy may choose (empty: only --network)",
    ),
    (
        "cookie_key",
        "instance",
        "NAME",
        "Cookie that names the user's instance",
    ),
    (
        "cookie_fallback_url",
        "/home",
        "URL",
        "Where clients without a usable instance are redirected",
    ),
    (
        "public_path",
        "/home",
        "PATH",
        "Path (and sub-paths) that pass without an instance",
    ),
    (
        "redirect_timeout",
        "2s",
        "DURATION",
        "Wait after a start when nothing tells readiness",
    ),
    (
        "http_probe_ok_status",
        "200",
        "STATUS",
        "Status the health-check URL answers when ready",
    ),
    (
        "http_probe_timeout",
        "1s",
        "DURATION",
        "Timeout of one readiness probe",
    ),
    (
        "traefik_base_url",
        "http://traefik:8080",
        "URL",
        "traefik's API, asked whether a new route is loaded",
    ),
    (
        "traefik_check_enabled",
        "true",
        "BOOL",
        "Wait for traefik to load a new instance's route (fallback)",
    ),
    (
        "use_path_routing",
        "false",
        "BOOL",
        "Route by path (<prefix>/<name>/...) instead of cookie",
    ),
    (
        "container_prefix",
        "",
        "PATH",
        "Path prefix of instances in path-routing mode, e.g. /p",
    ),
    (
        "hold_timeout",
        "25s",
        "DURATION",
        "How long /auth holds a request for a starting instance (keep under traefik's 30s)",
    ),
    (
        "route_timeout",
        "10s",
        "DURATION",
        "How long the fallback waits for traefik to load a route",
    ),
    (
        "ready_timeout",
        "5m",
        "DURATION",
        "After this, a start that never got ready is given up",
    ),
    (
        "entrypoint",
        "web",
        "NAME",
        "traefik entrypoint of the served routers",
    ),
];

#[derive(Debug, Clone)]
pub struct Settings {
    pub api_addr: SocketAddr,
    pub auth_addr: SocketAddr,
    pub docker_host: String,
    pub network: String,
    pub allowed_networks: Vec<String>,
    pub cookie_key: String,
    pub cookie_fallback_url: String,
    pub public_path: String,
    pub redirect_timeout: Duration,
    pub http_probe_ok_status: u16,
    pub http_probe_timeout: Duration,
    pub traefik_base_url: String,
    pub traefik_check_enabled: bool,
    pub use_path_routing: bool,
    pub container_prefix: String,
    pub hold_timeout: Duration,
    pub route_timeout: Duration,
    pub ready_timeout: Duration,
    pub entrypoint: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value {value:?} for setting `{key}` (--{flag}, SPAWNER_{env}): {reason}")]
    Invalid {
        key: String,
        flag: String,
        env: String,
        value: String,
        reason: String,
    },
    #[error("unknown setting `{key}` in {file}; known settings: {known}")]
    UnknownKey {
        key: String,
        file: String,
        known: String,
    },
    #[error("cannot read the configuration: {0}")]
    Source(String),
}

/// The command line: one `--key-with-dashes` per setting, plus `--config`.
pub fn command() -> Command {
    let mut cmd = Command::new("spawner")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Starts per-user Docker containers on demand behind traefik (ForwardAuth middleware)")
        .after_help(
            "Every setting can also be given as SPAWNER_<KEY> in the environment or as <key> in the \
             TOML file; the command line wins over the environment, which wins over the file.\n\
             Durations: 500ms, 2s, 1m. Logs: RUST_LOG (e.g. RUST_LOG=spawner=debug).",
        )
        .arg(
            Arg::new("config")
                .long("config")
                .value_name("FILE")
                .help("TOML file with settings [env: SPAWNER_CONFIG] [default: spawner.toml if present]"),
        );
    for (key, default, value_name, help) in SETTINGS {
        let mut arg = Arg::new(*key)
            .long(flag(key))
            .value_name(*value_name)
            .help(format!(
                "{help} [default: {}] [env: SPAWNER_{}]",
                if default.is_empty() { "\"\"" } else { default },
                key.to_uppercase()
            ))
            .action(ArgAction::Set);
        if *value_name == "BOOL" {
            // `--use-path-routing` alone means true; `--traefik-check-enabled=false` as in the old flags.
            arg = arg.num_args(0..=1).default_missing_value("true");
        }
        cmd = cmd.arg(arg);
    }
    cmd
}

fn flag(key: &str) -> String {
    key.replace('_', "-")
}

impl Settings {
    /// Reads the layers. `args` includes the program name; `env` is the process environment.
    /// A clap error (including `--help`) is returned as such so the caller can print it and exit.
    pub fn load(
        args: impl IntoIterator<Item = String>,
        env: HashMap<String, String>,
    ) -> Result<Result<Self, ConfigError>, clap::Error> {
        let matches = command().try_get_matches_from(args)?;
        Ok(Self::from_layers(&matches, env))
    }

    fn from_layers(
        matches: &clap::ArgMatches,
        env: HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut builder = defaults();
        let (file, required) = match matches
            .get_one::<String>("config")
            .cloned()
            .or_else(|| env.get("SPAWNER_CONFIG").cloned())
        {
            Some(path) => (path, true),
            None => ("spawner.toml".to_string(), false),
        };
        check_file_keys(&file, required)?;
        builder = builder
            .add_source(config::File::new(&file, config::FileFormat::Toml).required(required))
            .add_source(
                config::Environment::with_prefix("SPAWNER")
                    .prefix_separator("_")
                    .source(Some(env.into_iter().collect())),
            );
        for (key, _, _, _) in SETTINGS {
            if let Some(value) = matches.get_one::<String>(key) {
                builder = builder
                    .set_override(*key, value.clone())
                    .map_err(|e| ConfigError::Source(e.to_string()))?;
            }
        }
        let layers = builder
            .build()
            .map_err(|e| ConfigError::Source(e.to_string()))?;
        Self::from_config(&layers)
    }

    fn from_config(c: &config::Config) -> Result<Self, ConfigError> {
        let network: String = get(c, "network", non_empty)?;
        let mut allowed_networks: Vec<String> = get::<String>(c, "allowed_networks", Ok)?
            .split(',')
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect();
        if !allowed_networks.contains(&network) {
            allowed_networks.insert(0, network.clone());
        }
        Ok(Self {
            api_addr: get(c, "api_addr", parse::<SocketAddr>)?,
            auth_addr: get(c, "auth_addr", parse::<SocketAddr>)?,
            docker_host: get(c, "docker_host", |h| Ok(h.trim().to_string()))?,
            network,
            allowed_networks,
            cookie_key: get(c, "cookie_key", cookie_key)?,
            cookie_fallback_url: get(c, "cookie_fallback_url", non_empty)?,
            public_path: get(c, "public_path", path)?,
            redirect_timeout: get(c, "redirect_timeout", duration)?,
            http_probe_ok_status: get(c, "http_probe_ok_status", status)?,
            http_probe_timeout: get(c, "http_probe_timeout", positive_duration)?,
            traefik_base_url: get(c, "traefik_base_url", http_url)?,
            traefik_check_enabled: get(c, "traefik_check_enabled", boolean)?,
            use_path_routing: get(c, "use_path_routing", boolean)?,
            container_prefix: get(c, "container_prefix", prefix)?,
            hold_timeout: get(c, "hold_timeout", positive_duration)?,
            route_timeout: get(c, "route_timeout", positive_duration)?,
            ready_timeout: get(c, "ready_timeout", positive_duration)?,
            entrypoint: get(c, "entrypoint", non_empty)?,
        })
    }

    /// Settings for tests and embedding: the defaults, with both listeners on free loopback ports.
    pub fn for_tests() -> Self {
        let layers = defaults()
            .set_override("api_addr", "127.0.0.1:0")
            .and_then(|b| b.set_override("auth_addr", "127.0.0.1:0"))
            .and_then(|b| b.build())
            .expect("static defaults");
        Self::from_config(&layers).expect("the defaults are valid")
    }
}

/// The bottom layer: every setting's default from [`SETTINGS`].
fn defaults() -> config::ConfigBuilder<config::builder::DefaultState> {
    SETTINGS.iter().fold(
        config::Config::builder(),
        |builder, (key, default, _, _)| {
            builder
                .set_default(*key, *default)
                .expect("a static string default is always accepted")
        },
    )
}

/// A typo in the file would otherwise be ignored silently.
fn check_file_keys(file: &str, required: bool) -> Result<(), ConfigError> {
    let only_file = config::Config::builder()
        .add_source(config::File::new(file, config::FileFormat::Toml).required(required))
        .build()
        .map_err(|e| ConfigError::Source(e.to_string()))?;
    let keys = only_file
        .try_deserialize::<HashMap<String, config::Value>>()
        .map_err(|e| ConfigError::Source(e.to_string()))?;
    for key in keys.keys() {
        if !SETTINGS.iter().any(|(k, ..)| k == key) {
            return Err(ConfigError::UnknownKey {
                key: key.clone(),
                file: file.to_string(),
                known: SETTINGS
                    .iter()
                    .map(|(k, ..)| *k)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    Ok(())
}

fn get<T>(
    c: &config::Config,
    key: &str,
    parser: impl Fn(String) -> Result<T, String>,
) -> Result<T, ConfigError> {
    let raw = c
        .get_string(key)
        .map_err(|e| ConfigError::Source(e.to_string()))?;
    parser(raw.clone()).map_err(|reason| ConfigError::Invalid {
        key: key.to_string(),
        flag: flag(key),
        env: key.to_uppercase(),
        value: raw,
        reason,
    })
}

fn parse<T: FromStr>(raw: String) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    raw.trim().parse().map_err(|e: T::Err| e.to_string())
}

fn non_empty(raw: String) -> Result<String, String> {
    if raw.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(raw.trim().to_string())
    }
}

fn duration(raw: String) -> Result<Duration, String> {
    humantime::parse_duration(raw.trim())
        .map_err(|e| format!("{e}; write a duration such as 500ms, 2s or 1m"))
}

fn positive_duration(raw: String) -> Result<Duration, String> {
    let d = duration(raw)?;
    if d.is_zero() {
        Err("must be longer than zero".into())
    } else {
        Ok(d)
    }
}

fn boolean(raw: String) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("write true or false".into()),
    }
}

fn status(raw: String) -> Result<u16, String> {
    match raw.trim().parse::<u16>() {
        Ok(s) if (100..=599).contains(&s) => Ok(s),
        _ => Err("write an HTTP status between 100 and 599".into()),
    }
}

fn cookie_key(raw: String) -> Result<String, String> {
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

fn path(raw: String) -> Result<String, String> {
    let p = raw.trim().trim_end_matches('/');
    if !raw.trim().starts_with('/') {
        return Err("a path starts with '/'".into());
    }
    Ok(if p.is_empty() { "/".into() } else { p.into() })
}

fn prefix(raw: String) -> Result<String, String> {
    if raw.trim().is_empty() {
        return Ok(String::new());
    }
    path(raw).map(|p| if p == "/" { String::new() } else { p })
}

fn http_url(raw: String) -> Result<String, String> {
    let url = raw.trim().trim_end_matches('/').to_string();
    match url.parse::<actix_web::http::Uri>() {
        Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some() => Ok(url),
        Ok(_) => Err("write an http:// URL with a host, e.g. http://traefik:8080".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(args: &[&str], env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let args = std::iter::once("spawner")
            .chain(args.iter().copied())
            .map(String::from);
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load(args, env).expect("valid command line")
    }

    #[test]
    fn defaults_match_the_design() {
        let s = load(&[], &[]).unwrap();
        assert_eq!(s.api_addr.to_string(), "0.0.0.0:8008");
        assert_eq!(s.auth_addr.to_string(), "0.0.0.0:8000");
        assert_eq!(s.cookie_key, "instance");
        assert_eq!(s.cookie_fallback_url, "/home");
        assert_eq!(s.redirect_timeout, Duration::from_secs(2));
        assert_eq!(s.hold_timeout, Duration::from_secs(25));
        assert_eq!(s.allowed_networks, vec!["traefiknet".to_string()]);
        assert!(s.traefik_check_enabled && !s.use_path_routing);
    }

    #[test]
    fn environment_wins_over_defaults_and_flags_win_over_environment() {
        let env = [
            ("SPAWNER_HOLD_TIMEOUT", "3s"),
            ("SPAWNER_NETWORK", "envnet"),
        ];
        let s = load(&[], &env).unwrap();
        assert_eq!(s.hold_timeout, Duration::from_secs(3));
        assert_eq!(s.network, "envnet");
        let s = load(
            &["--hold-timeout", "4s", "--traefik-check-enabled=false"],
            &env,
        )
        .unwrap();
        assert_eq!(s.hold_timeout, Duration::from_secs(4));
        assert!(!s.traefik_check_enabled);
        let s = load(&["--use-path-routing", "--container-prefix", "/p/"], &[]).unwrap();
        assert!(s.use_path_routing);
        assert_eq!(s.container_prefix, "/p");
    }

    #[test]
    fn the_file_sits_between_defaults_and_environment() {
        let dir = std::env::temp_dir().join(format!("spawner-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("spawner.toml");
        std::fs::write(&file, "hold_timeout = \"7s\"\nnetwork = \"filenet\"\n").unwrap();
        let path = file.to_str().unwrap();
        let s = load(&["--config", path], &[]).unwrap();
        assert_eq!(s.hold_timeout, Duration::from_secs(7));
        let s = load(
            &[],
            &[("SPAWNER_CONFIG", path), ("SPAWNER_NETWORK", "envnet")],
        )
        .unwrap();
        assert_eq!(
            (s.network.as_str(), s.hold_timeout),
            ("envnet", Duration::from_secs(7))
        );
        std::fs::write(&file, "hold_timout = \"7s\"\n").unwrap();
        let err = load(&["--config", path], &[]).unwrap_err().to_string();
        assert!(err.contains("unknown setting `hold_timout`"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_bad_value_names_the_setting_whatever_layer_it_came_from() {
        let err = load(&["--hold-timeout", "soon"], &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`hold_timeout`") && err.contains("--hold-timeout"),
            "{err}"
        );
        let err = load(&[], &[("SPAWNER_HTTP_PROBE_OK_STATUS", "abc")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`http_probe_ok_status`"), "{err}");
        let err = load(&["--api-addr", "nowhere"], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`api_addr`"), "{err}");
        let err = load(&["--traefik-check-enabled=maybe"], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`traefik_check_enabled`"), "{err}");
    }

    #[test]
    fn help_lists_every_setting() {
        let help = command().render_long_help().to_string();
        for (key, ..) in SETTINGS {
            assert!(help.contains(&format!("--{}", flag(key))), "{key}");
        }
    }
}
