//! The private API's errors: [`DeployError`], each with its status and a sentence for the caller
//! (plus the engine's cause), and what every handler shares: its reply type, how it reads a body
//! and a query string.

use actix_web::error::QueryPayloadError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::error::chain;
use crate::instances::{CapacityFull, OpError, PullError};

use super::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body could not be read; send JSON of at most {} KiB", BODY_LIMIT / 1024)]
    Body(#[source] actix_web::Error),
    #[error("the query string could not be read; give each parameter once, as name=value")]
    Query(#[source] serde::de::value::Error),
    #[error("spawner has not read the container list from Docker yet; try again shortly")]
    NotSynced,
    #[error(transparent)]
    Op(#[from] OpError),
}

impl ResponseError for DeployError {
    fn status_code(&self) -> StatusCode {
        match self {
            DeployError::BadRequest(_) | DeployError::Query(_) => StatusCode::BAD_REQUEST,
            // Too large (413), or cut off (400): as the reader said.
            DeployError::Body(e) => e.as_response_error().status_code(),
            DeployError::NotSynced => StatusCode::SERVICE_UNAVAILABLE,
            DeployError::Op(e) => op_status(e),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            log::warn!("deploy API: {status}: {}", chain(self));
        }
        let retry = matches!(self, DeployError::Op(OpError::Capacity(_)))
            .then_some(CapacityFull::RETRY_AFTER_SECS);
        // `Op` is transparent: the cause is the engine's error under the operation's.
        ErrorBody::with_causes(self)
            .retry_after(retry)
            .respond(status)
    }
}

/// Every variant spelled out: a new one must choose its status here.
fn op_status(e: &OpError) -> StatusCode {
    match e {
        OpError::NotFound(_) | OpError::ImageNotFound(_) => StatusCode::NOT_FOUND,
        OpError::NetworkNotFound(_) | OpError::PauseOnSwarm | OpError::PauseOnSwarmEngine(_) => {
            StatusCode::BAD_REQUEST
        }
        OpError::NameTaken(_) | OpError::VolumeTaken(_) | OpError::NotRunning { .. } => {
            StatusCode::CONFLICT
        }
        OpError::StartFailed { .. }
        | OpError::Engine(_)
        | OpError::RecreateFailed { .. }
        | OpError::RecreatedNotStarted { .. } => StatusCode::BAD_GATEWAY,
        OpError::Unavailable(_) | OpError::NetworkFull { .. } | OpError::Capacity(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        OpError::Pull(e) => pull_status(e),
    }
}

fn pull_status(e: &PullError) -> StatusCode {
    match e {
        PullError::NotFound { .. } => StatusCode::NOT_FOUND,
        PullError::Failed { .. } | PullError::Credentials { .. } => StatusCode::BAD_GATEWAY,
        PullError::Unavailable { .. } | PullError::ShuttingDown { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

pub type Reply = Result<HttpResponse, DeployError>;

/// The most a request body may hold (the API's `PayloadConfig`).
pub const BODY_LIMIT: usize = 256 * 1024;

/// A body the handler reads itself, so that one it cannot read is answered as every error is.
pub type Body = Result<web::Bytes, actix_web::Error>;

/// For the API's `QueryConfig`: a query string that does not parse is answered in JSON too.
pub fn query_error(e: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    match e {
        // actix's text repeats the serde error it keeps: the serde error alone is the cause.
        QueryPayloadError::Deserialize(e) => DeployError::Query(e).into(),
        other => DeployError::BadRequest(other.to_string()).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{BackendError, Op};

    fn status_of(op: Op) -> StatusCode {
        let gone = BackendError::NotFound {
            op,
            target: "minion-1".into(),
            source: "No such container".into(),
        };
        DeployError::Op(OpError::from(gone)).status_code()
    }

    async fn answer(e: DeployError) -> (StatusCode, Option<String>, serde_json::Value) {
        let response = e.error_response();
        let retry = response
            .headers()
            .get(actix_web::http::header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_string());
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        let body = serde_json::from_slice(&body).unwrap();
        (e.status_code(), retry, body)
    }

    #[actix_web::test]
    async fn a_refusal_at_capacity_answers_its_sentence_once_and_when_to_retry() {
        let (status, retry, body) = answer(OpError::from(CapacityFull { max: 1 }).into()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry, Some(CapacityFull::RETRY_AFTER_SECS.to_string()));
        assert_eq!(
            body["retry_after"],
            CapacityFull::RETRY_AFTER_SECS,
            "{body}"
        );
        assert!(
            body.get("cause").is_none(),
            "the sentence is not repeated: {body}"
        );
    }

    #[actix_web::test]
    async fn a_pull_that_cannot_reach_docker_is_a_503_with_dockers_answer_as_its_cause() {
        let unreachable = BackendError::Unavailable {
            op: Op::Pull,
            source: "connection refused".into(),
        };
        let e = PullError::Unavailable {
            image: "app:1".into(),
            source: std::sync::Arc::new(unreachable),
        };
        let (status, _, body) = answer(OpError::from(e).into()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            !body["error"].as_str().unwrap().contains("refused"),
            "{body}"
        );
        assert!(
            body["cause"]
                .as_str()
                .unwrap()
                .contains("connection refused"),
            "{body}"
        );
    }

    #[test]
    fn a_container_gone_under_an_operation_is_a_404_not_the_engines_502() {
        for op in [Op::Inspect, Op::Start, Op::Stop, Op::Pause, Op::Remove] {
            assert_eq!(status_of(op), StatusCode::NOT_FOUND, "{op}");
        }
        // What the engine could not find for another reason stays the engine's failure.
        assert_eq!(status_of(Op::CreateVolume), StatusCode::BAD_GATEWAY);
    }
}
