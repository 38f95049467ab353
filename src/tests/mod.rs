//! Unit tests of the lifecycle's decisions (the gate's answer, wake, the stop claim, capacity,
//! the idle stop)
//! through the public surface of [`Instances`] and [`Gate`], on the in-memory engine
//! ([`crate::backend::memory`]): no daemon, no socket, milliseconds each. The same behaviours are
//! tested end to end on the real daemon under `tests/`.
//!
//! A [`Harness`] is one spawner on one engine. Its settings are built in one function,
//! [`build_settings`], from the few [`Knobs`] the tests turn.

mod capacity;
mod culler;
mod gate;
mod stop_claim;
mod wake;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, COOKIE};
use ipnet::Ipv4Net;

use crate::backend::memory::{Hold, Image, MemoryEngine};
use crate::backend::{Backend, CreateSpec, Op};
use crate::configuration::Settings;
use crate::domain::instance_labels::InstanceLabels;
use crate::domain::limits::Limits;
use crate::domain::session::Secret;
use crate::domain::{DeploySpec, InstanceName};
use crate::gate::{AuthRequest, Gate, Outcome};
use crate::instances::{Instances, StartError};
use crate::metrics::Metrics;
use crate::sessions::Sessions;
use crate::tasks::Tasks;
use crate::traefik::config::INSTANCE_HEADER;

/// An image without a `HEALTHCHECK` nor a known port: readiness is the (zero) delay.
pub const IMAGE: &str = "app:1";
/// An image with a `HEALTHCHECK` (and no known port, so it is run at once).
pub const CHECKED_IMAGE: &str = "checked-app:1";

/// What the tests set of the settings; the rest are the defaults.
/// How long a browser's request is held before the waiting page, in these tests.
pub const HTML_HOLD: Duration = Duration::from_millis(40);

pub struct Knobs {
    pub hold_timeout: Duration,
    pub max_running: Option<usize>,
    pub evict_grace: Duration,
    pub max_concurrent_starts: usize,
    /// `None`: nothing idles.
    pub idle_timeout: Option<Duration>,
    pub idle_check_interval: Duration,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            hold_timeout: Duration::from_secs(5),
            max_running: None,
            evict_grace: Duration::ZERO,
            max_concurrent_starts: 8,
            idle_timeout: None,
            idle_check_interval: Duration::from_millis(5),
        }
    }
}

/// The settings, and what the harness reads of them.
struct Built {
    settings: Arc<Settings>,
    network: String,
    subnet: Ipv4Net,
    scope: String,
    cookie_key: String,
}

/// The one place the tests make (and read) [`Settings`]: signed sessions, readiness by a zero
/// delay, no traefik to ask, and the knobs.
fn build_settings(knobs: &Knobs) -> Built {
    let mut s = Settings::for_tests();
    s.sessions.cookie_secrets =
        vec![Secret::parse(&"unit-test-secret-".repeat(3)).expect("long enough")];
    s.readiness.redirect_timeout = Duration::ZERO;
    s.traefik.traefik_check_enabled = false;
    s.readiness.ready_timeout = Duration::from_secs(10);
    s.readiness.hold_timeout = knobs.hold_timeout;
    s.readiness.html_hold = HTML_HOLD;
    s.capacity.max_running = knobs.max_running;
    s.capacity.evict_grace = knobs.evict_grace;
    s.readiness.max_concurrent_starts = knobs.max_concurrent_starts;
    s.idle.idle_timeout = knobs.idle_timeout;
    s.idle.idle_check_interval = knobs.idle_check_interval;
    Built {
        network: s.engine.network.clone(),
        subnet: s.engine.network_subnet,
        scope: s.engine.scope.clone(),
        cookie_key: s.sessions.cookie_key.clone(),
        settings: Arc::new(s),
    }
}

/// One spawner (instances, gate, sessions) on one in-memory engine.
pub struct Harness {
    pub engine: MemoryEngine,
    pub instances: Arc<Instances>,
    pub gate: Gate,
    sessions: Arc<Sessions>,
    built: Built,
}

impl Harness {
    /// A spawner whose index has not read the engine yet (see [`Harness::sync`]).
    pub fn new(knobs: Knobs) -> Self {
        let built = build_settings(&knobs);
        let metrics = Arc::new(Metrics::new());
        let (backend, engine) = Backend::in_memory(Arc::clone(&metrics));
        engine.add_network(&built.network, built.subnet);
        engine.add_image(IMAGE);
        let check = Some(vec!["/app".to_string(), "healthcheck".to_string()]);
        let checked = Image {
            healthcheck: check,
            exposed_tcp_ports: Vec::new(),
        };
        engine.add_image_with(CHECKED_IMAGE, checked);
        let settings = Arc::clone(&built.settings);
        let tasks = Tasks::on_current_runtime();
        let instances = Instances::new(backend, &settings, tasks, metrics);
        let sessions = Arc::new(Sessions::from_settings(&settings));
        let gate = Gate::new(settings, Arc::clone(&instances), Arc::clone(&sessions));
        Self {
            engine,
            instances,
            gate,
            sessions,
            built,
        }
    }

    /// A spawner that has read the engine and follows its events.
    pub async fn synced(knobs: Knobs) -> Self {
        let harness = Self::new(knobs);
        harness.sync().await;
        harness
    }

    pub async fn sync(&self) {
        self.instances.start_watcher();
        let synced = self.instances.synced_within(Duration::from_secs(2)).await;
        assert!(synced, "the index read the in-memory engine");
    }

    /// The deploy a client would send for a stopped instance of `image` with small limits.
    pub fn deploy_spec(&self, name: &str, image: &str) -> DeploySpec {
        DeploySpec {
            name: InstanceName::parse(name).expect("a valid name"),
            image: image.into(),
            network: self.built.network.clone(),
            labels: BTreeMap::new(),
            envs: BTreeMap::new(),
            port: None,
            start: false,
            limits: Limits {
                memory_bytes: 64 << 20,
                cpus: 1.0,
                pids: 64,
            },
            volumes: Vec::new(),
            pull_policy: None,
            idle_timeout: None,
            idle_action: None,
            pause_timeout: None,
            service_worker: false,
        }
    }

    /// A container as a deploy makes it (spawner's scope, a session epoch), stopped; once the
    /// index follows the engine, the index has it when this returns.
    pub async fn seed(&self, name: &str, image: &str) -> String {
        let deploy = self.deploy_spec(name, image);
        let limits = deploy.limits;
        let epoch = format!("epoch-{name}");
        let spec = CreateSpec {
            name: name.into(),
            image: image.into(),
            network: self.built.network.clone(),
            labels: InstanceLabels::for_deploy(&deploy, &self.built.scope, &epoch),
            envs: BTreeMap::new(),
            limits,
            cap_drop: Vec::new(),
            address: None,
            volumes: Vec::new(),
        };
        let id = self.engine.create(&spec).await.expect("a fresh name");
        if self.instances.is_synced() {
            let known = || self.instances.get(name).is_some();
            until(&format!("the index has {name}"), known).await;
        }
        id
    }

    /// Stopped instances of [`IMAGE`].
    pub async fn stopped(&self, names: &[&str]) {
        for name in names {
            self.seed(name, IMAGE).await;
        }
    }

    /// Instances of [`IMAGE`], started and found ready; the engine's counts start afresh.
    pub async fn ready(&self, names: &[&str]) {
        for name in names {
            self.seed(name, IMAGE).await;
            let woken = self.instances.ensure_ready(name).await;
            woken.unwrap_or_else(|e| panic!("{name} wakes: {e}"));
        }
        self.engine.reset_calls();
    }

    /// A wake of `name` in a task of its own, its engine start held until the returned hold is
    /// released; when this returns, the start has reached the engine.
    pub async fn wake_held_at_start(
        &self,
        name: &str,
    ) -> (Hold, tokio::task::JoinHandle<Result<(), StartError>>) {
        let slow = self.engine.hold(Op::Start, Some(name));
        let wake = tokio::spawn({
            let (instances, name) = (Arc::clone(&self.instances), name.to_string());
            async move { instances.ensure_ready(&name).await }
        });
        slow.arrived(1).await;
        (slow, wake)
    }

    /// A ForwardAuth call from an instance router: a session for `session_for` (none: no
    /// cookie), routed by traefik to `routed`.
    pub fn request(&self, session_for: Option<&str>, routed: &str) -> AuthRequest {
        let mut headers = self.headers(session_for);
        let routed_header = HeaderName::from_bytes(INSTANCE_HEADER.as_bytes()).expect("a name");
        headers.insert(
            routed_header,
            HeaderValue::from_str(routed).expect("a value"),
        );
        AuthRequest::from_headers(&headers, &self.built.cookie_key, false)
    }

    /// A ForwardAuth call from the catch-all router for `uri`, with a session for `session_for`.
    pub fn catch_all_request(&self, session_for: &str, uri: &str) -> AuthRequest {
        let mut headers = self.headers(Some(session_for));
        let forwarded = HeaderName::from_static("x-forwarded-uri");
        headers.insert(forwarded, HeaderValue::from_str(uri).expect("a value"));
        AuthRequest::from_headers(&headers, &self.built.cookie_key, true)
    }

    fn headers(&self, session_for: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(name) = session_for {
            // As the home app had it issued: with the epoch the engine's container carries.
            let container = self.engine.container(name);
            let epoch = container
                .map(|c| {
                    InstanceLabels::new(name, &c.labels)
                        .session_epoch()
                        .to_string()
                })
                .filter(|epoch| !epoch.is_empty());
            let epoch = epoch.unwrap_or_else(|| "no-such-instance".into());
            let name = InstanceName::parse(name).expect("a valid name");
            let issued = self.sessions.issue(&name, &epoch, SystemTime::now());
            let cookie = HeaderValue::from_str(&issued.cookie).expect("a cookie");
            headers.insert(COOKIE, cookie);
        }
        headers
    }

    /// The gate's answer to a call from an instance router with a session for `name`.
    pub async fn decide_for(&self, name: &str) -> Outcome {
        self.gate
            .decide(&self.request(Some(name), name), false)
            .await
    }
}

/// Waits (a millisecond at a time, two seconds at most) until `done` holds.
pub async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Lets the tasks spawned so far run until they wait on something.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(10)).await;
}
