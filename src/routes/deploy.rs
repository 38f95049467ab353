//! The private API's `/deploy` endpoints, compatible with the old spawner's clients.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};

use crate::docker::DockerError;
use crate::domain::DeploySpec;
use crate::instances::{CreateError, Instance, Instances};

use super::json_error;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{0}")]
    BadRequest(String),
    #[error("no instance named {0:?} is managed by spawner")]
    NotFound(String),
    #[error("spawner has not read the container list from Docker yet; try again shortly")]
    NotSynced,
    #[error(transparent)]
    Create(#[from] CreateError),
    #[error(transparent)]
    Docker(#[from] DockerError),
}

fn docker_status(e: &DockerError) -> StatusCode {
    match e {
        DockerError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        DockerError::NotFound(_) => StatusCode::NOT_FOUND,
        DockerError::Conflict(_) => StatusCode::CONFLICT,
        DockerError::Rejected(_) => StatusCode::BAD_REQUEST,
        DockerError::Other(_) => StatusCode::BAD_GATEWAY,
    }
}

impl ResponseError for DeployError {
    fn status_code(&self) -> StatusCode {
        match self {
            DeployError::BadRequest(_) => StatusCode::BAD_REQUEST,
            DeployError::NotFound(_) => StatusCode::NOT_FOUND,
            DeployError::NotSynced => StatusCode::SERVICE_UNAVAILABLE,
            DeployError::Create(e) => match e {
                CreateError::ImageNotFound(_) => StatusCode::NOT_FOUND,
                CreateError::NetworkNotFound(_) => StatusCode::BAD_REQUEST,
                CreateError::NameTaken(_) => StatusCode::CONFLICT,
                CreateError::StartFailed { .. } => StatusCode::BAD_GATEWAY,
                CreateError::Docker(e) => docker_status(e),
            },
            DeployError::Docker(e) => docker_status(e),
        }
    }

    fn error_response(&self) -> HttpResponse {
        json_error(self.status_code(), self)
    }
}

type Reply = Result<HttpResponse, DeployError>;

/// `POST /deploy`: create and (unless `"start": false`) start.
pub async fn create(body: web::Bytes, instances: web::Data<Instances>) -> Reply {
    let settings = instances.settings();
    let spec = DeploySpec::parse(&body, &settings.network, &settings.allowed_networks)
        .map_err(DeployError::BadRequest)?;
    let view = instances.create(&spec).await?;
    Ok(HttpResponse::Created().json(view))
}

/// `GET /deploy`: every managed container, from the index.
pub async fn list(instances: web::Data<Instances>) -> Reply {
    if !instances.is_synced() {
        return Err(DeployError::NotSynced);
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "instances": instances.list() })))
}

async fn resolve(instances: &Instances, name_or_id: &str) -> Result<Instance, DeployError> {
    instances
        .resolve(name_or_id)
        .await?
        .ok_or_else(|| DeployError::NotFound(name_or_id.to_string()))
}

/// `GET /deploy/{name-or-id}`.
pub async fn show(path: web::Path<String>, instances: web::Data<Instances>) -> Reply {
    let instance = resolve(&instances, &path).await?;
    Ok(HttpResponse::Ok().json(instance.view()))
}

/// `PUT /deploy/{name-or-id}`: start, without waiting for readiness.
pub async fn start(path: web::Path<String>, instances: web::Data<Instances>) -> Reply {
    let instance = resolve(&instances, &path).await?;
    let view = instances.start(&instance).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `DELETE /deploy/{name-or-id}`: stop and remove.
pub async fn delete(path: web::Path<String>, instances: web::Data<Instances>) -> Reply {
    let instance = resolve(&instances, &path).await?;
    instances.delete(&instance).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "result": "ok" })))
}
