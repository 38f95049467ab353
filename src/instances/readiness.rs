//! Waiting for a run of a container to be ready, in the order of DESIGN.md: the Docker
//! `HEALTHCHECK` (`healthy` from the events stream), the `health-check` label probed at the
//! container's IP, a TCP connect on the service port. Index changes wake the waits; probes retry
//! with [`Backoff::probe`]. A run is identified by its start time.

use std::net::SocketAddr;
use std::time::SystemTime;

use super::{Instance, Instances, StartError};
use crate::backoff::Backoff;
use crate::domain::{Health, RunState};

type Run = Option<SystemTime>;

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
