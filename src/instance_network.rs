//! The instances' network, seen to at start. A missing one is created isolated: a bridge on which
//! inter-container traffic is off, with a subnet of its own from which each instance gets a fixed
//! address (`network_subnet`). An existing one is used as it is, with a warning when its
//! containers can reach each other or when it gives no fixed addresses. README: "Security model".

use crate::backend::{Backend, BackendError};
use crate::configuration::EngineSettings;
use crate::domain::{instance_labels, ICC_OPTION};
use crate::error::chain;

#[derive(Debug, thiserror::Error)]
#[error(
    "cannot create the instances' network {network:?} with subnet {subnet}; choose a free \
     subnet with network_subnet, or create the network yourself"
)]
pub struct NetworkError {
    network: String,
    subnet: String,
    #[source]
    source: BackendError,
}

/// Creates `engine.network` when missing. A daemon that does not answer is only logged (spawner
/// keeps trying to reach it); a daemon that refuses the network stops the start.
pub async fn ensure(backend: &Backend, engine: &EngineSettings) -> Result<(), NetworkError> {
    let name = engine.network.as_str();
    if backend.is_swarm() {
        log::info!(
            "Swarm mode: each instance gets an overlay network of its own, named {name}-<instance>-<random>, \
             with a /{} of {}",
            crate::backend::swarm::networks::BLOCK,
            engine.network_subnet
        );
        return Ok(());
    }
    match backend.inspect_network(name).await {
        Ok(Some(network)) if network.icc => log::warn!(
            "network {name:?} lets its containers reach each other: any instance can open \
             connections to every other one. Create it with -o {ICC_OPTION}=false (or remove it \
             and let spawner create it) and run traefik and spawner outside it (README: Security \
             model)"
        ),
        Ok(Some(network)) if network.fixed_subnet().is_none() => log::warn!(
            "network {name:?} has no label {} (set it on a network created with --subnet): \
             instances get no fixed address, so traefik reaches them by name and must share \
             that network",
            instance_labels::fixed_addresses_label()
        ),
        Ok(Some(_)) => {}
        Ok(None) => return create(backend, engine).await,
        Err(e) => log::error!("{}; spawner keeps trying", chain(&e)),
    }
    Ok(())
}

async fn create(backend: &Backend, engine: &EngineSettings) -> Result<(), NetworkError> {
    let (name, subnet) = (&engine.network, engine.network_subnet);
    let network_labels = instance_labels::network_labels(&engine.scope);
    match backend
        .create_isolated_network(name, subnet, network_labels)
        .await
    {
        Ok(()) => {
            log::info!(
                "created network {name:?} for instances: subnet {subnet}, inter-container traffic off"
            );
            Ok(())
        }
        // Another spawner of the same stack made it meanwhile.
        Err(BackendError::Conflict { .. }) => Ok(()),
        Err(e) if e.is_unavailable() => {
            log::error!("{}; spawner keeps trying", chain(&e));
            Ok(())
        }
        Err(source) => Err(NetworkError {
            network: name.clone(),
            subnet: subnet.to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Op;

    #[test]
    fn a_network_that_cannot_be_made_names_the_engines_reason_once() {
        let e = NetworkError {
            network: "traefiknet".into(),
            subnet: "10.1.0.0/16".into(),
            source: BackendError::Rejected {
                op: Op::CreateNetwork,
                target: "traefiknet".into(),
                source: "Pool overlaps with other one on this address space".into(),
            },
        };
        let text = chain(&e);
        assert_eq!(text.matches("Pool overlaps").count(), 1, "{text}");
        assert!(
            text.starts_with("cannot create the instances' network"),
            "{text}"
        );
    }
}
