//! The prober: waits for a run of a container to be ready by its [`Readiness`] rule. The Docker
//! `HEALTHCHECK` (its command run by spawner at once, or `healthy` from the events stream,
//! whichever comes first), the `health-check` label probed at the container's IP, a TCP connect
//! on the service port, or a delay. Index changes wake the waits; probes retry with
//! [`Backoff::probe`]. A run is identified by its start time. It owns the probe client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::readiness::Readiness;
use super::store::{Run, Store};
use super::{Instance, StartError};
use crate::backend::Backend;
use crate::backoff::Backoff;
use crate::configuration::ReadinessSettings;
use crate::error::chain;

/// How long the first run of an image's HEALTHCHECK command waits for the app to listen on its
/// service port (an app may answer its check before, or without, listening there).
const LISTEN_GATE: Duration = Duration::from_secs(2);
/// How often it tries to connect meanwhile.
const LISTEN_POLL: Duration = Duration::from_millis(3);

pub(super) struct Prober {
    backend: Backend,
    store: Arc<Store>,
    /// One client, no kept connections (each run of a container is new).
    client: reqwest::Client,
    /// How long one probe (a connect, a GET, a HEALTHCHECK command) may take.
    timeout: Duration,
    /// The status the `health-check` URL answers when ready.
    ok_status: u16,
    /// How long an instance with no rule is given.
    delay: Duration,
}

impl Prober {
    pub fn new(backend: Backend, store: Arc<Store>, readiness: &ReadinessSettings) -> Self {
        let timeout = readiness.http_probe_timeout;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .pool_max_idle_per_host(0)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client without TLS always builds");
        Self {
            backend,
            store,
            client,
            timeout,
            ok_status: readiness.http_probe_ok_status,
            delay: readiness.redirect_timeout,
        }
    }

    /// Resolves when the run of `instance` that started at `run` is ready by its rule.
    pub async fn ready(&self, instance: &Instance, run: Run) -> Result<(), StartError> {
        match &instance.readiness {
            Readiness::DockerHealth => self.healthy_or_checked(instance, run).await,
            Readiness::Http { port, path } => self.probe_http(instance, *port, path).await,
            Readiness::Tcp { port } => self.probe_tcp(instance, *port).await,
            Readiness::Delay => {
                tokio::time::sleep(self.delay).await;
                Ok(())
            }
        }
    }

    /// The image's `HEALTHCHECK`: its own command, run in the container by spawner so a wake does
    /// not wait for Docker's first health interval; Docker's verdict still counts, and
    /// `unhealthy` ends the wait. A command that cannot run (no shell in the image, say) leaves
    /// the decision to Docker.
    ///
    /// Each run is a `docker exec`, tens of ms, nearly all of it before the command itself runs
    /// (runc entering the container), and runs under way at once slow each other down. So the
    /// first run starts at once, while the app starts: a quick app listens before the command
    /// runs, and the check passes one exec after the start rather than one after the app is
    /// ready. If it fails and the service port is known, the next run waits until the app
    /// accepts connections there (a TCP connect every few ms, for at most [`LISTEN_GATE`]), so a
    /// slow app costs one exec more than that, not a series of them.
    async fn healthy_or_checked(&self, instance: &Instance, run: Run) -> Result<(), StartError> {
        let name = instance.name();
        let own_check = async {
            match &instance.info.healthcheck {
                Some(command) => self.run_healthcheck(instance, command).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            docker = self.store.docker_verdict(name, run) => docker,
            () = own_check => Ok(()),
        }
    }

    /// Until the app accepts a connection on its service port, or [`LISTEN_GATE`] has passed.
    async fn until_listening(&self, instance: &Instance) {
        let addr = Self::target(instance, instance.port);
        let timeout = self.timeout;
        let attempts = async {
            while !accepts(&addr, timeout).await {
                tokio::time::sleep(LISTEN_POLL).await;
            }
        };
        let _ = tokio::time::timeout(LISTEN_GATE, attempts).await;
    }

    /// Returns when the command passed; never, when it cannot run.
    async fn run_healthcheck(&self, instance: &Instance, command: &[String]) {
        let name = instance.name();
        let mut backoff = Backoff::probe();
        let mut first = true;
        loop {
            match self.healthcheck_once(instance, command).await {
                Attempt::Passed => {
                    log::debug!("{name}: its HEALTHCHECK command passed");
                    return;
                }
                Attempt::CannotRun => break,
                // Ran before the app listened: the next run when it does.
                Attempt::Failed if first && instance.port_known => {
                    self.until_listening(instance).await
                }
                Attempt::Failed => tokio::time::sleep(backoff.next_delay()).await,
            }
            first = false;
        }
        std::future::pending::<()>().await
    }

    /// One run of the image's HEALTHCHECK command.
    async fn healthcheck_once(&self, instance: &Instance, command: &[String]) -> Attempt {
        let attempt = self.backend.exec(&instance.info.id, command);
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(out)) if out.exit_code == Some(0) => Attempt::Passed,
            // The command is not there or cannot run: Docker's own checks will say.
            Ok(Ok(out)) if matches!(out.exit_code, Some(126 | 127)) => Attempt::CannotRun,
            // Not (yet) passing, or slower than a probe may be.
            Ok(Ok(_)) | Err(_) => Attempt::Failed,
            Ok(Err(e)) => {
                let name = instance.name();
                log::debug!("{name}: cannot run its HEALTHCHECK command: {}", chain(&e));
                Attempt::CannotRun
            }
        }
    }

    /// `ip:port`, or without an address (Swarm tasks are found by name: the engine's DNS on the
    /// instances' network answers with the running task's address) `name:port`, resolved at
    /// each attempt.
    fn target(instance: &Instance, port: u16) -> String {
        match instance.ip() {
            Some(ip) => SocketAddr::new(ip, port).to_string(),
            None => format!("{}:{port}", instance.name()),
        }
    }

    async fn probe_http(
        &self,
        instance: &Instance,
        port: u16,
        path: &str,
    ) -> Result<(), StartError> {
        let url = format!("http://{}{path}", Self::target(instance, port));
        let ok = self.ok_status;
        Backoff::probe()
            .retry(|| async {
                match self.client.get(&url).send().await {
                    Ok(response) => response.status().as_u16() == ok,
                    Err(_) => false,
                }
            })
            .await;
        Ok(())
    }

    async fn probe_tcp(&self, instance: &Instance, port: u16) -> Result<(), StartError> {
        let addr = Self::target(instance, port);
        let timeout = self.timeout;
        Backoff::probe().retry(|| accepts(&addr, timeout)).await;
        Ok(())
    }
}

/// What one run of a HEALTHCHECK command said.
enum Attempt {
    Passed,
    Failed,
    /// The command is not there or cannot run: Docker's own checks decide.
    CannotRun,
}

/// Whether a TCP connection to `addr` (`host:port`) is accepted within `timeout`.
async fn accepts(addr: &str, timeout: Duration) -> bool {
    let connect = tokio::net::TcpStream::connect(addr);
    matches!(tokio::time::timeout(timeout, connect).await, Ok(Ok(_)))
}
