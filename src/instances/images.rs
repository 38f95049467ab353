//! Getting an instance's image onto the Docker host, by its pull policy: one pull however many
//! deploys ask for the same image at once (its own [`Flights`]), with the credentials
//! `registry_auth_file` holds for the image's registry.

use std::path::PathBuf;
use std::sync::Arc;

use super::errors::RegistryAuthError;
use super::flights::{landed, Flight, Flights};
use super::{OpError, PullError};
use crate::backend::Backend;
use crate::configuration::RegistrySettings;
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
        registry: &RegistrySettings,
        metrics: Arc<Metrics>,
        tasks: Tasks,
    ) -> Self {
        Self {
            backend,
            pulls: Arc::default(),
            registry_auth_file: registry.registry_auth_file.clone(),
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
            Err(PullError::ShuttingDown {
                image: image.to_string(),
            })
        })
    }

    async fn run_pull(self, flight: Flight<Result<(), PullError>>) {
        let image = flight.key.clone();
        log::info!("pulling image {image}");
        let outcome = match self.registry_auth(&image) {
            Err(e) => Err(PullError::Credentials {
                image: image.clone(),
                source: Arc::new(e),
            }),
            Ok(auth) => self
                .backend
                .pull(&image, auth)
                .await
                .map_err(|e| PullError::from_backend(&image, e)),
        };
        let result = outcome.as_ref().map_or_else(PullError::metric, |()| "ok");
        self.metrics.pulls.with_label_values(&[result]).inc();
        match &outcome {
            Ok(()) => log::info!("pulled image {image}"),
            Err(e) => log::warn!("{}", chain(e)),
        }
        flight.land(outcome);
    }

    /// The credentials for `image`'s registry from `registry_auth_file`, read at each pull so a
    /// new `docker login` takes effect without a restart.
    fn registry_auth(
        &self,
        image: &str,
    ) -> Result<Option<registry::RegistryAuth>, RegistryAuthError> {
        let Some(path) = &self.registry_auth_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|source| RegistryAuthError::Read {
            path: path.clone(),
            source,
        })?;
        let all = registry::parse_config(&text).map_err(|source| RegistryAuthError::Parse {
            path: path.clone(),
            source,
        })?;
        Ok(registry::for_image(&all, image))
    }
}
