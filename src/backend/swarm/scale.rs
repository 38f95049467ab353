//! Scaling a service 0↔1 and waiting for its task: Swarm has no task events, so a wake polls the
//! service's tasks until the new one runs or has failed.
//!
//! An update replaces the whole spec and names the version it was read at; a stale version is
//! refused ("update out of sequence", an HTTP 500), so the spec is read again and the update
//! retried.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bollard::models::{
    Service, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, Task, TaskState,
};
use bollard::query_parameters::{ListContainersOptionsBuilder, UpdateServiceOptionsBuilder};

use super::convert::{is_over, needs_pin, newest, pin, replicas, state_of};
use crate::backend::docker::convert::error;
use crate::backend::{BackendError, Op};
use crate::domain::instance_labels::ACTIVE_AT;

/// How often a wait reads the tasks again.
const POLL: Duration = Duration::from_millis(20);
/// The longest a start waits for its task (the caller's own timeout is usually shorter).
const START_LIMIT: Duration = Duration::from_secs(120);
/// The longest a stop waits for its task to end: Swarm waits 2 s before it stops a task, then
/// its grace period.
const STOP_LIMIT: Duration = Duration::from_secs(60);
/// Conflicting updates read and tried again before giving up.
const UPDATE_ATTEMPTS: usize = 8;

pub struct Scaler<'a> {
    client: &'a bollard::Docker,
}

impl<'a> Scaler<'a> {
    pub fn new(client: &'a bollard::Docker) -> Self {
        Self { client }
    }

    /// Every task the service has (its history included).
    pub async fn tasks(&self, id: &str) -> Result<Vec<bollard::models::Task>, BackendError> {
        let filters = HashMap::from([("service".to_string(), vec![id.to_string()])]);
        let options = bollard::query_parameters::ListTasksOptionsBuilder::default()
            .filters(&filters)
            .build();
        let answer = self.client.list_tasks(Some(options)).await;
        answer.map_err(error(Op::Inspect, id))
    }

    /// Sets the service's replicas, with the version it was read at; read again on a conflict.
    /// `renew`: also force a new task (see [`Scaler::up`]).
    async fn set_replicas(
        &self,
        id: &str,
        n: i64,
        op: Op,
        renew: bool,
    ) -> Result<(), BackendError> {
        self.update(id, op, UPDATE_ATTEMPTS, |service, spec| {
            if replicas(service) == n && !renew {
                return false;
            }
            spec.mode = Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(n) }),
                ..Default::default()
            });
            if renew {
                let task = spec.task_template.get_or_insert_with(Default::default);
                task.force_update = Some(task.force_update.unwrap_or(0).wrapping_add(1));
            }
            true
        })
        .await
    }

    /// Records `at` (Unix ms) as the service's last activity, unless it holds a later one; one
    /// conflict is read again, a second is left to the next pass.
    pub async fn mark_active(&self, id: &str, at_ms: u64) -> Result<(), BackendError> {
        self.update(id, Op::Inspect, 2, |_, spec| {
            let labels = spec.labels.get_or_insert_with(Default::default);
            let held = labels.get(ACTIVE_AT).and_then(|v| v.parse::<u64>().ok());
            if held.is_some_and(|held| held >= at_ms) {
                return false;
            }
            labels.insert(ACTIVE_AT.to_string(), at_ms.to_string());
            true
        })
        .await
    }

    /// Keeps the service on `node` if it has volumes ([`convert::pin`]).
    pub async fn pin(&self, id: &str, node: &str) -> Result<(), BackendError> {
        self.update(id, Op::Start, 2, |_, spec| pin(spec, node))
            .await
    }

    /// Read the service, let `edit` change its spec (`false`: nothing to change), and update it
    /// with the version it was read at; a stale version is read again, `attempts` times in all.
    async fn update(
        &self,
        id: &str,
        op: Op,
        attempts: usize,
        mut edit: impl FnMut(&Service, &mut ServiceSpec) -> bool,
    ) -> Result<(), BackendError> {
        let mut last = None;
        for _ in 0..attempts {
            let service = self.client.inspect_service(id, None).await;
            let service = service.map_err(error(op, id))?;
            let mut spec = service.spec.clone().unwrap_or_default();
            if !edit(&service, &mut spec) {
                return Ok(());
            }
            let version = service.version.and_then(|v| v.index).unwrap_or_default();
            let options = UpdateServiceOptionsBuilder::default()
                .version(i32::try_from(version).unwrap_or(i32::MAX))
                .build();
            match self.client.update_service(id, spec, options, None).await {
                Ok(_) => return Ok(()),
                Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                    if message.contains("update out of sequence") =>
                {
                    last = Some(message);
                }
                Err(e) => return Err(error(op, id)(e)),
            }
        }
        Err(BackendError::Conflict {
            op,
            target: id.to_string(),
            source: last.unwrap_or_default().into(),
        })
    }

    /// Gets one task running: none runs or is on its way, so the service is scaled to 1 (from 0;
    /// a task that ended by itself leaves the service at 1, so it is scaled to 0 first).
    ///
    /// The scale to 1 also forces an update: a task stopped a moment ago stays listed (desired
    /// state `remove`) until its container is gone, and Swarm, counting it, starts no new task
    /// for its slot, then or later (seen on Docker 20.10). A forced update replaces it.
    pub async fn up(&self, id: &str) -> Result<(), BackendError> {
        let asked = Instant::now();
        let tasks = self.tasks(id).await?;
        let before: HashSet<String> = tasks.iter().filter_map(|t| t.id.clone()).collect();
        let current = newest(tasks);
        let live = current.as_ref().is_some_and(|t| !is_over(state_of(t)));
        if !live {
            self.set_replicas(id, 0, Op::Start, false).await?;
            self.set_replicas(id, 1, Op::Start, true).await?;
        }
        let mut phases = Phases::since(asked);
        let wait = self.until_running(id, (!live).then_some(&before), &mut phases);
        match tokio::time::timeout(START_LIMIT, wait).await {
            Ok(Ok(task)) => {
                log::info!("{id}: task running: {phases}");
                // Its volumes are on that node now: keep it there (off the wake's path), if it
                // has any and is not kept already (its task's own spec says).
                if !task.spec.as_ref().is_some_and(needs_pin) {
                    return Ok(());
                }
                let (client, id) = (self.client.clone(), id.to_string());
                let node = task.node_id.unwrap_or_default();
                tokio::spawn(async move {
                    if let Err(e) = Scaler::new(&client).pin(&id, &node).await {
                        log::warn!("{id}: could not keep it on node {node}: {e}");
                    }
                });
                Ok(())
            }
            Ok(Err(e)) => {
                // Not left to try again by itself: the next wake is a new task.
                if let Err(undo) = self.set_replicas(id, 0, Op::Stop, false).await {
                    log::warn!("{id}: could not scale it back to 0: {undo}");
                }
                Err(e)
            }
            Err(_) => Err(BackendError::Failed {
                op: Op::Start,
                target: id.to_string(),
                source: format!("its task was not running after {START_LIMIT:?}").into(),
            }),
        }
    }

    /// Until the newest task (one not in `old`, when given) runs; an error when it has ended or
    /// Swarm cannot place it, with Swarm's reason.
    async fn until_running(
        &self,
        id: &str,
        old: Option<&HashSet<String>>,
        phases: &mut Phases,
    ) -> Result<Task, BackendError> {
        loop {
            let tasks = self.tasks(id).await?;
            let fresh = tasks
                .into_iter()
                .filter(|t| old.is_none_or(|old| t.id.as_ref().is_none_or(|i| !old.contains(i))));
            if let Some(task) = newest(fresh.collect()) {
                let state = state_of(&task);
                phases.saw(state);
                let status = task.status.clone().unwrap_or_default();
                let why = status.err.or(status.message).unwrap_or_default();
                match state {
                    TaskState::RUNNING => return Ok(task),
                    s if is_over(s) => return Err(failed(id, s, &why)),
                    // The scheduler found no node for it (resources, constraints).
                    TaskState::PENDING if why.contains("no suitable node") => {
                        return Err(failed(id, state, &why))
                    }
                    _ => {}
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Scales to 0 and waits until no task of the service is running or on its way.
    pub async fn down(&self, id: &str) -> Result<(), BackendError> {
        self.set_replicas(id, 0, Op::Stop, false).await?;
        let wait = async {
            loop {
                let tasks = self.tasks(id).await?;
                if tasks.iter().all(|t| is_over(state_of(t))) {
                    return Ok(());
                }
                tokio::time::sleep(POLL * 5).await;
            }
        };
        match tokio::time::timeout(STOP_LIMIT, wait).await {
            Ok(done) => done,
            Err(_) => Err(BackendError::Failed {
                op: Op::Stop,
                target: id.to_string(),
                source: format!("its task was still running after {STOP_LIMIT:?}").into(),
            }),
        }
    }

    /// Until this node has no container of the (removed) service left, for at most 30 s.
    pub async fn containers_gone(&self, id: &str) {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("com.docker.swarm.service.id={id}")],
        )]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let wait = async {
            loop {
                match self.client.list_containers(Some(options.clone())).await {
                    Ok(left) if left.is_empty() => return,
                    Ok(_) => {}
                    Err(e) => return log::warn!("{id}: cannot list its containers: {e}"),
                }
                tokio::time::sleep(POLL * 5).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .is_err()
        {
            log::warn!("{id}: its containers were still there 30 s after it was removed");
        }
    }
}

/// When a wake's task got where, from the wake's start (for the log and `scripts/bench.sh`).
struct Phases {
    asked: Instant,
    scaled: Duration,
    assigned: Option<Duration>,
    running: Option<Duration>,
}

impl Phases {
    fn since(asked: Instant) -> Self {
        Self {
            asked,
            scaled: asked.elapsed(),
            assigned: None,
            running: None,
        }
    }

    fn saw(&mut self, state: TaskState) {
        let now = Some(self.asked.elapsed());
        let placed = !matches!(
            state,
            TaskState::NEW | TaskState::PENDING | TaskState::ALLOCATED
        );
        if placed && self.assigned.is_none() {
            self.assigned = now;
        }
        if state == TaskState::RUNNING {
            self.running = now;
        }
    }
}

impl std::fmt::Display for Phases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Option<Duration>| d.map_or(-1.0, |d| d.as_secs_f64() * 1e3);
        write!(
            f,
            "scaled_ms={:.1} assigned_ms={:.1} running_ms={:.1}",
            ms(Some(self.scaled)),
            ms(self.assigned),
            ms(self.running)
        )
    }
}

/// A task that will not run, with Swarm's reason ("task: non-zero exit (1)", "no suitable node").
fn failed(id: &str, state: TaskState, why: &str) -> BackendError {
    BackendError::Failed {
        op: Op::Start,
        target: id.to_string(),
        source: format!("its task is {state}: {why}").into(),
    }
}
