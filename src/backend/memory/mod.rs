//! An engine in memory, beside Docker behind the same seam (after `object_store`'s `InMemory`):
//! containers, images, networks and volumes are a few maps under one lock, and every change is
//! also sent on an events stream the index's watcher follows as it follows Docker's. The unit
//! tests of the decisions (the gate, wake, the stop claim, capacity) run on it in milliseconds;
//! the integration tests stay on the real daemon.
//!
//! A clone of the engine is the tests' handle on it ([`control`]): make a call fail, hold it until
//! released, slow it down, make a container exit as it starts or fail its health check, remove a
//! container behind spawner's back, count the calls and read what every container is doing.
//!
//! What it leaves out of Docker: processes (a container "runs" at once; a stop is immediate, exit
//! code 0), restart policies, ports and resource limits (kept in the spec, enforced by nothing),
//! and health checks run by the engine itself (a test says when a container turns healthy).

mod containers;
mod control;
mod resources;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::broadcast;

pub use control::{Failure, Hold};

use super::{CreateSpec, Event, EventKind, Stats};
use crate::domain::{ContainerInfo, NetworkInfo, RunState};
use control::Control;

/// Events kept for a stream opened with a `since` in the past, and buffered for a slow reader
/// (one that falls further behind loses the stream, as a reader of Docker's would).
const EVENTS_KEPT: usize = 4096;

/// What an image gives the containers made from it.
#[derive(Debug, Clone, Default)]
pub struct Image {
    /// Its `HEALTHCHECK`, as a command to exec.
    pub healthcheck: Option<Vec<String>>,
    pub exposed_tcp_ports: Vec<u16>,
}

/// The engine; every clone is the same engine.
#[derive(Clone)]
pub struct MemoryEngine {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    control: Mutex<Control>,
    events: broadcast::Sender<Event>,
}

struct Container {
    info: ContainerInfo,
    spec: CreateSpec,
    stats: Stats,
}

#[derive(Default)]
struct State {
    /// By id.
    containers: BTreeMap<String, Container>,
    /// Present on the host.
    images: HashMap<String, Image>,
    /// What a pull can fetch.
    registry: HashMap<String, Image>,
    networks: BTreeMap<String, NetworkInfo>,
    volumes: BTreeMap<String, BTreeMap<String, String>>,
    /// The latest events, for a stream that asks for history.
    history: Vec<Event>,
    /// The last time handed out: every transition gets a later one, as Docker's clock moves on.
    clock: Option<SystemTime>,
    next_id: u64,
    /// The most containers that ran (or were paused) at once.
    peak_running: usize,
}

impl Default for MemoryEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryEngine {
    /// An empty engine: no image, no network, no container.
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(EVENTS_KEPT);
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                control: Mutex::new(Control::default()),
                events,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn control(&self) -> MutexGuard<'_, Control> {
        self.shared
            .control
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Records an event (under the state lock, so a stream's history and its live part neither
    /// miss nor repeat one) and sends it to every open stream.
    fn emit(&self, state: &mut State, id: &str, kind: EventKind) {
        let event = Event {
            id: id.to_string(),
            kind,
            time: Some(state.tick()),
        };
        if state.history.len() == EVENTS_KEPT {
            state.history.remove(0);
        }
        state.history.push(event.clone());
        // Nobody listening is not an error.
        let _ = self.shared.events.send(event);
    }

    /// The name of the container `name_or_id` designates, for holds, failures and counts.
    fn target(&self, name_or_id: &str) -> String {
        let state = self.state();
        state
            .find(name_or_id)
            .map_or_else(|| name_or_id.to_string(), |c| c.info.name.clone())
    }
}

impl State {
    /// A time later than every one handed out before (and not before this host's clock).
    fn tick(&mut self) -> SystemTime {
        let now = SystemTime::now();
        let next = match self.clock {
            Some(last) if last >= now => last + Duration::from_micros(1),
            _ => now,
        };
        self.clock = Some(next);
        next
    }

    /// The engine's clock now (no later than the next [`State::tick`]).
    fn now(&self) -> SystemTime {
        self.clock
            .map_or_else(SystemTime::now, |last| last.max(SystemTime::now()))
    }

    /// By id, name or an unambiguous id prefix, as Docker resolves a reference.
    fn find(&self, name_or_id: &str) -> Option<&Container> {
        self.find_id(name_or_id).map(|id| &self.containers[&id])
    }

    fn find_mut(&mut self, name_or_id: &str) -> Option<&mut Container> {
        let id = self.find_id(name_or_id)?;
        self.containers.get_mut(&id)
    }

    fn find_id(&self, name_or_id: &str) -> Option<String> {
        let wanted = name_or_id.trim_start_matches('/');
        if self.containers.contains_key(wanted) {
            return Some(wanted.to_string());
        }
        if let Some(c) = self.containers.values().find(|c| c.info.name == wanted) {
            return Some(c.info.id.clone());
        }
        let mut prefixed = self.containers.keys().filter(|id| id.starts_with(wanted));
        match (prefixed.next(), prefixed.next()) {
            (Some(id), None) if !wanted.is_empty() => Some(id.clone()),
            _ => None,
        }
    }

    /// A new id: 64 hex digits, unique in its first 12 (the short id).
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("{:012x}{}", 0xc0de_0000_0000 + self.next_id, "0".repeat(52))
    }

    /// Records how many containers occupy a place (running, paused) after a change.
    fn count_running(&mut self) {
        let running = self
            .containers
            .values()
            .filter(|c| matches!(c.info.state, RunState::Running | RunState::Paused))
            .count();
        self.peak_running = self.peak_running.max(running);
    }

    /// An address on `network` for a run: the container's fixed one, else the first free one
    /// above the subnet's fixed part (the engine's own range).
    fn address_for(&self, container: &Container, network: &str) -> Option<IpAddr> {
        if let Some(fixed) = container.info.fixed_ips.get(network) {
            return Some(*fixed);
        }
        let subnet = self.networks.get(network)?.subnet?;
        let used: Vec<IpAddr> = self
            .containers
            .values()
            .flat_map(|c| c.info.ips.values().chain(c.info.fixed_ips.values()))
            .copied()
            .collect();
        subnet
            .hosts()
            .rev()
            .map(IpAddr::V4)
            .find(|ip| !used.contains(ip))
    }

    /// The addresses in use on `network` now (what Docker's inspection lists).
    fn in_use(&self, network: &str) -> Vec<Ipv4Addr> {
        self.containers
            .values()
            .filter_map(|c| match c.info.ips.get(network) {
                Some(IpAddr::V4(ip)) => Some(*ip),
                _ => None,
            })
            .collect()
    }
}

/// Docker reads `mock-app` as `mock-app:latest`.
fn image_key(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || last.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}
