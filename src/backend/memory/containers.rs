//! Containers in memory: create, start, stop, pause, remove, inspect, exec and stats, with the
//! answers Docker gives (a taken name is `Conflict`, an unknown id `NotFound`, starting a running
//! container is no error) and the events Docker sends for each change.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{image_key, Container, MemoryEngine, State};
use crate::backend::{BackendError, CreateSpec, EventKind, ExecOutput, Op, Stats};
use crate::domain::{ContainerInfo, Health, RunState};

fn not_found(op: Op, target: &str) -> BackendError {
    BackendError::NotFound {
        op,
        target: target.to_string(),
        source: format!("No such container: {target}").into(),
    }
}

fn conflict(op: Op, target: &str, why: &str) -> BackendError {
    BackendError::Conflict {
        op,
        target: target.to_string(),
        source: why.to_string().into(),
    }
}

impl MemoryEngine {
    /// Every managed container; the caller keeps those of its scope.
    pub async fn list_managed(&self, _scope: &str) -> Result<Vec<ContainerInfo>, BackendError> {
        let _call = self.enter(Op::List, "containers").await?;
        let state = self.state();
        let all = state.containers.values().map(|c| &c.info);
        Ok(all.filter(|i| Self::is_managed(i)).cloned().collect())
    }

    pub async fn inspect_managed(&self, name_or_id: &str) -> Result<ContainerInfo, BackendError> {
        let _call = self.enter(Op::Inspect, &self.target(name_or_id)).await?;
        let state = self.state();
        match state.find(name_or_id) {
            Some(c) if Self::is_managed(&c.info) => Ok(c.info.clone()),
            _ => Err(not_found(Op::Inspect, name_or_id)),
        }
    }

    /// Like Docker's: `origin=spawner` and the network's label are set; a volume that does not
    /// exist is made (unlabelled).
    pub async fn create(&self, spec: &CreateSpec) -> Result<String, BackendError> {
        let _call = self.enter(Op::Create, &spec.name).await?;
        let mut state = self.state();
        if state.find(&spec.name).is_some() {
            let why = format!("the container name {:?} is already in use", spec.name);
            return Err(conflict(Op::Create, &spec.name, &why));
        }
        let Some(image) = state.images.get(&image_key(&spec.image)).cloned() else {
            return Err(BackendError::NotFound {
                op: Op::Create,
                target: spec.name.clone(),
                source: format!("No such image: {}", spec.image).into(),
            });
        };
        let Some(network) = state.networks.get(&spec.network) else {
            return Err(BackendError::NotFound {
                op: Op::Create,
                target: spec.name.clone(),
                source: format!("network {} not found", spec.network).into(),
            });
        };
        let mut fixed_ips = BTreeMap::new();
        if let Some(address) = spec.address {
            let rejected = |why: &str| BackendError::Rejected {
                op: Op::Create,
                target: spec.name.clone(),
                source: why.to_string().into(),
            };
            match network.fixed_subnet() {
                None => return Err(rejected("user specified IP address is supported only when connecting to networks with user configured subnets")),
                Some(subnet) if !subnet.contains(&address) => {
                    return Err(rejected("no configured subnet contains the IP address"))
                }
                Some(_) => {}
            }
            let taken = state.containers.values().any(|c| {
                c.info.fixed_ips.get(&spec.network) == Some(&address.into())
                    || c.info.ips.get(&spec.network) == Some(&address.into())
            });
            if taken {
                return Err(conflict(Op::Create, &spec.name, "Address already in use"));
            }
            fixed_ips.insert(spec.network.clone(), address.into());
        }
        for mount in &spec.volumes {
            state.volumes.entry(mount.volume.clone()).or_default();
        }
        let spec = spec.clone();
        let id = state.new_id();
        let info = ContainerInfo {
            id: id.clone(),
            name: spec.name.clone(),
            image: spec.image.clone(),
            labels: spec.labels.clone(),
            state: RunState::Created,
            health: Health::None,
            healthcheck: image.healthcheck,
            exit_code: None,
            started_at: None,
            finished_at: None,
            exposed_tcp_ports: image.exposed_tcp_ports,
            networks: vec![spec.network.clone()],
            ips: BTreeMap::new(),
            fixed_ips,
            limits: Some(spec.limits),
        };
        let stats = Stats::default();
        let container = Container { info, spec, stats };
        state.containers.insert(id.clone(), container);
        self.emit(&mut state, &id, EventKind::Created);
        Ok(id)
    }

    pub async fn spec_of(&self, id: &str) -> Result<CreateSpec, BackendError> {
        let _call = self.enter(Op::Inspect, &self.target(id)).await?;
        let state = self.state();
        let found = state.find(id).map(|c| c.spec.clone());
        found.ok_or_else(|| not_found(Op::Inspect, id))
    }

    /// A container told to exit on its next start ([`MemoryEngine::exit_on_next_start`]) starts,
    /// then dies at once: the start succeeds, as Docker's does for a process that ends early.
    pub async fn start(&self, id: &str) -> Result<(), BackendError> {
        let name = self.target(id);
        let _call = self.enter(Op::Start, &name).await?;
        let mut state = self.state();
        let Some(id) = state.find_id(id) else {
            return Err(not_found(Op::Start, id));
        };
        match state.containers[&id].info.state {
            RunState::Running => return Ok(()),
            RunState::Paused => {
                let why = "cannot start a paused container, try unpause instead";
                return Err(conflict(Op::Start, &name, why));
            }
            _ => {}
        }
        let started = state.tick();
        let container = &state.containers[&id];
        let network = container.spec.network.clone();
        let address = state.address_for(container, &network);
        let container = state.containers.get_mut(&id).expect("found above");
        let info = &mut container.info;
        info.state = RunState::Running;
        info.started_at = Some(started);
        info.exit_code = None;
        info.health = match info.healthcheck {
            Some(_) => Health::Starting,
            None => Health::None,
        };
        info.ips = address.map(|a| (network, a)).into_iter().collect();
        container.stats = Stats::default();
        state.count_running();
        self.emit(&mut state, &id, EventKind::Started);
        if let Some(code) = self.take_exit_on_start(&name) {
            self.end_run(&mut state, &id, code);
        }
        Ok(())
    }

    /// Immediate: the process ends on SIGTERM with 0 whatever `grace` is.
    pub async fn stop(&self, id: &str, _grace: Duration) -> Result<(), BackendError> {
        let _call = self.enter(Op::Stop, &self.target(id)).await?;
        let mut state = self.state();
        let Some(id) = state.find_id(id) else {
            return Err(not_found(Op::Stop, id));
        };
        if matches!(
            state.containers[&id].info.state,
            RunState::Running | RunState::Paused | RunState::Restarting
        ) {
            self.end_run(&mut state, &id, 0);
            self.emit(&mut state, &id, EventKind::Stopped);
        }
        Ok(())
    }

    pub async fn pause(&self, id: &str) -> Result<(), BackendError> {
        self.change_pause(id, Op::Pause, RunState::Running, RunState::Paused)
            .await
    }

    pub async fn unpause(&self, id: &str) -> Result<(), BackendError> {
        self.change_pause(id, Op::Unpause, RunState::Paused, RunState::Running)
            .await
    }

    /// Pausing a paused container, or unpausing one that is not paused, is no error (spawner's
    /// Docker backend reads Docker's answer so); pausing one that does not run is a `Conflict`.
    async fn change_pause(
        &self,
        id: &str,
        op: Op,
        from: RunState,
        to: RunState,
    ) -> Result<(), BackendError> {
        let name = self.target(id);
        let _call = self.enter(op, &name).await?;
        let mut state = self.state();
        let Some(id) = state.find_id(id) else {
            return Err(not_found(op, id));
        };
        let container = state.containers.get_mut(&id).expect("found above");
        match container.info.state {
            now if now == to => Ok(()),
            now if now == from => {
                container.info.state = to;
                let kind = match op {
                    Op::Pause => EventKind::Paused,
                    _ => EventKind::Unpaused,
                };
                self.emit(&mut state, &id, kind);
                Ok(())
            }
            _ if op == Op::Unpause => Ok(()),
            _ => Err(conflict(op, &name, "the container is not running")),
        }
    }

    /// Forced, like spawner's Docker backend: a running container is killed first.
    pub async fn remove(&self, id: &str) -> Result<(), BackendError> {
        let _call = self.enter(Op::Remove, &self.target(id)).await?;
        let mut state = self.state();
        let Some(id) = state.find_id(id) else {
            return Err(not_found(Op::Remove, id));
        };
        self.destroy(&mut state, &id);
        Ok(())
    }

    /// Exits with what the test set ([`MemoryEngine::set_exec_exit`]), 0 unless told; prints
    /// nothing. Only in a running container, as Docker's.
    pub async fn exec(&self, id: &str, _cmd: &[String]) -> Result<ExecOutput, BackendError> {
        let name = self.target(id);
        let _call = self.enter(Op::Exec, &name).await?;
        let run_state = self.state().find(id).map(|c| c.info.state);
        match run_state {
            None => return Err(not_found(Op::Exec, id)),
            Some(RunState::Running) => {}
            Some(_) => return Err(conflict(Op::Exec, &name, "the container is not running")),
        }
        Ok(ExecOutput {
            exit_code: Some(self.exec_exit(&name)),
        })
    }

    /// The counters the test added ([`MemoryEngine::add_traffic`]) in this run.
    pub async fn stats(&self, id: &str) -> Result<Stats, BackendError> {
        let _call = self.enter(Op::Stats, &self.target(id)).await?;
        let state = self.state();
        let found = state.find(id).map(|c| c.stats);
        found.ok_or_else(|| not_found(Op::Stats, id))
    }

    /// The run of container `id` ends with `code` (a stop, a crash, an exit during its start).
    pub(super) fn end_run(&self, state: &mut State, id: &str, code: i64) {
        let finished = state.tick();
        let Some(container) = state.containers.get_mut(id) else {
            return;
        };
        let info = &mut container.info;
        if !matches!(
            info.state,
            RunState::Running | RunState::Paused | RunState::Restarting
        ) {
            return;
        }
        info.state = RunState::Exited;
        info.finished_at = Some(finished);
        info.exit_code = Some(code);
        info.health = Health::None;
        info.ips.clear();
        let exit_code = Some(code);
        self.emit(state, id, EventKind::Died { exit_code });
    }

    /// Kills (if it runs) and removes container `id`.
    pub(super) fn destroy(&self, state: &mut State, id: &str) {
        self.end_run(state, id, 137);
        if state.containers.remove(id).is_some() {
            self.emit(state, id, EventKind::Destroyed);
        }
    }
}
