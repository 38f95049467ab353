//! What mock-home shows: the home page with its forms, and errors (the page again with a message
//! for browsers, JSON for API clients).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};

pub fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn page(status: StatusCode, message: Option<&str>) -> HttpResponse {
    let notice = message
        .map(|m| format!("<p class=\"notice\" role=\"alert\">{}</p>", escape(m)))
        .unwrap_or_default();
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Home</title>
<style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto}}.notice{{color:#a00}}
form{{margin:1.5rem 0}}label{{display:block}}</style>
</head><body>
<h1>You are at Home</h1>
{notice}
<form method="post" action="/home/register">
  <h2>New here? Register</h2>
  <label for="name">Name of your instance</label>
  <input id="name" name="name" required maxlength="63" pattern="[A-Za-z0-9][A-Za-z0-9_-]*">
  <label for="password">Password (8 characters or more)</label>
  <input id="password" name="password" type="password" required minlength="8">
  <button id="register" type="submit">Register</button>
</form>
<form method="post" action="/home/login">
  <h2>Log in</h2>
  <label for="login-name">Name</label>
  <input id="login-name" name="name" required maxlength="63">
  <label for="login-password">Password</label>
  <input id="login-password" name="password" type="password" required>
  <button id="login" type="submit">Log in</button>
</form>
<form method="post" action="/home/logout"><button id="logout" type="submit">Log out</button></form>
</body></html>"#
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// An error for a browser (the page again, with the message) or for an API client (JSON).
pub fn error(req: &HttpRequest, status: StatusCode, message: &str) -> HttpResponse {
    if wants_html(req) {
        page(status, Some(message))
    } else {
        HttpResponse::build(status).json(serde_json::json!({ "error": message }))
    }
}
