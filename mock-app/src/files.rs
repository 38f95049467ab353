//! `PUT /files/{name}` stores the body in `DATA_DIR` (default `/data`, a volume in the tests);
//! `GET /files/{name}` gives it back (404 when there is none). Tests write through one container
//! and read through its successor.

use actix_web::{web, HttpResponse};

fn path_of(name: &str) -> Option<std::path::PathBuf> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    let dir = std::env::var("DATA_DIR").unwrap_or_else(|_| "/data".into());
    valid.then(|| std::path::Path::new(&dir).join(name))
}

pub async fn put(name: web::Path<String>, body: web::Bytes) -> HttpResponse {
    let Some(path) = path_of(&name) else {
        return HttpResponse::BadRequest().body("a file name is letters, digits, '.', '_', '-'");
    };
    match std::fs::write(&path, &body) {
        Ok(()) => HttpResponse::Created().body(format!("{} bytes", body.len())),
        Err(e) => HttpResponse::InternalServerError().body(format!("{}: {e}", path.display())),
    }
}

pub async fn get(name: web::Path<String>) -> HttpResponse {
    let Some(path) = path_of(&name) else {
        return HttpResponse::BadRequest().finish();
    };
    match std::fs::read(&path) {
        Ok(bytes) => HttpResponse::Ok().body(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => HttpResponse::NotFound().finish(),
        Err(e) => HttpResponse::InternalServerError().body(format!("{}: {e}", path.display())),
    }
}
