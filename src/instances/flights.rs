//! Single flight: however many callers ask for the same work at once (a wake of one instance, a
//! pull of one image), one task does it and every caller gets its outcome. The flights under way
//! are maps in [`Transitions`], keyed by instance or image; a flight's task runs on its own, so
//! a caller that gives up does not cancel it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

use super::transitions::{remove_own, Transitions};
use super::Instances;

/// Flights under way, by key; the value turns `Some` when the flight lands.
pub(super) type Flights<T> = HashMap<String, watch::Receiver<Option<T>>>;

/// Which map of [`Transitions`] a kind of flight lives in.
pub(super) type MapOf<T> = fn(&mut Transitions) -> &mut Flights<T>;

/// The one flight for a key, held by the task doing its work. It leaves the map when it lands
/// or when it is dropped, however its task ends (even by a panic), so no caller ever waits on a
/// flight nobody flies.
pub(super) struct Flight<T> {
    instances: Arc<Instances>,
    pub key: String,
    map: MapOf<T>,
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
        let mut transitions = self.instances.transitions();
        remove_own((self.map)(&mut transitions), &self.key, &self.rx);
    }
}

impl Instances {
    /// Joins the flight under way for `key` in `map`, or starts one: `work` gets the flight, runs
    /// as a task of its own and lands it.
    pub(super) fn join_or_start<T, Fut>(
        self: &Arc<Self>,
        map: MapOf<T>,
        key: &str,
        work: impl FnOnce(Flight<T>) -> Fut,
    ) -> watch::Receiver<Option<T>>
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = {
            let mut transitions = self.transitions();
            let flights = map(&mut transitions);
            if let Some(rx) = flights.get(key) {
                return rx.clone();
            }
            let (tx, rx) = watch::channel(None);
            flights.insert(key.to_string(), rx.clone());
            (tx, rx)
        };
        let flight = Flight {
            instances: Arc::clone(self),
            key: key.to_string(),
            map,
            rx: rx.clone(),
            tx: Some(tx),
        };
        self.tasks.spawn(work(flight));
        rx
    }
}

/// What a flight landed with; `None` when it ended without landing (shutdown, a panic).
pub(super) async fn landed<T: Clone>(mut rx: watch::Receiver<Option<T>>) -> Option<T> {
    rx.wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|r| r.clone())
}
