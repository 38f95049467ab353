//! The tests' handle on the in-memory engine: every call passes [`MemoryEngine::enter`], which
//! counts it, waits at a [`Hold`] that matches it, takes the delay set for its operation and
//! fails it if a [`Failure`] was queued for it. The rest are a test's hands on the engine: the
//! images, the network, health, a crash or a removal behind spawner's back, and what every
//! container is doing now.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use ipnet::Ipv4Net;
use tokio::sync::watch;

use super::{image_key, Image, MemoryEngine};
use crate::backend::{BackendError, EventKind, Op, Stats};
use crate::domain::instance_labels::InstanceLabels;
use crate::domain::{ContainerInfo, Health, NetworkInfo, RunState};

/// How a call fails: the kinds of [`BackendError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    NotFound,
    Conflict,
    Rejected,
    Unavailable,
    Failed,
}

impl Failure {
    pub fn error(self, op: Op, target: &str) -> BackendError {
        let target = target.to_string();
        let source = format!("the in-memory engine was told to fail this {op}").into();
        match self {
            Failure::NotFound => BackendError::NotFound { op, target, source },
            Failure::Conflict => BackendError::Conflict { op, target, source },
            Failure::Rejected => BackendError::Rejected { op, target, source },
            Failure::Unavailable => BackendError::Unavailable { op, source },
            Failure::Failed => BackendError::Failed { op, target, source },
        }
    }
}

/// Calls that wait until the test releases them (a start that takes a while, a stop under way).
#[derive(Clone)]
pub struct Hold {
    released: Arc<watch::Sender<bool>>,
    arrived: Arc<watch::Sender<usize>>,
}

impl Hold {
    fn new() -> Self {
        Self {
            released: Arc::new(watch::channel(false).0),
            arrived: Arc::new(watch::channel(0).0),
        }
    }

    /// Lets every call waiting here (and every later one) go on.
    pub fn release(&self) {
        self.released.send_replace(true);
    }

    /// Resolves once `n` calls have reached the hold since it was set; panics when they have
    /// not within two seconds (a test waiting for them would otherwise hang).
    pub async fn arrived(&self, n: usize) {
        let mut arrived = self.arrived.subscribe();
        let reached = arrived.wait_for(|count| *count >= n);
        let waited = tokio::time::timeout(Duration::from_secs(2), reached).await;
        assert!(waited.is_ok(), "{n} call(s) never reached the hold");
    }

    /// How many calls have reached it.
    pub fn count(&self) -> usize {
        *self.arrived.borrow()
    }

    fn is_released(&self) -> bool {
        *self.released.borrow()
    }

    async fn pass(&self) {
        let mut released = self.released.subscribe();
        self.arrived.send_modify(|count| *count += 1);
        let _ = released.wait_for(|released| *released).await;
    }
}

#[derive(Default)]
pub(super) struct Control {
    calls: HashMap<Op, usize>,
    calls_on: HashMap<(Op, String), usize>,
    in_flight: HashMap<Op, usize>,
    peak_in_flight: HashMap<Op, usize>,
    failures: HashMap<(Op, String), VecDeque<Failure>>,
    holds: Vec<(Op, Option<String>, Hold)>,
    delays: HashMap<Op, Duration>,
    log: Vec<(Op, String)>,
    /// What a command run in a container exits with, by container name; `None`: every one.
    exec_exits: HashMap<Option<String>, i64>,
    /// Containers whose next start ends at once, with this exit code.
    exit_on_start: HashMap<String, i64>,
}

/// One call under way; counted out when dropped.
pub(super) struct InFlight {
    engine: MemoryEngine,
    op: Op,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(n) = self.engine.control().in_flight.get_mut(&self.op) {
            *n -= 1;
        }
    }
}

impl MemoryEngine {
    /// The start of every call of `op` on `target` (a container's name, an image, a network).
    pub(super) async fn enter(&self, op: Op, target: &str) -> Result<InFlight, BackendError> {
        let (holds, delay) = {
            let mut control = self.control();
            *control.calls.entry(op).or_default() += 1;
            *control
                .calls_on
                .entry((op, target.to_string()))
                .or_default() += 1;
            control.log.push((op, target.to_string()));
            let in_flight = control.in_flight.entry(op).or_default();
            *in_flight += 1;
            let now = *in_flight;
            let peak = control.peak_in_flight.entry(op).or_default();
            *peak = (*peak).max(now);
            control.holds.retain(|(_, _, hold)| !hold.is_released());
            let holds: Vec<Hold> = control
                .holds
                .iter()
                .filter(|(o, t, _)| *o == op && t.as_deref().is_none_or(|t| t == target))
                .map(|(_, _, hold)| hold.clone())
                .collect();
            (holds, control.delays.get(&op).copied())
        };
        let call = InFlight {
            engine: self.clone(),
            op,
        };
        for hold in holds {
            hold.pass().await;
        }
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        let failure = {
            let mut control = self.control();
            let queued = control.failures.get_mut(&(op, target.to_string()));
            queued.and_then(VecDeque::pop_front)
        };
        match failure {
            Some(failure) => Err(failure.error(op, target)),
            None => Ok(call),
        }
    }

    pub(super) fn count_call(&self, op: Op) {
        *self.control().calls.entry(op).or_default() += 1;
    }

    pub(super) fn exec_exit(&self, name: &str) -> i64 {
        let control = self.control();
        let exits = &control.exec_exits;
        exits
            .get(&Some(name.to_string()))
            .or_else(|| exits.get(&None))
            .copied()
            .unwrap_or(0)
    }

    pub(super) fn take_exit_on_start(&self, name: &str) -> Option<i64> {
        self.control().exit_on_start.remove(name)
    }

    // ---- setting the engine up ----------------------------------------------------------------

    /// Puts an image on the host, without a health check.
    pub fn add_image(&self, image: &str) {
        self.add_image_with(image, Image::default());
    }

    pub fn add_image_with(&self, image: &str, config: Image) {
        self.state().images.insert(image_key(image), config);
    }

    /// Makes an image available to a pull (not on the host until pulled).
    pub fn add_to_registry(&self, image: &str, config: Image) {
        self.state().registry.insert(image_key(image), config);
    }

    /// A bridge network whose subnet is spawner's, so instances get fixed addresses on it.
    pub fn add_network(&self, name: &str, subnet: Ipv4Net) {
        let network = NetworkInfo {
            name: name.to_string(),
            subnet: Some(subnet),
            ip_range: None,
            gateway: subnet.hosts().next(),
            icc: false,
            internal: false,
            in_use: Vec::new(),
            fixed_addresses: true,
        };
        self.state().networks.insert(name.to_string(), network);
    }

    // ---- shaping the calls --------------------------------------------------------------------

    /// The next call of `op` on `target` fails so (one failure per call; queue several).
    pub fn fail_next(&self, op: Op, target: &str, failure: Failure) {
        let mut control = self.control();
        let queue = control.failures.entry((op, target.to_string()));
        queue.or_default().push_back(failure);
    }

    /// Calls of `op` (on `target`, or on any when `None`) wait until the hold is released.
    pub fn hold(&self, op: Op, target: Option<&str>) -> Hold {
        let hold = Hold::new();
        let target = target.map(str::to_string);
        self.control().holds.push((op, target, hold.clone()));
        hold
    }

    /// Every call of `op` takes this long.
    pub fn delay(&self, op: Op, delay: Duration) {
        self.control().delays.insert(op, delay);
    }

    /// The next start of `name` succeeds, and its process ends at once with `code`.
    pub fn exit_on_next_start(&self, name: &str, code: i64) {
        self.control().exit_on_start.insert(name.to_string(), code);
    }

    /// What a command run in `name` (or, with `None`, in any container) exits with; 0 unless told.
    pub fn set_exec_exit(&self, name: Option<&str>, code: i64) {
        let mut control = self.control();
        control.exec_exits.insert(name.map(str::to_string), code);
    }

    // ---- acting behind spawner's back ---------------------------------------------------------

    /// The engine's health check of a running container says `health` (and the stream tells).
    pub fn set_health(&self, name: &str, health: Health) {
        let mut state = self.state();
        let Some(container) = state.find_mut(name) else {
            return;
        };
        if container.info.state != RunState::Running || container.info.health == health {
            return;
        }
        container.info.health = health;
        let id = container.info.id.clone();
        self.emit(&mut state, &id, EventKind::Health(health));
    }

    /// The container's process ends on its own (a crash) with `code`.
    pub fn kill(&self, name: &str, code: i64) {
        let mut state = self.state();
        if let Some(id) = state.find_id(name) {
            self.end_run(&mut state, &id, code);
        }
    }

    /// Someone removes the container with the docker CLI.
    pub fn remove_behind_back(&self, name: &str) {
        let mut state = self.state();
        if let Some(id) = state.find_id(name) {
            self.destroy(&mut state, &id);
        }
    }

    /// Traffic on the container's connections, added to its counters.
    pub fn add_traffic(&self, name: &str, traffic: Stats) {
        if let Some(c) = self.state().find_mut(name) {
            c.stats.rx_bytes += traffic.rx_bytes;
            c.stats.tx_bytes += traffic.tx_bytes;
            c.stats.rx_packets += traffic.rx_packets;
            c.stats.tx_packets += traffic.tx_packets;
        }
    }

    // ---- reading what happened ----------------------------------------------------------------

    /// Calls of `op` so far, failed ones included.
    pub fn calls(&self, op: Op) -> usize {
        self.control().calls.get(&op).copied().unwrap_or(0)
    }

    /// Calls of `op` on `target` (a container's name) so far.
    pub fn calls_on(&self, op: Op, target: &str) -> usize {
        let control = self.control();
        let key = (op, target.to_string());
        control.calls_on.get(&key).copied().unwrap_or(0)
    }

    /// Every call in the order made: operation and target.
    pub fn log(&self) -> Vec<(Op, String)> {
        self.control().log.clone()
    }

    /// The most calls of `op` that were under way at once.
    pub fn peak_in_flight(&self, op: Op) -> usize {
        self.control().peak_in_flight.get(&op).copied().unwrap_or(0)
    }

    /// The most containers that were running or paused at once.
    pub fn peak_running(&self) -> usize {
        self.state().peak_running
    }

    /// Forgets the counts, the log and the peaks (after a test has set its scene up).
    pub fn reset_calls(&self) {
        let mut control = self.control();
        control.calls.clear();
        control.calls_on.clear();
        control.log.clear();
        control.peak_in_flight.clear();
        drop(control);
        let mut state = self.state();
        state.peak_running = 0;
        state.count_running();
    }

    /// Every container as an inspection would describe it, by name.
    pub fn containers(&self) -> Vec<ContainerInfo> {
        let mut all: Vec<_> = self
            .state()
            .containers
            .values()
            .map(|c| c.info.clone())
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    pub fn container(&self, name: &str) -> Option<ContainerInfo> {
        self.state().find(name).map(|c| c.info.clone())
    }

    pub fn state_of(&self, name: &str) -> Option<RunState> {
        self.container(name).map(|c| c.state)
    }

    /// The names of the containers running or paused now.
    pub fn running(&self) -> Vec<String> {
        let all = self.containers().into_iter();
        all.filter(|c| matches!(c.state, RunState::Running | RunState::Paused))
            .map(|c| c.name)
            .collect()
    }

    /// The names of the volumes.
    pub fn volumes(&self) -> Vec<String> {
        self.state().volumes.keys().cloned().collect()
    }

    /// Whether spawner's label marks it as spawner's (what the engine's filter lets through).
    pub(super) fn is_managed(info: &ContainerInfo) -> bool {
        InstanceLabels::of(info).is_managed()
    }
}
