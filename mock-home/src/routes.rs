//! The home's endpoints. Handlers stay thin: extract, ask [`Users`] and spawner, answer.
//!
//! Registration keeps the account **pending** while spawner creates the instance, and activates
//! it only when spawner created it for this registration (see [`crate::users`]): a login never
//! opens an instance its account did not make, such as one made through the API.

use std::time::Instant;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::config::Config;
use crate::limit::RegisterLimit;
use crate::pages::{error, page, wants_html};
use crate::proxy;
use crate::spawner::{self, Answer};
use crate::users::{self, Added, Users, MIN_PASSWORD};

/// The same rule spawner applies to names.
fn valid_name(name: &str) -> Result<(), String> {
    let ok = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid name: use 1 to 63 letters, digits, '-' or '_', starting with a letter or digit"
        ))
    }
}

pub async fn home(req: HttpRequest) -> HttpResponse {
    if wants_html(&req) {
        page(StatusCode::OK, None)
    } else {
        HttpResponse::Ok().json(serde_json::json!({"message": "You are at Home"}))
    }
}

fn redirect(location: &str, set_cookie: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::SET_COOKIE, set_cookie))
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

pub async fn logout(config: web::Data<Config>) -> HttpResponse {
    let domain = match config.cookie_domain.as_str() {
        "" => String::new(),
        domain => format!("; Domain={domain}"),
    };
    let expired = format!(
        "{}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax{domain}",
        config.cookie_key
    );
    redirect("/home", &expired)
}

#[derive(Deserialize)]
pub struct Credentials {
    name: String,
    #[serde(default)]
    password: String,
}

type Form = web::Either<web::Form<Credentials>, web::Json<Credentials>>;

fn credentials(form: Form) -> Credentials {
    match form {
        web::Either::Left(form) => form.into_inner(),
        web::Either::Right(json) => json.into_inner(),
    }
}

/// The answer to a call that should have issued a session for `name`.
fn enter(req: &HttpRequest, config: &Config, name: &str, answer: Answer) -> HttpResponse {
    match answer {
        Answer::Session { set_cookie, .. } => redirect(&config.instance_url(name), &set_cookie),
        Answer::NameTaken => error(
            req,
            StatusCode::CONFLICT,
            &format!("The name {name} is already taken; choose another one."),
        ),
        Answer::Refused(StatusCode::BAD_REQUEST, reason) => {
            error(req, StatusCode::BAD_REQUEST, &reason)
        }
        Answer::Refused(_, reason) => error(
            req,
            StatusCode::BAD_GATEWAY,
            &format!("Could not reach your instance: {reason}"),
        ),
        Answer::Unreachable => error(
            req,
            StatusCode::BAD_GATEWAY,
            "The instance service is unreachable; try again shortly.",
        ),
    }
}

fn accounts_error(req: &HttpRequest, e: users::Error) -> HttpResponse {
    log::error!("accounts: {e}: {:?}", std::error::Error::source(&e));
    error(
        req,
        StatusCode::SERVICE_UNAVAILABLE,
        "Accounts are unavailable right now; try again shortly.",
    )
}

fn too_many(req: &HttpRequest, retry_after: u64) -> HttpResponse {
    let message =
        format!("Too many registrations from your address; try again in {retry_after} s.");
    let mut response = error(req, StatusCode::TOO_MANY_REQUESTS, &message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
    response
}

pub async fn register(
    req: HttpRequest,
    form: Form,
    config: web::Data<Config>,
    users: web::Data<Users>,
    limit: web::Data<RegisterLimit>,
) -> HttpResponse {
    if let Some(client) = proxy::client_addr(req.peer_addr(), req.headers()) {
        if let Err(retry_after) = limit.admit(client, Instant::now()) {
            log::warn!("refused a registration from {client}: over the cap");
            return too_many(&req, retry_after);
        }
    }
    let Credentials { name, password } = credentials(form);
    let name = name.trim();
    if let Err(message) = valid_name(name) {
        return error(&req, StatusCode::BAD_REQUEST, &message);
    }
    if password.chars().count() < MIN_PASSWORD {
        let message = format!("Choose a password of at least {MIN_PASSWORD} characters.");
        return error(&req, StatusCode::BAD_REQUEST, &message);
    }
    match users.add_pending(name, &password).await {
        Ok(Added::Pending) => {}
        Ok(Added::Taken) => return enter(&req, &config, name, Answer::NameTaken),
        Err(e) => return accounts_error(&req, e),
    }
    let answer = spawner::create(&config, name).await;
    let Answer::Session { epoch, .. } = &answer else {
        // No instance made for this account (a taken name included): the name is free again.
        if let Err(e) = users.forget_pending(name).await {
            log::error!("could not forget the pending account {name}: {e}");
        }
        return enter(&req, &config, name, answer);
    };
    if let Err(e) = users.activate(name, epoch.as_deref()).await {
        // The instance exists but its account cannot open it: no cookie either.
        return accounts_error(&req, e);
    }
    log::info!("registered {name}");
    enter(&req, &config, name, answer)
}

pub async fn login(
    req: HttpRequest,
    form: Form,
    config: web::Data<Config>,
    users: web::Data<Users>,
) -> HttpResponse {
    let Credentials { name, password } = credentials(form);
    let name = name.trim();
    match users.check(name, &password).await {
        Ok(true) => {}
        Ok(false) => {
            log::info!("failed login for {name:?}");
            return error(
                &req,
                StatusCode::UNAUTHORIZED,
                "That name and password do not match.",
            );
        }
        Err(e) => return accounts_error(&req, e),
    }
    // The instance of this name may have been deleted and made again for someone else through
    // the API: this account opens only the instance made for it.
    let current = match spawner::epoch(&config, name).await {
        Ok(current) => current,
        Err(answer) => return enter(&req, &config, name, answer),
    };
    match users.opens(name, &current).await {
        Ok(true) => {}
        Ok(false) => {
            log::warn!("login for {name:?}: its instance was made again since; refused");
            let message = "The instance of this name is no longer the one made for this account.";
            return error(&req, StatusCode::UNAUTHORIZED, message);
        }
        Err(e) => return accounts_error(&req, e),
    }
    let answer = spawner::session(&config, name).await;
    enter(&req, &config, name, answer)
}
