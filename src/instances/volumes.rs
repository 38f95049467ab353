//! An instance's named volumes: made before its container (labelled as its own), kept when it is
//! deleted unless purged, mounted again when it is recreated.

use std::collections::BTreeMap;

use super::OpError;
use crate::backend::{Backend, VolumeMount};
use crate::configuration::EngineSettings;
use crate::domain::instance_labels::{volume_labels, volume_owner};
use crate::domain::volumes::{engine_name, Volume};
use crate::error::chain;

pub(super) struct Volumes {
    backend: Backend,
    /// This spawner's scope: its volumes carry it.
    scope: String,
}

impl Volumes {
    pub fn new(backend: Backend, engine: &EngineSettings) -> Self {
        let scope = engine.scope.clone();
        Self { backend, scope }
    }

    /// The labels that make a volume `instance`'s, in this scope.
    fn volume_owner(&self, instance: &str) -> BTreeMap<String, String> {
        volume_owner(&self.scope, instance)
    }

    /// Makes the volumes of `instance` that do not exist yet and returns how to mount them, and
    /// which were made now (removed again if the create fails). A volume of that name that is
    /// not this instance's (another instance's name can lead to the same volume name) is refused.
    pub async fn ensure(
        &self,
        instance: &str,
        volumes: &[Volume],
    ) -> Result<(Vec<VolumeMount>, Vec<String>), OpError> {
        let owner = self.volume_owner(instance);
        let (mut mounts, mut made) = (Vec::new(), Vec::new());
        for volume in volumes {
            let engine = engine_name(instance, &volume.name);
            match self
                .ensure_volume(instance, &engine, &volume.name, &owner)
                .await
            {
                Ok(true) => made.push(engine.clone()),
                Ok(false) => {}
                Err(e) => {
                    self.remove(&made).await;
                    return Err(e);
                }
            }
            mounts.push(VolumeMount {
                volume: engine,
                target: volume.target.clone(),
            });
        }
        Ok((mounts, made))
    }

    /// Makes one volume unless it is there already as `owner`'s; whether it was made now.
    async fn ensure_volume(
        &self,
        instance: &str,
        engine: &str,
        name: &str,
        owner: &BTreeMap<String, String>,
    ) -> Result<bool, OpError> {
        match self.backend.volume_labels(engine).await? {
            Some(labels) if owner.iter().all(|(k, v)| labels.get(k) == Some(v)) => Ok(false),
            Some(_) => Err(OpError::VolumeTaken(engine.to_string())),
            None => {
                let labels = volume_labels(&self.scope, instance, name);
                self.backend.create_volume(engine, labels).await?;
                log::info!("{instance}: volume {engine} created");
                Ok(true)
            }
        }
    }

    /// Removes volumes, logging (not returning) a failure: for cleanups.
    pub async fn remove(&self, names: &[String]) {
        for name in names {
            if let Err(e) = self.backend.remove_volume(name).await {
                log::warn!("could not remove volume {name}: {}", chain(&e));
            }
        }
    }

    /// Removes every volume of `instance` (its container must be gone); returns their names.
    pub async fn purge(&self, instance: &str) -> Result<Vec<String>, OpError> {
        let names = self
            .backend
            .volumes_labelled(&self.volume_owner(instance))
            .await?;
        for name in &names {
            self.backend.remove_volume(name).await?;
            log::info!("{instance}: volume {name} removed (purge)");
        }
        Ok(names)
    }
}
