//! Everything spawner asks of the Docker daemon, and the only module that imports `bollard`.
//!
//! It turns bollard's models into the few facts spawner needs ([`ContainerInfo`], [`Event`]) and
//! bollard's errors into [`DockerError`], so the rest of the crate never sees a bollard type and
//! another orchestrator could stand beside this module. Label names and filters are defined here
//! once: a container is spawner's if, and only if, it carries `origin=spawner`.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum,
    HostConfig,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, EventsOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::{Stream, StreamExt, TryStreamExt};

/// The label that marks a container as spawner's, and its value.
pub const ORIGIN_LABEL: &str = "origin";
pub const ORIGIN_VALUE: &str = "spawner";
/// The service port given at creation (`port` in the deploy body).
pub const PORT_LABEL: &str = "spawner.port";
/// The network the container was created on: its address there is the one probed.
pub const NETWORK_LABEL: &str = "spawner.network";
/// URL probed for readiness; the old spawner's clients send `health-check`, older ones `healthcheck`.
pub const HEALTH_CHECK_LABELS: [&str; 2] = ["health-check", "healthcheck"];
/// Inspections run at once when (re)listing every managed container.
const INSPECT_CONCURRENCY: usize = 16;

#[derive(Debug, Clone, thiserror::Error)]
pub enum DockerError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Rejected(String),
    #[error("the Docker daemon cannot be reached: {0}")]
    Unavailable(String),
    #[error("the Docker daemon answered with an error: {0}")]
    Other(String),
}

impl From<bollard::errors::Error> for DockerError {
    fn from(e: bollard::errors::Error) -> Self {
        use bollard::errors::Error as E;
        match e {
            E::DockerResponseServerError {
                status_code,
                message,
            } => match status_code {
                404 => DockerError::NotFound(message),
                409 => DockerError::Conflict(message),
                400 => DockerError::Rejected(message),
                _ => DockerError::Other(format!("status {status_code}: {message}")),
            },
            E::JsonDataError { message, .. } => DockerError::Other(message),
            other => DockerError::Unavailable(other.to_string()),
        }
    }
}

/// Lifecycle state of a container, as Docker reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

/// Result of the image's (or container's) Docker `HEALTHCHECK`; `None` when it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    None,
    Starting,
    Healthy,
    Unhealthy,
}

/// What spawner knows of one managed container after an inspect.
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    pub state: RunState,
    pub health: Health,
    pub has_healthcheck: bool,
    pub exit_code: Option<i64>,
    pub started_at: SystemTime,
    pub finished_at: SystemTime,
    pub exposed_tcp_ports: Vec<u16>,
    /// Address on each attached network.
    pub ips: BTreeMap<String, IpAddr>,
}

impl ContainerInfo {
    /// The last time the container started or stopped: a later inspect never shows an earlier one,
    /// so it orders two views of the same container.
    pub fn last_transition(&self) -> SystemTime {
        self.started_at.max(self.finished_at)
    }
}

/// A change to a managed container, from the events stream.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub action: String,
    /// When the daemon saw it.
    pub time: SystemTime,
    /// The exit code, on a `die`.
    pub exit_code: Option<i64>,
}

impl Event {
    /// Events that change what spawner knows (exec and attach events do not).
    pub fn matters(&self) -> bool {
        const ACTIONS: [&str; 10] = [
            "create", "start", "restart", "die", "stop", "pause", "unpause", "rename", "update",
            "destroy",
        ];
        ACTIONS.contains(&self.action.as_str()) || self.action.starts_with("health_status")
    }
}

/// What to create: already validated by the caller.
#[derive(Debug, Clone)]
pub struct CreateSpec {
    pub name: String,
    pub image: String,
    pub network: String,
    pub labels: BTreeMap<String, String>,
    pub envs: BTreeMap<String, String>,
}

#[derive(Clone)]
pub struct DockerClient {
    docker: bollard::Docker,
}

impl DockerClient {
    /// Connects to `host` (`unix://…`, `tcp://…`), or when it is empty as the `docker` CLI would
    /// (`DOCKER_HOST`, else the local socket), and agrees on an API version with the daemon, so an
    /// old daemon (API 1.41) works. An unreachable daemon is not an error here: calls fail with
    /// [`DockerError::Unavailable`] until it comes back.
    pub async fn connect(host: &str) -> Result<Self, DockerError> {
        let docker = if host.is_empty() {
            bollard::Docker::connect_with_defaults()
        } else {
            bollard::Docker::connect_with_host(host)
        }
        .map_err(|e| DockerError::Unavailable(e.to_string()))?;
        let docker = match docker.clone().negotiate_version().await {
            Ok(negotiated) => negotiated,
            Err(e) => {
                log::warn!("could not agree on a Docker API version ({e}); using the default");
                docker
            }
        };
        Ok(Self { docker })
    }

    fn managed_filter() -> HashMap<String, Vec<String>> {
        HashMap::from([(
            "label".to_string(),
            vec![format!("{ORIGIN_LABEL}={ORIGIN_VALUE}")],
        )])
    }

    /// Every managed container, inspected.
    pub async fn list_managed(&self) -> Result<Vec<ContainerInfo>, DockerError> {
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&Self::managed_filter())
            .build();
        let summaries = self.docker.list_containers(Some(options)).await?;
        let ids: Vec<String> = summaries.into_iter().filter_map(|s| s.id).collect();
        let infos: Vec<Option<ContainerInfo>> = futures_util::stream::iter(ids)
            .map(|id| async move {
                match self.inspect_managed(&id).await {
                    Ok(info) => Ok(Some(info)),
                    // Removed between the list and the inspect.
                    Err(DockerError::NotFound(_)) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(INSPECT_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(infos.into_iter().flatten().collect())
    }

    /// One container, if it is spawner's; `NotFound` for one that exists but is not.
    pub async fn inspect_managed(&self, name_or_id: &str) -> Result<ContainerInfo, DockerError> {
        let response = self.docker.inspect_container(name_or_id, None).await?;
        let info = to_info(response);
        match info {
            Some(info)
                if info.labels.get(ORIGIN_LABEL).map(String::as_str) == Some(ORIGIN_VALUE) =>
            {
                Ok(info)
            }
            _ => Err(DockerError::NotFound(format!(
                "no container named {name_or_id} is managed by spawner"
            ))),
        }
    }

    pub async fn image_exists(&self, image: &str) -> Result<bool, DockerError> {
        exists(self.docker.inspect_image(image).await)
    }

    pub async fn network_exists(&self, network: &str) -> Result<bool, DockerError> {
        exists(self.docker.inspect_network(network, None).await)
    }

    /// Creates the container (not started) and returns its id. The caller's labels are kept and
    /// `origin=spawner` is always set; nothing else of the host is granted (no binds, no privileges).
    pub async fn create(&self, spec: &CreateSpec) -> Result<String, DockerError> {
        let mut labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
        labels.insert(ORIGIN_LABEL.into(), ORIGIN_VALUE.into());
        labels.insert(NETWORK_LABEL.into(), spec.network.clone());
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            hostname: Some(spec.name.clone()),
            env: Some(spec.envs.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: Some(spec.network.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        let created = self.docker.create_container(Some(options), body).await?;
        Ok(created.id)
    }

    /// Starts a container; one that already runs is not an error.
    pub async fn start(&self, id: &str) -> Result<(), DockerError> {
        already_done_is_done(self.docker.start_container(id, None).await)
    }

    pub async fn stop(&self, id: &str, grace: Duration) -> Result<(), DockerError> {
        let options = StopContainerOptionsBuilder::default()
            .t(grace.as_secs().try_into().unwrap_or(i32::MAX))
            .build();
        already_done_is_done(self.docker.stop_container(id, Some(options)).await)
    }

    pub async fn remove(&self, id: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptionsBuilder::default().force(true).build();
        self.docker.remove_container(id, Some(options)).await?;
        Ok(())
    }

    /// Changes to managed containers from `since` (unix seconds) on; replaying a little history
    /// closes the gap between opening the stream and listing.
    pub fn events(
        &self,
        since: SystemTime,
    ) -> impl Stream<Item = Result<Event, DockerError>> + use<> {
        let mut filters = Self::managed_filter();
        filters.insert("type".into(), vec!["container".into()]);
        let since = since
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            .to_string();
        let options = EventsOptionsBuilder::default()
            .since(&since)
            .filters(&filters)
            .build();
        self.docker
            .events(Some(options))
            .filter_map(|item| async move {
                match item {
                    Ok(message) => {
                        let time = message
                            .time_nano
                            .and_then(|n| u64::try_from(n).ok())
                            .map(|n| UNIX_EPOCH + Duration::from_nanos(n))
                            .unwrap_or_else(SystemTime::now);
                        let actor = message.actor?;
                        let exit_code = actor
                            .attributes
                            .as_ref()
                            .and_then(|a| a.get("exitCode"))
                            .and_then(|c| c.parse().ok());
                        let id = actor.id?;
                        let action = message.action?;
                        Some(Ok(Event {
                            id,
                            action,
                            time,
                            exit_code,
                        }))
                    }
                    Err(e) => Some(Err(DockerError::from(e))),
                }
            })
    }
}

/// An inspect's answer as "does it exist".
fn exists<T>(result: Result<T, bollard::errors::Error>) -> Result<bool, DockerError> {
    match result.map_err(DockerError::from) {
        Ok(_) => Ok(true),
        Err(DockerError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// bollard reports Docker's 304 ("already started", "already stopped") as an error; it is not.
fn already_done_is_done(result: Result<(), bollard::errors::Error>) -> Result<(), DockerError> {
    match result {
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 304, ..
        }) => Ok(()),
        other => other.map_err(DockerError::from),
    }
}

/// For removals: a container that is already gone is what was asked for.
pub fn gone_is_done(result: Result<(), DockerError>) -> Result<(), DockerError> {
    match result {
        Err(DockerError::NotFound(_)) => Ok(()),
        other => other,
    }
}

fn parse_time(raw: Option<&str>) -> SystemTime {
    raw.and_then(|t| humantime::parse_rfc3339_weak(t.trim_end_matches('Z')).ok())
        .unwrap_or(UNIX_EPOCH)
}

fn to_info(response: ContainerInspectResponse) -> Option<ContainerInfo> {
    let id = response.id?;
    let name = response
        .name
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();
    let config = response.config.unwrap_or_default();
    let state = response.state.unwrap_or_default();
    let run_state = match state.status {
        Some(ContainerStateStatusEnum::RUNNING) => RunState::Running,
        Some(ContainerStateStatusEnum::PAUSED) => RunState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => RunState::Restarting,
        Some(ContainerStateStatusEnum::REMOVING) => RunState::Removing,
        Some(ContainerStateStatusEnum::EXITED) | Some(ContainerStateStatusEnum::STOPPING) => {
            RunState::Exited
        }
        Some(ContainerStateStatusEnum::DEAD) => RunState::Dead,
        _ => RunState::Created,
    };
    let health = match state.health.as_ref().and_then(|h| h.status) {
        Some(HealthStatusEnum::STARTING) => Health::Starting,
        Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
        Some(HealthStatusEnum::UNHEALTHY) => Health::Unhealthy,
        _ => Health::None,
    };
    let has_healthcheck = config
        .healthcheck
        .as_ref()
        .and_then(|h| h.test.as_ref())
        .is_some_and(|test| !test.is_empty() && test[0] != "NONE");
    let exposed_tcp_ports = config
        .exposed_ports
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.strip_suffix("/tcp").and_then(|n| n.parse().ok()))
        .collect();
    let ips = response
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(net, endpoint)| {
            let ip = endpoint.ip_address?.parse().ok()?;
            Some((net, ip))
        })
        .collect();
    Some(ContainerInfo {
        id,
        name,
        image: config.image.unwrap_or_default(),
        labels: config.labels.unwrap_or_default().into_iter().collect(),
        state: run_state,
        health,
        has_healthcheck,
        exit_code: state.exit_code,
        started_at: parse_time(state.started_at.as_deref()),
        finished_at: parse_time(state.finished_at.as_deref()),
        exposed_tcp_ports,
        ips,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_timestamps_with_trimmed_nanoseconds_order_correctly() {
        let a = parse_time(Some("2026-11-25T14:50:00.12Z"));
        let b = parse_time(Some("2026-11-25T14:50:00.123Z"));
        assert!(a < b);
        assert_eq!(parse_time(Some("0001-01-01T00:00:00Z")), UNIX_EPOCH);
    }
}
