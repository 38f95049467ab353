//! The index of managed containers, and getting one of them ready.
//!
//! Docker is the source of truth; this module keeps a copy that the hot path can read without a
//! Docker call. It is filled by one list at start and kept current by the events stream
//! ([`Instances::watch_events`]): every relevant event triggers an inspect of that container, so
//! the index only ever holds what Docker said, and a view is applied only if it is not older than
//! the one held (ordered by the container's last start/stop time).
//!
//! [`Instances::ensure_ready`] starts a stopped container *once* however many requests wait
//! (single flight), then waits for readiness in the order of DESIGN.md: Docker `HEALTHCHECK`, the
//! `health-check` label probed at the container's IP, a TCP connect on the service port, else a
//! fixed delay. The start runs in a task of its own, so a request that gives up (hold timeout)
//! does not cancel it. Any change to the index wakes waiters through one `watch` channel.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::http::Uri;
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::watch;

use crate::configuration::Settings;
use crate::docker::{
    gone_is_done, ContainerInfo, CreateSpec, DockerClient, DockerError, Health, RunState,
    HEALTH_CHECK_LABELS, NETWORK_LABEL, PORT_LABEL,
};
use crate::domain::{DeploySpec, InstanceName};

/// How a container tells it is ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// The image's Docker `HEALTHCHECK`: wait for `healthy`.
    DockerHealth,
    /// The `health-check` label: GET this path and query on the container's IP and this port.
    Http { port: u16, path: String },
    /// A known service port: a TCP connect.
    Tcp { port: u16 },
    /// Nothing known: wait `redirect_timeout`.
    Delay,
}

/// One managed container as the index holds it.
#[derive(Debug, Clone)]
pub struct Instance {
    pub info: ContainerInfo,
    pub port: u16,
    pub readiness: Readiness,
    /// Set when a probe succeeded for the run that started at `info.started_at`.
    probed_ready: Option<SystemTime>,
    last_activity: Arc<AtomicU64>,
}

impl Instance {
    fn new(info: ContainerInfo) -> Self {
        let (port, port_known) = service_port(&info);
        let readiness = readiness(&info, port, port_known);
        Self {
            info,
            port,
            readiness,
            probed_ready: None,
            last_activity: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn name(&self) -> &str {
        &self.info.name
    }

    pub fn is_ready(&self) -> bool {
        self.info.state == RunState::Running
            && match self.readiness {
                Readiness::DockerHealth => self.info.health == Health::Healthy,
                _ => self.probed_ready == Some(self.info.started_at),
            }
    }

    /// The container's address on the network it was created on (or its only one).
    pub fn ip(&self) -> Option<IpAddr> {
        let ips = &self.info.ips;
        self.info
            .labels
            .get(NETWORK_LABEL)
            .and_then(|net| ips.get(net))
            .or_else(|| ips.values().next())
            .copied()
    }

    pub fn view(&self) -> InstanceView {
        let last = self.last_activity.load(Ordering::Relaxed);
        InstanceView {
            id: self.info.id.clone(),
            name: self.info.name.clone(),
            image: self.info.image.clone(),
            state: self.info.state,
            health: self.info.health,
            ready: self.is_ready(),
            labels: self.info.labels.clone(),
            port: self.port,
            last_activity: (last > 0).then(|| {
                humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(last))
                    .to_string()
            }),
        }
    }
}

/// An instance as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceView {
    pub id: String,
    pub name: String,
    pub image: String,
    pub state: RunState,
    pub health: Health,
    pub ready: bool,
    pub labels: BTreeMap<String, String>,
    pub port: u16,
    pub last_activity: Option<String>,
}

/// The service port: `port` (kept as a label), the traefik port label, the health-check URL's
/// port, the image's single exposed port, else 80. The flag says whether it was known at all.
fn service_port(info: &ContainerInfo) -> (u16, bool) {
    let traefik_label = format!(
        "traefik.http.services.{}.loadbalancer.server.port",
        info.name
    );
    let from_label = |key: &str| info.labels.get(key).and_then(|p| p.trim().parse().ok());
    let port = from_label(PORT_LABEL)
        .or_else(|| from_label(&traefik_label))
        .or_else(|| health_check_uri(info).and_then(|u| u.port_u16()))
        .or(match info.exposed_tcp_ports.as_slice() {
            [only] => Some(*only),
            _ => None,
        });
    (port.unwrap_or(80), port.is_some())
}

fn health_check_uri(info: &ContainerInfo) -> Option<Uri> {
    let raw = HEALTH_CHECK_LABELS
        .iter()
        .find_map(|key| info.labels.get(*key))?;
    match raw.trim().parse::<Uri>() {
        Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some() => Some(uri),
        _ => {
            log::warn!(
                "{}: health-check label {raw:?} is not an http:// URL; ignoring it",
                info.name
            );
            None
        }
    }
}

fn readiness(info: &ContainerInfo, port: u16, port_known: bool) -> Readiness {
    if info.has_healthcheck {
        return Readiness::DockerHealth;
    }
    if let Some(uri) = health_check_uri(info) {
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        return Readiness::Http {
            port: uri.port_u16().unwrap_or(80),
            path,
        };
    }
    if port_known {
        Readiness::Tcp { port }
    } else {
        Readiness::Delay
    }
}

/// Why an instance could not be made ready.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StartError {
    #[error("instance {0} no longer exists")]
    Gone(String),
    #[error("instance {name} could not be started: {reason}")]
    StartFailed { name: String, reason: String },
    #[error("instance {name} stopped while starting (exit code {code})")]
    Exited { name: String, code: i64 },
    #[error("instance {0} reported itself unhealthy and was stopped")]
    Unhealthy(String),
    #[error("instance {0} did not become ready in time")]
    NeverReady(String),
    #[error("Docker cannot be reached: {0}")]
    DockerUnavailable(String),
}

type StartResult = Option<Result<(), StartError>>;

/// Result of a lookup on the hot path.
pub enum Lookup {
    Ready,
    NotReady,
    Unknown,
}

#[derive(Default)]
struct Index {
    by_name: HashMap<String, Instance>,
    name_of_id: HashMap<String, String>,
}

impl Index {
    fn remove_id(&mut self, id: &str) -> Option<Instance> {
        let name = self.name_of_id.remove(id)?;
        self.by_name.remove(&name)
    }

    /// Marks a running container dead as of `at`, the moment its `die` event happened, without
    /// waiting for an inspect: until then the hot path would still answer 200 for it. A `die`
    /// older than the run the index holds (a restart already seen) changes nothing.
    fn mark_died(&mut self, id: &str, at: SystemTime, exit_code: Option<i64>) -> bool {
        let Some(name) = self.name_of_id.get(id) else {
            return false;
        };
        match self.by_name.get_mut(name) {
            Some(i) if i.info.state == RunState::Running && at >= i.info.started_at => {
                i.info.state = RunState::Exited;
                i.info.finished_at = at;
                i.info.exit_code = exit_code;
                true
            }
            _ => false,
        }
    }

    /// Applies a fresh inspect unless the index already holds a newer view of that container.
    fn upsert(&mut self, info: ContainerInfo) -> bool {
        if let Some(old_name) = self.name_of_id.get(&info.id) {
            let old = &self.by_name[old_name];
            if info.last_transition() < old.info.last_transition() {
                return false;
            }
        }
        let kept = self.remove_id(&info.id);
        // A different container under the same name (removed and re-created): its events follow.
        if let Some(other) = self.by_name.remove(&info.name) {
            self.name_of_id.remove(&other.info.id);
        }
        let mut instance = Instance::new(info);
        if let Some(old) = kept {
            instance.last_activity = old.last_activity;
            instance.probed_ready = old.probed_ready;
        }
        self.name_of_id
            .insert(instance.info.id.clone(), instance.info.name.clone());
        self.by_name.insert(instance.info.name.clone(), instance);
        true
    }
}

pub struct Instances {
    docker: DockerClient,
    settings: Arc<Settings>,
    index: RwLock<Index>,
    /// Bumped on every change of the index; waiters re-check their condition.
    changed: watch::Sender<()>,
    /// Counts the changes, so that what is derived from the index can be cached until the next.
    generation: AtomicU64,
    /// Starts under way: their result, shared by every request that waits on them.
    starts: Mutex<HashMap<String, watch::Receiver<StartResult>>>,
    synced: AtomicBool,
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

impl Instances {
    pub fn new(docker: DockerClient, settings: Arc<Settings>) -> Arc<Self> {
        Arc::new(Self {
            docker,
            settings,
            index: RwLock::new(Index::default()),
            changed: watch::channel(()).0,
            generation: AtomicU64::new(0),
            starts: Mutex::new(HashMap::new()),
            synced: AtomicBool::new(false),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn docker(&self) -> &DockerClient {
        &self.docker
    }

    /// Whether the index has been filled from Docker at least once.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    // ---- the hot path -------------------------------------------------------------------------

    /// Answers from memory; records activity on a ready instance.
    pub fn lookup(&self, name: &str) -> Lookup {
        let index = self.index.read().expect("index lock");
        match index.by_name.get(name) {
            None => Lookup::Unknown,
            Some(instance) if instance.is_ready() => {
                instance
                    .last_activity
                    .store(now_millis(), Ordering::Relaxed);
                Lookup::Ready
            }
            Some(_) => Lookup::NotReady,
        }
    }

    /// Whether a running instance has this address (the private API refuses to serve it).
    pub fn is_instance_address(&self, ip: IpAddr) -> bool {
        let index = self.index.read().expect("index lock");
        index
            .by_name
            .values()
            .any(|i| i.info.ips.values().any(|a| *a == ip))
    }

    pub fn get(&self, name: &str) -> Option<Instance> {
        self.index
            .read()
            .expect("index lock")
            .by_name
            .get(name)
            .cloned()
    }

    pub fn list(&self) -> Vec<InstanceView> {
        let index = self.index.read().expect("index lock");
        let mut views: Vec<_> = index.by_name.values().map(Instance::view).collect();
        views.sort_by(|a, b| a.name.cmp(&b.name));
        views
    }

    /// Name and port of every instance, sorted by name (for traefik's configuration).
    pub fn routes(&self) -> Vec<(String, u16)> {
        let index = self.index.read().expect("index lock");
        let mut routes: Vec<_> = index
            .by_name
            .values()
            .map(|i| (i.info.name.clone(), i.port))
            .collect();
        routes.sort();
        routes
    }

    // ---- keeping the index current ---------------------------------------------------------

    fn notify(&self) {
        self.generation.fetch_add(1, Ordering::Release);
        self.changed.send_replace(());
    }

    /// Changes whenever the index changes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn upsert(&self, info: ContainerInfo) {
        let applied = self.index.write().expect("index lock").upsert(info);
        if applied {
            self.notify();
        }
    }

    fn mark_died(&self, id: &str, at: SystemTime, exit_code: Option<i64>) {
        let marked = self
            .index
            .write()
            .expect("index lock")
            .mark_died(id, at, exit_code);
        if marked {
            self.notify();
        }
    }

    fn remove_id(&self, id: &str) {
        let removed = self.index.write().expect("index lock").remove_id(id);
        if let Some(instance) = removed {
            log::info!("{}: removed", instance.name());
            self.notify();
        }
    }

    /// Re-reads one container from Docker into the index.
    pub async fn refresh(&self, id: &str) -> Result<Option<Instance>, DockerError> {
        match self.docker.inspect_managed(id).await {
            Ok(info) => {
                let name = info.name.clone();
                self.upsert(info);
                Ok(self.get(&name))
            }
            Err(DockerError::NotFound(_)) => {
                self.remove_id(id);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn resync(&self) -> Result<usize, DockerError> {
        let infos = self.docker.list_managed().await?;
        let count = infos.len();
        {
            let mut index = self.index.write().expect("index lock");
            let live: std::collections::HashSet<&str> =
                infos.iter().map(|i| i.id.as_str()).collect();
            let gone: Vec<String> = index
                .name_of_id
                .keys()
                .filter(|id| !live.contains(id.as_str()))
                .cloned()
                .collect();
            for id in gone {
                index.remove_id(&id);
            }
            for info in infos {
                index.upsert(info);
            }
        }
        self.synced.store(true, Ordering::Release);
        self.notify();
        Ok(count)
    }

    /// Keeps the index current until `shutdown` fires: list, then follow the events stream; on a
    /// broken stream, reconnect with backoff and list again (events missed meanwhile are covered).
    pub async fn watch_events(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            // Opened before the list and replaying the last seconds: nothing falls between the two.
            let since = SystemTime::now() - Duration::from_secs(2);
            let work = async {
                let mut events = Box::pin(self.docker.events(since));
                match self.resync().await {
                    Ok(count) => {
                        log::info!("index synchronised with Docker: {count} instance(s)");
                        backoff = Duration::from_millis(100);
                    }
                    Err(e) => {
                        log::error!("cannot list containers: {e}");
                        return;
                    }
                }
                while let Some(event) = events.next().await {
                    match event {
                        Ok(event) if event.action == "destroy" => self.remove_id(&event.id),
                        Ok(event) if event.matters() => {
                            log::debug!("event {} on {}", event.action, event.id);
                            if event.action == "die" {
                                self.mark_died(&event.id, event.time, event.exit_code);
                            }
                            if let Err(e) = self.refresh(&event.id).await {
                                log::warn!(
                                    "cannot inspect {} after {}: {e}",
                                    event.id,
                                    event.action
                                );
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            log::warn!("Docker events stream broke: {e}");
                            return;
                        }
                    }
                }
                log::warn!("Docker events stream ended");
            };
            tokio::select! {
                _ = work => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            log::info!("reconnecting to Docker events in {backoff:?}");
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    // ---- getting an instance ready ---------------------------------------------------------

    /// Starts the instance if needed and waits until it is ready; one start however many callers.
    /// The caller bounds the wait; the start itself goes on (up to `ready_timeout`).
    pub async fn ensure_ready(self: &Arc<Self>, name: &str) -> Result<(), StartError> {
        let mut result = {
            let mut starts = self.starts.lock().expect("starts lock");
            match starts.get(name) {
                Some(rx) => rx.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    starts.insert(name.to_string(), rx.clone());
                    let guard = StartGuard {
                        instances: Arc::clone(self),
                        name: name.to_string(),
                        rx: rx.clone(),
                    };
                    let this = Arc::clone(self);
                    let name = name.to_string();
                    // Local task: the readiness probe uses awc, which lives on this worker's runtime.
                    actix_web::rt::spawn(async move {
                        let guard = guard;
                        let started = Instant::now();
                        let outcome = tokio::time::timeout(
                            this.settings.ready_timeout,
                            this.start_and_wait(&name),
                        )
                        .await
                        .unwrap_or_else(|_| Err(StartError::NeverReady(name.clone())));
                        match &outcome {
                            Ok(()) => log::info!("{name}: ready after {:?}", started.elapsed()),
                            Err(e) => log::warn!("{name}: {e} (after {:?})", started.elapsed()),
                        }
                        // Out of the map first: a request from now on starts afresh.
                        drop(guard);
                        tx.send_replace(Some(outcome));
                    });
                    rx
                }
            }
        };
        let outcome = result
            .wait_for(Option::is_some)
            .await
            .map(|r| r.clone())
            .ok()
            .flatten();
        outcome.unwrap_or_else(|| Err(StartError::Gone(name.to_string())))
    }

    async fn start_and_wait(&self, name: &str) -> Result<(), StartError> {
        let instance = self
            .get(name)
            .ok_or_else(|| StartError::Gone(name.into()))?;
        if instance.is_ready() {
            return Ok(());
        }
        let id = instance.info.id.clone();
        if instance.info.state != RunState::Running {
            log::info!("{name}: starting ({:?})", instance.info.state);
            self.docker.start(&id).await.map_err(|e| match e {
                DockerError::Unavailable(m) => StartError::DockerUnavailable(m),
                DockerError::NotFound(_) => StartError::Gone(name.into()),
                other => StartError::StartFailed {
                    name: name.into(),
                    reason: other.to_string(),
                },
            })?;
        }
        // The start's own view (address, start time) before the events stream delivers it.
        let instance = self
            .refresh(&id)
            .await
            .map_err(|e| StartError::DockerUnavailable(e.to_string()))?
            .ok_or_else(|| StartError::Gone(name.into()))?;
        let run = instance.info.started_at;
        if instance.info.state != RunState::Running {
            return Err(self.ended(name, run));
        }
        let probe = async {
            match &instance.readiness {
                Readiness::DockerHealth => self.wait_healthy(name, run).await,
                Readiness::Http { port, path } => self.probe_http(&instance, *port, path).await,
                Readiness::Tcp { port } => self.probe_tcp(&instance, *port).await,
                Readiness::Delay => {
                    tokio::time::sleep(self.settings.redirect_timeout).await;
                    Ok(())
                }
            }
        };
        let ready = tokio::select! {
            ready = probe => ready,
            () = self.wait_run_ended(name, run) => Err(self.ended(name, run)),
        };
        if let Err(StartError::Unhealthy(_)) = &ready {
            log::warn!("{name}: unhealthy; stopping it");
            if let Err(e) = self.docker.stop(&id, Duration::from_secs(5)).await {
                log::warn!("{name}: could not stop it: {e}");
            }
        }
        ready?;
        self.mark_probed(name, run);
        Ok(())
    }

    fn mark_probed(&self, name: &str, run: SystemTime) {
        let mut index = self.index.write().expect("index lock");
        if let Some(instance) = index.by_name.get_mut(name) {
            instance.probed_ready = Some(run);
        }
        drop(index);
        self.notify();
    }

    /// Resolves when the run that started at `run` is over (exited, removed or replaced).
    async fn wait_run_ended(&self, name: &str, run: SystemTime) {
        let mut changes = self.changed.subscribe();
        loop {
            let over = match self.get(name) {
                None => true,
                Some(i) => i.info.started_at != run || i.info.state != RunState::Running,
            };
            if over || changes.changed().await.is_err() {
                return;
            }
        }
    }

    fn ended(&self, name: &str, run: SystemTime) -> StartError {
        match self.get(name) {
            Some(i) if i.info.started_at == run && i.info.state != RunState::Running => {
                StartError::Exited {
                    name: name.into(),
                    code: i.info.exit_code.unwrap_or(-1),
                }
            }
            Some(_) => StartError::StartFailed {
                name: name.into(),
                reason: "it was restarted by someone else meanwhile".into(),
            },
            None => StartError::Gone(name.into()),
        }
    }

    async fn wait_healthy(&self, name: &str, run: SystemTime) -> Result<(), StartError> {
        let mut changes = self.changed.subscribe();
        loop {
            if let Some(i) = self.get(name).filter(|i| i.info.started_at == run) {
                match i.info.health {
                    Health::Healthy => return Ok(()),
                    // Stopped by the caller: stopping here would race the end of the run.
                    Health::Unhealthy => return Err(StartError::Unhealthy(name.into())),
                    _ => {}
                }
            }
            // Ending runs are reported by `wait_run_ended`; this just waits.
            if changes.changed().await.is_err() {
                return Err(StartError::Gone(name.into()));
            }
        }
    }

    fn target(&self, instance: &Instance, port: u16) -> Result<SocketAddr, StartError> {
        instance
            .ip()
            .map(|ip| SocketAddr::new(ip, port))
            .ok_or_else(|| StartError::StartFailed {
                name: instance.name().into(),
                reason: "it has no IP address on its network".into(),
            })
    }

    async fn probe_http(
        &self,
        instance: &Instance,
        port: u16,
        path: &str,
    ) -> Result<(), StartError> {
        let addr = self.target(instance, port)?;
        let url = format!("http://{addr}{path}");
        let client = awc::Client::builder()
            .timeout(self.settings.http_probe_timeout)
            .finish();
        let ok = self.settings.http_probe_ok_status;
        retry(|| async {
            match client.get(&url).send().await {
                Ok(response) => response.status().as_u16() == ok,
                Err(_) => false,
            }
        })
        .await;
        Ok(())
    }

    async fn probe_tcp(&self, instance: &Instance, port: u16) -> Result<(), StartError> {
        let addr = self.target(instance, port)?;
        let timeout = self.settings.http_probe_timeout;
        retry(|| async {
            matches!(
                tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await,
                Ok(Ok(_))
            )
        })
        .await;
        Ok(())
    }

    // ---- the private API's operations --------------------------------------------------------

    /// Creates (and unless told otherwise starts) an instance; nothing half-made is left behind.
    pub async fn create(&self, spec: &DeploySpec) -> Result<InstanceView, CreateError> {
        if !self.docker.image_exists(&spec.image).await? {
            return Err(CreateError::ImageNotFound(spec.image.clone()));
        }
        if !self.docker.network_exists(&spec.network).await? {
            return Err(CreateError::NetworkNotFound(spec.network.clone()));
        }
        let mut labels = spec.labels.clone();
        if let Some(port) = spec.port {
            labels.insert(PORT_LABEL.into(), port.to_string());
        }
        let create = CreateSpec {
            name: spec.name.to_string(),
            image: spec.image.clone(),
            network: spec.network.clone(),
            labels,
            envs: spec.envs.clone(),
        };
        let id = self.docker.create(&create).await.map_err(|e| match e {
            DockerError::Conflict(_) => CreateError::NameTaken(spec.name.to_string()),
            other => other.into(),
        })?;
        if spec.start {
            if let Err(e) = self.docker.start(&id).await {
                if let Err(cleanup) = self.docker.remove(&id).await {
                    log::error!(
                        "{}: could not remove after a failed start: {cleanup}",
                        spec.name
                    );
                }
                return Err(CreateError::StartFailed {
                    name: spec.name.to_string(),
                    reason: e.to_string(),
                });
            }
        }
        log::info!(
            "{}: created from {} (started: {})",
            spec.name,
            spec.image,
            spec.start
        );
        let instance = self.refresh(&id).await?.ok_or_else(|| {
            CreateError::Docker(DockerError::Other(format!(
                "{} disappeared right after it was created",
                spec.name
            )))
        })?;
        Ok(instance.view())
    }

    /// Finds a managed instance by name or id; anything not spawner's is `None`.
    pub async fn resolve(&self, name_or_id: &str) -> Result<Option<Instance>, DockerError> {
        let is_id = (12..=64).contains(&name_or_id.len())
            && name_or_id.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_id && InstanceName::parse(name_or_id).is_err() {
            return Ok(None);
        }
        {
            let index = self.index.read().expect("index lock");
            if let Some(i) = index.by_name.get(name_or_id) {
                return Ok(Some(i.clone()));
            }
            if let Some(i) = index
                .by_name
                .values()
                .find(|i| name_or_id.len() >= 12 && i.info.id.starts_with(name_or_id))
            {
                return Ok(Some(i.clone()));
            }
        }
        // Not (yet) in the index: Docker decides.
        self.refresh(name_or_id).await
    }

    /// Starts without waiting for readiness (`PUT /deploy/{name}`).
    pub async fn start(&self, instance: &Instance) -> Result<InstanceView, DockerError> {
        self.docker.start(&instance.info.id).await?;
        log::info!("{}: started through the API", instance.name());
        let fresh = self.refresh(&instance.info.id).await?;
        Ok(fresh.unwrap_or_else(|| instance.clone()).view())
    }

    /// Stops and removes (`DELETE /deploy/{name}`).
    pub async fn delete(&self, instance: &Instance) -> Result<(), DockerError> {
        let id = &instance.info.id;
        gone_is_done(self.docker.stop(id, Duration::from_secs(10)).await)?;
        gone_is_done(self.docker.remove(id).await)?;
        self.remove_id(id);
        log::info!("{}: deleted through the API", instance.name());
        Ok(())
    }

    /// Stops an instance (the fallback's answer to a route traefik never loaded).
    pub async fn stop(&self, name: &str) {
        if let Some(instance) = self.get(name) {
            if let Err(e) = self
                .docker
                .stop(&instance.info.id, Duration::from_secs(5))
                .await
            {
                log::warn!("{name}: could not stop it: {e}");
            }
        }
    }
}

/// Takes a start out of the map when its task ends, however it ends (even by a panic), so a
/// dead start never leaves an instance waiting on a channel nobody will fill.
struct StartGuard {
    instances: Arc<Instances>,
    name: String,
    rx: watch::Receiver<StartResult>,
}

impl Drop for StartGuard {
    fn drop(&mut self) {
        let mut starts = self.instances.starts.lock().expect("starts lock");
        // Only this start's entry: a newer one may already stand under the same name.
        if starts
            .get(&self.name)
            .is_some_and(|rx| rx.same_channel(&self.rx))
        {
            starts.remove(&self.name);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("image {0:?} is not present on the Docker host; build or pull it first")]
    ImageNotFound(String),
    #[error("network {0:?} does not exist on the Docker host; create it (docker network create {0}) or choose another")]
    NetworkNotFound(String),
    #[error("the name {0:?} is already taken by another container; choose another name or delete it first")]
    NameTaken(String),
    #[error(
        "container {name} was created but could not start ({reason}); it has been removed again"
    )]
    StartFailed { name: String, reason: String },
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// Calls `attempt` until it returns true, with a backoff from 10 ms growing to 250 ms.
async fn retry<F, Fut>(mut attempt: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut pause = Duration::from_millis(10);
    while !attempt().await {
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(Duration::from_millis(250));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(labels: &[(&str, &str)], exposed: &[u16], healthcheck: bool) -> ContainerInfo {
        ContainerInfo {
            id: "abc".into(),
            name: "minion-1".into(),
            image: "mock-app:latest".into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            state: RunState::Exited,
            health: Health::None,
            has_healthcheck: healthcheck,
            exit_code: Some(0),
            started_at: UNIX_EPOCH,
            finished_at: UNIX_EPOCH,
            exposed_tcp_ports: exposed.to_vec(),
            ips: BTreeMap::new(),
        }
    }

    #[test]
    fn the_service_port_follows_the_documented_order() {
        let traefik = "traefik.http.services.minion-1.loadbalancer.server.port";
        let hc = "http://minion-1:9100/status";
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [u16], u16);
        let cases: [Case; 5] = [
            (&[(PORT_LABEL, "7000"), (traefik, "9000")], &[], 7000),
            (&[(traefik, "9000"), ("health-check", hc)], &[], 9000),
            (&[("healthcheck", hc)], &[1, 2], 9100),
            (&[], &[8888], 8888),
            (&[], &[1, 2], 80),
        ];
        for (labels, exposed, expected) in cases {
            assert_eq!(service_port(&info(labels, exposed, false)).0, expected);
        }
    }

    #[test]
    fn readiness_prefers_healthcheck_then_label_then_tcp_then_delay() {
        let hc = [("health-check", "http://minion-1:9000/status?x=1")];
        assert_eq!(
            Instance::new(info(&hc, &[], true)).readiness,
            Readiness::DockerHealth
        );
        assert_eq!(
            Instance::new(info(&hc, &[], false)).readiness,
            Readiness::Http {
                port: 9000,
                path: "/status?x=1".into()
            }
        );
        assert_eq!(
            Instance::new(info(&[], &[9000], false)).readiness,
            Readiness::Tcp { port: 9000 }
        );
        assert_eq!(
            Instance::new(info(&[], &[], false)).readiness,
            Readiness::Delay
        );
    }

    #[test]
    fn a_die_event_stops_the_run_it_belongs_to_and_no_later_one() {
        let mut index = Index::default();
        let mut running = info(&[], &[], false);
        running.state = RunState::Running;
        running.started_at = UNIX_EPOCH + Duration::from_secs(100);
        index.upsert(running);
        // A die from before this run (the previous one) is ignored.
        assert!(!index.mark_died("abc", UNIX_EPOCH + Duration::from_secs(99), Some(1)));
        assert_eq!(index.by_name["minion-1"].info.state, RunState::Running);
        assert!(index.mark_died("abc", UNIX_EPOCH + Duration::from_secs(101), Some(3)));
        assert_eq!(index.by_name["minion-1"].info.state, RunState::Exited);
        assert_eq!(index.by_name["minion-1"].info.exit_code, Some(3));
    }

    #[test]
    fn an_older_view_never_overwrites_a_newer_one() {
        let mut index = Index::default();
        let mut running = info(&[], &[], false);
        running.state = RunState::Running;
        running.started_at = UNIX_EPOCH + Duration::from_secs(100);
        let mut stale = info(&[], &[], false);
        stale.finished_at = UNIX_EPOCH + Duration::from_secs(50);
        assert!(index.upsert(running));
        assert!(!index.upsert(stale));
        assert_eq!(index.by_name["minion-1"].info.state, RunState::Running);
    }
}
