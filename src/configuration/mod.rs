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
mod sections;
mod table;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

pub use cli::{command, flag};
pub use sections::{
    CapacitySettings, EngineKind, EngineSettings, IdleSettings, ListenSettings, ReadinessSettings,
    RegistrySettings, SessionSettings, TraefikSettings,
};
pub use table::SETTINGS;

use crate::domain::limits::{LimitRules, Limits};
use parse::*;

/// Settings whose values are never repeated in an error message.
const SECRET_KEYS: [&str; 2] = ["cookie_secret", "api_token"];

/// Every setting, by component; each component is built from its own part.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: ListenSettings,
    pub engine: EngineSettings,
    /// Defaults and maxima of memory, CPUs and processes per instance.
    pub limits: LimitRules,
    pub sessions: SessionSettings,
    pub traefik: TraefikSettings,
    pub readiness: ReadinessSettings,
    pub idle: IdleSettings,
    pub capacity: CapacitySettings,
    pub registry: RegistrySettings,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The refusal says why (and what to write instead): it is the source, so a logged chain
    /// reads `invalid value … for setting …: <why>`.
    #[error("invalid value {value:?} for setting `{key}` (--{flag}, SPAWNER_{env})")]
    Invalid {
        key: String,
        flag: String,
        env: String,
        value: String,
        #[source]
        refusal: Box<Refusal>,
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
        Ok(Self {
            listen: ListenSettings::read(c)?,
            engine: EngineSettings::read(c)?,
            limits: limit_rules(c)?,
            sessions: SessionSettings::read(c)?,
            traefik: TraefikSettings::read(c)?,
            readiness: ReadinessSettings::read(c)?,
            idle: IdleSettings::read(c)?,
            capacity: CapacitySettings::read(c)?,
            registry: RegistrySettings::read(c)?,
        })
    }

    /// The settings that shape behaviour, as `key=value` pairs for the start-up log.
    pub fn summary(&self) -> String {
        format!(
            "network={} scope={} routing={} container_prefix={:?} cookie_key={} \
             cookie_signing={} api_token={} \
             traefik_check_enabled={} hold_timeout={} max_concurrent_starts={} idle_timeout={} \
             idle_action={} max_running={} pull_policy={}",
            self.engine.network,
            self.engine.scope,
            self.traefik.routing,
            self.traefik.container_prefix,
            self.sessions.cookie_key,
            self.sessions.cookie_signing,
            if self.listen.api_token.is_some() {
                "set"
            } else {
                "none"
            },
            self.traefik.traefik_check_enabled,
            humantime::format_duration(self.readiness.hold_timeout),
            self.readiness.max_concurrent_starts,
            self.idle.idle_timeout.map_or_else(
                || "never".into(),
                |t| humantime::format_duration(t).to_string()
            ),
            self.idle.idle_action.as_str(),
            self.capacity
                .max_running
                .map_or_else(|| "none".into(), |n| n.to_string()),
            self.registry.pull_policy.as_str(),
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

pub(super) fn get<T, E: Into<Refusal>>(
    c: &config::Config,
    key: &str,
    parser: impl Fn(String) -> Result<T, E>,
) -> Result<T, ConfigError> {
    let raw = c.get_string(key)?;
    parser(raw.clone()).map_err(|refusal| ConfigError::Invalid {
        key: key.to_string(),
        flag: flag(key),
        env: key.to_uppercase(),
        value: if SECRET_KEYS.contains(&key) {
            "(hidden)".into()
        } else {
            raw
        },
        refusal: Box::new(refusal.into()),
    })
}
