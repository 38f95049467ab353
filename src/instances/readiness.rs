//! Waiting for a run of a container to be ready, in the order of DESIGN.md: the Docker
//! `HEALTHCHECK` (its command run by spawner at once, or `healthy` from the events stream,
//! whichever comes first), the `health-check` label probed at the container's IP, a TCP connect
//! on the service port. Index changes wake the waits; probes retry
//! with [`Backoff::probe`]. A run is identified by its start time.

use std::net::SocketAddr;
use std::time::SystemTime;

use futures_util::stream::{FuturesUnordered, StreamExt};

use super::{Instance, Instances, StartError};
use crate::backoff::Backoff;
use crate::domain::{Health, RunState};
use crate::error::chain;

type Run = Option<SystemTime>;

/// How many runs of an image's HEALTHCHECK command may be under way at once for one start.
const CHECKS_AT_ONCE: usize = 3;

enum Check {
    Passed,
    NotYet,
    CannotRun,
}

impl Instances {
    /// Resolves when the run that started at `run` is over (exited, removed or replaced).
    pub(super) async fn wait_run_ended(&self, name: &str, run: Run) {
        let mut changes = self.changes.subscribe();
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

    /// Why the run that started at `run` is over.
    pub(super) fn ended(&self, name: &str, run: Run) -> StartError {
        match self.get(name) {
            Some(i) if i.info.started_at == run && i.info.state != RunState::Running => {
                StartError::Exited {
                    name: name.into(),
                    code: i.info.exit_code,
                }
            }
            Some(_) => StartError::Superseded { name: name.into() },
            None => StartError::Gone(name.into()),
        }
    }

    pub(super) async fn wait_healthy(&self, name: &str, run: Run) -> Result<(), StartError> {
        let mut changes = self.changes.subscribe();
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

    /// The image's `HEALTHCHECK`: its own command, run in the container right after the start and
    /// again (with [`Backoff::probe`]) until it exits 0, so a wake does not wait for Docker's first
    /// health interval; Docker's verdict still counts, and `unhealthy` ends the wait. A command
    /// that cannot run (no shell in the image, say) leaves the decision to Docker.
    pub(super) async fn wait_healthy_or_checked(
        &self,
        instance: &Instance,
        run: Run,
    ) -> Result<(), StartError> {
        let name = instance.name();
        let own_check = async {
            match &instance.info.healthcheck {
                Some(command) => self.run_healthcheck(instance, command).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            docker = self.wait_healthy(name, run) => docker,
            () = own_check => Ok(()),
        }
    }

    /// Returns when the command passed; never, when it cannot run. An exec takes tens of ms,
    /// most of it before the command itself runs, so attempts overlap (a new one after each
    /// [`Backoff::probe`] delay, at most [`CHECKS_AT_ONCE`] under way): the first attempt whose
    /// command runs after the app is ready ends the wait.
    async fn run_healthcheck(&self, instance: &Instance, command: &[String]) {
        let (name, id) = (instance.name(), &instance.info.id);
        let attempt = || async {
            let exec = self.backend.exec(id, command);
            match tokio::time::timeout(self.settings.http_probe_timeout, exec).await {
                Ok(Ok(out)) if out.exit_code == Some(0) => Check::Passed,
                // The command is not there or cannot run: Docker's own checks will say.
                Ok(Ok(out)) if matches!(out.exit_code, Some(126 | 127)) => Check::CannotRun,
                // Not (yet) passing, or slower than a probe may be: again.
                Ok(Ok(_)) | Err(_) => Check::NotYet,
                Ok(Err(e)) => {
                    log::debug!("{name}: cannot run its HEALTHCHECK command: {}", chain(&e));
                    Check::CannotRun
                }
            }
        };
        let mut backoff = Backoff::probe();
        let mut under_way = FuturesUnordered::new();
        let mut next = tokio::time::Instant::now();
        loop {
            if under_way.len() < CHECKS_AT_ONCE && tokio::time::Instant::now() >= next {
                under_way.push(attempt());
                next = tokio::time::Instant::now() + backoff.next_delay();
            }
            tokio::select! {
                Some(check) = under_way.next() => match check {
                    Check::Passed => {
                        log::debug!("{name}: its HEALTHCHECK command passed");
                        return;
                    }
                    Check::CannotRun => break,
                    Check::NotYet => {}
                },
                () = tokio::time::sleep_until(next), if under_way.len() < CHECKS_AT_ONCE => {}
            }
        }
        std::future::pending::<()>().await
    }

    fn target(instance: &Instance, port: u16) -> Result<SocketAddr, StartError> {
        instance
            .ip()
            .map(|ip| SocketAddr::new(ip, port))
            .ok_or_else(|| StartError::NoAddress(instance.name().into()))
    }

    pub(super) async fn probe_http(
        &self,
        instance: &Instance,
        port: u16,
        path: &str,
    ) -> Result<(), StartError> {
        let url = format!("http://{}{path}", Self::target(instance, port)?);
        let ok = self.settings.http_probe_ok_status;
        Backoff::probe()
            .retry(|| async {
                match self.probe_client.get(&url).send().await {
                    Ok(response) => response.status().as_u16() == ok,
                    Err(_) => false,
                }
            })
            .await;
        Ok(())
    }

    pub(super) async fn probe_tcp(&self, instance: &Instance, port: u16) -> Result<(), StartError> {
        let addr = Self::target(instance, port)?;
        let timeout = self.settings.http_probe_timeout;
        Backoff::probe()
            .retry(|| async {
                matches!(
                    tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await,
                    Ok(Ok(_))
                )
            })
            .await;
        Ok(())
    }
}
