//! Getting an instance's image onto the Docker host, by its pull policy: one pull however many
//! deploys ask for the same image at once (its own [`Flights`]), with the credentials
//! `registry_auth_file` holds for the image's registry.

use std::path::PathBuf;
use std::sync::Arc;

use super::flights::{landed, Flight, Flights};
use super::{OpError, PullError};
use crate::backend::{Backend, BackendError};
use crate::domain::{registry, PullPolicy};
use crate::error::chain;
use crate::metrics::Metrics;
use crate::tasks::Tasks;

#[derive(Clone)]
pub(super) struct Images {
    backend: Backend,
    pulls: Arc<Flights<Result<(), PullError>>>,
    /// A Docker `config.json` with registry credentials, read at each pull.
    registry_auth_file: Option<PathBuf>,
    metrics: Arc<Metrics>,
    tasks: Tasks,
}

impl Images {
    pub fn new(
        backend: Backend,
        registry_auth_file: Option<PathBuf>,
        metrics: Arc<Metrics>,
        tasks: Tasks,
    ) -> Self {
        Self {
            backend,
            pulls: Arc::default(),
            registry_auth_file,
            metrics,
            tasks,
        }
    }

    /// Makes sure `image` is on the host, pulling it as `policy` says.
    pub async fn ensure(&self, image: &str, policy: PullPolicy) -> Result<(), OpError> {
        if policy != PullPolicy::Always && self.backend.image_exists(image).await? {
            return Ok(());
        }
        if policy == PullPolicy::Never {
            return Err(OpError::ImageNotFound(image.to_string()));
        }
        Ok(self.pull_once(image).await?)
    }

    async fn pull_once(&self, image: &str) -> Result<(), PullError> {
        let this = self.clone();
        let flight = self
            .pulls
            .join_or_start(&self.tasks, image, |f| this.run_pull(f));
        landed(flight).await.unwrap_or_else(|| {
            Err(PullError::Failed {
                image: image.to_string(),
                reason: "spawner is shutting down".into(),
            })
        })
    }

    async fn run_pull(self, flight: Flight<Result<(), PullError>>) {
        let image = flight.key.clone();
        log::info!("pulling image {image}");
        let outcome = match self.registry_auth(&image) {
            Err(reason) => Err(PullError::Failed {
                image: image.clone(),
                reason,
            }),
            Ok(auth) => self
                .backend
                .pull(&image, auth)
                .await
                .map_err(|e| pull_error(&image, e)),
        };
        let result = match &outcome {
            Ok(()) => "ok",
            Err(PullError::NotFound { .. }) => "not_found",
            Err(PullError::Failed { .. }) => "failed",
        };
        self.metrics.pulls.with_label_values(&[result]).inc();
        match &outcome {
            Ok(()) => log::info!("pulled image {image}"),
            Err(e) => log::warn!("{e}"),
        }
        flight.land(outcome);
    }

    /// The credentials for `image`'s registry from `registry_auth_file`, read at each pull so a
    /// new `docker login` takes effect without a restart.
    fn registry_auth(&self, image: &str) -> Result<Option<registry::RegistryAuth>, String> {
        let Some(path) = &self.registry_auth_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read registry_auth_file {}: {e}", path.display()))?;
        let all = registry::parse_config(&text)
            .map_err(|e| format!("registry_auth_file {}: {e}", path.display()))?;
        Ok(registry::for_image(&all, image))
    }
}

fn pull_error(image: &str, e: BackendError) -> PullError {
    let image = image.to_string();
    let reason = match std::error::Error::source(&e) {
        Some(source) => source.to_string(),
        None => chain(&e),
    };
    if e.is_not_found() {
        PullError::NotFound { image, reason }
    } else if e.is_unavailable() {
        PullError::Failed {
            image,
            reason: format!("the Docker daemon cannot be reached ({reason})"),
        }
    } else {
        PullError::Failed { image, reason }
    }
}
