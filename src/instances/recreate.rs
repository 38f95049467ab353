//! `POST /deploy/{name}/recreate`: replaces an instance's container with one made from a new
//! image and/or environment, keeping everything else: its name, labels (so its sessions stay
//! valid), limits, address and volumes (so its data). The home app's "upgrade my instance".
//!
//! The new image is made present first, so a failed pull changes nothing. While the container
//! is replaced the instance is claimed: requests for it wait, then wake the new one. If the new
//! container cannot be created, the old one is made again from what it was created with.

use std::sync::Arc;

use super::capacity::occupies;
use super::{Instance, InstanceView, Instances, OpError};
use crate::backend::CreateSpec;
use crate::domain::deploy_request::env_names;
use crate::domain::{labels, RecreateSpec};
use crate::error::chain;
use crate::metrics::Reason;

impl Instances {
    pub async fn recreate(
        self: &Arc<Self>,
        instance: &Instance,
        change: &RecreateSpec,
    ) -> Result<InstanceView, OpError> {
        let name = instance.name().to_string();
        let not_found = |e: crate::backend::BackendError| match e.is_not_found() {
            true => OpError::NotFound(name.clone()),
            false => e.into(),
        };
        let old = self
            .backend
            .spec_of(&instance.info.id)
            .await
            .map_err(not_found)?;
        let mut new = old.clone();
        if let Some(image) = &change.image {
            new.image = image.clone();
        }
        if let Some(envs) = &change.envs {
            new.envs = envs.clone();
            new.labels.insert(labels::ENVS.into(), env_names(envs));
        }
        let policy = change.pull_policy.unwrap_or(self.settings.pull_policy);
        self.ensure_image(&new.image, policy).await?;

        let claim = self.claim_for_api(&name).await?;
        let was_running = self
            .read()
            .get(&name)
            .is_some_and(|i| occupies(i.info.state));
        // Its place under max_running stays its own while no container of it runs.
        let _place = was_running.then(|| self.keep_place(&name));
        self.remove_container(&claim.id).await?;
        let id = match self.backend.create(&new).await {
            Ok(id) => id,
            Err(e) => return Err(self.restore(&old, was_running, chain(&e)).await),
        };
        log::info!("{name}: recreated from {} (was {})", new.image, old.image);
        if was_running {
            if let Err(e) = self.backend.start(&id).await {
                let _ = self.refresh(&id).await;
                return Err(OpError::RecreateFailed {
                    name: name.clone(),
                    reason: format!("it was created but did not start: {}", chain(&e)),
                    restored:
                        "the new container is kept, with the data; the next request starts it again"
                            .into(),
                });
            }
            self.metrics.started(Reason::Api);
        }
        let fresh = self.refresh(&id).await?;
        drop(claim);
        let fresh = fresh.ok_or_else(|| OpError::NotFound(name.clone()))?;
        Ok(self.view(&fresh))
    }

    /// Makes the old container again after its successor could not be created.
    async fn restore(&self, old: &CreateSpec, was_running: bool, reason: String) -> OpError {
        let name = old.name.clone();
        log::warn!(
            "{name}: the new container could not be created ({reason}); restoring the old one"
        );
        let restored = match self.backend.create(old).await {
            Ok(id) => {
                if was_running {
                    if let Err(e) = self.backend.start(&id).await {
                        log::warn!(
                            "{name}: the restored container did not start: {}",
                            chain(&e)
                        );
                    }
                }
                let _ = self.refresh(&id).await;
                format!(
                    "the instance runs {} as before; its data is unchanged",
                    old.image
                )
            }
            Err(e) => {
                log::error!("{name}: could not restore it either: {}", chain(&e));
                "restoring the old container failed too; its volumes (data) are kept: deploy it again with the same name and volumes".to_string()
            }
        };
        OpError::RecreateFailed {
            name,
            reason,
            restored,
        }
    }
}
