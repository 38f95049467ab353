//! The private API's `/deploy` endpoints, compatible with the old spawner's clients. Each handler
//! parses its input, calls one operation on [`Instances`], and maps the outcome; failures are
//! [`DeployError`]s (`deploy_error.rs`).

use actix_web::{web, HttpResponse};

use std::time::SystemTime;

use crate::configuration::Settings;
use crate::domain::{flag, DeploySpec, InstanceLabels, InstanceName, RecreateSpec};
use crate::instances::{Instance, Instances, OpError};
use crate::sessions::Sessions;

pub use super::deploy_error::{query_error, Body, DeployError, Reply, BODY_LIMIT};
use super::ErrorBody;
use crate::domain::{DeployRequest, RecreateRequest};
use crate::instances::InstanceView;
use crate::sessions::IssuedSession;

/// The path parameter every `/deploy/{name}` operation takes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct Name {
    /// The instance's name, or its container (service) id.
    name: String,
}

/// What `purge` may be.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub enum Purge {
    #[schema(rename = "true")]
    True,
    #[schema(rename = "false")]
    False,
    #[schema(rename = "1")]
    One,
    #[schema(rename = "0")]
    Zero,
}

/// `GET /deploy`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct InstanceList {
    pub instances: Vec<InstanceView>,
}

/// `POST /deploy`: the new instance, and a session for it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CreatedInstance {
    #[serde(flatten)]
    pub instance: InstanceView,
    pub session: IssuedSession,
}

/// `DELETE /deploy/{name}`: the old clients' answer; with `purge`, the volumes removed too.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Deleted {
    /// Always `"ok"`.
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes_removed: Option<Vec<String>>,
}

/// `POST /deploy`: create and (unless `"start": false`) start; the answer carries a session for
/// the new instance (`session`), so the home app can set the cookie at once.
#[utoipa::path(post, path = "/deploy", tag = "instances", operation_id = "create",
    request_body(content = DeployRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created (and started unless `start` is false)", body = CreatedInstance),
        (status = 400, description = "A field is wrong (the error names it); nothing was created", body = ErrorBody),
        (status = 404, description = "The image is not present (`never`) or not in its registry", body = ErrorBody),
        (status = 409, description = "The name is taken, or a volume of that name is another instance's", body = ErrorBody),
        (status = 413, description = "The body is over 256 KiB", body = ErrorBody),
        (status = 502, description = "The pull or the start failed (the container is removed again)", body = ErrorBody),
        (status = 503, description = "Docker is unreachable, or `max_running` is reached", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait (at capacity)"))),
    ))]
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
    Ok(HttpResponse::Created().json(CreatedInstance {
        instance: view,
        session,
    }))
}

/// `POST /deploy/{name}/session`: a new instance cookie for a managed instance.
#[utoipa::path(post, path = "/deploy/{name}/session", tag = "instances", operation_id = "session",
    params(Name),
    responses(
        (status = 200, description = "A new session", body = IssuedSession),
        (status = 404, description = "No such instance", body = ErrorBody),
    ))]
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
#[utoipa::path(get, path = "/deploy", tag = "instances", operation_id = "list",
    responses(
        (status = 200, description = "Every instance, by name", body = InstanceList),
        (status = 503, description = "Not synced with Docker yet since spawner started", body = ErrorBody),
    ))]
pub async fn list(instances: web::Data<Instances>) -> Reply {
    if !instances.is_synced() {
        return Err(DeployError::NotSynced);
    }
    Ok(HttpResponse::Ok().json(InstanceList {
        instances: instances.list(),
    }))
}

async fn resolve(instances: &Instances, name_or_id: &str) -> Result<Instance, DeployError> {
    Ok(instances.resolve(name_or_id).await?)
}

/// `GET /deploy/{name-or-id}`.
#[utoipa::path(get, path = "/deploy/{name}", tag = "instances", operation_id = "show",
    params(Name),
    responses(
        (status = 200, description = "The instance", body = InstanceView),
        (status = 404, description = "No such instance", body = ErrorBody),
    ))]
pub async fn show(path: web::Path<String>, instances: web::Data<Instances>) -> Reply {
    let instance = resolve(&instances, &path).await?;
    Ok(HttpResponse::Ok().json(instances.view(&instance)))
}

/// `POST /deploy/{name-or-id}/stop`: stop now (the home app's "log out"); the next request
/// wakes it.
#[utoipa::path(post, path = "/deploy/{name}/stop", tag = "instances", operation_id = "stop",
    params(Name),
    responses(
        (status = 200, description = "Stopped", body = InstanceView),
        (status = 404, description = "No such instance", body = ErrorBody),
        (status = 502, description = "Docker refused the stop", body = ErrorBody),
        (status = 503, description = "Docker is unreachable", body = ErrorBody),
    ))]
pub async fn stop(path: web::Path<String>, instances: web::Data<Instances>) -> Reply {
    let instance = resolve(&instances, &path).await?;
    let view = instances.stop_now(&instance).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /deploy/{name-or-id}/pause`: pause now (its memory kept); `PUT /deploy/{name}` or the
/// next request unpauses it.
#[utoipa::path(post, path = "/deploy/{name}/pause", tag = "instances", operation_id = "pause",
    params(Name),
    responses(
        (status = 200, description = "Paused (or it already was)", body = InstanceView),
        (status = 400, description = "The engine is Swarm, where a task cannot be paused", body = ErrorBody),
        (status = 404, description = "No such instance", body = ErrorBody),
        (status = 409, description = "It is not running", body = ErrorBody),
        (status = 502, description = "Docker refused the pause", body = ErrorBody),
        (status = 503, description = "Docker is unreachable", body = ErrorBody),
    ))]
pub async fn pause(path: web::Path<String>, instances: web::Data<Instances>) -> Reply {
    let instance = resolve(&instances, &path).await?;
    let view = instances.pause_now(&instance).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `PUT /deploy/{name-or-id}`: start, without waiting for readiness.
#[utoipa::path(put, path = "/deploy/{name}", tag = "instances", operation_id = "start",
    params(Name),
    responses(
        (status = 200, description = "Started or unpaused (readiness not awaited)", body = InstanceView),
        (status = 404, description = "No such instance", body = ErrorBody),
        (status = 502, description = "Docker could not start it (Swarm: its task failed; the reason is given)", body = ErrorBody),
        (status = 503, description = "Docker is unreachable, or `max_running` is reached", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait (at capacity)"))),
    ))]
pub async fn start(path: web::Path<String>, instances: web::Data<Instances>) -> Reply {
    let instance = resolve(&instances, &path).await?;
    let view = instances.start(&instance).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// `true` (or `1`, or empty): also remove its volumes; `false` or `0`: keep them.
    #[serde(default)]
    #[param(value_type = Option<Purge>)]
    purge: Option<String>,
}

/// `DELETE /deploy/{name-or-id}[?purge=true]`: stop and remove; its volumes stay unless purged.
#[utoipa::path(delete, path = "/deploy/{name}", tag = "instances", operation_id = "delete",
    params(Name, DeleteQuery),
    responses(
        (status = 200, description = "Removed", body = Deleted),
        (status = 400, description = "`purge` is not a boolean, or given twice", body = ErrorBody),
        (status = 404, description = "No such instance", body = ErrorBody),
        (status = 502, description = "Docker refused the removal", body = ErrorBody),
        (status = 503, description = "Docker is unreachable", body = ErrorBody),
    ))]
pub async fn delete(
    path: web::Path<String>,
    query: web::Query<DeleteQuery>,
    instances: web::Data<Instances>,
) -> Reply {
    let purge = flag::parse("purge", query.purge.as_deref()).map_err(DeployError::BadRequest)?;
    let instance = resolve(&instances, &path).await?;
    let removed = instances.delete(&instance, purge).await?;
    // The old clients' answer, exactly, unless a purge was asked for.
    Ok(HttpResponse::Ok().json(Deleted {
        result: "ok",
        volumes_removed: purge.then_some(removed),
    }))
}

/// `POST /deploy/{name-or-id}/recreate`: a new container (new image and/or envs), the same
/// name, sessions and volumes.
#[utoipa::path(post, path = "/deploy/{name}/recreate", tag = "instances", operation_id = "recreate",
    params(Name),
    request_body(content = Option<RecreateRequest>, content_type = "application/json",
        description = "What changes; no body (or `{}`): the same image, a fresh container"),
    responses(
        (status = 200, description = "The new instance", body = InstanceView),
        (status = 400, description = "A field is wrong (the old container stays)", body = ErrorBody),
        (status = 404, description = "No such instance or image", body = ErrorBody),
        (status = 413, description = "The body is over 256 KiB", body = ErrorBody),
        (status = 502, description = "The pull failed, or the new container could not be made (the old one is made again; the answer says so)", body = ErrorBody),
        (status = 503, description = "Docker is unreachable", body = ErrorBody),
    ))]
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
