//! What can go wrong in the lifecycle, one type per kind of operation: a wake ([`StartError`],
//! shared by every request that waits on it), a capacity refusal ([`CapacityFull`]), a pull
//! ([`PullError`], shared by every deploy that waits on it) and an operation of the private API
//! ([`OpError`]). Each keeps the engine's error as its source.

use std::sync::Arc;

use crate::backend::BackendError;

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
    #[error("the registry has no image {image:?} ({reason})")]
    NotFound { image: String, reason: String },
    #[error("pulling image {image:?} failed: {reason}; check that its registry is reachable and the credentials in registry_auth_file")]
    Failed { image: String, reason: String },
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
    #[error("{0}; try again later, or stop an instance first (POST /deploy/{{name}}/stop)")]
    Capacity(#[from] CapacityFull),
    #[error(transparent)]
    Pull(#[from] PullError),
    #[error(
        "volume {0:?} exists and is not this instance's; choose another instance or volume name"
    )]
    VolumeTaken(String),
    #[error("the new container of {name} failed ({reason}); {restored}")]
    RecreateFailed {
        name: String,
        reason: String,
        restored: String,
    },
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
