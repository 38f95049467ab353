//! Swarm mode: the anchor that lets a Swarm task's container join an instance's network. A
//! task's container (traefik's, spawner's) can be connected only to an overlay network its node
//! already has; a plain container's connection makes the node get it. So each node has one
//! plain container, `<scope>-anchor`, that runs spawner's own image as `spawner anchor` (it does
//! nothing until stopped) and is connected to each instance's network first.

use std::collections::HashMap;
use std::sync::Mutex;

use bollard::models::{ContainerCreateBody, HostConfig, RestartPolicy, RestartPolicyNameEnum};
use bollard::query_parameters::{CreateContainerOptionsBuilder, StartContainerOptions};

use super::super::docker::convert::error;
use super::super::{BackendError, Op};

/// The label that marks an anchor, with its scope as value (`scripts/down.sh --purge` removes it).
const ANCHOR: &str = "spawner.anchor";

pub struct Anchor {
    client: bollard::Docker,
    scope: String,
    /// Its container's id once seen running.
    id: Mutex<Option<String>>,
}

impl Anchor {
    pub fn new(client: bollard::Docker, scope: &str) -> Self {
        Self {
            client,
            scope: scope.to_string(),
            id: Mutex::default(),
        }
    }

    fn name(&self) -> String {
        format!("{}-anchor", self.scope)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.id.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets it (it was found gone): the next [`Anchor::id`] looks again.
    pub fn forget(&self) {
        *self.lock() = None;
    }

    /// Its container's id, running: started, or made, if need be.
    pub async fn id(&self) -> Result<String, BackendError> {
        if let Some(id) = self.lock().clone() {
            return Ok(id);
        }
        let name = self.name();
        let (id, running) = match self.find(&name).await? {
            Some(found) => found,
            None => match self.create(&name).await {
                Ok(id) => (id, false),
                // Another replica on this node made it meanwhile.
                Err(BackendError::Conflict { .. }) => {
                    self.find(&name)
                        .await?
                        .ok_or_else(|| BackendError::Failed {
                            op: Op::Create,
                            target: name.clone(),
                            source: "made and gone again".into(),
                        })?
                }
                Err(e) => return Err(e),
            },
        };
        if !running {
            let started = self
                .client
                .start_container(&id, None::<StartContainerOptions>)
                .await;
            match started {
                Ok(()) => log::info!("started the network anchor {name}"),
                // Started by another replica meanwhile.
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 304, ..
                }) => {}
                Err(e) => return Err(error(Op::Start, &name)(e)),
            }
        }
        *self.lock() = Some(id.clone());
        Ok(id)
    }

    /// Its id and whether it runs; `None` when there is no such container.
    async fn find(&self, name: &str) -> Result<Option<(String, bool)>, BackendError> {
        match self.client.inspect_container(name, None).await {
            Ok(c) => Ok(Some((
                c.id.unwrap_or_else(|| name.to_string()),
                c.state.and_then(|s| s.running) == Some(true),
            ))),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(error(Op::Inspect, name)(e)),
        }
    }

    /// Makes it from the image of spawner's own container.
    async fn create(&self, name: &str) -> Result<String, BackendError> {
        let image = self.own_image().await?;
        let body = ContainerCreateBody {
            image: Some(image),
            cmd: Some(vec!["anchor".into()]),
            labels: Some(HashMap::from([(ANCHOR.to_string(), self.scope.clone())])),
            host_config: Some(HostConfig {
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                    ..Default::default()
                }),
                cap_drop: Some(vec!["ALL".into()]),
                readonly_rootfs: Some(true),
                memory: Some(16 << 20),
                pids_limit: Some(16),
                security_opt: Some(vec!["no-new-privileges".into()]),
                // On every instance's network: it must not route between them.
                sysctls: Some(HashMap::from([(
                    "net.ipv4.ip_forward".to_string(),
                    "0".to_string(),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(name).build();
        let created = self.client.create_container(Some(options), body).await;
        let created = created.map_err(error(Op::Create, name))?;
        Ok(created.id)
    }

    /// The image spawner's own container runs (its hostname is its container's id).
    async fn own_image(&self) -> Result<String, BackendError> {
        let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        let hostname = hostname.trim();
        let own = self.client.inspect_container(hostname, None).await;
        let image = own.ok().and_then(|c| c.image);
        image.ok_or_else(|| BackendError::Failed {
            op: Op::Create,
            target: self.name(),
            source: "Swarm mode needs spawner to run in a container on the swarm (its image \
                     runs the network anchor), and its hostname left as its container's id"
                .into(),
        })
    }
}
