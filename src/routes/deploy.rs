//! The private API's `/deploy` endpoints, compatible with the old spawner's clients. Each handler
//! parses its input, calls one operation on [`Instances`], and maps the outcome; failures are
//! [`DeployError`]s with a status and a sentence for the caller (plus the engine's cause).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};

use std::time::SystemTime;

use crate::configuration::Settings;
use crate::domain::{flag, DeploySpec, InstanceLabels, InstanceName, RecreateSpec};
use crate::error::chain;
use crate::instances::{CapacityFull, Instance, Instances, OpError, PullError};
use crate::sessions::Sessions;

use super::json_error_with_cause;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{0}")]
    BadRequest(String),
    #[error("spawner has not read the container list from Docker yet; try again shortly")]
    NotSynced,
    #[error(transparent)]
    Op(#[from] OpError),
}

impl ResponseError for DeployError {
    fn status_code(&self) -> StatusCode {
        match self {
            DeployError::BadRequest(_) => StatusCode::BAD_REQUEST,
            DeployError::NotSynced => StatusCode::SERVICE_UNAVAILABLE,
            DeployError::Op(e) => match e {
                OpError::NotFound(_)
                | OpError::ImageNotFound(_)
                | OpError::Pull(PullError::NotFound { .. }) => StatusCode::NOT_FOUND,
                OpError::NetworkNotFound(_) => StatusCode::BAD_REQUEST,
                OpError::NameTaken(_) | OpError::VolumeTaken(_) => StatusCode::CONFLICT,
                OpError::StartFailed { .. }
                | OpError::Engine(_)
                | OpError::Pull(PullError::Failed { .. })
                | OpError::RecreateFailed { .. } => StatusCode::BAD_GATEWAY,
                OpError::Unavailable(_) | OpError::NetworkFull { .. } | OpError::Capacity(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            },
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        // `Op` is transparent: its source is the engine's error.
        let cause = std::error::Error::source(self).map(chain);
        if status.is_server_error() {
            log::warn!("deploy API: {status}: {}", chain(self));
        }
        let mut response = json_error_with_cause(status, self, cause);
        if let DeployError::Op(OpError::Capacity(_)) = self {
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(CapacityFull::RETRY_AFTER_SECS),
            );
        }
        response
    }
}

pub type Reply = Result<HttpResponse, DeployError>;

/// `POST /deploy`: create and (unless `"start": false`) start; the answer carries a session for
/// the new instance (`session`), so the home app can set the cookie at once.
pub async fn create(
    body: web::Bytes,
    instances: web::Data<Instances>,
    settings: web::Data<Settings>,
    sessions: web::Data<Sessions>,
) -> Reply {
    let spec = DeploySpec::parse(
        &body,
        &settings.network,
        &settings.allowed_networks,
        &settings.limits,
    )
    .map_err(DeployError::BadRequest)?;
    settings
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
    body: web::Bytes,
    instances: web::Data<Instances>,
) -> Reply {
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

    #[test]
    fn a_container_gone_under_an_operation_is_a_404_not_the_engines_502() {
        for op in [Op::Inspect, Op::Start, Op::Stop, Op::Pause, Op::Remove] {
            assert_eq!(status_of(op), StatusCode::NOT_FOUND, "{op}");
        }
        // What the engine could not find for another reason stays the engine's failure.
        assert_eq!(status_of(Op::CreateVolume), StatusCode::BAD_GATEWAY);
    }
}
