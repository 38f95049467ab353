//! The instances' changes as a feed (`GET /deploy/events`, Server-Sent Events): each change the
//! lifecycle makes (created, starting, ready, stopped with its reason, paused, resumed, evicted,
//! recreated, removed) with the instance's view and an id that only grows, kept in a bounded
//! backlog so that a client that reconnects with `Last-Event-ID` misses nothing it still holds.
//!
//! Changes are published where the lifecycle makes them, never on the hot path (a request for a
//! running instance changes nothing); with no listener a publish is one short lock and a push.
//! Ids start at this process's start time in microseconds, so a later process's ids are larger
//! than an earlier one's and a client's `Last-Event-ID` from before a restart is seen as too old.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::broadcast;

use super::InstanceView;

/// Changes kept for clients that reconnect.
pub const BACKLOG: usize = 1024;

/// What happened to an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Created,
    Starting,
    Ready,
    Stopped,
    Paused,
    Resumed,
    Evicted,
    Recreated,
    Removed,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Starting => "starting",
            Change::Ready => "ready",
            Change::Stopped => "stopped",
            Change::Paused => "paused",
            Change::Resumed => "resumed",
            Change::Evicted => "evicted",
            Change::Recreated => "recreated",
            Change::Removed => "removed",
        }
    }
}

/// One change, as the stream sends it (`id:`, `event:` and this as `data:`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeedEvent {
    pub id: u64,
    pub change: Change,
    /// Why (`idle`, `api`, `wake`, `evicted`, `unhealthy`, `no_route`, `exited`), where it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub reason: Option<&'static str>,
    pub instance: InstanceView,
}

/// What a new listener gets: the changes it missed, then the live ones.
pub struct Subscription {
    /// The backlog after the client's last id; `gap`: some it missed are no longer kept.
    pub missed: Vec<Arc<FeedEvent>>,
    pub gap: bool,
    pub live: broadcast::Receiver<Arc<FeedEvent>>,
}

pub struct Feed {
    kept: Mutex<Kept>,
    live: broadcast::Sender<Arc<FeedEvent>>,
}

struct Kept {
    next_id: u64,
    backlog: VecDeque<Arc<FeedEvent>>,
}

impl Default for Feed {
    fn default() -> Self {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros();
        Self {
            kept: Mutex::new(Kept {
                next_id: u64::try_from(micros).unwrap_or(1),
                backlog: VecDeque::with_capacity(BACKLOG),
            }),
            live: broadcast::channel(BACKLOG).0,
        }
    }
}

impl Feed {
    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a change and sends it to every listener.
    pub fn publish(&self, change: Change, reason: Option<&'static str>, instance: InstanceView) {
        let mut kept = self.lock();
        let event = Arc::new(FeedEvent {
            id: kept.next_id,
            change,
            reason,
            instance,
        });
        kept.next_id += 1;
        if kept.backlog.len() == BACKLOG {
            kept.backlog.pop_front();
        }
        kept.backlog.push_back(Arc::clone(&event));
        // Under the lock, so that a new listener's backlog and live changes neither overlap
        // nor leave a hole. No listener is not an error.
        let _ = self.live.send(event);
    }

    /// The changes after `last_id` still kept, then the live ones. Without `last_id`, only the
    /// live ones (a new client reads `GET /deploy` for the state first).
    pub fn subscribe(&self, last_id: Option<u64>) -> Subscription {
        let kept = self.lock();
        let live = self.live.subscribe();
        let Some(last) = last_id else {
            return Subscription {
                missed: Vec::new(),
                gap: false,
                live,
            };
        };
        let oldest = kept.backlog.front().map_or(kept.next_id, |e| e.id);
        Subscription {
            missed: kept
                .backlog
                .iter()
                .filter(|e| e.id > last)
                .cloned()
                .collect(),
            // The client's next change is gone from the backlog (or was never this process's).
            gap: last.saturating_add(1) < oldest || last >= kept.next_id,
            live,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Health, IdleAction, RunState};

    fn view(name: &str) -> InstanceView {
        InstanceView {
            id: format!("id-{name}"),
            name: name.into(),
            image: "mock-app".into(),
            state: RunState::Running,
            health: Health::None,
            ready: true,
            labels: Default::default(),
            port: 9000,
            last_activity: None,
            idle_timeout: "0".into(),
            idle_action: IdleAction::Stop,
            sleeps_at: None,
            data_kept: None,
            address: None,
            limits: None,
            volumes: Vec::new(),
        }
    }

    #[test]
    fn a_reconnecting_client_gets_what_it_missed_then_the_live_changes_in_order() {
        let feed = Feed::default();
        feed.publish(Change::Created, Some("api"), view("a"));
        let first = feed.subscribe(None);
        assert!(first.missed.is_empty());
        feed.publish(Change::Starting, Some("wake"), view("a"));
        feed.publish(Change::Ready, None, view("a"));
        let mut live = first.live;
        let starting = live.try_recv().unwrap();
        assert_eq!(starting.change, Change::Starting);
        let ready = live.try_recv().unwrap();
        assert!(ready.id > starting.id);

        let again = feed.subscribe(Some(starting.id));
        assert!(!again.gap);
        let missed: Vec<_> = again.missed.iter().map(|e| e.change).collect();
        assert_eq!(missed, [Change::Ready]);
        feed.publish(Change::Stopped, Some("idle"), view("a"));
        let mut live = again.live;
        assert_eq!(live.try_recv().unwrap().reason, Some("idle"));
    }

    #[test]
    fn an_id_older_than_the_backlog_or_from_another_process_is_a_gap() {
        let feed = Feed::default();
        for _ in 0..BACKLOG + 5 {
            feed.publish(Change::Ready, None, view("a"));
        }
        let oldest = feed.lock().backlog.front().unwrap().id;
        assert!(feed.subscribe(Some(oldest - 10)).gap);
        assert!(!feed.subscribe(Some(oldest - 1)).gap);
        assert_eq!(feed.subscribe(Some(oldest - 1)).missed.len(), BACKLOG);
        assert!(
            feed.subscribe(Some(u64::MAX - 1)).gap,
            "a later process's id"
        );
        assert!(feed.subscribe(Some(3)).gap, "an earlier process's id");
    }
}
