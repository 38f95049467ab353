//! The labels spawner writes on what it creates (containers, their volumes, the instances'
//! network) and reads back, owned here alone: every key, every value's format, and which keys
//! of older clients still count. What carries `origin=spawner` is spawner's; the `spawner.`
//! prefix is spawner's alone. The rest of the crate builds label maps here and reads typed
//! values through [`InstanceLabels`], never spelling a key. Containers of an older spawner, or
//! of the Go tool (`origin`, the client's labels, `health-check`/`healthcheck`, traefik's port
//! label), read the same way: a missing label means the setting's default, and a value that
//! does not parse (edited by hand) is ignored with a warning.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::http::Uri;

use super::idle::{self, IdleAction};
use super::volumes::Volume;
use super::{ContainerInfo, DeploySpec};

/// Labels as an engine keeps them.
pub type Labels = BTreeMap<String, String>;

const ORIGIN: &str = "origin";
const ORIGIN_VALUE: &str = "spawner";
const RESERVED_PREFIX: &str = "spawner.";
/// The service port given at creation (`port` in the deploy body).
const PORT: &str = "spawner.port";
/// The network the container was created on: its address there is the one probed and routed to.
const NETWORK: &str = "spawner.network";
/// Which spawner it belongs to, so that two stacks on one daemon keep apart.
const SCOPE: &str = "spawner.scope";
/// A random value given at creation that every session of the instance is signed with: a
/// session ends with its instance, even if the name is created again.
const SESSION_EPOCH: &str = "spawner.session-epoch";
/// How long it may stay idle before it sleeps (`0`: never), as the deploy body wrote it.
const IDLE_TIMEOUT: &str = "spawner.idle-timeout";
/// What it is put into when idle: `stop` or `pause`.
const IDLE_ACTION: &str = "spawner.idle-action";
/// How long it stays paused before it is stopped (`0`: for ever).
const PAUSE_TIMEOUT: &str = "spawner.pause-timeout";
/// Its volumes, `[{"name": …, "target": …}]` as JSON, when it has any: what the deploy asked
/// for, shown in the API's view. A recreate takes the mounts from the container itself.
const VOLUMES: &str = "spawner.volumes";
/// The variables the deploy (or last recreate) set, a JSON list: a recreate keeps only these.
const ENVS: &str = "spawner.envs";
/// `allow`: it may register a service worker on a shared origin (`service_worker: true`).
const SERVICE_WORKER: &str = "spawner.service-worker";
const ALLOW: &str = "allow";
/// On a volume or (Swarm mode) a network: the instance it belongs to; on a volume, its short name.
const VOLUME_OF: &str = "spawner.instance";
const VOLUME_NAME: &str = "spawner.volume";
/// Swarm mode, on traefik's and spawner's own containers: they are joined to each instance's
/// network of this scope (its value).
const REACHES: &str = "spawner.reaches";
/// On a network: its subnet is its own, so instances get fixed addresses in it. Docker refuses
/// them on a subnet it chose itself, and its inspection does not tell the two apart.
const FIXED_ADDRESSES: &str = "spawner.fixed-addresses";
/// Swarm mode: the last activity any replica saw of the instance (Unix milliseconds), a service
/// label each replica's culler writes so that the others, on other nodes, know of it.
pub const ACTIVE_AT: &str = "spawner.active-at";
/// URL probed for readiness: the old clients send `health-check`, older ones `healthcheck`.
const HEALTH_CHECK: [&str; 2] = ["health-check", "healthcheck"];

/// The traefik Docker-provider label that the old clients use to name an instance's port.
fn traefik_port(instance: &str) -> String {
    format!("traefik.http.services.{instance}.loadbalancer.server.port")
}

/// Whether a client may not set this label itself.
pub fn is_reserved(key: &str) -> bool {
    key == ORIGIN || key.starts_with(RESERVED_PREFIX)
}

/// The engine's label filter that lists spawner's containers: `origin=spawner`.
pub fn managed_filter() -> String {
    format!("{ORIGIN}={ORIGIN_VALUE}")
}

/// Whether a listed container's labels put it in a scope other than `scope`: it is skipped
/// before being described. One without a scope label may still be this spawner's (made before
/// scopes existed); its network decides, once described.
pub fn in_other_scope<'a>(
    mut labels: impl Iterator<Item = (&'a String, &'a String)>,
    scope: &str,
) -> bool {
    labels.any(|(key, value)| key == SCOPE && value != scope)
}

/// `origin=spawner`, the scope, and one label of its own: a volume or a network of spawner's.
fn owned(scope: &str, (key, value): (&str, &str)) -> Labels {
    let own = [(ORIGIN, ORIGIN_VALUE), (SCOPE, scope), (key, value)];
    own.into_iter().map(|(k, v)| (k.into(), v.into())).collect()
}

/// The labels that make a volume `instance`'s in `scope`; a volume is reused only if it carries
/// all of them, and a purge removes the volumes that do.
pub fn volume_owner(scope: &str, instance: &str) -> Labels {
    owned(scope, (VOLUME_OF, instance))
}

/// The labels of a volume spawner makes: its owner's, and its short name (`data`).
pub fn volume_labels(scope: &str, instance: &str, volume: &str) -> Labels {
    let mut labels = volume_owner(scope, instance);
    labels.insert(VOLUME_NAME.into(), volume.into());
    labels
}

/// The labels of the instances' network when spawner creates it (with a subnet of its own).
pub fn network_labels(scope: &str) -> Labels {
    owned(scope, (FIXED_ADDRESSES, "true"))
}

/// Swarm mode: the labels of instance `instance`'s own overlay network in `scope`.
pub fn instance_network_labels(scope: &str, instance: &str) -> Labels {
    owned(scope, (VOLUME_OF, instance))
}

/// The engine's label filter for what spawner made in `scope`.
pub fn scope_filter(scope: &str) -> String {
    format!("{SCOPE}={scope}")
}

/// Swarm mode: the container label that has spawner join a container (traefik's, its own) to
/// every instance's network of `scope`, as the engine's label filter `spawner.reaches=<scope>`.
pub fn reaches_filter(scope: &str) -> String {
    format!("{REACHES}={scope}")
}

/// The instance a network or volume of spawner's belongs to, from its labels.
pub fn owner_of<'a>(mut labels: impl Iterator<Item = (&'a String, &'a String)>) -> Option<&'a str> {
    labels
        .find(|(key, _)| *key == VOLUME_OF)
        .map(|(_, value)| value.as_str())
}

/// Whether a network's labels say that its instances get fixed addresses.
pub fn has_fixed_addresses(labels: &Labels) -> bool {
    labels.get(FIXED_ADDRESSES).map(String::as_str) == Some("true")
}

/// That label as `key=value`, for a message that asks an operator to set it.
pub fn fixed_addresses_label() -> String {
    format!("{FIXED_ADDRESSES}=true")
}

/// The `health-check` URL: readiness is a GET of `path` (and query) on the container's address
/// and `port` (`None`: the URL names none, so 80).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub port: Option<u16>,
    pub path: String,
}

/// One container's labels, read as spawner's. It borrows the map (free on the hot path) and
/// the name, which traefik's port label and the warnings about a bad value carry.
#[derive(Debug, Clone, Copy)]
pub struct InstanceLabels<'a> {
    name: &'a str,
    labels: &'a Labels,
}

impl<'a> InstanceLabels<'a> {
    pub fn new(name: &'a str, labels: &'a Labels) -> Self {
        Self { name, labels }
    }

    pub fn of(info: &'a ContainerInfo) -> Self {
        Self::new(&info.name, &info.labels)
    }

    /// Every label of a container created from `spec`: the client's own, and spawner's: that
    /// it is spawner's, in `scope`, on its network, its sessions' epoch, and what the deploy
    /// body chose (port, variables, idle timeout and action, volumes, service worker).
    pub fn for_deploy(spec: &DeploySpec, scope: &str, session_epoch: &str) -> Labels {
        let volumes = || serde_json::to_string(&spec.volumes).expect("plain data serializes");
        let spawners = [
            (ORIGIN, Some(ORIGIN_VALUE.into())),
            (NETWORK, Some(spec.network.clone())),
            (SCOPE, Some(scope.into())),
            (SESSION_EPOCH, Some(session_epoch.into())),
            (PORT, spec.port.map(|port| port.to_string())),
            (
                IDLE_TIMEOUT,
                spec.idle_timeout.as_ref().map(|t| t.as_str().into()),
            ),
            (IDLE_ACTION, spec.idle_action.map(|a| a.as_str().into())),
            (
                PAUSE_TIMEOUT,
                spec.pause_timeout.as_ref().map(|t| t.as_str().into()),
            ),
            (VOLUMES, (!spec.volumes.is_empty()).then(volumes)),
            (SERVICE_WORKER, spec.service_worker.then(|| ALLOW.into())),
        ];
        let mut labels = spec.labels.clone();
        for (key, value) in spawners {
            labels.extend(value.map(|value| (key.to_string(), value)));
        }
        Self::set_envs(&mut labels, &spec.envs);
        labels
    }

    /// Records which variables were set (by a deploy, or a recreate that replaces them).
    pub fn set_envs(labels: &mut Labels, envs: &BTreeMap<String, String>) {
        let names = serde_json::to_string(&envs.keys().collect::<Vec<_>>());
        labels.insert(ENVS.into(), names.expect("strings serialize"));
    }

    /// Records the network it is on, for a successor (a container of the Go tool does not say).
    pub fn set_network(labels: &mut Labels, network: &str) {
        labels.insert(NETWORK.into(), network.into());
    }

    /// Whether it is spawner's (`origin=spawner`).
    pub fn is_managed(&self) -> bool {
        self.get(ORIGIN) == Some(ORIGIN_VALUE)
    }

    /// The spawner it belongs to; `None` for one from before scopes (or of the Go tool).
    pub fn scope(&self) -> Option<&'a str> {
        self.get(SCOPE)
    }

    /// The network it was created on.
    pub fn network(&self) -> Option<&'a str> {
        self.get(NETWORK)
    }

    /// What its sessions are signed with (empty for an instance from before epochs).
    pub fn session_epoch(&self) -> &'a str {
        self.get(SESSION_EPOCH).unwrap_or_default()
    }

    /// The service port its labels give, in this order: `port` from the deploy body, traefik's
    /// port label, the health-check URL's port. `None`: they give none.
    pub fn service_port(&self) -> Option<u16> {
        let number = |key: &str| self.get(key).and_then(|p| p.trim().parse().ok());
        number(PORT)
            .or_else(|| number(&traefik_port(self.name)))
            .or_else(|| self.health_check().and_then(|check| check.port))
    }

    /// The health-check URL (`health-check`, else `healthcheck`); one that is not an
    /// `http://` URL with a host is ignored.
    pub fn health_check(&self) -> Option<HealthCheck> {
        let raw = HEALTH_CHECK.iter().find_map(|key| self.get(key))?;
        match raw.trim().parse::<Uri>() {
            Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some() => {
                Some(HealthCheck {
                    port: uri.port_u16(),
                    path: uri.path_and_query().map_or("/", |p| p.as_str()).into(),
                })
            }
            _ => {
                log::warn!(
                    "{}: health-check label {raw:?} is not an http:// URL; ignoring it",
                    self.name
                );
                None
            }
        }
    }

    /// Its own idle timeout (`Some(None)`: it never idles); `None`: the setting's.
    pub fn idle_timeout(&self) -> Option<Option<Duration>> {
        self.parsed(IDLE_TIMEOUT, idle::parse_timeout)
    }

    /// How long it stays paused before it is stopped (`Some(None)`: for ever); `None`: setting's.
    pub fn pause_timeout(&self) -> Option<Option<Duration>> {
        self.parsed(PAUSE_TIMEOUT, idle::parse_timeout)
    }

    /// The last activity a replica recorded on the service (Swarm mode), if any.
    pub fn active_at(&self) -> Option<std::time::SystemTime> {
        let ms: u64 = self.get(ACTIVE_AT)?.parse().ok()?;
        Some(std::time::UNIX_EPOCH + Duration::from_millis(ms))
    }

    /// Its own idle action; `None`: the setting's.
    pub fn idle_action(&self) -> Option<IdleAction> {
        self.parsed(IDLE_ACTION, IdleAction::parse)
    }

    /// Whether its deploy opted in to service workers on a shared origin.
    pub fn allows_service_worker(&self) -> bool {
        self.get(SERVICE_WORKER) == Some(ALLOW)
    }

    /// The variables its deploy set; `None` for one from before the label: then every one is
    /// its own.
    pub fn env_names(&self) -> Option<Vec<String>> {
        self.parsed(ENVS, |json| {
            serde_json::from_str(json).map_err(|e| e.to_string())
        })
    }

    /// The volumes its deploy asked for (empty when none).
    pub fn volumes(&self) -> Vec<Volume> {
        self.parsed(VOLUMES, |json| {
            serde_json::from_str(json).map_err(|e| e.to_string())
        })
        .unwrap_or_default()
    }

    fn get(&self, key: &str) -> Option<&'a str> {
        self.labels.get(key).map(String::as_str)
    }

    fn parsed<T>(&self, key: &str, parse: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let raw = self.get(key)?;
        parse(raw)
            .map_err(|e| log::warn!("{}: label {key}: {e}; ignoring it", self.name))
            .ok()
    }
}

#[cfg(test)]
#[path = "instance_labels_tests.rs"]
mod tests;
