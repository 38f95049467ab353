//! Swarm mode: keeps the containers of this node that are to reach the instances (label
//! `spawner.reaches=<scope>`: traefik's, spawner's) joined to every instance's network. A new
//! traefik task is a new container, on none of them: it is joined the moment it starts (its
//! container's `start` event), and every [`SWEEP`] all of them are checked again and the networks
//! of instances that are gone are removed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bollard::query_parameters::{EventsOptionsBuilder, ListServicesOptionsBuilder};
use futures_util::StreamExt;

use super::networks::Networks;
use crate::backend::docker::convert::error;
use crate::backend::{BackendError, Op};
use crate::domain::instance_labels;
use crate::error::chain;

/// How often every joined container and every instance's network are checked again.
const SWEEP: Duration = Duration::from_secs(60);

/// Until the stream of this node's container starts breaks (the caller runs it again): joins
/// what runs now, then each container that starts; sweeps every [`SWEEP`].
pub async fn keep_joined(networks: Arc<Networks>) {
    let (client, scope) = (networks.client(), networks.scope());
    let filters = HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        ("event".to_string(), vec!["start".to_string()]),
        (
            "label".to_string(),
            vec![instance_labels::reaches_filter(scope)],
        ),
    ]);
    let options = EventsOptionsBuilder::default().filters(&filters).build();
    let mut starts = client.events(Some(options));
    let mut sweep = tokio::time::interval(SWEEP);
    loop {
        tokio::select! {
            _ = sweep.tick() => {
                if let Err(e) = check(&networks, client).await {
                    log::warn!("cannot check the instances' networks: {}", chain(&e));
                }
            }
            event = starts.next() => match event {
                Some(Ok(message)) => {
                    let Some(id) = message.actor.and_then(|a| a.id) else { continue };
                    joined(&networks, &id).await;
                }
                Some(Err(e)) => {
                    log::warn!("the container events for network joins broke: {e}");
                    return;
                }
                None => return,
            },
        }
    }
}

async fn joined(networks: &Networks, container: &str) {
    let short = &container[..container.len().min(12)];
    match networks.join_all(container).await {
        Ok(count) => log::info!("joined container {short} to {count} instance network(s)"),
        Err(e) => log::warn!(
            "cannot join container {short} to the instances' networks: {}",
            chain(&e)
        ),
    }
}

/// Joins every container that is to reach the instances to every instance's network, and
/// removes the networks of instances that are gone.
async fn check(networks: &Networks, client: &bollard::Docker) -> Result<(), BackendError> {
    for container in networks.joiners().await? {
        networks.join_all(&container).await?;
    }
    let filters = networks.scope_filters();
    let options = ListServicesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let services = client.list_services(Some(options)).await;
    let services = services.map_err(error(Op::List, "services"))?;
    let live: HashSet<String> = services.into_iter().filter_map(|s| s.spec?.name).collect();
    let removed = networks.sweep(&live).await?;
    if removed > 0 {
        log::info!("removed {removed} network(s) of instances that are gone");
    }
    Ok(())
}
