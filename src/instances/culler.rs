//! The culler: every `idle_check_interval` it samples the network counters of the running
//! instances that had no request during the last interval (traffic on a connection that is
//! already open, such as a WebSocket, counts as activity: traefik asks `/auth` only once, at the
//! upgrade), then stops or pauses those idle for their whole timeout ([`policy::idle_now`]).
//!
//! A stop is claimed atomically against the hot path ([`super::activity`]) and never while a
//! start, a stop or a held request is under way ([`super::transitions`]), so it cannot cut a
//! request the culler did not see. It is a supervised task that ends at shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use futures_util::{stream, StreamExt};

use super::policy::{self, TrafficSample};
use super::Instances;
use crate::domain::RunState;
use crate::error::chain;
use crate::metrics::Reason;

/// Counter samples asked of the engine at once (each waits for its stats collector, ~1 s).
const SAMPLES_AT_ONCE: usize = 64;

/// The last counters of each running instance, by container id.
type Samples = HashMap<String, TrafficSample>;

/// What one pass did, for the log and the benchmark.
#[derive(Debug, Default, Clone, Copy)]
pub struct CullReport {
    pub sampled: usize,
    pub traffic: usize,
    pub put_to_sleep: usize,
}

impl Instances {
    /// Starts the culler as a supervised background task.
    pub fn start_culler(self: &Arc<Self>) {
        let this = Arc::clone(self);
        self.tasks.supervise("culler", move || {
            let this = Arc::clone(&this);
            async move { this.cull_until_shutdown().await }
        });
    }

    async fn cull_until_shutdown(self: Arc<Self>) {
        let mut samples = Samples::new();
        let mut tick = tokio::time::interval(self.settings.idle_check_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.tasks.stopping() => return,
            }
            if !self.is_synced() {
                continue;
            }
            let started = Instant::now();
            let report = tokio::select! {
                report = self.cull_once(&mut samples) => report,
                () = self.tasks.stopping() => return,
            };
            log::debug!("culler: {report:?} in {:?}", started.elapsed());
        }
    }

    /// One pass: sample, then put the idle to sleep.
    async fn cull_once(self: &Arc<Self>, samples: &mut Samples) -> CullReport {
        let mut report = CullReport::default();
        let quiet = self.instances_to_sample(samples);
        report.sampled = quiet.len();
        let taken: Vec<_> = stream::iter(quiet)
            .map(|(name, id, run)| async move {
                let stats = self.backend.stats(&id).await;
                (name, id, run, stats, SystemTime::now())
            })
            .buffer_unordered(SAMPLES_AT_ONCE)
            .collect()
            .await;
        let mut fresh = Samples::new();
        for (name, id, run, stats, at) in taken {
            let stats = match stats {
                Ok(stats) => stats,
                Err(e) => {
                    log::debug!("{name}: no network counters: {}", chain(&e));
                    continue;
                }
            };
            let sample = TrafficSample {
                run,
                rx: (stats.rx_bytes, stats.rx_packets),
                tx: (stats.tx_bytes, stats.tx_packets),
            };
            if samples
                .get(&id)
                .is_some_and(|previous| policy::traffic_between(previous, &sample))
            {
                report.traffic += 1;
                log::debug!("{name}: traffic on its connections counts as activity");
                self.touch(&name, at);
            }
            fresh.insert(id, sample);
        }
        // Only the instances sampled now: the others stopped or no longer idle.
        *samples = fresh;

        let claims = {
            let mut transitions = self.transitions();
            let index = self.read();
            let now = SystemTime::now();
            // Only running instances can go to sleep: the rest are not even looked at.
            let facts: Vec<_> = index
                .by_name
                .values()
                .filter(|i| i.info.state == RunState::Running)
                .map(|i| self.facts(i, transitions.busy(i.name())))
                .collect();
            policy::idle_now(&facts, now)
                .into_iter()
                .filter_map(|f| {
                    let claim = self.claim_stop(&mut transitions, index.get(f.name)?, Some(f.seen));
                    Some((claim?, f.idle_action))
                })
                .collect::<Vec<_>>()
        };
        report.put_to_sleep = claims.len();
        let sleeps = claims.into_iter().map(|(claim, action)| async move {
            let _ = self.put_to_sleep(claim, action, Reason::Idle, "idle").await;
        });
        futures_util::future::join_all(sleeps).await;
        report
    }

    /// Running instances that may idle and either had no request during the last interval or
    /// were sampled last time (so traffic is seen to the interval): name, id and run. One that
    /// answers requests all the time is never sampled.
    fn instances_to_sample(&self, samples: &Samples) -> Vec<(String, String, Option<SystemTime>)> {
        let recent = SystemTime::now() - self.settings.idle_check_interval;
        let index = self.read();
        index
            .by_name
            .values()
            .filter(|i| i.info.state == RunState::Running)
            .filter(|i| {
                let facts = self.facts(i, false);
                facts.idle_timeout.is_some()
                    && (facts.since <= recent || samples.contains_key(&i.info.id))
            })
            .map(|i| (i.info.name.clone(), i.info.id.clone(), i.info.started_at))
            .collect()
    }
}
