//! Keeps the index current: list every managed container, then follow the engine's events
//! stream; on a broken stream, reconnect with backoff and list again, since the events missed
//! while it was down are not replayed beyond [`REPLAY`].
//!
//! It runs as a supervised task ([`Watcher::start`]): a panic in it is logged and the watcher
//! started again, which lists afresh.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;

use super::containers::Containers;
use crate::backend::{Event, EventKind};
use crate::backoff::Backoff;
use crate::error::chain;
use crate::tasks::Tasks;

/// History replayed when the stream is opened, by the engine's clock. The stream is opened just
/// before the list, so a change between the two is seen twice rather than missed.
pub const REPLAY: Duration = Duration::from_secs(2);

/// Follows the engine for the index.
#[derive(Clone)]
pub(super) struct Watcher {
    containers: Arc<Containers>,
    tasks: Tasks,
}

impl Watcher {
    /// Starts it as a supervised background task of `tasks`.
    pub fn start(containers: Arc<Containers>, tasks: &Tasks) {
        let watcher = Watcher {
            containers,
            tasks: tasks.clone(),
        };
        tasks.supervise("events watcher", move || {
            let watcher = watcher.clone();
            async move { watcher.watch_events().await }
        });
    }

    /// Until shutdown: list, then follow events; reconnect when the stream breaks.
    async fn watch_events(&self) {
        let mut backoff = Backoff::reconnect();
        loop {
            let synced = tokio::select! {
                synced = self.follow_events() => synced,
                () = self.tasks.stopping() => return,
            };
            if synced {
                backoff.reset();
            }
            let pause = backoff.next_delay();
            log::info!("reconnecting to the engine's events in {pause:?}");
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.tasks.stopping() => return,
            }
        }
    }

    /// One connection: opens the stream, lists, then applies events until the stream ends.
    /// Returns whether the list was read (so the backoff can start again from its shortest).
    async fn follow_events(&self) -> bool {
        // The engine's clock: events carry its times. If it cannot tell, ours is close enough.
        let backend = &self.containers.backend;
        let now = backend.now().await.unwrap_or_else(|_| SystemTime::now());
        let mut events = backend.events(now - REPLAY);
        match self.containers.resync().await {
            Ok(count) => log::info!("index synchronised: {count} instance(s)"),
            Err(e) => {
                log::error!("cannot list containers: {}", chain(&e));
                return false;
            }
        }
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => self.apply(event).await,
                Err(e) => {
                    log::warn!("the events stream broke: {}", chain(&e));
                    return true;
                }
            }
        }
        log::warn!("the events stream ended");
        true
    }

    async fn apply(&self, event: Event) {
        match &event.kind {
            EventKind::Destroyed => return self.containers.forget(&event.id),
            EventKind::Other(_) => return,
            EventKind::Died { exit_code } => {
                if let Some(at) = event.time {
                    self.containers.died(&event.id, at, *exit_code);
                }
            }
            _ => {}
        }
        log::debug!("event {:?} on {}", event.kind, event.id);
        if let Err(e) = self.containers.refresh(&event.id).await {
            log::warn!(
                "cannot inspect {} after {:?}: {}",
                event.id,
                event.kind,
                chain(&e)
            );
        }
    }
}
