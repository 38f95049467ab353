//! Getting a stopped instance ready: one start however many requests wait for it (single flight),
//! in a task of its own so that a request that gives up (hold timeout) does not cancel it, with
//! the engine's start calls bounded by `max_concurrent_starts`.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::flights::{landed, Flight};
use super::{Instance, Instances, Readiness, StartError};
use crate::backend::BackendError;
use crate::domain::RunState;
use crate::error::chain;
use crate::metrics::Reason;

impl Instances {
    /// Starts the instance if needed and waits until it is ready; one start however many callers.
    /// The caller bounds its wait; the start itself goes on (up to `ready_timeout`).
    pub async fn ensure_ready(self: &Arc<Self>, name: &str) -> Result<(), StartError> {
        let this = Arc::clone(self);
        let flight = self.join_or_start(|t| &mut t.starts, name, |f| this.run_start(f));
        let outcome = landed(flight).await;
        let outcome = outcome.unwrap_or_else(|| Err(StartError::Gone(name.to_string())));
        if outcome.is_ok() {
            // The request let through after its wait is activity too.
            self.touch(name, SystemTime::now());
        }
        outcome
    }

    /// The start task: bounded by `ready_timeout` and by shutdown; publishes its outcome.
    async fn run_start(self: Arc<Self>, flight: Flight<Result<(), StartError>>) {
        let name = flight.key.clone();
        let started = Instant::now();
        // Not cancelled by shutdown as a whole: an engine call under way completes (nothing is
        // left half-started); only the readiness wait is given up.
        let work = tokio::time::timeout(self.settings.ready_timeout, self.start_and_wait(&name));
        let outcome = work
            .await
            .unwrap_or_else(|_| Err(StartError::NeverReady(name.clone())));
        match &outcome {
            Ok(()) => log::info!("{name}: ready after {:?}", started.elapsed()),
            Err(e) => log::warn!("{name}: {} (after {:?})", chain(e), started.elapsed()),
        }
        flight.land(outcome);
    }

    async fn start_and_wait(self: &Arc<Self>, name: &str) -> Result<(), StartError> {
        // A stop or pause under way ends first (no new one begins while this start is listed).
        self.stop_ended(name).await;
        let instance = self
            .get(name)
            .ok_or_else(|| StartError::Gone(name.into()))?;
        if instance.is_ready() {
            return Ok(());
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
                _ => Some(self.make_room(name, Reason::Wake).await?),
            };
            let fresh = match instance.info.state {
                RunState::Running => self.refresh(&id).await,
                _ => self.resume(&instance, Reason::Wake).await,
            };
            fresh
                .map_err(|e| StartError::from_backend(name, e))?
                .ok_or_else(|| StartError::Gone(name.into()))?
        };
        if instance.is_ready() {
            return Ok(());
        }
        let run = instance.info.started_at;
        if instance.info.state != RunState::Running {
            return Err(self.ended(name, run));
        }
        let probe = async {
            match &instance.readiness {
                Readiness::DockerHealth => self.wait_healthy_or_checked(&instance, run).await,
                Readiness::Http { port, path } => self.probe_http(&instance, *port, path).await,
                Readiness::Tcp { port } => self.probe_tcp(&instance, *port).await,
                Readiness::Delay => {
                    tokio::time::sleep(self.settings.redirect_timeout).await;
                    Ok(())
                }
            }
        };
        let ready = tokio::select! {
            ready = probe => ready,
            () = self.wait_run_ended(name, run) => Err(self.ended(name, run)),
            // The instance runs on; the next spawner checks its readiness again.
            () = self.tasks.stopping() => Err(StartError::ShuttingDown),
        };
        if let Err(StartError::Unhealthy(_)) = &ready {
            log::warn!("{name}: unhealthy; stopping it");
            self.stop_logged(name, &id, Reason::Unhealthy).await;
        }
        ready?;
        self.mark_probed(name, run);
        Ok(())
    }
}

impl Instances {
    /// Gets a container running: a paused one is unpaused (the same run goes on and its
    /// readiness holds, so the index marks it running at once; the event confirms later), any
    /// other is started and read back (its address and start time, before the events stream has
    /// them). `None`: it is gone.
    pub(super) async fn resume(
        &self,
        instance: &Instance,
        reason: Reason,
    ) -> Result<Option<Instance>, BackendError> {
        let (name, id) = (instance.name(), &instance.info.id);
        if instance.info.state == RunState::Paused {
            log::info!("{name}: unpausing");
            self.backend.unpause(id).await?;
            self.metrics.started(reason);
            self.mark_unpaused(name);
            return Ok(self.get(name));
        }
        log::info!("{name}: starting ({:?})", instance.info.state);
        self.backend.start(id).await?;
        self.metrics.started(reason);
        self.refresh(id).await
    }
}
