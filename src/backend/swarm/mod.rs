//! The Docker Swarm engine behind [`Backend`](super::Backend): an instance is a replicated
//! service of at most one replica, scaled 0↔1 ([`convert`] maps the models, [`scale`] the
//! version-checked updates and the task waits, [`events`] the events stream).
//!
//! spawner talks to a manager's daemon. What is per node (images, volumes, a task's container:
//! its stats) is asked of that same daemon through the [`DockerBackend`] it wraps, so on several
//! nodes those calls reach only the manager's containers (README: Swarm mode). A task cannot be
//! paused: pausing is refused before it gets here.

mod anchor;
mod convert;
mod events;
pub mod joins;
pub mod networks;
mod scale;
mod slots;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bollard::models::{Service, Task};
use bollard::query_parameters::ListServicesOptionsBuilder;
use futures_util::stream::BoxStream;
use ipnet::Ipv4Net;
use tokio::sync::OnceCell;

use super::docker::convert::{error, healthcheck_command};
use super::docker::DockerBackend;
use super::{described, BackendError, CreateSpec, Event, ExecOutput, Op, Stats};
use crate::domain::instance_labels::{self, InstanceLabels};
use crate::domain::ContainerInfo;
use convert::ImageFacts;

/// How long a task is given to end after SIGTERM (spawner's stop grace for containers).
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Inspections run at once when (re)listing every managed service.
const INSPECT_CONCURRENCY: usize = 16;

#[derive(Clone)]
pub struct SwarmBackend {
    local: DockerBackend,
    /// The node this replica's daemon is (a container's counters can be read on its node only).
    node: Arc<OnceCell<String>>,
    /// What each image (by the id services run) says of its health check and ports.
    images: Arc<Mutex<HashMap<String, ImageFacts>>>,
    /// Each instance's own network.
    networks: Arc<networks::Networks>,
}

fn managed_filter() -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![instance_labels::managed_filter()])])
}

fn not_managed(name_or_id: &str) -> BackendError {
    BackendError::NotFound {
        op: Op::Inspect,
        target: name_or_id.to_string(),
        source: format!("no service named {name_or_id} is managed by spawner").into(),
    }
}

fn no_pause(op: Op, id: &str) -> BackendError {
    BackendError::Rejected {
        op,
        target: id.to_string(),
        source: "a Swarm task cannot be paused".into(),
    }
}

impl SwarmBackend {
    /// The daemon at `host`, which must be a Swarm manager; the instances' networks take their
    /// subnets from `pool` and carry `scope`. `SPAWNER_SWARM_NODE_ID` overrides the node it
    /// counts as (the tests run a replica as if on another node).
    pub async fn connect(host: &str, pool: Ipv4Net, scope: &str) -> Result<Self, BackendError> {
        let local = DockerBackend::connect(host).await?;
        let node = std::env::var("SPAWNER_SWARM_NODE_ID").ok();
        let node = node.filter(|n| !n.is_empty());
        let networks = networks::Networks::new(local.client().clone(), pool, scope);
        Ok(Self {
            local,
            node: Arc::new(OnceCell::new_with(node)),
            images: Arc::default(),
            networks: Arc::new(networks),
        })
    }

    /// The instances' networks, for the task that keeps this node's containers joined to them.
    pub fn networks(&self) -> Arc<networks::Networks> {
        Arc::clone(&self.networks)
    }

    /// The id of the node this replica's daemon is, asked once.
    async fn node(&self) -> Result<&str, BackendError> {
        let id = self.node.get_or_try_init(|| async {
            let info = self.client().info().await;
            let info = info.map_err(error(Op::Inspect, "the daemon's swarm node"))?;
            Ok::<_, BackendError>(info.swarm.and_then(|s| s.node_id).unwrap_or_default())
        });
        id.await.map(String::as_str)
    }

    /// The engine that does what is per node (images, volumes, networks, containers).
    pub fn local(&self) -> &DockerBackend {
        &self.local
    }

    fn client(&self) -> &bollard::Docker {
        self.local.client()
    }

    /// The managed services, each described with its newest task, but those of another scope
    /// skipped without reading their tasks.
    pub async fn list_managed(&self, scope: &str) -> Result<Vec<ContainerInfo>, BackendError> {
        let options = ListServicesOptionsBuilder::default()
            .filters(&managed_filter())
            .build();
        let services = self
            .client()
            .list_services(Some(options))
            .await
            .map_err(error(Op::List, "services"))?;
        let services = services.into_iter().filter(|service| {
            let labels = service.spec.as_ref().and_then(|s| s.labels.as_ref());
            !instance_labels::in_other_scope(labels.into_iter().flatten(), scope)
        });
        described(services.collect(), INSPECT_CONCURRENCY, |service| {
            self.describe(service)
        })
        .await
    }

    pub async fn inspect_managed(&self, name_or_id: &str) -> Result<ContainerInfo, BackendError> {
        let service = self.service(name_or_id).await?;
        let labels = service.spec.as_ref().and_then(|s| s.labels.clone());
        let labels = labels.unwrap_or_default().into_iter().collect();
        if !InstanceLabels::new(name_or_id, &labels).is_managed() {
            return Err(not_managed(name_or_id));
        }
        self.describe(service)
            .await?
            .ok_or_else(|| not_managed(name_or_id))
    }

    async fn service(&self, name_or_id: &str) -> Result<Service, BackendError> {
        let answer = self.client().inspect_service(name_or_id, None).await;
        answer.map_err(error(Op::Inspect, name_or_id))
    }

    /// The service with its newest task, its image's facts and its address.
    async fn describe(&self, service: Service) -> Result<Option<ContainerInfo>, BackendError> {
        let Some(id) = service.id.clone() else {
            return Ok(None);
        };
        let task = convert::newest(self.tasks(&id).await?);
        let spec = service.spec.clone().unwrap_or_default();
        let labels = spec
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let name = spec.name.clone().unwrap_or_default();
        let network = InstanceLabels::new(&name, &labels)
            .network()
            .unwrap_or_default()
            .to_string();
        let image = spec
            .task_template
            .and_then(|t| t.container_spec)
            .and_then(|c| c.image)
            .unwrap_or_default();
        let facts = self.image_facts(&image).await?;
        Ok(convert::to_info(service, task.as_ref(), &facts, &network))
    }

    /// Every task the service has (its history included).
    async fn tasks(&self, service_id: &str) -> Result<Vec<Task>, BackendError> {
        self.scale().tasks(service_id).await
    }

    fn lock_images(&self) -> std::sync::MutexGuard<'_, HashMap<String, ImageFacts>> {
        self.images.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The image's HEALTHCHECK and ports (an image id never changes, so they are kept).
    async fn image_facts(&self, image: &str) -> Result<ImageFacts, BackendError> {
        if let Some(facts) = self.lock_images().get(image) {
            return Ok(facts.clone());
        }
        let config = match self.client().inspect_image(image).await {
            Ok(inspect) => inspect.config.unwrap_or_default(),
            // Not on this node: nothing known of it.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(ImageFacts::default()),
            Err(e) => return Err(error(Op::InspectImage, image)(e)),
        };
        let facts = ImageFacts {
            healthcheck: config
                .healthcheck
                .and_then(|h| h.test)
                .as_deref()
                .and_then(healthcheck_command),
            exposed_tcp_ports: config
                .exposed_ports
                .unwrap_or_default()
                .iter()
                .filter_map(|p| p.strip_suffix("/tcp").and_then(|n| n.parse().ok()))
                .collect(),
        };
        self.lock_images().insert(image.to_string(), facts.clone());
        Ok(facts)
    }

    /// Creates the service, scaled to 0, running the image by its id (so no node pulls it).
    pub async fn create(&self, spec: &CreateSpec) -> Result<String, BackendError> {
        let image = self
            .client()
            .inspect_image(&spec.image)
            .await
            .map_err(error(Op::Create, &spec.image))?;
        let image_id = image.id.unwrap_or_else(|| spec.image.clone());
        // Its own network first (spec.network names the family: the label keeps it).
        let network = self.networks.create(&spec.network, &spec.name).await?;
        let on_own = CreateSpec {
            network: network.clone(),
            ..spec.clone()
        };
        let service = convert::to_service_spec(&on_own, &image_id, STOP_GRACE);
        let created = self.client().create_service(service, None).await;
        // A taken name is a 409, as with Docker.
        let created = match created.map_err(error(Op::Create, &spec.name)) {
            Ok(created) => created,
            Err(e) => {
                let _ = self.networks.remove(&network).await;
                return Err(e);
            }
        };
        created.id.ok_or_else(|| BackendError::Failed {
            op: Op::Create,
            target: spec.name.clone(),
            source: "Swarm gave the new service no id".into(),
        })
    }

    /// Refused: in Swarm mode each instance has a network of its own ([`networks`]).
    pub async fn create_isolated_network(
        &self,
        name: &str,
        _subnet: Ipv4Net,
        _labels: BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        Err(BackendError::Rejected {
            op: Op::CreateNetwork,
            target: name.to_string(),
            source: "in Swarm mode each instance has a network of its own".into(),
        })
    }

    pub async fn pause(&self, id: &str) -> Result<(), BackendError> {
        Err(no_pause(Op::Pause, id))
    }

    pub async fn unpause(&self, id: &str) -> Result<(), BackendError> {
        Err(no_pause(Op::Unpause, id))
    }

    pub async fn spec_of(&self, id: &str) -> Result<CreateSpec, BackendError> {
        Ok(convert::to_create_spec(&self.service(id).await?))
    }

    /// Removes the service, then (its containers gone) its network.
    pub async fn remove(&self, id: &str) -> Result<(), BackendError> {
        let network = self.service(id).await.ok().and_then(|s| network_of(&s));
        let answer = self.client().delete_service(id).await;
        answer.map_err(error(Op::Remove, id))?;
        // Its containers go after it; wait for them, so that its volumes can be removed next.
        self.scale().containers_gone(id).await;
        if let Some(network) = network {
            if let Err(e) = self.networks.remove(&network).await {
                log::warn!("cannot remove {network} yet: {}", crate::error::chain(&e));
            }
        }
        Ok(())
    }

    pub fn events(&self, since: SystemTime) -> BoxStream<'static, Result<Event, BackendError>> {
        events::stream(self.client().clone(), since)
    }

    /// Not used on Swarm: with a HEALTHCHECK the task is reported running only once healthy, and
    /// traffic reaches it only then; spawner waits for that rather than running the check itself.
    pub async fn exec(&self, id: &str, _cmd: &[String]) -> Result<ExecOutput, BackendError> {
        Err(BackendError::Rejected {
            op: Op::Exec,
            target: id.to_string(),
            source: "spawner runs no command in a Swarm task; Swarm checks its health".into(),
        })
    }

    /// The counters of the service's running task's container, read on this node; `None` when
    /// the task runs on another node.
    pub async fn stats(&self, id: &str) -> Result<Option<Stats>, BackendError> {
        let task = convert::newest(self.tasks(id).await?);
        let here = self.node().await?;
        if task.as_ref().and_then(|t| t.node_id.as_deref()) != Some(here) {
            return Ok(None);
        }
        let container = task
            .and_then(|t| t.status)
            .and_then(|s| s.container_status)
            .and_then(|c| c.container_id)
            .ok_or_else(|| BackendError::NotFound {
                op: Op::Stats,
                target: id.to_string(),
                source: "the service has no task with a container".into(),
            })?;
        self.local.stats(&container).await.map(Some)
    }

    /// Records `at` as the service's last activity (label [`instance_labels::ACTIVE_AT`]), unless it holds a
    /// later one.
    pub async fn mark_active(&self, id: &str, at: SystemTime) -> Result<(), BackendError> {
        let ms = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let ms = u64::try_from(ms.as_millis()).unwrap_or(u64::MAX);
        self.scale().mark_active(id, ms).await
    }

    fn scale(&self) -> scale::Scaler<'_> {
        scale::Scaler::new(self.client())
    }

    /// Scales to 1 and waits until the task runs (with a HEALTHCHECK: is healthy); a task Swarm
    /// rejects or that fails is an error that says why, and the service is scaled back to 0.
    pub async fn start(&self, id: &str) -> Result<(), BackendError> {
        // traefik and spawner on this node reach it (joined once per container and network).
        let service = self.service(id).await?;
        if let Some(network) = network_of(&service) {
            self.networks.join(&network).await?;
        }
        self.scale().up(id).await
    }

    /// Scales to 0 and waits until the task has ended.
    pub async fn stop(&self, id: &str, _grace: Duration) -> Result<(), BackendError> {
        self.scale().down(id).await
    }
}

/// The id of a service's own network (the one its tasks are attached to).
fn network_of(service: &Service) -> Option<String> {
    let template = service.spec.as_ref()?.task_template.as_ref()?;
    let networks = template.networks.as_ref()?;
    networks.first()?.target.clone()
}
