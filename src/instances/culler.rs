//! The culler: every `idle_check_interval` it samples the network counters of the running
//! instances that had no request during the last interval (traffic on a connection that is
//! already open, such as a WebSocket, counts as activity: traefik asks `/auth` only once, at the
//! upgrade), then stops or pauses those idle for their whole timeout ([`policy::idle_now`]).
//! A running instance sleeps only if its counters were just sampled and show no traffic: the
//! counters are the one record of activity every replica on the host shares, so a replica
//! never stops an instance that is in use through another (README: Replicas). On a Swarm, where
//! a task's counters can be read on its node only, the replicas also share each instance's last
//! activity on its service ([`super::shared_activity`]).
//!
//! A stop is claimed atomically against the hot path ([`super::activity`]) and never while a
//! start, a stop or a held request is under way ([`super::transitions`]), so it cannot cut a
//! request the culler did not see. It is a supervised task that ends at shutdown.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::{stream, StreamExt};

use super::containers::Containers;
use super::policy::{self, IdleRules, TrafficSample};
use super::shared_activity;
use super::transitions::Transitions;
use crate::domain::RunState;
use crate::error::chain;
use crate::metrics::Reason;
use crate::tasks::Tasks;

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

/// The idle stop: what it needs of the lifecycle, and the counters it sampled last.
pub(super) struct Culler {
    containers: Arc<Containers>,
    transitions: Arc<Transitions>,
    rules: IdleRules,
    /// How often it looks (`idle_check_interval`).
    interval: Duration,
    samples: Samples,
}

impl Culler {
    pub fn new(
        containers: Arc<Containers>,
        transitions: Arc<Transitions>,
        rules: IdleRules,
        interval: Duration,
    ) -> Self {
        Self {
            containers,
            transitions,
            rules,
            interval,
            samples: Samples::new(),
        }
    }

    /// Runs it as a supervised background task of `tasks` until shutdown; one started again
    /// after a panic samples afresh.
    pub fn start(self, tasks: &Tasks) {
        let (containers, transitions) = (self.containers, self.transitions);
        let (rules, interval) = (self.rules, self.interval);
        let stopping = tasks.clone();
        tasks.supervise("culler", move || {
            let culler = Culler::new(
                Arc::clone(&containers),
                Arc::clone(&transitions),
                rules,
                interval,
            );
            culler.run_until(stopping.clone())
        });
    }

    async fn run_until(mut self, tasks: Tasks) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = tasks.stopping() => return,
            }
            if !self.containers.store.is_synced() {
                continue;
            }
            let started = Instant::now();
            let report = tokio::select! {
                report = self.cull_once() => report,
                () = tasks.stopping() => return,
            };
            log::debug!("culler: {report:?} in {:?}", started.elapsed());
        }
    }

    /// One pass: sample, then put the idle to sleep.
    pub async fn cull_once(&mut self) -> CullReport {
        let mut report = CullReport::default();
        let shared = self.containers.backend.is_swarm();
        if shared {
            shared_activity::absorb(&self.containers);
        }
        let to_sample = self.instances_to_sample();
        let backend = &self.containers.backend;
        report.sampled = to_sample.len();
        let taken: Vec<_> = stream::iter(to_sample)
            .map(|(name, id, run)| async move {
                let stats = backend.stats(&id).await;
                (name, id, run, stats, SystemTime::now())
            })
            .buffer_unordered(SAMPLES_AT_ONCE)
            .collect()
            .await;
        let mut fresh = Samples::new();
        // Running instances whose counters show no traffic: the only ones that may sleep now.
        // Requests let through by another replica leave no trace here but in the counters.
        let mut quiet = HashSet::new();
        // Running instances whose counters are on another node (Swarm): known from the shared
        // record only, they sleep a margin later.
        let mut elsewhere = HashSet::new();
        for (name, id, run, stats, at) in taken {
            let stats = match stats {
                Ok(Some(stats)) => stats,
                Ok(None) => {
                    elsewhere.insert(name);
                    continue;
                }
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
            // The first sample of a run is compared with the run's start (counters start at
            // zero in a new network namespace): traffic before this replica looked still counts.
            let previous = match self.samples.get(&id) {
                Some(previous) if previous.run == run => *previous,
                _ => TrafficSample::start_of(run),
            };
            if policy::traffic_between(&previous, &sample) {
                report.traffic += 1;
                log::debug!("{name}: traffic on its connections counts as activity");
                self.containers.store.touch(&name, at);
            } else {
                quiet.insert(name);
            }
            fresh.insert(id, sample);
        }
        // Only the instances sampled now: the others stopped or no longer idle.
        self.samples = fresh;

        let claims = {
            let transitions = &self.transitions;
            let mut table = transitions.lock();
            let index = self.containers.store.read();
            let now = SystemTime::now();
            // Only running and paused instances can go to sleep (further).
            let facts: Vec<_> = index
                .by_name
                .values()
                .filter(|i| match i.info.state {
                    RunState::Running => {
                        quiet.contains(&i.info.name) || elsewhere.contains(&i.info.name)
                    }
                    RunState::Paused => true,
                    _ => false,
                })
                .map(|i| i.facts(&self.rules, transitions.busy(&table, i.name())))
                .collect();
            policy::idle_now(&facts, now)
                .into_iter()
                .filter(|(f, _)| {
                    !elsewhere.contains(f.name)
                        || f.sleeps_at()
                            .zip(f.idle_timeout)
                            .is_some_and(|(at, timeout)| {
                                at + shared_activity::margin(self.interval, timeout) <= now
                            })
                })
                .filter_map(|(f, action)| {
                    let instance = index.get(f.name)?;
                    let claim = transitions.claim_stop(&mut table, instance, Some(f.seen));
                    Some((claim?, action))
                })
                .collect::<Vec<_>>()
        };
        report.put_to_sleep = claims.len();
        let containers = &self.containers;
        let sleeps = claims.into_iter().map(|(claim, action)| async move {
            let _ = containers
                .put_to_sleep(claim, action, Reason::Idle, "idle")
                .await;
        });
        futures_util::future::join_all(sleeps).await;
        if shared {
            shared_activity::publish(&self.containers, &self.rules, self.interval).await;
        }
        report
    }

    /// Running instances that may idle and either had no request during the last interval or
    /// were sampled last time (so traffic is seen to the interval): name, id and run. One that
    /// answers requests all the time is never sampled.
    fn instances_to_sample(&self) -> Vec<(String, String, Option<SystemTime>)> {
        let recent = SystemTime::now() - self.interval;
        let index = self.containers.store.read();
        index
            .by_name
            .values()
            .filter(|i| i.info.state == RunState::Running)
            .filter(|i| {
                let facts = i.facts(&self.rules, false);
                facts.idle_timeout.is_some()
                    && (facts.since <= recent || self.samples.contains_key(&i.info.id))
            })
            .map(|i| (i.info.name.clone(), i.info.id.clone(), i.info.started_at))
            .collect()
    }
}
