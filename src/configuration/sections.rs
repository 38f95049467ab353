//! The settings by component, each read from the layers on its own ([`super::Settings`] composes
//! them). A field's name is its setting's key, so `--hold-timeout`, `SPAWNER_HOLD_TIMEOUT` and
//! `hold_timeout` in the file all set `readiness.hold_timeout`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::Ipv4Net;

use super::parse::*;
use super::{get, ConfigError};
use crate::domain::routing::parse_host_domain;
use crate::domain::session::Secret;
use crate::domain::{ApiToken, IdleAction, PullPolicy, Routing};

type Read<T> = Result<T, ConfigError>;

/// The two listeners, and the private one's token.
#[derive(Debug, Clone)]
pub struct ListenSettings {
    pub api_addr: SocketAddr,
    pub auth_addr: SocketAddr,
    /// `api_token`, else `api_token_file`.
    pub api_token: Option<ApiToken>,
    /// Both addresses shared with other spawner processes (`SO_REUSEPORT`): the kernel spreads
    /// new connections over the live ones (README: Replicas).
    pub reuse_port: bool,
}

impl ListenSettings {
    pub(super) fn read(c: &config::Config) -> Read<Self> {
        let api_token = match get(c, "api_token", token)? {
            Some(token) => Some(token),
            None => get(c, "api_token_file", token_file)?,
        };
        Ok(Self {
            api_addr: get(c, "api_addr", parse::<SocketAddr>)?,
            auth_addr: get(c, "auth_addr", parse::<SocketAddr>)?,
            api_token,
            reuse_port: get(c, "reuse_port", boolean)?,
        })
    }
}

/// What runs instances (README: Swarm mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// A container per instance on the one daemon spawner talks to.
    Docker,
    /// A service per instance (one replica at most) on the Swarm whose manager spawner talks to.
    Swarm,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Docker => "docker",
            EngineKind::Swarm => "swarm",
        }
    }
}

fn engine_kind(raw: String) -> Result<EngineKind, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "docker" => Ok(EngineKind::Docker),
        "swarm" => Ok(EngineKind::Swarm),
        _ => Err("write docker or swarm".into()),
    }
}

/// The container engine, and where and how instances are made on it.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Containers on one daemon, or services on a Swarm.
    pub engine: EngineKind,
    pub docker_host: String,
    pub network: String,
    /// The subnet `network` is created with when it is missing at start.
    pub network_subnet: Ipv4Net,
    /// Instances carry it as a label; a spawner sees no other scope's instances.
    pub scope: String,
    pub allowed_networks: Vec<String>,
    /// Capabilities every instance runs without.
    pub cap_drop: Vec<String>,
}

impl EngineSettings {
    pub(super) fn read(c: &config::Config) -> Read<Self> {
        let network: String = get(c, "network", non_empty)?;
        let mut allowed_networks: Vec<String> = get(c, "allowed_networks", text)?
            .split(',')
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect();
        if !allowed_networks.contains(&network) {
            allowed_networks.insert(0, network.clone());
        }
        Ok(Self {
            engine: get(c, "engine", engine_kind)?,
            docker_host: get(c, "docker_host", trimmed)?,
            scope: match get(c, "scope", trimmed)?.as_str() {
                "" => network.clone(),
                scope => scope.to_string(),
            },
            network_subnet: get(c, "network_subnet", subnet)?,
            network,
            allowed_networks,
            cap_drop: get(c, "cap_drop", capabilities)?,
        })
    }
}

/// The instance cookie: its name, where a client without one goes, and how sessions are signed.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub cookie_key: String,
    pub cookie_fallback_url: String,
    pub cookie_signing: bool,
    /// The first signs, every one verifies (`cookie_secret`, then `cookie_secret_file`).
    pub cookie_secrets: Vec<Secret>,
    pub session_ttl: Duration,
    pub cookie_secure: bool,
}

impl SessionSettings {
    pub(super) fn read(c: &config::Config) -> Read<Self> {
        let mut cookie_secrets = get(c, "cookie_secret", secret_list)?;
        cookie_secrets.extend(get(c, "cookie_secret_file", secret_file)?);
        Ok(Self {
            cookie_key: get(c, "cookie_key", cookie_key)?,
            cookie_fallback_url: get(c, "cookie_fallback_url", non_empty)?,
            cookie_signing: get(c, "cookie_signing", boolean)?,
            cookie_secrets,
            session_ttl: get(c, "session_ttl", positive_duration)?,
            cookie_secure: get(c, "cookie_secure", boolean)?,
        })
    }
}

/// How traefik routes to instances (the configuration spawner serves it), and its API.
#[derive(Debug, Clone)]
pub struct TraefikSettings {
    /// By cookie, path or host (`routing`, else the old `use_path_routing`).
    pub routing: Routing,
    pub public_path: String,
    pub container_prefix: String,
    /// With host routing: instances live at `<name>.<host_domain>`, and sessions are set on it.
    pub host_domain: String,
    /// Instance routers terminate TLS (`tls` on each router), with this certificate resolver
    /// when not empty (else traefik's default certificate store).
    pub router_tls: bool,
    pub tls_cert_resolver: String,
    pub entrypoint: String,
    pub traefik_base_url: String,
    pub traefik_check_enabled: bool,
    /// How long the catch-all waits for traefik to load a woken instance's route.
    pub route_timeout: Duration,
}

impl TraefikSettings {
    pub(super) fn read(c: &config::Config) -> Read<Self> {
        let use_path_routing = get(c, "use_path_routing", boolean)?;
        let routing = get(c, "routing", |raw| Routing::parse(&raw, use_path_routing))?;
        Ok(Self {
            routing,
            public_path: get(c, "public_path", path)?,
            container_prefix: get(c, "container_prefix", prefix)?,
            host_domain: get(c, "host_domain", |raw| parse_host_domain(&raw, routing))?,
            router_tls: get(c, "router_tls", boolean)?,
            tls_cert_resolver: get(c, "tls_cert_resolver", trimmed)?,
            entrypoint: get(c, "entrypoint", non_empty)?,
            traefik_base_url: get(c, "traefik_base_url", http_url)?,
            traefik_check_enabled: get(c, "traefik_check_enabled", boolean)?,
            route_timeout: get(c, "route_timeout", positive_duration)?,
        })
    }
}

/// Waking an instance: how long a request is held, how readiness is probed, how many starts at
/// once.
#[derive(Debug, Clone)]
pub struct ReadinessSettings {
    pub hold_timeout: Duration,
    /// A request that wants HTML is held this long at most (capped by `hold_timeout`), then gets
    /// the waiting page, whose own long poll waits the rest.
    pub html_hold: Duration,
    pub ready_timeout: Duration,
    pub max_concurrent_starts: usize,
    /// How long an instance with no readiness rule is given.
    pub redirect_timeout: Duration,
    pub http_probe_ok_status: u16,
    pub http_probe_timeout: Duration,
}

impl ReadinessSettings {
    /// How long `/auth` holds a request for a starting instance: a browser's page request
    /// (`wants_html`) only `html_hold`, so the waiting page shows at once; any other the whole
    /// `hold_timeout`.
    pub fn hold_for(&self, wants_html: bool) -> Duration {
        if wants_html {
            self.html_hold.min(self.hold_timeout)
        } else {
            self.hold_timeout
        }
    }

    pub(super) fn read(c: &config::Config) -> Read<Self> {
        Ok(Self {
            hold_timeout: get(c, "hold_timeout", positive_duration)?,
            html_hold: get(c, "html_hold", duration)?,
            ready_timeout: get(c, "ready_timeout", positive_duration)?,
            max_concurrent_starts: get(c, "max_concurrent_starts", positive_count)?,
            redirect_timeout: get(c, "redirect_timeout", duration)?,
            http_probe_ok_status: get(c, "http_probe_ok_status", status)?,
            http_probe_timeout: get(c, "http_probe_timeout", positive_duration)?,
        })
    }
}

/// When instances go to sleep, and into what.
#[derive(Debug, Clone)]
pub struct IdleSettings {
    /// `None`: instances never idle (unless their own label says otherwise).
    pub idle_timeout: Option<Duration>,
    pub idle_check_interval: Duration,
    pub idle_action: IdleAction,
    /// `None`: a paused instance stays paused.
    pub pause_timeout: Option<Duration>,
}

impl IdleSettings {
    pub(super) fn read(c: &config::Config) -> Read<Self> {
        Ok(Self {
            idle_timeout: get(c, "idle_timeout", optional_duration)?,
            idle_check_interval: get(c, "idle_check_interval", positive_duration)?,
            idle_action: get(c, "idle_action", |raw| {
                match (IdleAction::parse(&raw)?, get(c, "engine", engine_kind)) {
                    (IdleAction::Pause, Ok(EngineKind::Swarm)) => Err(String::from(
                        "a Swarm task cannot be paused: write stop with engine = swarm",
                    )),
                    (action, _) => Ok(action),
                }
            })?,
            pause_timeout: get(c, "pause_timeout", optional_duration)?,
        })
    }
}

/// `max_running` and whom it may evict.
#[derive(Debug, Clone)]
pub struct CapacitySettings {
    /// `None`: no cap.
    pub max_running: Option<usize>,
    pub evict_grace: Duration,
}

impl CapacitySettings {
    pub(super) fn read(c: &config::Config) -> Read<Self> {
        Ok(Self {
            max_running: get(c, "max_running", optional_count)?,
            evict_grace: get(c, "evict_grace", duration)?,
        })
    }
}

/// Getting images: when to pull, with which credentials.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    pub pull_policy: PullPolicy,
    /// A Docker `config.json` with registry credentials, read at each pull.
    pub registry_auth_file: Option<PathBuf>,
}

impl RegistrySettings {
    pub(super) fn read(c: &config::Config) -> Read<Self> {
        Ok(Self {
            pull_policy: get(c, "pull_policy", |raw| PullPolicy::parse(&raw))?,
            registry_auth_file: get(c, "registry_auth_file", registry_auth_file)?,
        })
    }
}
