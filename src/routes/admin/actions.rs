//! The admin page's own calls, where the bearer API's answer is not quite what a page needs: the
//! list with the figures the totals are measured against, a delete whose `purge` must be
//! confirmed with the instance's name, and "open as this user" (a session, logged with the
//! operator's address). Start, stop, pause, recreate and the event stream are the bearer API's
//! own handlers, registered under `/admin/api/` too (`mod.rs`).

use actix_web::{web, HttpRequest, HttpResponse};

use crate::configuration::Settings;
use crate::instances::{InstanceView, Instances};
use crate::routes::deploy::{self, Body, Deleted, DeployError, Reply};
use crate::sessions::Sessions;

/// `GET /admin/api/instances`.
#[derive(serde::Serialize)]
pub struct Overview {
    pub instances: Vec<InstanceView>,
    /// Most instances running or paused at once; `null`: no limit.
    pub max_running: Option<usize>,
    /// Whether instances can be paused (not on Swarm).
    pub can_pause: bool,
}

pub async fn list(instances: web::Data<Instances>, settings: web::Data<Settings>) -> Reply {
    if !instances.is_synced() {
        return Err(DeployError::NotSynced);
    }
    Ok(HttpResponse::Ok().json(Overview {
        instances: instances.list(),
        max_running: settings.capacity.max_running.filter(|m| *m > 0),
        can_pause: instances.can_pause(),
    }))
}

/// `POST /admin/api/instances/{name}/delete` with `{"purge": bool, "confirm": "<name>"}`.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DeleteRequest {
    #[serde(default)]
    purge: bool,
    #[serde(default)]
    confirm: String,
}

pub async fn delete(path: web::Path<String>, body: Body, instances: web::Data<Instances>) -> Reply {
    let body = body.map_err(DeployError::Body)?;
    let asked: DeleteRequest = match body.is_empty() {
        true => DeleteRequest::default(),
        false => serde_json::from_slice(&body).map_err(|e| {
            DeployError::BadRequest(format!(
                "the body must be {{\"purge\": true|false, \"confirm\": \"<name>\"}}: {e}"
            ))
        })?,
    };
    let instance = instances.resolve(&path).await?;
    if asked.purge && asked.confirm != instance.name() {
        return Err(DeployError::BadRequest(format!(
            "removing the volumes of {} deletes its data for good: confirm with its name \
             (`confirm`: \"{}\")",
            instance.name(),
            instance.name()
        )));
    }
    let removed = instances.delete(&instance, asked.purge).await?;
    Ok(HttpResponse::Ok().json(Deleted {
        result: "ok",
        volumes_removed: asked.purge.then_some(removed),
    }))
}

/// `POST /admin/api/instances/{name}/session`: "open as this user".
pub async fn session(
    request: HttpRequest,
    path: web::Path<String>,
    instances: web::Data<Instances>,
    sessions: web::Data<Sessions>,
) -> Reply {
    let operator = super::access::peer(request.peer_addr());
    let name = path.to_string();
    let answer = deploy::session(path, instances, sessions).await?;
    log::info!("admin {operator} opened {name} as its user");
    Ok(answer)
}
