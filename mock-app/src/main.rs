//! mock-app: the per-user app of spawner's demos and tests, compatible with the old one.
//!
//! - `GET /` (any path but `/status`): JSON with `"IP address"`, `"connection string"` (`CONNSTR`),
//!   `"hostname"`, `"requested"`; resets the idle timer.
//! - `GET /status`: `{"status":"ok","left":<seconds before idle shutdown>}` after `STATUS_DELAY`;
//!   503 until `READY_AFTER` after the start.
//! - any `POST`: echoes its body (bodies survive a cold start).
//! - `PUT /files/{name}`, `GET /files/{name}`: a file in `DATA_DIR` (`/data`, owned by the app's
//!   user in the image, so a new volume mounted there is writable).
//! - `GET /ws`: a WebSocket that echoes every text and binary message (and answers pings); each
//!   message resets the idle timer, as a request does.
//! - shuts down, exit code 0, after `IDLE` (default 1m; `0` never) without a non-`/status` request.
//! - `mock-app healthcheck`: the image's Docker `HEALTHCHECK` (GET /status on loopback).
//! - `mock-app fetch <host:port> <path>`: prints the status of a GET (tests use it to call from
//!   inside an instance).
//! - `mock-app alloc <MiB>`, `mock-app spawn <n>`: hostile code, for tests of the limits.
//!
//! Switches for tests: `PORT` (9000), `STARTUP_DELAY` (wait before listening), `FAIL_STATUS`
//! (`/status` answers 503, so every readiness check fails), `EXIT_AFTER_START=<code>` (exit with
//! that code right after starting).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

mod files;
mod hostile;
mod ws;

pub struct State {
    started: Instant,
    /// Milliseconds since `started` of the last non-`/status` request.
    last_request: AtomicU64,
    idle: Option<Duration>,
    status_delay: Duration,
    /// `/status` answers 503 until this long after the start (a slow app).
    ready_after: Duration,
    fail_status: bool,
    connection_string: String,
    hostname: String,
    ip: String,
}

impl State {
    pub fn touch(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        self.last_request.store(now, Ordering::Relaxed);
    }

    /// Time left before the idle shutdown.
    fn left(&self) -> Option<Duration> {
        let idle = self.idle?;
        let last = Duration::from_millis(self.last_request.load(Ordering::Relaxed));
        Some((last + idle).saturating_sub(self.started.elapsed()))
    }
}

fn env_duration(key: &str, default: &str) -> Duration {
    let raw = std::env::var(key).unwrap_or_else(|_| default.to_string());
    let raw = raw.trim();
    if let Ok(seconds) = raw.parse::<u64>() {
        return Duration::from_secs(seconds);
    }
    humantime::parse_duration(raw).unwrap_or_else(|e| {
        eprintln!("mock-app: {key}={raw:?} is not a duration ({e}); using {default}");
        humantime::parse_duration(default).expect("valid default")
    })
}

fn port() -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9000)
}

async fn index(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    state.touch();
    HttpResponse::Ok().json(serde_json::json!({
        "IP address": state.ip,
        "connection string": state.connection_string,
        "hostname": state.hostname,
        "requested": req.uri().to_string(),
    }))
}

async fn status(state: web::Data<State>) -> HttpResponse {
    tokio::time::sleep(state.status_delay).await;
    if state.fail_status || state.started.elapsed() < state.ready_after {
        return HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "failing"}));
    }
    let left = state.left().map(|d| d.as_secs());
    HttpResponse::Ok().json(serde_json::json!({"status": "ok", "left": left}))
}

async fn echo(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    state.touch();
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    HttpResponse::Ok().content_type(content_type).body(body)
}

/// A bare HTTP/1.0 GET (a scratch image has no curl): the answer's status code.
fn get_status(host_port: &str, path: &str) -> std::io::Result<u16> {
    let addr = host_port
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{host_port} does not resolve")))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host_port}\r\n\r\n").as_bytes())?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP answer"))
}

/// The Docker `HEALTHCHECK`: exit 0 if `/status` answers 200 on loopback.
fn healthcheck() -> ExitCode {
    match get_status(&format!("127.0.0.1:{}", port()), "/status") {
        Ok(200) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("healthcheck: /status answered {status}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("healthcheck: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `mock-app fetch <host:port> <path>`: prints the status code of a GET.
fn fetch(host_port: &str, path: &str) -> ExitCode {
    match get_status(host_port, path) {
        Ok(status) => {
            println!("{status}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fetch: {e}");
            ExitCode::FAILURE
        }
    }
}

fn own_hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

fn own_ip(hostname: &str) -> String {
    (hostname, 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.find(|a| a.is_ipv4()))
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("healthcheck") => return healthcheck(),
        Some("fetch") if args.len() == 4 => return fetch(&args[2], &args[3]),
        Some("alloc") if args.len() == 3 => return hostile::alloc(args[2].parse().unwrap_or(0)),
        Some("spawn") if args.len() == 3 => return hostile::spawn(args[2].parse().unwrap_or(0)),
        Some("sleep") => return hostile::sleep(),
        _ => {}
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    if let Ok(code) = std::env::var("EXIT_AFTER_START") {
        let code: u8 = code.parse().unwrap_or(1);
        log::warn!("EXIT_AFTER_START: exiting with code {code}");
        return ExitCode::from(code);
    }
    std::thread::sleep(env_duration("STARTUP_DELAY", "0s"));
    let idle = env_duration("IDLE", "1m");
    let hostname = own_hostname();
    let state = web::Data::new(State {
        started: Instant::now(),
        last_request: AtomicU64::new(0),
        idle: (!idle.is_zero()).then_some(idle),
        status_delay: env_duration("STATUS_DELAY", "0s"),
        ready_after: env_duration("READY_AFTER", "0s"),
        fail_status: std::env::var("FAIL_STATUS").is_ok_and(|v| !v.is_empty() && v != "0"),
        connection_string: std::env::var("CONNSTR").unwrap_or_default(),
        ip: own_ip(&hostname),
        hostname,
    });
    match actix_web::rt::System::new().block_on(serve(state)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mock-app: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(state: web::Data<State>) -> std::io::Result<()> {
    let data = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/status", web::get().to(status))
            .route("/ws", web::get().to(ws::echo))
            .route("/files/{name}", web::put().to(files::put))
            .route("/files/{name}", web::get().to(files::get))
            .default_service(web::route().to(
                |req: HttpRequest, body: web::Bytes, state: web::Data<State>| async move {
                    if req.method() == actix_web::http::Method::POST {
                        echo(req, body, state).await
                    } else {
                        index(req, state).await
                    }
                },
            ))
    })
    .workers(1)
    .shutdown_timeout(1)
    .bind(("0.0.0.0", port()))?
    .run();
    log::info!("mock-app {} listening on port {}", state.hostname, port());
    let handle = server.handle();
    let idle_watch = state.clone();
    actix_web::rt::spawn(async move {
        while let Some(left) = idle_watch.left() {
            if left.is_zero() {
                log::info!(
                    "idle for {:?}; shutting down",
                    idle_watch.idle.unwrap_or_default()
                );
                handle.stop(true).await;
                return;
            }
            tokio::time::sleep(left.min(Duration::from_millis(500))).await;
        }
    });
    server.await
}
