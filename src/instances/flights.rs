//! Single flight: however many callers ask for the same work at once (a wake of one instance, a
//! pull of one image), one task does it and every caller gets its outcome. [`Flights`] owns the
//! flights under way, by key, behind its own lock; a flight's task runs on its own, so a caller
//! that gives up does not cancel it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::tasks::Tasks;

/// The flights under way, by key; each value turns `Some` when its flight lands.
pub(super) struct Flights<T> {
    under_way: Mutex<HashMap<String, watch::Receiver<Option<T>>>>,
}

impl<T> Default for Flights<T> {
    fn default() -> Self {
        Self {
            under_way: Mutex::new(HashMap::new()),
        }
    }
}

/// The one flight for a key, held by the task doing its work. It leaves the map when it lands
/// or when it is dropped, however its task ends (even by a panic), so no caller ever waits on a
/// flight nobody flies.
pub(super) struct Flight<T> {
    flights: Arc<Flights<T>>,
    pub key: String,
    rx: watch::Receiver<Option<T>>,
    tx: Option<watch::Sender<Option<T>>>,
}

impl<T> Flight<T> {
    /// Publishes the outcome, out of the map first: a caller from now on starts afresh.
    pub fn land(mut self, outcome: T) {
        let tx = self.tx.take().expect("a flight lands once");
        drop(self);
        tx.send_replace(Some(outcome));
    }
}

impl<T> Drop for Flight<T> {
    fn drop(&mut self) {
        // Only this flight's entry: a newer one may already stand under the same key.
        let mut under_way = self.flights.lock();
        if under_way
            .get(&self.key)
            .is_some_and(|rx| rx.same_channel(&self.rx))
        {
            under_way.remove(&self.key);
        }
    }
}

impl<T> Flights<T> {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, watch::Receiver<Option<T>>>> {
        // Every change is one map operation: a panic cannot leave it half-changed.
        self.under_way.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T: Send + Sync + 'static> Flights<T> {
    /// Joins the flight under way for `key`, or starts one: `work` gets the flight, runs as a
    /// task of its own (in `tasks`) and lands it.
    pub fn join_or_start<Fut>(
        self: &Arc<Self>,
        tasks: &Tasks,
        key: &str,
        work: impl FnOnce(Flight<T>) -> Fut,
    ) -> watch::Receiver<Option<T>>
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = {
            let mut under_way = self.lock();
            if let Some(rx) = under_way.get(key) {
                return rx.clone();
            }
            let (tx, rx) = watch::channel(None);
            under_way.insert(key.to_string(), rx.clone());
            (tx, rx)
        };
        let flight = Flight {
            flights: Arc::clone(self),
            key: key.to_string(),
            rx: rx.clone(),
            tx: Some(tx),
        };
        tasks.spawn(work(flight));
        rx
    }

    /// The flight under way for `key`, to wait on.
    pub fn get(&self, key: &str) -> Option<watch::Receiver<Option<T>>> {
        self.lock().get(key).cloned()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.lock().contains_key(key)
    }
}

/// What a flight landed with; `None` when it ended without landing (shutdown, a panic).
pub(super) async fn landed<T: Clone>(mut rx: watch::Receiver<Option<T>>) -> Option<T> {
    rx.wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|r| r.clone())
}
