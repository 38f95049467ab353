//! The managed containers: an index of them that the hot path reads without an engine call, and
//! the operations that change them.
//!
//! The engine is the source of truth; the index is a copy, filled by one list at start and kept
//! current by the events stream ([`watcher`]). Every change goes through [`Instances`], which bumps
//! a generation and wakes whoever waits for a change (readiness waits, the traefik configuration
//! cache). A request for a stopped instance starts it once however many wait ([`wake`]), then
//! waits for readiness ([`readiness`]). The private API's operations are in [`operations`].
//!
//! Files: [`index`] (pure data and its rules), [`instance`] (one container and what is derived from
//! it), [`activity`] (its last activity, which a stop claims atomically), [`watcher`], [`wake`],
//! [`readiness`], [`operations`], [`addresses`] (fixed addresses for new instances),
//! [`transitions`] (starts, pulls, stops and capacity slots under way), [`policy`] (when to sleep and
//! whom to evict: pure), [`capacity`] (`max_running`), [`culler`] (the idle stop task),
//! [`flights`] (one task however many callers: wakes and pulls), [`images`] (pull policy),
//! [`volumes`], [`recreate`].

mod activity;
mod addresses;
mod capacity;
mod culler;
mod errors;
mod flights;
mod images;
mod index;
mod instance;
mod operations;
mod policy;
mod readiness;
mod recreate;
mod transitions;
mod volumes;
mod wake;
mod watcher;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::{watch, Semaphore};

pub use activity::Seen;
pub use errors::{CapacityFull, OpError, PullError, StartError};
pub use index::Route;
pub use instance::{Instance, InstanceView, Readiness};
pub use policy::IdleAction;
pub use watcher::REPLAY as EVENTS_REPLAY;

use crate::backend::{Backend, BackendError};
use crate::configuration::Settings;
use crate::domain::{labels, ContainerInfo, RunState};
use crate::metrics::{Metrics, Reason};
use crate::tasks::Tasks;
use index::Index;
use transitions::Transitions;
use transitions::STOP_GRACE;

/// Result of a lookup on the hot path.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Ready,
    NotReady,
    Unknown,
}

pub struct Instances {
    backend: Backend,
    settings: Arc<Settings>,
    index: RwLock<Index>,
    /// The index's generation, bumped on every change; waiters re-check their condition.
    changes: watch::Sender<u64>,
    /// Starts, stops and capacity slots under way.
    transitions: Mutex<Transitions>,
    /// When this spawner started: no instance counts as idle for longer than since then.
    boot: SystemTime,
    /// Bounds the engine start calls made at once (`max_concurrent_starts`).
    start_permits: Semaphore,
    /// Readiness probes: one client, no kept connections (each run of a container is new).
    probe_client: reqwest::Client,
    /// Fixed addresses held for creates under way.
    addresses: addresses::Addresses,
    metrics: Arc<Metrics>,
    tasks: Tasks,
}

impl Instances {
    pub fn new(
        backend: Backend,
        settings: Arc<Settings>,
        tasks: Tasks,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let probe_client = reqwest::Client::builder()
            .timeout(settings.http_probe_timeout)
            .pool_max_idle_per_host(0)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client without TLS always builds");
        Arc::new(Self {
            backend,
            start_permits: Semaphore::new(settings.max_concurrent_starts),
            settings,
            index: RwLock::new(Index::default()),
            changes: watch::channel(0).0,
            transitions: Mutex::new(Transitions::default()),
            boot: SystemTime::now(),
            probe_client,
            addresses: addresses::Addresses::default(),
            metrics,
            tasks,
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        // A panic while the lock was held cannot leave the index half-changed: every change is
        // one call on `Index`, so the data is still consistent.
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    // ---- the hot path: memory only --------------------------------------------------------

    /// Answers from memory; records activity on a ready instance. One that a stop has claimed
    /// is not ready: the request waits for the stop to end and wakes it again.
    pub fn lookup(&self, name: &str) -> Lookup {
        let index = self.read();
        match index.get(name) {
            None => Lookup::Unknown,
            Some(instance) if instance.is_ready() && instance.touch(SystemTime::now()) => {
                Lookup::Ready
            }
            Some(_) => Lookup::NotReady,
        }
    }

    /// Records activity on an instance at `at` (a request let through after a wait, traffic).
    pub fn touch(&self, name: &str, at: SystemTime) {
        if let Some(instance) = self.read().get(name) {
            instance.touch(at);
        }
    }

    /// Whether a managed container has this address (the private API refuses to serve it).
    pub fn is_instance_address(&self, ip: IpAddr) -> bool {
        self.read()
            .by_name
            .values()
            .any(|i| i.info.ips.values().any(|a| *a == ip))
    }

    /// The instance's session epoch (empty for one created before epochs); `None`: unknown.
    pub fn session_epoch(&self, name: &str) -> Option<String> {
        let index = self.read();
        let instance = index.get(name)?;
        Some(instance.session_epoch().to_string())
    }

    /// Whether `name` may register a service worker (its deploy opted in); not on the hot path:
    /// only a browser's fetch of a service worker script asks.
    pub fn allows_service_worker(&self, name: &str) -> bool {
        self.read()
            .get(name)
            .is_some_and(Instance::allows_service_worker)
    }

    pub fn get(&self, name: &str) -> Option<Instance> {
        self.read().get(name).cloned()
    }

    /// Whether the index has been filled from the engine at least once.
    pub fn is_synced(&self) -> bool {
        self.read().synced
    }

    /// Waits up to `wait` for the index's first list (right after spawner's start, an empty
    /// index would send every user home and give traefik no routes); whether it came.
    pub async fn synced_within(&self, wait: Duration) -> bool {
        let mut changes = self.changes.subscribe();
        let waited = tokio::time::timeout(wait, async {
            while !self.is_synced() {
                if changes.changed().await.is_err() {
                    return;
                }
            }
        });
        waited.await.is_ok() && self.is_synced()
    }

    pub fn list(&self) -> Vec<InstanceView> {
        let index = self.read();
        let mut views: Vec<_> = index.by_name.values().map(|i| self.view(i)).collect();
        views.sort_by(|a, b| a.name.cmp(&b.name));
        views
    }

    /// How the API shows an instance, with its idle schedule.
    pub fn view(&self, instance: &Instance) -> InstanceView {
        instance.view(&self.facts(instance, false))
    }

    /// What the idle and eviction policy needs of an instance, with the activity it was read
    /// from (a stop claims it only if nothing touched it since).
    fn facts<'a>(&self, instance: &'a Instance, busy: bool) -> policy::Facts<'a> {
        let seen = instance.activity.seen();
        policy::Facts {
            name: instance.name(),
            state: instance.info.state,
            since: policy::since(seen.time(), instance.info.started_at, self.boot),
            idle_timeout: instance.idle_timeout.unwrap_or(self.settings.idle_timeout),
            idle_action: instance.idle_action.unwrap_or(self.settings.idle_action),
            busy,
            seen,
        }
    }

    /// Name and port of every instance, sorted by name (for traefik's configuration).
    pub fn routes(&self) -> Vec<Route> {
        self.read().routes()
    }

    /// Changes whenever the index changes.
    pub fn generation(&self) -> u64 {
        *self.changes.borrow()
    }

    // ---- changing the index -----------------------------------------------------------------

    fn changed(&self, applied: bool) {
        if applied {
            self.changes.send_modify(|generation| *generation += 1);
        }
    }

    fn upsert(&self, info: ContainerInfo) {
        let applied = self.write().upsert(info);
        self.changed(applied);
    }

    fn mark_died(&self, id: &str, at: SystemTime, exit_code: Option<i64>) {
        let marked = self.write().mark_died(id, at, exit_code);
        self.changed(marked);
    }

    fn mark_unpaused(&self, name: &str) {
        let changed = self.write().mark_unpaused(name);
        self.changed(changed);
    }

    fn mark_probed(&self, name: &str, run: Option<SystemTime>) {
        self.write().mark_probed(name, run);
        self.changed(true);
    }

    fn remove_id(&self, id: &str) {
        let removed = self.write().remove_id(id);
        if let Some(instance) = &removed {
            log::info!("{}: removed", instance.name());
        }
        self.changed(removed.is_some());
    }

    /// Whether a managed container is this spawner's: it carries this scope, or (made before
    /// scopes existed, or by the old spawner) no scope and this spawner's network.
    fn in_scope(&self, info: &ContainerInfo) -> bool {
        match info.label(labels::SCOPE) {
            Some(scope) => scope == self.settings.scope,
            None => {
                info.label(labels::NETWORK) == Some(self.settings.network.as_str())
                    || info.networks.contains(&self.settings.network)
            }
        }
    }

    /// Re-reads one container from the engine into the index; `None` when it is gone (or not
    /// this spawner's).
    async fn refresh(&self, id: &str) -> Result<Option<Instance>, BackendError> {
        match self.backend.inspect_managed(id).await {
            Ok(info) if !self.in_scope(&info) => {
                self.remove_id(&info.id);
                Ok(None)
            }
            Ok(info) => {
                let name = info.name.clone();
                self.upsert(info);
                Ok(self.get(&name))
            }
            Err(e) if e.is_not_found() => {
                self.remove_id(id);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Reads the whole list again; returns how many containers spawner manages.
    async fn resync(&self) -> Result<usize, BackendError> {
        let applied = self.read().applied();
        let mut infos = self.backend.list_managed().await?;
        infos.retain(|info| self.in_scope(info));
        let count = infos.len();
        self.write().replace_all(infos, applied);
        self.changed(true);
        Ok(count)
    }

    /// Stops a container (within [`STOP_GRACE`]), logging (not returning) a failure: for
    /// decisions already answered.
    async fn stop_logged(&self, name: &str, id: &str, reason: Reason) {
        match self.backend.stop(id, STOP_GRACE).await {
            Ok(()) => self.metrics.stopped(reason, "stop"),
            Err(e) => log::warn!("{name}: could not stop it: {}", crate::error::chain(&e)),
        }
    }

    /// How an instance's readiness is told (`unknown` when it is not in the index).
    pub fn readiness_kind(&self, name: &str) -> &'static str {
        self.read()
            .get(name)
            .map_or("unknown", |i| i.readiness.kind())
    }

    /// What a starting instance is doing, in words (for the waiting page).
    pub fn phase(&self, name: &str) -> &'static str {
        match self.read().get(name) {
            None => "gone",
            Some(i) if i.is_ready() => "ready",
            Some(i) if i.info.state != RunState::Running => "starting its container",
            Some(i) => match i.readiness {
                Readiness::DockerHealth => "running; waiting for its health check to pass",
                Readiness::Http { .. } => "running; waiting for its health-check URL to answer",
                Readiness::Tcp { .. } => "running; waiting for it to accept connections",
                Readiness::Delay => "running; giving it a moment to start",
            },
        }
    }

    /// How many managed instances are in each state (for the metrics).
    pub fn count_by_state(&self) -> BTreeMap<&'static str, i64> {
        let mut counts: BTreeMap<&'static str, i64> =
            RunState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        for instance in self.read().by_name.values() {
            *counts.entry(instance.info.state.as_str()).or_default() += 1;
        }
        counts
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
