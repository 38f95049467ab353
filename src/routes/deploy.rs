//! The private API's `/deploy` endpoints, compatible with the old spawner's clients. Each handler
//! parses its input, calls one operation on [`Instances`], and maps the outcome; failures are
//! [`DeployError`]s with a status and a sentence for the caller (plus the engine's cause).

use actix_web::error::QueryPayloadError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use std::time::SystemTime;

use crate::configuration::Settings;
use crate::domain::{flag, DeploySpec, InstanceLabels, InstanceName, RecreateSpec};
use crate::error::chain;
use crate::instances::{CapacityFull, Instance, Instances, OpError, PullError};
use crate::sessions::Sessions;

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
        OpError::NetworkNotFound(_) | OpError::PauseOnSwarm => StatusCode::BAD_REQUEST,
        OpError::NameTaken(_) | OpError::VolumeTaken(_) => StatusCode::CONFLICT,
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

/// `POST /deploy`: create and (unless `"start": false`) start; the answer carries a session for
/// the new instance (`session`), so the home app can set the cookie at once.
pub async fn create(
    body: Body,
    instances: web::Data<Instances>,
    settings: web::Data<Settings>,
    sessions: web::Data<Sessions>,
) -> Reply {
    let body = body.map_err(DeployError::Body)?;
    let spec = DeploySpec::parse(
        &body,
        &settings.engine.network,
        &settings.engine.allowed_networks,
        &settings.limits,
    )
    .map_err(DeployError::BadRequest)?;
    if spec.name.as_str() == "events" {
        return Err(DeployError::BadRequest(
            "`name` \"events\" is reserved: GET /deploy/events is the event stream; choose \
             another name"
                .into(),
        ));
    }
    settings
        .traefik
        .routing
        .check_name(spec.name.as_str())
        .map_err(DeployError::BadRequest)?;
    let view = instances.create(&spec).await?;
    let epoch = InstanceLabels::new(&view.name, &view.labels).session_epoch();
    let session = sessions.issue(&spec.name, epoch, SystemTime::now());
    let mut body = serde_json::to_value(view).expect("plain data serializes");
    body["session"] = serde_json::to_value(session).expect("plain data serializes");
    Ok(HttpResponse::Created().json(body))
}

/// `POST /deploy/{name}/session`: a new instance cookie for a managed instance.
pub async fn session(
    path: web::Path<String>,
    instances: web::Data<Instances>,
    sessions: web::Data<Sessions>,
) -> Reply {
    let instance = resolve(&instances, &path).await?;
    let name =
        InstanceName::parse(instance.name()).map_err(|_| OpError::NotFound(path.to_string()))?;
    let session = sessions.issue(&name, instance.session_epoch(), SystemTime::now());
    Ok(HttpResponse::Ok().json(session))
}

/// `GET /deploy`: every managed container, from the index.
pub async fn list(instances: web::Data<Instances>) -> Reply {
    if !instances.is_synced() {
        return Err(DeployError::NotSynced);
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "instances": instances.list() })))
}

async fn resolve(instances: &Instances, name_or_id: &str) -> Result<Instance, DeployError> {
    Ok(instances.resolve(name_or_id).await?)
}

/// `GET /deploy/{name-or-id}`.
pub async fn show(path: web::Path<String>, instances: web::Data<Instances>) -> Reply {
    let instance = resolve(&instances, &path).await?;
    Ok(HttpResponse::Ok().json(instances.view(&instance)))
}

/// `POST /deploy/{name-or-id}/stop`: stop now (the home app's "log out"); the next request
/// wakes it.
pub async fn stop(path: web::Path<String>, instances: web::Data<Instances>) -> Reply {
    let instance = resolve(&instances, &path).await?;
    let view = instances.stop_now(&instance).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `PUT /deploy/{name-or-id}`: start, without waiting for readiness.
pub async fn start(path: web::Path<String>, instances: web::Data<Instances>) -> Reply {
    let instance = resolve(&instances, &path).await?;
    let view = instances.start(&instance).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(serde::Deserialize)]
pub struct DeleteQuery {
    #[serde(default)]
    purge: Option<String>,
}

/// `DELETE /deploy/{name-or-id}[?purge=true]`: stop and remove; its volumes stay unless purged.
pub async fn delete(
    path: web::Path<String>,
    query: web::Query<DeleteQuery>,
    instances: web::Data<Instances>,
) -> Reply {
    let purge = flag::parse("purge", query.purge.as_deref()).map_err(DeployError::BadRequest)?;
    let instance = resolve(&instances, &path).await?;
    let removed = instances.delete(&instance, purge).await?;
    // The old clients' answer, exactly, unless a purge was asked for.
    let mut body = serde_json::json!({ "result": "ok" });
    if purge {
        body["volumes_removed"] = removed.into();
    }
    Ok(HttpResponse::Ok().json(body))
}

/// `POST /deploy/{name-or-id}/recreate`: a new container (new image and/or envs), the same
/// name, sessions and volumes.
pub async fn recreate(
    path: web::Path<String>,
    body: Body,
    instances: web::Data<Instances>,
) -> Reply {
    let body = body.map_err(DeployError::Body)?;
    let change = RecreateSpec::parse(&body).map_err(DeployError::BadRequest)?;
    let instance = resolve(&instances, &path).await?;
    let view = instances.recreate(&instance, &change).await?;
    Ok(HttpResponse::Ok().json(view))
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
