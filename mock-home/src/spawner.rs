//! The calls mock-home makes to spawner's private API (with its token): create an instance, get
//! a session for one (both answer the `Set-Cookie` spawner issued), and read which incarnation
//! of a name's instance exists now (its session epoch).

use std::time::Duration;

use actix_web::http::{Method, StatusCode};

use crate::config::Config;

/// The label spawner gives each instance at creation, new for every creation of a name.
const SESSION_EPOCH: &str = "spawner.session-epoch";

pub enum Answer {
    /// The Set-Cookie header spawner issued; with a create, the new instance's session epoch.
    Session {
        set_cookie: String,
        epoch: Option<String>,
    },
    NameTaken,
    Refused(StatusCode, String),
    Unreachable,
}

fn request(config: &Config, method: Method, path: &str) -> awc::ClientRequest {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let request = client.request(method, format!("{}{path}", config.spawner_api));
    if config.spawner_token.is_empty() {
        request
    } else {
        request.bearer_auth(&config.spawner_token)
    }
}

async fn call(config: &Config, path: &str, body: Option<serde_json::Value>) -> Answer {
    let request = request(config, Method::POST, path);
    let sent = match body {
        Some(body) => request.send_json(&body).await,
        None => request.send().await,
    };
    let mut response = match sent {
        Ok(response) => response,
        Err(e) => {
            log::error!("spawner unreachable: {e}");
            return Answer::Unreachable;
        }
    };
    let status = response.status();
    let answer = response.json::<serde_json::Value>().await.ok();
    let answer = answer.as_ref();
    let set_cookie = answer.and_then(|a| {
        a["session"]["set_cookie"]
            .as_str()
            .or(a["set_cookie"].as_str())
    });
    match (status, set_cookie) {
        (s, Some(set_cookie)) if s.is_success() => Answer::Session {
            set_cookie: set_cookie.to_string(),
            epoch: answer.and_then(|a| a["labels"][SESSION_EPOCH].as_str().map(String::from)),
        },
        (StatusCode::CONFLICT, _) => Answer::NameTaken,
        _ => Answer::Refused(
            status,
            answer
                .and_then(|v| v["error"].as_str().map(String::from))
                .unwrap_or_else(|| format!("spawner answered {status}")),
        ),
    }
}

/// `POST /deploy`: a mock-app instance named `name`.
pub async fn create(config: &Config, name: &str) -> Answer {
    let port = config.app_port;
    let body = serde_json::json!({
        "name": name,
        "image": config.app_image,
        "labels": {
            "health-check": format!("http://{name}:{port}/status"),
            "traefik.enable": "true",
            format!("traefik.http.services.{name}.loadbalancer.server.port"): port.to_string(),
        },
        "envs": { "CONNSTR": format!("connection string of {name}"), "IDLE": config.app_idle },
    });
    call(config, "/deploy", Some(body)).await
}

/// `POST /deploy/{name}/session`.
pub async fn session(config: &Config, name: &str) -> Answer {
    call(config, &format!("/deploy/{name}/session"), None).await
}

/// `GET /deploy/{name}`: the session epoch of the instance that has this name now (empty for an
/// instance from before epochs); anything else is the answer to show.
pub async fn epoch(config: &Config, name: &str) -> Result<String, Answer> {
    let sent = request(config, Method::GET, &format!("/deploy/{name}"))
        .send()
        .await;
    let mut response = sent.map_err(|e| {
        log::error!("spawner unreachable: {e}");
        Answer::Unreachable
    })?;
    let status = response.status();
    let answer = response
        .json::<serde_json::Value>()
        .await
        .unwrap_or_default();
    if !status.is_success() {
        let reason = answer["error"].as_str().map(String::from);
        return Err(Answer::Refused(
            status,
            reason.unwrap_or_else(|| format!("spawner answered {status}")),
        ));
    }
    let epoch = answer["labels"][SESSION_EPOCH].as_str().unwrap_or_default();
    Ok(epoch.to_string())
}
