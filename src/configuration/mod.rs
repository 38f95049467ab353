//! Settings and where they come from: defaults < `spawner.toml` (`--config` / `SPAWNER_CONFIG`) <
//! environment `SPAWNER_<KEY>` < command-line `--key-with-dashes`.
//!
//! One table ([`SETTINGS`]) names every setting once, with its default and help; the command line,
//! `--help`, the layering and the error messages are all built from it, so a setting cannot be
//! documented in one place and missing in another. Every value is read as text from whichever
//! layer set it and parsed ([`parse`]), so a bad value gets the same message, naming the setting, whatever
//! layer it came from.

mod cli;
mod parse;
mod table;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use cli::{command, flag};
pub use table::SETTINGS;

use crate::domain::limits::{LimitRules, Limits};
use crate::domain::routing::parse_host_domain;
use crate::domain::session::Secret;
use crate::domain::{ApiToken, IdleAction, PullPolicy, Routing};
use ipnet::Ipv4Net;
use parse::*;

/// Settings whose values are never repeated in an error message.
const SECRET_KEYS: [&str; 2] = ["cookie_secret", "api_token"];

#[derive(Debug, Clone)]
pub struct Settings {
    pub api_addr: SocketAddr,
    pub auth_addr: SocketAddr,
    pub docker_host: String,
    pub network: String,
    /// The subnet `network` is created with when it is missing at start.
    pub network_subnet: Ipv4Net,
    /// Instances carry it as a label; a spawner sees no other scope's instances.
    pub scope: String,
    /// Defaults and maxima of memory, CPUs and processes per instance.
    pub limits: LimitRules,
    /// Capabilities every instance runs without.
    pub cap_drop: Vec<String>,
    pub allowed_networks: Vec<String>,
    pub cookie_key: String,
    pub cookie_fallback_url: String,
    pub cookie_signing: bool,
    /// The first signs, every one verifies (`cookie_secret`, then `cookie_secret_file`).
    pub cookie_secrets: Vec<Secret>,
    pub session_ttl: Duration,
    pub cookie_secure: bool,
    /// `api_token`, else `api_token_file`.
    pub api_token: Option<ApiToken>,
    pub public_path: String,
    pub redirect_timeout: Duration,
    pub http_probe_ok_status: u16,
    pub http_probe_timeout: Duration,
    pub traefik_base_url: String,
    pub traefik_check_enabled: bool,
    /// By cookie, path or host (`routing`, else the old `use_path_routing`).
    pub routing: Routing,
    pub container_prefix: String,
    /// With host routing: instances live at `<name>.<host_domain>`, and sessions are set on it.
    pub host_domain: String,
    /// Instance routers terminate TLS (`tls` on each router), with this certificate resolver
    /// when not empty (else traefik's default certificate store).
    pub router_tls: bool,
    pub tls_cert_resolver: String,
    pub hold_timeout: Duration,
    pub route_timeout: Duration,
    pub ready_timeout: Duration,
    pub max_concurrent_starts: usize,
    pub entrypoint: String,
    /// `None`: instances never idle (unless their own label says otherwise).
    pub idle_timeout: Option<Duration>,
    pub idle_check_interval: Duration,
    pub idle_action: IdleAction,
    /// `None`: a paused instance stays paused.
    pub pause_timeout: Option<Duration>,
    /// `None`: no cap.
    pub max_running: Option<usize>,
    pub evict_grace: Duration,
    pub pull_policy: PullPolicy,
    /// A Docker `config.json` with registry credentials, read at each pull.
    pub registry_auth_file: Option<PathBuf>,
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
    #[error("cannot read the configuration")]
    Source(#[from] config::ConfigError),
}

impl Settings {
    /// Reads the layers. `args` includes the program name; `env` is the process environment.
    /// A clap error (including `--help`) is returned as such so the caller can print it and exit.
    pub fn load(
        args: impl IntoIterator<Item = String>,
        env: HashMap<String, String>,
    ) -> Result<Result<Self, ConfigError>, clap::Error> {
        let matches = command().try_get_matches_from(cli::go_style(args))?;
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
                builder = builder.set_override(*key, value.clone())?;
            }
        }
        let layers = builder.build()?;
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
        let mut cookie_secrets = get(c, "cookie_secret", secret_list)?;
        cookie_secrets.extend(get(c, "cookie_secret_file", secret_file)?);
        let use_path_routing = get(c, "use_path_routing", boolean)?;
        let routing = get(c, "routing", |raw| Routing::parse(&raw, use_path_routing))?;
        let api_token = match get(c, "api_token", token)? {
            Some(token) => Some(token),
            None => get(c, "api_token_file", token_file)?,
        };
        Ok(Self {
            api_addr: get(c, "api_addr", parse::<SocketAddr>)?,
            auth_addr: get(c, "auth_addr", parse::<SocketAddr>)?,
            docker_host: get(c, "docker_host", |h| Ok(h.trim().to_string()))?,
            scope: match get(c, "scope", Ok)?.trim() {
                "" => network.clone(),
                scope => scope.to_string(),
            },
            limits: limit_rules(c)?,
            cap_drop: get(c, "cap_drop", capabilities)?,
            network_subnet: get(c, "network_subnet", subnet)?,
            network,
            allowed_networks,
            cookie_key: get(c, "cookie_key", cookie_key)?,
            cookie_fallback_url: get(c, "cookie_fallback_url", non_empty)?,
            cookie_signing: get(c, "cookie_signing", boolean)?,
            cookie_secrets,
            session_ttl: get(c, "session_ttl", positive_duration)?,
            cookie_secure: get(c, "cookie_secure", boolean)?,
            api_token,
            public_path: get(c, "public_path", path)?,
            redirect_timeout: get(c, "redirect_timeout", duration)?,
            http_probe_ok_status: get(c, "http_probe_ok_status", status)?,
            http_probe_timeout: get(c, "http_probe_timeout", positive_duration)?,
            traefik_base_url: get(c, "traefik_base_url", http_url)?,
            traefik_check_enabled: get(c, "traefik_check_enabled", boolean)?,
            routing,
            container_prefix: get(c, "container_prefix", prefix)?,
            host_domain: get(c, "host_domain", |raw| parse_host_domain(&raw, routing))?,
            router_tls: get(c, "router_tls", boolean)?,
            tls_cert_resolver: get(c, "tls_cert_resolver", |raw| Ok(raw.trim().to_string()))?,
            hold_timeout: get(c, "hold_timeout", positive_duration)?,
            route_timeout: get(c, "route_timeout", positive_duration)?,
            ready_timeout: get(c, "ready_timeout", positive_duration)?,
            max_concurrent_starts: get(c, "max_concurrent_starts", positive_count)?,
            entrypoint: get(c, "entrypoint", non_empty)?,
            idle_timeout: get(c, "idle_timeout", optional_duration)?,
            idle_check_interval: get(c, "idle_check_interval", positive_duration)?,
            idle_action: get(c, "idle_action", |raw| IdleAction::parse(&raw))?,
            pause_timeout: get(c, "pause_timeout", optional_duration)?,
            max_running: get(c, "max_running", optional_count)?,
            evict_grace: get(c, "evict_grace", duration)?,
            pull_policy: get(c, "pull_policy", |raw| PullPolicy::parse(&raw))?,
            registry_auth_file: get(c, "registry_auth_file", registry_auth_file)?,
        })
    }

    /// The settings that shape behaviour, as `key=value` pairs for the start-up log.
    pub fn summary(&self) -> String {
        format!(
            "network={} scope={} routing={} container_prefix={:?} cookie_key={} \
             cookie_signing={} api_token={} \
             traefik_check_enabled={} hold_timeout={} max_concurrent_starts={} idle_timeout={} \
             idle_action={} max_running={} pull_policy={}",
            self.network,
            self.scope,
            self.routing,
            self.container_prefix,
            self.cookie_key,
            self.cookie_signing,
            if self.api_token.is_some() {
                "set"
            } else {
                "none"
            },
            self.traefik_check_enabled,
            humantime::format_duration(self.hold_timeout),
            self.max_concurrent_starts,
            self.idle_timeout.map_or_else(
                || "never".into(),
                |t| humantime::format_duration(t).to_string()
            ),
            self.idle_action.as_str(),
            self.max_running
                .map_or_else(|| "none".into(), |n| n.to_string()),
            self.pull_policy.as_str(),
        )
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

/// The per-instance limits; a default above its maximum names the default.
fn limit_rules(c: &config::Config) -> Result<LimitRules, ConfigError> {
    let max = Limits {
        memory_bytes: get(c, "max_memory", memory)?,
        cpus: get(c, "max_cpus", cpus)?,
        pids: get(c, "max_pids_limit", pids)?,
    };
    let default = Limits {
        memory_bytes: get(c, "default_memory", |raw| {
            at_most(memory(raw)?, max.memory_bytes, "max_memory")
        })?,
        cpus: get(c, "default_cpus", |raw| {
            at_most(cpus(raw)?, max.cpus, "max_cpus")
        })?,
        pids: get(c, "default_pids_limit", |raw| {
            at_most(pids(raw)?, max.pids, "max_pids_limit")
        })?,
    };
    Ok(LimitRules { default, max })
}

fn at_most<T: PartialOrd>(value: T, max: T, setting: &str) -> Result<T, String> {
    if value > max {
        Err(format!(
            "is above {setting}; raise {setting} or choose less"
        ))
    } else {
        Ok(value)
    }
}

/// A typo in the file would otherwise be ignored silently.
fn check_file_keys(file: &str, required: bool) -> Result<(), ConfigError> {
    let only_file = config::Config::builder()
        .add_source(config::File::new(file, config::FileFormat::Toml).required(required))
        .build()?;
    let keys = only_file.try_deserialize::<HashMap<String, config::Value>>()?;
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
    let raw = c.get_string(key)?;
    parser(raw.clone()).map_err(|reason| ConfigError::Invalid {
        key: key.to_string(),
        flag: flag(key),
        env: key.to_uppercase(),
        value: if SECRET_KEYS.contains(&key) {
            "(hidden)".into()
        } else {
            raw
        },
        reason,
    })
}
