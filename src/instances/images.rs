//! Getting an instance's image onto the Docker host, by its pull policy: one pull however many
//! deploys ask for the same image at once, in a task of its own (a client that gives up does not
//! cancel it), with the credentials `registry_auth_file` holds for the image's registry.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::watch;

use super::transitions::remove_own;
use super::{Instances, OpError};
use crate::backend::BackendError;
use crate::domain::{registry, PullPolicy};
use crate::error::chain;

/// Why a pull failed, cheap to clone: every deploy waiting for it gets the same one.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PullError {
    #[error("the registry has no image {image:?} ({reason})")]
    NotFound { image: String, reason: String },
    #[error("pulling image {image:?} failed: {reason}; check that its registry is reachable and the credentials in registry_auth_file")]
    Failed { image: String, reason: String },
}

type PullResult = Option<Result<(), PullError>>;
/// Pulls under way, by image.
pub(super) type Pulls = HashMap<String, watch::Receiver<PullResult>>;

impl Instances {
    /// Makes sure `image` is on the host, pulling it as `policy` says.
    pub(super) async fn ensure_image(
        self: &Arc<Self>,
        image: &str,
        policy: PullPolicy,
    ) -> Result<(), OpError> {
        if policy != PullPolicy::Always && self.backend.image_exists(image).await? {
            return Ok(());
        }
        if policy == PullPolicy::Never {
            return Err(OpError::ImageNotFound(image.to_string()));
        }
        Ok(self.pull_once(image).await?)
    }

    async fn pull_once(self: &Arc<Self>, image: &str) -> Result<(), PullError> {
        let mut result = {
            let mut pulls = self.pulls.lock().unwrap_or_else(|e| e.into_inner());
            match pulls.get(image) {
                Some(rx) => rx.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    pulls.insert(image.to_string(), rx.clone());
                    let guard = PullGuard {
                        instances: Arc::clone(self),
                        image: image.to_string(),
                        rx: rx.clone(),
                    };
                    self.tasks.spawn(Arc::clone(self).run_pull(guard, tx));
                    rx
                }
            }
        };
        let outcome = result
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|r| r.clone());
        outcome.unwrap_or_else(|| {
            Err(PullError::Failed {
                image: image.to_string(),
                reason: "spawner is shutting down".into(),
            })
        })
    }

    async fn run_pull(self: Arc<Self>, guard: PullGuard, tx: watch::Sender<PullResult>) {
        let image = guard.image.clone();
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
        drop(guard);
        tx.send_replace(Some(outcome));
    }

    /// The credentials for `image`'s registry from `registry_auth_file`, read at each pull so a
    /// new `docker login` takes effect without a restart.
    fn registry_auth(&self, image: &str) -> Result<Option<registry::RegistryAuth>, String> {
        let Some(path) = &self.settings.registry_auth_file else {
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

/// Takes a pull out of the map when its task ends, however it ends.
struct PullGuard {
    instances: Arc<Instances>,
    image: String,
    rx: watch::Receiver<PullResult>,
}

impl Drop for PullGuard {
    fn drop(&mut self) {
        let mut pulls = self
            .instances
            .pulls
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        remove_own(&mut pulls, &self.image, &self.rx);
    }
}
