//! How a container tells it is ready to serve, chosen from its description in the order of
//! DESIGN.md: the image's Docker `HEALTHCHECK`, the `health-check` label, a TCP connect on a
//! known service port, else a fixed delay. Pure: the waits themselves are the [`super::prober`]'s.

use actix_web::http::Uri;

use crate::domain::{labels, ContainerInfo};

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

/// The `health-check` label (or the older `healthcheck`) as an `http://` URL; one that is not
/// is ignored, with a warning.
pub(super) fn health_check_uri(info: &ContainerInfo) -> Option<Uri> {
    let raw = labels::HEALTH_CHECK
        .iter()
        .find_map(|key| info.label(key))?;
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
