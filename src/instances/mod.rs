//! The managed containers: an index of them that the hot path reads without an engine call, and
//! the operations that change them.
//!
//! The engine is the source of truth; the index is a copy, filled by one list at start and kept
//! current by the events stream. [`Instances`] is a thin façade over parts that each own their
//! state:
//!
//! - [`store`]: the index behind its lock, and the channel that tells waiters it changed
//!   ([`index`] is its pure data and rules; [`instance`] one container; [`activity`] its last
//!   activity, which a stop claims atomically);
//! - [`transitions`]: what is under way per instance (wakes, stops, places under the cap), with
//!   the guards that give them back ([`flights`]: one task however many callers);
//! - [`containers`]: the engine's side of the index (read back, start, stop, remove);
//! - [`prober`]: readiness waits by the rules of [`readiness`];
//! - [`capacity`] (`max_running`), [`images`] (pulls), [`volumes`], [`addresses`] (fixed
//!   addresses for new instances);
//! - [`watcher`] (the events stream) and [`culler`] (the idle stop), background tasks;
//! - [`policy`]: when to sleep and whom to evict, pure.
//!
//! The façade itself answers queries here, wakes instances in [`wake`] and runs the private
//! API's operations in [`operations`].

mod activity;
mod addresses;
mod capacity;
mod containers;
mod culler;
mod errors;
mod feed;
mod flights;
mod images;
mod index;
mod instance;
mod operations;
mod policy;
mod prober;
mod readiness;
mod shared_activity;
mod store;
mod transitions;
mod volumes;
mod wake;
mod watcher;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLockReadGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::Semaphore;

pub use activity::Seen;
pub use errors::{CapacityFull, OpError, PullError, StartError};
pub use feed::{Change, FeedEvent, Subscription};
pub use index::Route;
pub use instance::{Instance, InstanceView};
pub use policy::IdleAction;
pub use readiness::Readiness;
pub use watcher::REPLAY as EVENTS_REPLAY;

use crate::backend::Backend;
use crate::configuration::Settings;
use crate::domain::{PullPolicy, RunState};
use crate::metrics::Metrics;
use crate::tasks::Tasks;
use capacity::Capacity;
use containers::Containers;
use culler::Culler;
use images::Images;
use index::Index;
use policy::IdleRules;
use prober::Prober;
use store::Store;
use transitions::Transitions;
use volumes::Volumes;
use watcher::Watcher;

/// What the hot path learns of an instance in its one read of the index.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Ready, and the request counted as its activity: let it through.
    Ready,
    /// Known but not ready (stopped, starting, or claimed by a stop): how it tells readiness.
    NotReady {
        readiness: &'static str,
    },
    Unknown,
}

/// The index as one request sees it: one read lock, held for the few microseconds the decision
/// takes (never across an await).
pub struct Snapshot<'a> {
    index: RwLockReadGuard<'a, Index>,
}

impl Snapshot<'_> {
    /// The instance's session epoch (empty for one created before epochs); `None`: unknown.
    pub fn session_epoch(&self, name: &str) -> Option<&str> {
        self.index.get(name).map(Instance::session_epoch)
    }

    /// Whether `name` may register a service worker (its deploy opted in).
    pub fn allows_service_worker(&self, name: &str) -> bool {
        self.index
            .get(name)
            .is_some_and(Instance::allows_service_worker)
    }

    /// Whether `name` is ready, recording the request as its activity at `now` when it is. One
    /// that a stop has claimed is not ready: the request waits for the stop to end and wakes it.
    pub fn lookup(&self, name: &str, now: SystemTime) -> Lookup {
        match self.index.get(name) {
            None => Lookup::Unknown,
            Some(instance) if instance.is_ready() && instance.touch(now) => Lookup::Ready,
            Some(instance) => Lookup::NotReady {
                readiness: instance.readiness.kind(),
            },
        }
    }
}

pub struct Instances {
    store: Arc<Store>,
    transitions: Arc<Transitions>,
    containers: Arc<Containers>,
    capacity: Capacity,
    prober: Prober,
    images: Images,
    volumes: Volumes,
    /// Fixed addresses held for creates under way.
    addresses: addresses::Addresses,
    /// Bounds the engine start calls made at once (`max_concurrent_starts`).
    start_permits: Semaphore,
    rules: IdleRules,
    idle_check_interval: Duration,
    ready_timeout: Duration,
    pull_policy: PullPolicy,
    /// Labelled on every instance it creates; a spawner sees no other scope's instances.
    scope: String,
    cap_drop: Vec<String>,
    tasks: Tasks,
}

/// A Swarm instance's data across a stop: each wake is a new task and a new container.
pub const SWARM_DATA_KEPT: &str = "volumes only: a stop discards the container's own files (each \
     Swarm wake is a new container)";

impl Instances {
    /// The lifecycle on `backend`, each part built from its own settings.
    pub fn new(
        backend: Backend,
        settings: &Settings,
        tasks: Tasks,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let (engine, readiness) = (&settings.engine, &settings.readiness);
        let store = Arc::new(Store::default());
        let transitions = Arc::new(Transitions::default());
        let rules = IdleRules::new(&settings.idle, SystemTime::now());
        let containers = Arc::new(Containers::new(
            backend.clone(),
            Arc::clone(&store),
            Arc::clone(&metrics),
            engine,
            rules,
        ));
        let capacity = Capacity::new(
            &settings.capacity,
            settings.listen.reuse_port,
            rules,
            Arc::clone(&transitions),
            Arc::clone(&containers),
        );
        let prober = Prober::new(backend.clone(), Arc::clone(&store), readiness);
        let images = Images::new(backend.clone(), &settings.registry, metrics, tasks.clone());
        Arc::new(Self {
            store,
            transitions,
            containers,
            capacity,
            prober,
            images,
            volumes: Volumes::new(backend, engine),
            addresses: addresses::Addresses::default(),
            start_permits: Semaphore::new(readiness.max_concurrent_starts),
            rules,
            idle_check_interval: settings.idle.idle_check_interval,
            ready_timeout: readiness.ready_timeout,
            pull_policy: settings.registry.pull_policy,
            scope: engine.scope.clone(),
            cap_drop: engine.cap_drop.clone(),
            tasks,
        })
    }

    /// Starts the events watcher, which fills the index and keeps it current.
    pub fn start_watcher(&self) {
        Watcher::start(Arc::clone(&self.containers), &self.tasks);
    }

    /// Starts the culler, which puts idle instances to sleep.
    pub fn start_culler(&self) {
        let transitions = Arc::clone(&self.transitions);
        let culler = Culler::new(
            Arc::clone(&self.containers),
            transitions,
            self.rules,
            self.idle_check_interval,
        );
        culler.start(&self.tasks);
    }

    // ---- reads: memory only -----------------------------------------------------------------

    /// The index for one request's decision ([`Snapshot`]).
    pub fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            index: self.store.read(),
        }
    }

    /// Whether a managed container has this address (the private API refuses to serve it).
    pub fn is_instance_address(&self, ip: IpAddr) -> bool {
        self.store
            .read()
            .by_name
            .values()
            .any(|i| i.info.ips.values().any(|a| *a == ip))
    }

    pub fn get(&self, name: &str) -> Option<Instance> {
        self.store.get(name)
    }

    /// Whether the index has been filled from the engine at least once.
    pub fn is_synced(&self) -> bool {
        self.store.is_synced()
    }

    /// Waits up to `wait` for the index's first list (right after spawner's start, an empty
    /// index would send every user home and give traefik no routes); whether it came.
    pub async fn synced_within(&self, wait: Duration) -> bool {
        self.store.synced_within(wait).await
    }

    pub fn list(&self) -> Vec<InstanceView> {
        let index = self.store.read();
        let mut views: Vec<_> = index.by_name.values().map(|i| self.view(i)).collect();
        views.sort_by(|a, b| a.name.cmp(&b.name));
        views
    }

    /// How the API shows an instance, with its idle schedule.
    pub fn view(&self, instance: &Instance) -> InstanceView {
        self.containers.view(instance)
    }

    /// The changes after `last_id` still kept, then the live ones (`GET /deploy/events`).
    pub fn subscribe(&self, last_id: Option<u64>) -> Subscription {
        self.containers.feed.subscribe(last_id)
    }

    /// Resolves when spawner begins to shut down (long-lived answers end then).
    pub async fn stopping(&self) {
        self.tasks.stopping().await
    }

    /// Name and port of every instance, sorted by name (for traefik's configuration).
    pub fn routes(&self) -> Vec<Route> {
        self.store.read().routes()
    }

    /// Changes whenever the index changes.
    pub fn generation(&self) -> u64 {
        self.store.generation()
    }

    /// What a starting instance is doing, in words (for the waiting page).
    pub fn phase(&self, name: &str) -> &'static str {
        self.store.phase(name)
    }

    /// The activity of `name` as it is now, for [`Instances::stop_unrouted`].
    pub fn activity_seen(&self, name: &str) -> Option<Seen> {
        self.store.read().get(name).map(|i| i.activity.seen())
    }

    /// How many managed instances are in each state (for the metrics).
    pub fn count_by_state(&self) -> BTreeMap<&'static str, i64> {
        let mut counts: BTreeMap<&'static str, i64> =
            RunState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        for instance in self.store.read().by_name.values() {
            *counts.entry(instance.info.state.as_str()).or_default() += 1;
        }
        counts
    }

    /// Whether instances can be paused (Docker; a Swarm task cannot).
    pub fn can_pause(&self) -> bool {
        !self.containers.backend.is_swarm()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.containers.metrics
    }
}
