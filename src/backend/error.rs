//! What went wrong in an engine call: the operation ([`Op`]) and the kind of failure
//! ([`BackendError`]), with the engine's own error kept as the source.

use std::fmt;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The operations, named for errors, logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Connect,
    List,
    Inspect,
    InspectImage,
    InspectNetwork,
    CreateNetwork,
    JoinNetwork,
    RemoveNetwork,
    Create,
    Start,
    Stop,
    Pause,
    Unpause,
    Remove,
    Events,
    Exec,
    Stats,
    Pull,
    InspectVolume,
    CreateVolume,
    RemoveVolume,
    ListVolumes,
}

impl Op {
    /// Its name as a metric label: snake_case (`inspect_image`); errors and logs write it with
    /// spaces (`inspect image`).
    pub fn label(self) -> &'static str {
        match self {
            Op::Connect => "connect",
            Op::List => "list",
            Op::Inspect => "inspect",
            Op::InspectImage => "inspect_image",
            Op::InspectNetwork => "inspect_network",
            Op::CreateNetwork => "create_network",
            Op::JoinNetwork => "join_network",
            Op::RemoveNetwork => "remove_network",
            Op::Create => "create",
            Op::Start => "start",
            Op::Stop => "stop",
            Op::Pause => "pause",
            Op::Unpause => "unpause",
            Op::Remove => "remove",
            Op::Events => "events",
            Op::Exec => "exec",
            Op::Stats => "stats",
            Op::Pull => "pull",
            Op::InspectVolume => "inspect_volume",
            Op::CreateVolume => "create_volume",
            Op::RemoveVolume => "remove_volume",
            Op::ListVolumes => "list_volumes",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label().replace('_', " "))
    }
}

/// Why an operation failed. `target` is the container, image or network it was about.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{op} {target}: not found")]
    NotFound {
        op: Op,
        target: String,
        #[source]
        source: BoxError,
    },
    #[error("{op} {target}: refused in its current state")]
    Conflict {
        op: Op,
        target: String,
        #[source]
        source: BoxError,
    },
    #[error("{op} {target}: refused as invalid")]
    Rejected {
        op: Op,
        target: String,
        #[source]
        source: BoxError,
    },
    #[error("{op}: the container engine cannot be reached")]
    Unavailable {
        op: Op,
        #[source]
        source: BoxError,
    },
    #[error("{op} {target}: the container engine failed")]
    Failed {
        op: Op,
        target: String,
        #[source]
        source: BoxError,
    },
}

impl BackendError {
    /// The kind of failure, for the metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            BackendError::NotFound { .. } => "not_found",
            BackendError::Conflict { .. } => "conflict",
            BackendError::Rejected { .. } => "rejected",
            BackendError::Unavailable { .. } => "unavailable",
            BackendError::Failed { .. } => "failed",
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, BackendError::NotFound { .. })
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, BackendError::Unavailable { .. })
    }
}

/// For removals and stops: a container that is already gone is what was asked for.
pub fn gone_is_done(result: Result<(), BackendError>) -> Result<(), BackendError> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// Runs `describe` on each of `items`, `concurrency` at once, for a listing: one that is gone
/// meanwhile (removed between the list and its inspection) is left out, any other failure fails.
pub async fn described<T, U, F, Fut>(
    items: Vec<T>,
    concurrency: usize,
    describe: F,
) -> Result<Vec<U>, BackendError>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<Option<U>, BackendError>>,
{
    use futures_util::{StreamExt, TryStreamExt};
    let found: Vec<Option<U>> = futures_util::stream::iter(items)
        .map(|item| {
            let described = describe(item);
            async move {
                match described.await {
                    Err(e) if e.is_not_found() => Ok(None),
                    other => other,
                }
            }
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}
