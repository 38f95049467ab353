//! The background tasks spawner owns, and its shutdown signal.
//!
//! Every task is spawned through [`Tasks`], onto the runtime that built the application (not an
//! HTTP worker's, which ends with its worker), and tracked: shutdown cancels the signal every task
//! listens to, then waits for them to end. A supervised task that panics is logged and restarted
//! rather than silently lost.

use std::future::Future;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backoff::Backoff;

#[derive(Clone)]
pub struct Tasks {
    tracker: TaskTracker,
    shutdown: CancellationToken,
    runtime: Handle,
}

impl Tasks {
    /// Tasks on the current runtime. Panics outside a Tokio runtime.
    pub fn on_current_runtime() -> Self {
        Self {
            tracker: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            runtime: Handle::current(),
        }
    }

    /// Spawns a tracked task; it must end soon after [`Tasks::stopping`] resolves.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn_on(task, &self.runtime);
    }

    /// Runs the task made by `make`, and makes it again if it panics (after a backoff), until it
    /// returns normally; it should return when [`Tasks::stopping`] resolves.
    pub fn supervise<F, Fut>(&self, name: &'static str, make: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let runtime = self.runtime.clone();
        let shutdown = self.shutdown.clone();
        self.spawn(async move {
            let mut backoff = Backoff::reconnect();
            loop {
                match runtime.spawn(make()).await {
                    Ok(()) => return,
                    Err(e) if e.is_panic() => {
                        log::error!("the {name} task panicked; restarting it");
                    }
                    Err(_) => return,
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff.next_delay()) => {}
                    () = shutdown.cancelled() => return,
                }
            }
        });
    }

    /// Resolves when shutdown has begun.
    pub async fn stopping(&self) {
        self.shutdown.cancelled().await
    }

    /// Signals shutdown and waits up to `grace` for every task to end; returns how many were
    /// still running then (they end with the runtime).
    pub async fn shutdown(&self, grace: Duration) -> usize {
        self.shutdown.cancel();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            log::warn!(
                "{} background task(s) still running after {grace:?}; leaving them",
                self.tracker.len()
            );
        }
        self.tracker.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_supervised_task_that_panics_is_restarted_until_it_ends() {
        let tasks = Tasks::on_current_runtime();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&runs);
        tasks.supervise("test", move || {
            let run = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                assert!(run >= 2, "deliberate panic in run {run}");
            }
        });
        // It ends by itself on the third run (after two restarts), before any shutdown.
        tasks.tracker.close();
        tokio::time::timeout(Duration::from_secs(5), tasks.tracker.wait())
            .await
            .expect("the supervised task ends after its restarts");
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn shutdown_waits_for_tasks_that_listen_to_it() {
        let tasks = Tasks::on_current_runtime();
        let ended = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            let (tasks2, ended) = (tasks.clone(), Arc::clone(&ended));
            tasks.spawn(async move {
                tasks2.stopping().await;
                ended.fetch_add(1, Ordering::SeqCst);
            });
        }
        assert_eq!(tasks.shutdown(Duration::from_secs(5)).await, 0);
        assert_eq!(ended.load(Ordering::SeqCst), 3);
    }
}
