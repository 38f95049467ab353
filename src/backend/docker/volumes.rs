//! Named volumes: an instance's data, which outlives its container. Only named volumes are ever
//! mounted; a host path never reaches the engine.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{Mount, MountType, VolumeCreateRequest};
use bollard::query_parameters::{ListVolumesOptionsBuilder, RemoveVolumeOptionsBuilder};

use super::convert::{error, found};
use super::DockerBackend;
use crate::backend::{gone_is_done, BackendError, Op, VolumeMount};

/// How a volume is mounted into a container.
pub fn mount(volume: &VolumeMount) -> Mount {
    Mount {
        target: Some(volume.target.clone()),
        source: Some(volume.volume.clone()),
        typ: Some(MountType::VOLUME),
        ..Default::default()
    }
}

impl DockerBackend {
    pub async fn volume_labels(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, BackendError> {
        let answer = self.docker.inspect_volume(name).await;
        let volume = found(answer.map_err(error(Op::InspectVolume, name)))?;
        Ok(volume.map(|v| v.labels.into_iter().collect()))
    }

    pub async fn create_volume(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            driver: Some("local".into()),
            labels: Some(labels.into_iter().collect()),
            ..Default::default()
        };
        let created = self.docker.create_volume(request).await;
        created.map(drop).map_err(error(Op::CreateVolume, name))
    }

    pub async fn remove_volume(&self, name: &str) -> Result<(), BackendError> {
        let options = RemoveVolumeOptionsBuilder::default().force(false).build();
        let answer = self.docker.remove_volume(name, Some(options)).await;
        gone_is_done(answer.map_err(error(Op::RemoveVolume, name)))
    }

    pub async fn volumes_labelled(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, BackendError> {
        let filter: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let filters = HashMap::from([("label".to_string(), filter)]);
        let options = ListVolumesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let listed = self.docker.list_volumes(Some(options)).await;
        let listed = listed.map_err(error(Op::ListVolumes, "volumes"))?;
        let mut names: Vec<String> = listed
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect();
        names.sort();
        Ok(names)
    }
}
