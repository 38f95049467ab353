//! Swarm's models in domain terms: a service and its newest task as one [`ContainerInfo`], a
//! [`CreateSpec`] as a service spec and back.
//!
//! An instance is a replicated service of at most one replica. Its identity is the service's id;
//! a run is a task, identified by the task's creation time. Its endpoint mode is DNS round robin:
//! traefik and spawner reach it by its name, which the engine's DNS on the instances' network
//! resolves to the running task's address (a virtual IP would need the kernel's IPVS on every
//! node, which not every host has: README, Swarm mode). So it has no fixed address; its route,
//! by name, holds while it is scaled to 0.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use bollard::models::{
    EndpointSpec, EndpointSpecModeEnum, Limit, Mount, MountType, MountVolumeOptions,
    NetworkAttachmentConfig, Service, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    Task, TaskSpec, TaskSpecContainerSpec, TaskSpecContainerSpecPrivileges, TaskSpecPlacement,
    TaskSpecResources, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum, TaskState,
};

use crate::backend::docker::convert::parse_time;
use crate::backend::docker::recreate::{deploy_envs, volume_mounts};
use crate::backend::{CreateSpec, VolumeMount};
use crate::domain::instance_labels::{InstanceLabels, Labels};
use crate::domain::limits::Limits;
use crate::domain::{ContainerInfo, Health, RunState};

/// The service label that keeps the image as the deploy named it: the service runs it by its id
/// (`sha256:…`), so that no node tries to pull it again at each wake.
pub const IMAGE_LABEL: &str = "spawner.image";

/// The service label that names the node an instance with volumes is kept on (its local volumes
/// live there); the service carries the matching placement constraint, which a recreate keeps.
pub const NODE_LABEL: &str = "spawner.node";

/// What the image says of itself: its `HEALTHCHECK` (as a command) and its TCP ports.
#[derive(Debug, Clone, Default)]
pub struct ImageFacts {
    pub healthcheck: Option<Vec<String>>,
    pub exposed_tcp_ports: Vec<u16>,
}

/// The task states after which the task never runs again.
pub fn is_over(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::COMPLETE
            | TaskState::SHUTDOWN
            | TaskState::FAILED
            | TaskState::REJECTED
            | TaskState::REMOVE
            | TaskState::ORPHANED
    )
}

pub fn state_of(task: &Task) -> TaskState {
    task.status
        .as_ref()
        .and_then(|s| s.state)
        .unwrap_or(TaskState::NEW)
}

pub fn created_at(task: &Task) -> Option<SystemTime> {
    parse_time(task.created_at.as_deref())
}

/// The newest of a service's tasks (its current or last run).
pub fn newest(tasks: Vec<Task>) -> Option<Task> {
    tasks.into_iter().max_by_key(created_at)
}

pub fn replicas(service: &Service) -> i64 {
    service
        .spec
        .as_ref()
        .and_then(|s| s.mode.as_ref())
        .and_then(|m| m.replicated.as_ref())
        .and_then(|r| r.replicas)
        .unwrap_or(0)
}

/// One instance as the domain sees it: the service, its newest task and its image's facts.
pub fn to_info(
    service: Service,
    task: Option<&Task>,
    image: &ImageFacts,
    network: &str,
) -> Option<ContainerInfo> {
    let id = service.id.clone()?;
    let updated_at = service.updated_at.clone();
    let spec = service.spec.clone().unwrap_or_default();
    let name = spec.name.clone().unwrap_or_default();
    let labels: Labels = spec
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let state = task.map(state_of);
    let run_state = match state {
        Some(TaskState::RUNNING) => RunState::Running,
        Some(s) if !is_over(s) => RunState::Created,
        _ => RunState::Exited,
    };
    let running = run_state == RunState::Running;
    // With a HEALTHCHECK, Swarm reports a task running only once Docker found it healthy.
    let health = match (&image.healthcheck, running) {
        (None, _) => Health::None,
        (Some(_), true) => Health::Healthy,
        (Some(_), false) => Health::Starting,
    };
    let status = task.and_then(|t| t.status.clone()).unwrap_or_default();
    let over = state.is_some_and(is_over);
    Some(ContainerInfo {
        id,
        name,
        image: labels
            .get(IMAGE_LABEL)
            .cloned()
            .or_else(|| image_of(&spec))
            .unwrap_or_default(),
        labels,
        state: run_state,
        health,
        healthcheck: image.healthcheck.clone(),
        exit_code: status
            .container_status
            .and_then(|c| c.exit_code)
            .filter(|_| over),
        started_at: task.and_then(created_at),
        // Without a task (Swarm deletes a task scaled away once its container is gone), the run
        // ended by the service's last update: a later view than the one of it running.
        finished_at: match task {
            Some(_) => parse_time(status.timestamp.as_deref()).filter(|_| over),
            None => parse_time(updated_at.as_deref()),
        },
        exposed_tcp_ports: image.exposed_tcp_ports.clone(),
        networks: vec![network.to_string()],
        ips: BTreeMap::new(),
        fixed_ips: BTreeMap::new(),
        limits: Some(limits_of(
            spec.task_template
                .as_ref()
                .and_then(|t| t.resources.as_ref()),
        )),
    })
}

fn container_spec(spec: &ServiceSpec) -> Option<&TaskSpecContainerSpec> {
    spec.task_template.as_ref()?.container_spec.as_ref()
}

fn image_of(spec: &ServiceSpec) -> Option<String> {
    container_spec(spec)?.image.clone()
}

/// The service for `spec`, running `image_id`, scaled to 0 (a start scales it to 1). It is not
/// restarted by Swarm when its app exits: spawner decides when it runs.
pub fn to_service_spec(spec: &CreateSpec, image_id: &str, grace: Duration) -> ServiceSpec {
    let mut labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
    labels.insert(IMAGE_LABEL.into(), spec.image.clone());
    let container = TaskSpecContainerSpec {
        image: Some(image_id.to_string()),
        labels: Some(labels.clone()),
        hostname: Some(spec.name.clone()),
        env: Some(spec.envs.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        stop_grace_period: Some(i64::try_from(grace.as_nanos()).unwrap_or(i64::MAX)),
        capability_drop: Some(spec.cap_drop.clone()),
        // Honoured from API 1.44 (Docker 25); older daemons drop it (README: Swarm mode).
        privileges: Some(TaskSpecContainerSpecPrivileges {
            no_new_privileges: Some(true),
            ..Default::default()
        }),
        mounts: Some(spec.volumes.iter().map(mount).collect()),
        ..Default::default()
    };
    let limits = Limit {
        nano_cpus: Some((spec.limits.cpus * 1e9) as i64),
        memory_bytes: Some(spec.limits.memory_bytes as i64),
        pids: Some(i64::from(spec.limits.pids)),
    };
    ServiceSpec {
        name: Some(spec.name.clone()),
        labels: Some(labels),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas: Some(0) }),
            ..Default::default()
        }),
        endpoint_spec: Some(EndpointSpec {
            mode: Some(EndpointSpecModeEnum::DNSRR),
            ports: None,
        }),
        task_template: Some(TaskSpec {
            container_spec: Some(container),
            resources: Some(TaskSpecResources {
                limits: Some(limits),
                ..Default::default()
            }),
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(TaskSpecRestartPolicyConditionEnum::NONE),
                ..Default::default()
            }),
            networks: Some(vec![NetworkAttachmentConfig {
                target: Some(spec.network.clone()),
                ..Default::default()
            }]),
            placement: spec.labels.get(NODE_LABEL).map(|node| placed_on(node)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn placed_on(node: &str) -> TaskSpecPlacement {
    TaskSpecPlacement {
        constraints: Some(vec![format!("node.id=={node}")]),
        ..Default::default()
    }
}

/// Whether a task of this spec has volumes and is not kept on a node yet.
pub fn needs_pin(task: &TaskSpec) -> bool {
    let has_volumes = task
        .container_spec
        .as_ref()
        .and_then(|c| c.mounts.as_ref())
        .is_some_and(|m| m.iter().any(|m| m.typ == Some(MountType::VOLUME)));
    let kept = task
        .placement
        .as_ref()
        .and_then(|p| p.constraints.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.starts_with("node.id==")));
    has_volumes && !kept
}

/// Keeps a service whose volumes are local on `node`, where they now are: a label and the
/// placement constraint (a change of placement alone does not restart its task). `false`: it
/// has no volume, or is kept somewhere already.
pub fn pin(spec: &mut ServiceSpec, node: &str) -> bool {
    let task = spec.task_template.get_or_insert_with(Default::default);
    if !needs_pin(task) || node.is_empty() {
        return false;
    }
    task.placement = Some(placed_on(node));
    let labels = spec.labels.get_or_insert_with(Default::default);
    labels.insert(NODE_LABEL.to_string(), node.to_string());
    true
}

fn mount(volume: &VolumeMount) -> Mount {
    Mount {
        typ: Some(MountType::VOLUME),
        source: Some(volume.volume.clone()),
        target: Some(volume.target.clone()),
        volume_options: Some(MountVolumeOptions {
            no_copy: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What a service was created with, as a [`CreateSpec`] (a recreate makes its successor from
/// it). The image is the deploy's name for it, not the id the service runs.
/// The limits a service's task runs with (0: none).
fn limits_of(resources: Option<&TaskSpecResources>) -> Limits {
    let limits = resources.and_then(|r| r.limits.clone()).unwrap_or_default();
    Limits {
        memory_bytes: u64::try_from(limits.memory_bytes.unwrap_or(0)).unwrap_or(0),
        cpus: limits.nano_cpus.unwrap_or(0) as f64 / 1e9,
        pids: u32::try_from(limits.pids.unwrap_or(0)).unwrap_or(0),
    }
}

pub fn to_create_spec(service: &Service) -> CreateSpec {
    let spec = service.spec.clone().unwrap_or_default();
    let name = spec.name.clone().unwrap_or_default();
    let mut labels: Labels = spec
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let image = labels.remove(IMAGE_LABEL).or_else(|| image_of(&spec));
    let task = spec.task_template.clone().unwrap_or_default();
    let container = task.container_spec.unwrap_or_default();
    let read = InstanceLabels::new(&name, &labels);
    let set = read.env_names();
    let envs = deploy_envs(container.env.unwrap_or_default(), set.as_deref());
    let network = read.network().map(str::to_string).unwrap_or_default();
    let limits = limits_of(task.resources.as_ref());
    let volumes = volume_mounts(container.mounts.unwrap_or_default());
    CreateSpec {
        name,
        image: image.unwrap_or_default(),
        network,
        labels,
        envs,
        limits,
        cap_drop: container.capability_drop.unwrap_or_default(),
        address: None,
        volumes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CreateSpec {
        CreateSpec {
            name: "swarm-one".into(),
            image: "mock-app:latest".into(),
            network: "instances".into(),
            labels: BTreeMap::from([
                ("origin".to_string(), "spawner".to_string()),
                ("spawner.network".to_string(), "instances".to_string()),
            ]),
            envs: BTreeMap::from([("A".to_string(), "1".to_string())]),
            limits: Limits {
                memory_bytes: 64 << 20,
                cpus: 0.5,
                pids: 100,
            },
            cap_drop: vec!["NET_RAW".into()],
            address: None,
            volumes: vec![VolumeMount {
                volume: "swarm-one-data".into(),
                target: "/data".into(),
            }],
        }
    }

    #[test]
    fn a_service_whose_task_is_gone_reads_as_stopped_later_than_its_run() {
        let service = Service {
            id: Some("s1".into()),
            updated_at: Some("2026-12-01T08:00:10Z".into()),
            spec: Some(to_service_spec(
                &spec(),
                "sha256:abc",
                Duration::from_secs(5),
            )),
            ..Default::default()
        };
        let task = Task {
            created_at: Some("2026-12-01T08:00:00Z".into()),
            status: Some(bollard::models::TaskStatus {
                state: Some(TaskState::RUNNING),
                ..Default::default()
            }),
            ..Default::default()
        };
        let facts = ImageFacts::default();
        let running = to_info(service.clone(), Some(&task), &facts, "instances").unwrap();
        let gone = to_info(service, None, &facts, "instances").unwrap();
        assert_eq!(running.state, RunState::Running);
        assert_eq!(gone.state, RunState::Exited);
        assert!(gone.last_transition() > running.last_transition());
    }

    #[test]
    fn a_service_made_from_a_spec_reads_back_as_that_spec_with_the_deploys_image_name() {
        let original = spec();
        let service = Service {
            spec: Some(to_service_spec(
                &original,
                "sha256:abc",
                Duration::from_secs(5),
            )),
            ..Default::default()
        };
        let back = to_create_spec(&service);
        assert_eq!(back.image, "mock-app:latest");
        assert_eq!(back.name, original.name);
        assert_eq!(back.labels, original.labels);
        assert_eq!(back.envs, original.envs);
        assert_eq!(back.limits, original.limits);
        assert_eq!(back.volumes, original.volumes);
        assert_eq!(back.cap_drop, original.cap_drop);
        let sent = service.spec.unwrap();
        assert_eq!(image_of(&sent).as_deref(), Some("sha256:abc"));
        assert_eq!(
            replicas(&Service {
                spec: Some(sent),
                ..Default::default()
            }),
            0
        );
    }
}
