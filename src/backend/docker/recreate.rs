//! What a container was created with, read back as a [`CreateSpec`]: a recreate makes its
//! successor from it (same name, labels, limits, address and volumes).

use std::collections::BTreeMap;

use bollard::models::{ContainerInspectResponse, Mount, MountType};

use super::convert::{error, limits_of};
use super::DockerBackend;
use crate::backend::{BackendError, CreateSpec, Op, VolumeMount};
use crate::domain::instance_labels::{InstanceLabels, Labels};

impl DockerBackend {
    pub async fn spec_of(&self, id: &str) -> Result<CreateSpec, BackendError> {
        let response = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(error(Op::Inspect, id))?;
        Ok(to_spec(response))
    }
}

fn to_spec(response: ContainerInspectResponse) -> CreateSpec {
    let config = response.config.unwrap_or_default();
    let host = response.host_config.unwrap_or_default();
    let name = response.name.unwrap_or_default();
    let name = name.trim_start_matches('/').to_string();
    let mut labels: Labels = config.labels.unwrap_or_default().into_iter().collect();
    let read = InstanceLabels::new(&name, &labels);
    let network = read
        .network()
        .map(str::to_string)
        .or(host.network_mode.clone())
        .unwrap_or_default();
    // The variables the deploy set; without that label (older instances), every one.
    let set = read.env_names();
    InstanceLabels::set_network(&mut labels, &network);
    let envs = deploy_envs(config.env.unwrap_or_default(), set.as_deref());
    let address = response
        .network_settings
        .and_then(|n| n.networks)
        .and_then(|mut n| n.remove(&network))
        .and_then(|endpoint| endpoint.ipam_config)
        .and_then(|ipam| ipam.ipv4_address)
        .and_then(|a| a.parse().ok());
    let limits = limits_of(&host);
    let volumes = volume_mounts(host.mounts.unwrap_or_default());
    CreateSpec {
        name,
        image: config.image.unwrap_or_default(),
        network,
        labels,
        envs,
        limits,
        cap_drop: host.cap_drop.unwrap_or_default(),
        address,
        volumes,
    }
}

/// The variables a deploy set (`set`, from its label), out of a container's `KEY=value` list;
/// every one when the label is missing (instances made before it).
pub(in crate::backend) fn deploy_envs(
    env: Vec<String>,
    set: Option<&[String]>,
) -> BTreeMap<String, String> {
    env.into_iter()
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let kept = set.is_none_or(|set| set.iter().any(|s| s == k));
            kept.then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// The named volumes among a container's mounts.
pub(in crate::backend) fn volume_mounts(mounts: Vec<Mount>) -> Vec<VolumeMount> {
    mounts
        .into_iter()
        .filter(|m| m.typ == Some(MountType::VOLUME))
        .filter_map(|m| {
            Some(VolumeMount {
                volume: m.source?,
                target: m.target?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerConfig, HostConfig};

    #[test]
    fn a_go_tool_container_is_described_with_its_network_and_every_variable() {
        let labels = [("origin".to_string(), "spawner".to_string())];
        let response = ContainerInspectResponse {
            name: Some("/minion-1".into()),
            config: Some(ContainerConfig {
                labels: Some(labels.into_iter().collect()),
                env: Some(vec!["A=1".into(), "B=x=y".into()]),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                network_mode: Some("net".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let spec = to_spec(response);
        assert_eq!(
            (spec.name.as_str(), spec.network.as_str()),
            ("minion-1", "net")
        );
        let read = InstanceLabels::new(&spec.name, &spec.labels);
        assert_eq!(read.network(), Some("net"));
        assert!(read.is_managed());
        assert_eq!(spec.envs.len(), 2);
        assert_eq!(spec.envs["B"], "x=y");
    }
}
