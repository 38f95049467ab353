//! Swarm mode: a site's replicas can run on several nodes, and a container's network counters
//! can be read on its own node only. So each replica's culler writes the last activity it saw of
//! each running instance onto the instance's service (label `spawner.active-at`, a
//! version-checked update, at most once per [`lag`]), and reads what the others wrote (the index
//! holds the services' labels) before it decides. An instance whose counters it cannot read
//! sleeps only once that shared record has been idle for the instance's timeout plus the
//! record's possible lag ([`margin`]): later than its timeout, never earlier (README: Swarm mode).
//!
//! With the Docker engine the replicas share one host's counters, and none of this runs.

use std::time::{Duration, SystemTime};

use futures_util::{stream, StreamExt};

use super::containers::Containers;
use super::policy::IdleRules;
use crate::domain::{InstanceLabels, RunState};
use crate::error::chain;

/// Label updates sent at once.
const WRITES_AT_ONCE: usize = 16;

/// How far behind a replica's own record the shared one may be: one write per instance per lag.
pub fn lag(interval: Duration, idle_timeout: Duration) -> Duration {
    interval.max(idle_timeout / 10)
}

/// How much longer than its timeout an instance known only from the shared record is left
/// running: the record's lag, the pass that writes it and the event that brings it here.
pub fn margin(interval: Duration, idle_timeout: Duration) -> Duration {
    lag(interval, idle_timeout) + 2 * interval
}

/// Takes in what the other replicas recorded: an instance's shared record later than its own
/// last activity here counts as activity.
pub fn absorb(containers: &Containers) {
    let index = containers.store.read();
    for instance in index.by_name.values() {
        let Some(shared) = InstanceLabels::of(&instance.info).active_at() else {
            continue;
        };
        let own = instance.activity.seen().time();
        if own.is_none_or(|own| shared > own) {
            instance.touch(shared);
        }
    }
}

/// Writes this replica's last activity of each running instance that can idle onto its service
/// when the shared record is older by more than [`lag`].
pub async fn publish(containers: &Containers, rules: &IdleRules, interval: Duration) {
    let due: Vec<(String, String, SystemTime)> = {
        let index = containers.store.read();
        index
            .by_name
            .values()
            .filter(|i| i.info.state == RunState::Running)
            .filter_map(|i| {
                let facts = i.facts(rules, false);
                let own = facts.seen.time()?;
                let lag = lag(interval, facts.idle_timeout?);
                let shared = InstanceLabels::of(&i.info).active_at();
                let behind = shared.is_none_or(|shared| shared + lag <= own);
                behind.then(|| (i.info.name.clone(), i.info.id.clone(), own))
            })
            .collect()
    };
    let backend = &containers.backend;
    stream::iter(due)
        .for_each_concurrent(WRITES_AT_ONCE, |(name, id, at)| async move {
            if let Err(e) = backend.mark_active(&id, at).await {
                log::debug!("{name}: its activity not shared this time: {}", chain(&e));
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_is_a_tenth_of_the_timeout_but_never_under_one_pass() {
        let s = Duration::from_secs;
        assert_eq!(lag(s(10), s(900)), s(90));
        assert_eq!(lag(s(10), s(30)), s(10));
        assert_eq!(margin(s(10), s(900)), s(110));
    }
}
