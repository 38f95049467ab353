//! Getting a stopped instance ready: one start however many requests wait for it (single flight),
//! in a task of its own so that a request that gives up (hold timeout) does not cancel it, with
//! the engine's start calls bounded by `max_concurrent_starts`.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::feed::Change;
use super::flights::{landed, Flight};
use super::{Instances, StartError};
use crate::domain::RunState;
use crate::error::chain;
use crate::metrics::Reason;

impl Instances {
    /// Starts the instance if needed and waits until it is ready; one start however many callers.
    /// The caller bounds its wait; the start itself goes on (up to `ready_timeout`).
    pub async fn ensure_ready(self: &Arc<Self>, name: &str) -> Result<(), StartError> {
        let this = Arc::clone(self);
        let starts = &self.transitions.starts;
        let flight = starts.join_or_start(&self.tasks, name, |f| this.run_start(f));
        let outcome = landed(flight).await;
        let outcome = outcome.unwrap_or_else(|| Err(StartError::Gone(name.to_string())));
        if outcome.is_ok() {
            // The request let through after its wait is activity too.
            self.store.touch(name, SystemTime::now());
        }
        outcome
    }

    /// The start task: bounded by `ready_timeout` and by shutdown; publishes its outcome.
    async fn run_start(self: Arc<Self>, flight: Flight<Result<(), StartError>>) {
        let name = flight.key.clone();
        let started = Instant::now();
        // Not cancelled by shutdown as a whole: an engine call under way completes (nothing is
        // left half-started); only the readiness wait is given up.
        let work = tokio::time::timeout(self.ready_timeout, self.start_and_wait(&name));
        let outcome = work
            .await
            .unwrap_or_else(|_| Err(StartError::NeverReady(name.clone())));
        match &outcome {
            Ok(false) => {}
            Ok(true) => {
                log::info!("{name}: ready after {:?}", started.elapsed());
                self.containers.announce(Change::Ready, None, &name);
            }
            Err(e) => log::warn!("{name}: {} (after {:?})", chain(e), started.elapsed()),
        }
        flight.land(outcome.map(drop));
    }

    /// `true`: it was not ready, and is now.
    async fn start_and_wait(self: &Arc<Self>, name: &str) -> Result<bool, StartError> {
        // A stop or pause under way ends first (no new one begins while this start is listed).
        self.transitions.stop_ended(name).await;
        let instance = self
            .store
            .get(name)
            .ok_or_else(|| StartError::Gone(name.into()))?;
        if instance.is_ready() {
            return Ok(false);
        }
        let id = instance.info.id.clone();
        let instance = {
            let _permit = self
                .start_permits
                .acquire()
                .await
                .map_err(|_| StartError::ShuttingDown)?;
            // Its place under max_running, held until the index shows it running.
            let _slot = match instance.info.state {
                RunState::Running => None,
                _ => Some(self.capacity.make_room(name, Reason::Wake).await?),
            };
            let fresh = match instance.info.state {
                RunState::Running => self.containers.refresh(&id).await,
                _ => self.containers.resume(&instance, Reason::Wake).await,
            };
            fresh
                .map_err(|e| StartError::from_backend(name, e))?
                .ok_or_else(|| StartError::Gone(name.into()))?
        };
        if instance.is_ready() {
            return Ok(true);
        }
        let run = instance.info.started_at;
        if instance.info.state != RunState::Running {
            return Err(self.store.ended(name, run));
        }
        let ready = tokio::select! {
            ready = self.prober.ready(&instance, run) => ready,
            () = self.store.run_ended(name, run) => Err(self.store.ended(name, run)),
            // The instance runs on; the next spawner checks its readiness again.
            () = self.tasks.stopping() => Err(StartError::ShuttingDown),
        };
        if let Err(StartError::Unhealthy(_)) = &ready {
            log::warn!("{name}: unhealthy; stopping it");
            self.containers
                .stop_logged(name, &id, Reason::Unhealthy)
                .await;
        }
        ready?;
        self.store.mark_probed(name, run);
        Ok(true)
    }
}
