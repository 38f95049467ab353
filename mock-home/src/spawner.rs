//! The calls mock-home makes to spawner's private API (with its token): create an instance, and
//! get a session for one. Both answer the `Set-Cookie` spawner issued.

use std::time::Duration;

use actix_web::http::StatusCode;

use crate::config::Config;

pub enum Answer {
    /// The Set-Cookie header spawner issued.
    Session(String),
    NameTaken,
    Refused(StatusCode, String),
    Unreachable,
}

async fn call(config: &Config, path: &str, body: Option<serde_json::Value>) -> Answer {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let mut request = client.post(format!("{}{path}", config.spawner_api));
    if !config.spawner_token.is_empty() {
        request = request.bearer_auth(&config.spawner_token);
    }
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
        (s, Some(set_cookie)) if s.is_success() => Answer::Session(set_cookie.to_string()),
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
