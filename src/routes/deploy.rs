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

