//! How a container tells it is ready to serve, chosen from its description in the order of
//! DESIGN.md: the image's Docker `HEALTHCHECK`, the `health-check` label, a TCP connect on a
//! known service port, else a fixed delay. Pure: the waits themselves are the [`super::prober`]'s.

use crate::domain::{ContainerInfo, InstanceLabels};

/// How a container tells it is ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// The image's Docker `HEALTHCHECK`: its command run by spawner right after the start (and
    /// again until it passes), or Docker's `healthy`, whichever comes first.
    DockerHealth,
    /// The `health-check` label: GET this path and query on the container's IP and this port.
    Http { port: u16, path: String },
    /// A known service port: a TCP connect.
    Tcp { port: u16 },
    /// Nothing known: wait `redirect_timeout`.
    Delay,
}

impl Readiness {
    /// The rule for a container: its `HEALTHCHECK`, its `health-check` label, its known service
    /// `port`, else a delay.
    pub fn of(info: &ContainerInfo, port: u16, port_known: bool) -> Self {
        if info.has_healthcheck() {
            return Readiness::DockerHealth;
        }
        if let Some(check) = InstanceLabels::of(info).health_check() {
            return Readiness::Http {
                port: check.port.unwrap_or(80),
                path: check.path,
            };
        }
        if port_known {
            Readiness::Tcp { port }
        } else {
            Readiness::Delay
        }
    }

    /// Its kind, for the metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Readiness::DockerHealth => "healthcheck",
            Readiness::Http { .. } => "http",
            Readiness::Tcp { .. } => "tcp",
            Readiness::Delay => "delay",
        }
    }

    /// What a running instance that is not ready yet is waiting for, in words.
    pub fn waiting_for(&self) -> &'static str {
        match self {
            Readiness::DockerHealth => "running; waiting for its health check to pass",
            Readiness::Http { .. } => "running; waiting for its health-check URL to answer",
            Readiness::Tcp { .. } => "running; waiting for it to accept connections",
            Readiness::Delay => "running; giving it a moment to start",
        }
    }
}
