//! The Docker engine behind [`Backend`](super::Backend), and the only module that imports
//! `bollard`. Calls go to the daemon's API (version negotiated, so Docker 20.10's API 1.41 works);
//! answers are translated into domain types in [`convert`], errors into
//! [`BackendError`](super::BackendError) with bollard's error kept as the source.

pub(in crate::backend) mod convert;
mod exec;
mod images;
pub(in crate::backend) mod recreate;
mod volumes;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam, IpamConfig,
    NetworkCreateRequest, NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, EventsOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StatsOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use super::{described, BackendError, CreateSpec, Event, ExecOutput, Op, Stats};
use crate::domain::{instance_labels, ContainerInfo, InstanceLabels, NetworkInfo, ICC_OPTION};
use convert::{already_done_is_done, error, found, not_managed};
use ipnet::Ipv4Net;

/// Inspections run at once when (re)listing every managed container.
const INSPECT_CONCURRENCY: usize = 16;

#[derive(Clone)]
pub struct DockerBackend {
    docker: bollard::Docker,
}

fn managed_filter() -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![instance_labels::managed_filter()])])
}

impl DockerBackend {
    /// Connects to `host` (`unix://…`, `tcp://…`), or when it is empty as the `docker` CLI would
    /// (`DOCKER_HOST`, else the local socket), and agrees on an API version with the daemon. An
    /// unreachable daemon is not an error here: calls fail with `Unavailable` until it is back.
    pub async fn connect(host: &str) -> Result<Self, BackendError> {
        let docker = if host.is_empty() {
            bollard::Docker::connect_with_defaults()
        } else {
            bollard::Docker::connect_with_host(host)
        }
        .map_err(|source| BackendError::Unavailable {
            op: Op::Connect,
            source: source.into(),
        })?;
        let docker = match docker.clone().negotiate_version().await {
            Ok(negotiated) => negotiated,
            Err(e) => {
                log::warn!("could not agree on a Docker API version ({e}); using the default");
                docker
            }
        };
        Ok(Self { docker })
    }

    /// The client, for the Swarm engine (which runs on a daemon in Swarm mode).
    pub(in crate::backend) fn client(&self) -> &bollard::Docker {
        &self.docker
    }

    /// The managed containers, each inspected, but those of another scope (on a daemon that
    /// other stacks share) skipped from the summary without inspecting them.
    pub async fn list_managed(&self, scope: &str) -> Result<Vec<ContainerInfo>, BackendError> {
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&managed_filter())
            .build();
        let summaries = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(error(Op::List, "containers"))?;
        let ids: Vec<String> = summaries
            .into_iter()
            .filter(|s| !instance_labels::in_other_scope(s.labels.iter().flatten(), scope))
            .filter_map(|s| s.id)
            .collect();
        described(ids, INSPECT_CONCURRENCY, |id| async move {
            self.inspect_managed(&id).await.map(Some)
        })
        .await
    }

    pub async fn inspect_managed(&self, name_or_id: &str) -> Result<ContainerInfo, BackendError> {
        let response = self
            .docker
            .inspect_container(name_or_id, None)
            .await
            .map_err(error(Op::Inspect, name_or_id))?;
        match convert::to_info(response) {
            Some(info) if InstanceLabels::of(&info).is_managed() => Ok(info),
            _ => Err(not_managed(name_or_id)),
        }
    }

    pub async fn inspect_network(
        &self,
        network: &str,
    ) -> Result<Option<NetworkInfo>, BackendError> {
        let answer = self.docker.inspect_network(network, None).await;
        let answer = found(answer.map_err(error(Op::InspectNetwork, network)))?;
        Ok(answer.map(convert::to_network_info))
    }

    pub async fn create_isolated_network(
        &self,
        name: &str,
        subnet: Ipv4Net,
        labels: BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            options: Some(HashMap::from([(
                ICC_OPTION.to_string(),
                "false".to_string(),
            )])),
            labels: Some(labels.into_iter().collect()),
            ..Default::default()
        };
        let created = self.docker.create_network(request).await;
        created.map(drop).map_err(error(Op::CreateNetwork, name))
    }

    /// The labels are the caller's ([`InstanceLabels::for_deploy`], or a predecessor's, which
    /// carry `origin=spawner`); nothing of the host is granted (no binds, no privileges; named
    /// volumes only), the limits hold (memory without swap, CPUs, processes), the dropped
    /// capabilities stay dropped and no process gains privileges.
    pub async fn create(&self, spec: &CreateSpec) -> Result<String, BackendError> {
        let labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            hostname: Some(spec.name.clone()),
            env: Some(spec.envs.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: Some(spec.network.clone()),
                memory: Some(spec.limits.memory_bytes as i64),
                memory_swap: Some(spec.limits.memory_bytes as i64),
                nano_cpus: Some((spec.limits.cpus * 1e9) as i64),
                pids_limit: Some(i64::from(spec.limits.pids)),
                cap_drop: Some(spec.cap_drop.clone()),
                security_opt: Some(vec!["no-new-privileges:true".into()]),
                mounts: Some(spec.volumes.iter().map(volumes::mount).collect()),
                ..Default::default()
            }),
            networking_config: spec.address.map(|address| NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    spec.network.clone(),
                    EndpointSettings {
                        ipam_config: Some(EndpointIpamConfig {
                            ipv4_address: Some(address.to_string()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(error(Op::Create, &spec.name))?;
        Ok(created.id)
    }

    pub async fn start(&self, id: &str) -> Result<(), BackendError> {
        already_done_is_done(self.docker.start_container(id, None).await, Op::Start, id)
    }

    pub async fn stop(&self, id: &str, grace: Duration) -> Result<(), BackendError> {
        let options = StopContainerOptionsBuilder::default()
            .t(grace.as_secs().try_into().unwrap_or(i32::MAX))
            .build();
        let answer = self.docker.stop_container(id, Some(options)).await;
        already_done_is_done(answer, Op::Stop, id)
    }

    /// Pauses a container; one already paused is not an error.
    pub async fn pause(&self, id: &str) -> Result<(), BackendError> {
        let answer = self.docker.pause_container(id).await;
        convert::said_already(answer, "is already paused", Op::Pause, id)
    }

    /// Unpauses a container; one that is not paused is not an error.
    pub async fn unpause(&self, id: &str) -> Result<(), BackendError> {
        let answer = self.docker.unpause_container(id).await;
        convert::said_already(answer, "is not paused", Op::Unpause, id)
    }

    pub async fn remove(&self, id: &str) -> Result<(), BackendError> {
        let options = RemoveContainerOptionsBuilder::default().force(true).build();
        let answer = self.docker.remove_container(id, Some(options)).await;
        answer.map_err(error(Op::Remove, id))
    }

    /// Replaying a little history (`since`) closes the gap between opening the stream and listing.
    pub fn events(&self, since: SystemTime) -> BoxStream<'static, Result<Event, BackendError>> {
        let mut filters = managed_filter();
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
                    Ok(message) => convert::to_event(message).map(Ok),
                    Err(e) => Some(Err(error(Op::Events, "stream")(e))),
                }
            })
            .boxed()
    }

    /// Runs `cmd` in the container and reports its exit code only (see [`exec`]).
    pub async fn exec(&self, id: &str, cmd: &[String]) -> Result<ExecOutput, BackendError> {
        exec::exec(&self.docker, id, cmd).await
    }

    pub async fn stats(&self, id: &str) -> Result<Stats, BackendError> {
        let options = StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        let mut samples = self.docker.stats(id, Some(options));
        match samples.next().await {
            Some(sample) => Ok(convert::to_stats(sample.map_err(error(Op::Stats, id))?)),
            None => Err(BackendError::Failed {
                op: Op::Stats,
                target: id.to_string(),
                source: "the daemon sent no sample".into(),
            }),
        }
    }

    pub async fn now(&self) -> Result<SystemTime, BackendError> {
        let info = self
            .docker
            .info()
            .await
            .map_err(error(Op::Inspect, "daemon"))?;
        convert::parse_time(info.system_time.as_deref()).ok_or_else(|| BackendError::Failed {
            op: Op::Inspect,
            target: "daemon".into(),
            source: "the daemon did not tell its time".into(),
        })
    }
}
