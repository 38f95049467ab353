//! What can go wrong in the lifecycle, one type per kind of operation: a wake ([`StartError`],
//! shared by every request that waits on it), a capacity refusal ([`CapacityFull`]), a pull
//! ([`PullError`], shared by every deploy that waits on it; [`RegistryAuthError`] when its
//! credentials cannot be read) and an operation of the private API ([`OpError`]). Each says its
//! own sentence and keeps what caused it (the engine's error, an I/O or parse error) as its
//! `source`, never in its text: the log prints the whole chain once.

use std::path::PathBuf;
use std::sync::Arc;

use crate::backend::BackendError;
use crate::domain::registry::ConfigFileError;

/// Why an instance could not be made ready. Cheap to clone: every waiter gets the same one.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StartError {
    #[error("instance {0} no longer exists")]
    Gone(String),
    #[error("instance {name} could not be started")]
    StartFailed {
        name: String,
        #[source]
        source: Arc<BackendError>,
    },
    #[error("instance {name} was restarted by someone else while it was starting")]
    Superseded { name: String },
    #[error("instance {name} stopped while starting ({})", exit_text(*.code))]
    Exited { name: String, code: Option<i64> },
    #[error("instance {0} reported itself unhealthy and was stopped")]
    Unhealthy(String),
    #[error("instance {0} did not become ready in time")]
    NeverReady(String),
    #[error("instance {0} has no address on its network")]
    NoAddress(String),
    #[error("the container engine cannot be reached")]
    Unavailable(#[source] Arc<BackendError>),
    #[error("spawner is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Capacity(#[from] CapacityFull),
}

fn exit_text(code: Option<i64>) -> String {
    match code {
        Some(code) => format!("exit code {code}"),
        None => "exit code unknown".into(),
    }
}

impl StartError {
    /// An engine failure while starting `name`, by kind.
    pub(super) fn from_backend(name: &str, e: BackendError) -> Self {
        if e.is_not_found() {
            StartError::Gone(name.into())
        } else if e.is_unavailable() {
            StartError::Unavailable(Arc::new(e))
        } else {
            StartError::StartFailed {
                name: name.into(),
                source: Arc::new(e),
            }
        }
    }
}

/// Refused: the cap is reached and no running instance may be stopped to make room.
#[derive(Debug, Clone, thiserror::Error)]
#[error("capacity reached: {max} instances are running (max_running) and none has been idle long enough to be stopped")]
pub struct CapacityFull {
    pub max: usize,
}

impl CapacityFull {
    /// What a refused client is told to wait (`Retry-After`, seconds): a place frees when an
    /// instance goes to sleep, not within a second or two.
    pub const RETRY_AFTER_SECS: u64 = 10;
}

/// Why a pull failed, cheap to clone: every deploy waiting for it gets the same one.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PullError {
    #[error("the registry has no image {image:?}")]
    NotFound {
        image: String,
        #[source]
        source: Arc<BackendError>,
    },
    #[error("pulling image {image:?} failed; check that its registry is reachable and the credentials in registry_auth_file")]
    Failed {
        image: String,
        #[source]
        source: Arc<BackendError>,
    },
    #[error("image {image:?} was not pulled: the container engine (Docker) cannot be reached; check that it runs, then try again")]
    Unavailable {
        image: String,
        #[source]
        source: Arc<BackendError>,
    },
    #[error("image {image:?} was not pulled: the registry credentials could not be read")]
    Credentials {
        image: String,
        #[source]
        source: Arc<RegistryAuthError>,
    },
    #[error("pulling image {image:?} was given up: spawner is shutting down")]
    ShuttingDown { image: String },
}

impl PullError {
    /// The engine's failure to pull `image`, by kind.
    pub(super) fn from_backend(image: &str, e: BackendError) -> Self {
        let (image, source) = (image.to_string(), Arc::new(e));
        if source.is_not_found() {
            PullError::NotFound { image, source }
        } else if source.is_unavailable() {
            PullError::Unavailable { image, source }
        } else {
            PullError::Failed { image, source }
        }
    }

    /// Its `result` label in `spawner_pulls_total`.
    pub fn metric(&self) -> &'static str {
        match self {
            PullError::NotFound { .. } => "not_found",
            PullError::Failed { .. }
            | PullError::Unavailable { .. }
            | PullError::Credentials { .. }
            | PullError::ShuttingDown { .. } => "failed",
        }
    }
}

/// Why `registry_auth_file` gave no credentials (it is read at each pull).
#[derive(Debug, thiserror::Error)]
pub enum RegistryAuthError {
    #[error("cannot read registry_auth_file {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("registry_auth_file {} cannot be used", .path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: ConfigFileError,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("no instance named {0:?} is managed by spawner")]
    NotFound(String),
    #[error("image {0:?} is not present on the Docker host; build or pull it first")]
    ImageNotFound(String),
    #[error("network {0:?} does not exist on the Docker host; create it (docker network create {0}) or choose another")]
    NetworkNotFound(String),
    #[error("network {network:?} has no free address left in its subnet {subnet}; delete instances or give the network a larger subnet")]
    NetworkFull { network: String, subnet: String },
    #[error("invalid `idle_action` \"pause\": a Swarm task cannot be paused (engine = swarm); write stop or leave it out")]
    PauseOnSwarm,
    #[error("instance {0} cannot be paused: a Swarm task cannot be paused (engine = swarm); stop it instead")]
    PauseOnSwarmEngine(String),
    #[error("instance {name} is {state}, not running: only a running instance can be paused; start it first")]
    NotRunning { name: String, state: &'static str },
    #[error("the name {0:?} is already taken by another container; choose another name or delete it first")]
    NameTaken(String),
    #[error("container {name} was created but could not start; it has been removed again")]
    StartFailed {
        name: String,
        #[source]
        source: BackendError,
    },
    #[error("the container engine (Docker) cannot be reached; check that it runs and that spawner can reach it, then try again")]
    Unavailable(#[source] BackendError),
    #[error("the container engine (Docker) refused the request")]
    Engine(#[source] BackendError),
    /// Not a cause but the refusal itself, with what the caller can do about it.
    #[error("{0}; try again later, or stop an instance first (POST /deploy/{{name}}/stop)")]
    Capacity(CapacityFull),
    #[error(transparent)]
    Pull(#[from] PullError),
    #[error(
        "volume {0:?} exists and is not this instance's; choose another instance or volume name"
    )]
    VolumeTaken(String),
    #[error("the new container of {name} could not be created; {restored}")]
    RecreateFailed {
        name: String,
        restored: Restored,
        #[source]
        source: BackendError,
    },
    #[error("the new container of {name} was created but did not start; it is kept, with the data, and the next request starts it again")]
    RecreatedNotStarted {
        name: String,
        #[source]
        source: BackendError,
    },
}

/// What became of an instance whose new container could not be created.
#[derive(Debug)]
pub enum Restored {
    AsBefore { image: String },
    Failed,
}

impl std::fmt::Display for Restored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Restored::AsBefore { image } => {
                write!(
                    f,
                    "the instance runs {image} as before; its data is unchanged"
                )
            }
            Restored::Failed => f.write_str(
                "restoring the old container failed too; its volumes (data) are kept: deploy it \
                 again with the same name and volumes",
            ),
        }
    }
}

// By hand, not `#[from]`: a refusal at capacity is the answer itself, not its cause.
impl From<CapacityFull> for OpError {
    fn from(full: CapacityFull) -> Self {
        OpError::Capacity(full)
    }
}

impl From<BackendError> for OpError {
    fn from(e: BackendError) -> Self {
        use crate::backend::Op;
        match &e {
            _ if e.is_unavailable() => OpError::Unavailable(e),
            // The container went away under the operation (a `PUT` racing a `DELETE`): the
            // instance is not there, which is the client's 404, not the engine's failure.
            BackendError::NotFound {
                op: Op::Inspect | Op::Start | Op::Stop | Op::Pause | Op::Unpause | Op::Remove,
                target,
                ..
            } => OpError::NotFound(target.clone()),
            _ => OpError::Engine(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Op;
    use crate::error::chain;

    fn engine(op: Op, said: &str) -> BackendError {
        BackendError::Failed {
            op,
            target: "minion-1".into(),
            source: said.to_string().into(),
        }
    }

    #[test]
    fn a_failed_pull_keeps_the_registrys_answer_as_its_cause_not_in_its_sentence() {
        let e = PullError::from_backend("r.example/app:1", engine(Op::Pull, "unauthorized"));
        assert!(!e.to_string().contains("unauthorized"), "{e}");
        assert_eq!(
            chain(&e).matches("unauthorized").count(),
            1,
            "{}",
            chain(&e)
        );
        let gone = BackendError::Unavailable {
            op: Op::Pull,
            source: "connection refused".into(),
        };
        let e = PullError::from_backend("r.example/app:1", gone);
        assert!(matches!(e, PullError::Unavailable { .. }), "{e:?}");
    }

    #[test]
    fn an_unreadable_registry_auth_file_keeps_the_io_error_as_its_cause() {
        let e = RegistryAuthError::Read {
            path: "/run/secrets/config.json".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let e = PullError::Credentials {
            image: "r.example/app:1".into(),
            source: Arc::new(e),
        };
        let text = chain(&e);
        assert!(
            text.contains("/run/secrets/config.json: entity not found"),
            "{text}"
        );
    }

    #[test]
    fn a_failed_recreate_says_what_became_of_the_instance_and_keeps_the_engines_error() {
        let e = OpError::RecreateFailed {
            name: "minion-1".into(),
            restored: Restored::AsBefore {
                image: "app:1".into(),
            },
            source: engine(Op::Create, "no space left on device"),
        };
        assert!(e.to_string().contains("runs app:1 as before"), "{e}");
        let text = chain(&e);
        assert_eq!(text.matches("no space left").count(), 1, "{text}");
    }

    #[test]
    fn a_refusal_at_capacity_is_said_once_not_again_as_its_own_cause() {
        let e = OpError::from(CapacityFull { max: 2 });
        assert!(std::error::Error::source(&e).is_none());
        assert_eq!(chain(&e).matches("capacity reached").count(), 1);
    }
}
