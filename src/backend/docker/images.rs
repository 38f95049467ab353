//! Images: whether one is present, and pulling one from its registry. A pull's failure says
//! which it was: the registry has no such image (`NotFound`), the daemon is away
//! (`Unavailable`), or the registry could not be reached or refused (`Failed`, with its words).

use bollard::auth::DockerCredentials;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use super::convert::{error, exists};
use super::DockerBackend;
use crate::backend::{BackendError, Op, RegistryAuth};

/// What registries say when they have no such image or tag.
const NOT_FOUND_WORDS: [&str; 5] = [
    "manifest unknown",
    "not found",
    "does not exist",
    "name unknown",
    "repository name not known",
];

/// A pull failure the registry (through the daemon) reported in `message`.
fn pull_failed(image: &str, message: String) -> BackendError {
    let lower = message.to_lowercase();
    let source = message.into();
    let target = image.to_string();
    if NOT_FOUND_WORDS.iter().any(|w| lower.contains(w)) {
        BackendError::NotFound {
            op: Op::Pull,
            target,
            source,
        }
    } else {
        BackendError::Failed {
            op: Op::Pull,
            target,
            source,
        }
    }
}

impl DockerBackend {
    pub async fn image_exists(&self, image: &str) -> Result<bool, BackendError> {
        let answer = self.docker.inspect_image(image).await;
        exists(answer.map_err(error(Op::InspectImage, image)))
    }

    pub async fn pull(&self, image: &str, auth: Option<RegistryAuth>) -> Result<(), BackendError> {
        let options = CreateImageOptionsBuilder::default()
            .from_image(image)
            .build();
        let credentials = auth.map(|a| DockerCredentials {
            username: Some(a.username),
            password: Some(a.password),
            serveraddress: Some(a.server),
            ..Default::default()
        });
        let mut progress = self.docker.create_image(Some(options), None, credentials);
        let mut last_logged = String::new();
        while let Some(step) = progress.next().await {
            let step = match step {
                Ok(step) => step,
                Err(bollard::errors::Error::DockerResponseServerError { message, .. }) => {
                    return Err(pull_failed(image, message))
                }
                Err(e) => return Err(error(Op::Pull, image)(e)),
            };
            if let Some(detail) = step.error_detail.and_then(|d| d.message) {
                return Err(pull_failed(image, detail));
            }
            // Layer progress repeats many times a second: log each status once per layer.
            if let Some(status) = step.status {
                let line = format!("{status} {}", step.id.unwrap_or_default());
                if line != last_logged {
                    log::info!("pull {image}: {line}");
                    last_logged = line;
                }
            }
        }
        Ok(())
    }
}
