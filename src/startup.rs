//! Builds the whole service from [`Settings`]: connects to the engine, starts the index's events
//! watcher, binds both listeners (port 0 works, for tests) and lists every route in one place.
//! [`Application::run_until_stopped`] serves until a signal, then stops the background tasks.

use std::net::TcpListener;
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};

use crate::backend::{Backend, BackendError};
use crate::configuration::{EngineKind, Settings};
use crate::gate::Gate;
use crate::instance_network::{self, NetworkError};
use crate::instances::Instances;
use crate::metrics::Metrics;
use crate::routes::{self, deploy, forward_auth, guard, health, json_error, traefik_config};
use crate::sessions::Sessions;
use crate::tasks::Tasks;
use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{middleware::Logger, web, App, HttpResponse, HttpServer};

/// How long shutdown waits for background tasks (start waits, the watcher) to end.
const TASKS_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {setting} {addr}")]
    Bind {
        setting: &'static str,
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "cannot reach Docker; mount the Docker socket (-v /var/run/docker.sock:/var/run/docker.sock) \
         or point --docker-host / DOCKER_HOST at the daemon"
    )]
    Docker(#[source] BackendError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

pub struct Application {
    api_port: u16,
    auth_port: u16,
    api: Server,
    auth: Server,
    tasks: Tasks,
}

/// Pending connections a listener queues (the kernel caps it at `net.core.somaxconn`).
const BACKLOG: i32 = 1024;

/// A listener on `addr`; with `shared`, other processes may listen on the same address
/// (`SO_REUSEPORT`: the kernel spreads new connections over the live listeners).
fn bind(
    setting: &'static str,
    addr: std::net::SocketAddr,
    shared: bool,
) -> Result<TcpListener, StartupError> {
    let listen = || -> std::io::Result<TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        if shared {
            socket.set_reuse_port(true)?;
        }
        socket.bind(&addr.into())?;
        socket.listen(BACKLOG)?;
        Ok(socket.into())
    };
    listen().map_err(|source| StartupError::Bind {
        setting,
        addr,
        source,
    })
}

async fn not_found() -> HttpResponse {
    json_error(StatusCode::NOT_FOUND, "no such endpoint")
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        log::info!("settings: {}", settings.summary());
        let shared = settings.listen.reuse_port;
        let api_listener = bind("api_addr", settings.listen.api_addr, shared)?;
        let auth_listener = bind("auth_addr", settings.listen.auth_addr, shared)?;
        let metrics = Arc::new(Metrics::new());
        let host = &settings.engine.docker_host;
        let backend = match settings.engine.engine {
            EngineKind::Docker => Backend::docker(host, Arc::clone(&metrics)).await,
            EngineKind::Swarm => Backend::swarm(&settings.engine, Arc::clone(&metrics)).await,
        };
        let backend = backend.map_err(StartupError::Docker)?;
        instance_network::ensure(&backend, &settings.engine).await?;
        let swarm_networks = backend.swarm_networks();
        let settings = Arc::new(settings);
        let tasks = Tasks::on_current_runtime();
        let instances = Instances::new(backend, &settings, tasks.clone(), metrics);
        instances.start_watcher();
        instances.start_culler();
        if let Some(networks) = swarm_networks {
            tasks.supervise("swarm network joins", move || {
                crate::backend::swarm::joins::keep_joined(Arc::clone(&networks))
            });
        }
        if settings.listen.api_token.is_none() {
            log::warn!(
                "no api_token configured: the private API (create, delete, sessions) answers anyone \
                 who can reach port {}",
                settings.listen.api_addr.port()
            );
        }
        let sessions = Arc::new(Sessions::from_settings(&settings));
        let gate = web::Data::new(Gate::new(
            Arc::clone(&settings),
            Arc::clone(&instances),
            Arc::clone(&sessions),
        ));
        let sessions = web::Data::from(sessions);
        let settings = web::Data::from(settings);

        let api_port = api_listener.local_addr()?.port();
        let auth_port = auth_listener.local_addr()?.port();
        let api_data = web::Data::from(Arc::clone(&instances));
        let api_settings = settings.clone();
        let config_cache = web::Data::new(traefik_config::ConfigCache::default());
        let api_doc = web::Data::new(routes::openapi::Document::new(&settings.limits));
        let api = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(guard::private_api))
                .wrap(Logger::new("%a \"%r\" %s %Dms"))
                .app_data(api_data.clone())
                .app_data(api_settings.clone())
                .app_data(sessions.clone())
                .app_data(config_cache.clone())
                .app_data(api_doc.clone())
                .app_data(web::PayloadConfig::new(deploy::BODY_LIMIT))
                .app_data(web::QueryConfig::default().error_handler(deploy::query_error))
                .configure(routes::private_api)
                .configure(routes::admin::configure)
                .default_service(web::to(routes::no_route))
        })
        .workers(1)
        .shutdown_timeout(5)
        .disable_signals()
        .listen(api_listener)?
        .run();

        let hold_secs = settings.readiness.hold_timeout.as_secs() + 1;
        // No access log here: this answers every request the site gets; decisions are logged.
        let auth = HttpServer::new(move || {
            App::new()
                .app_data(gate.clone())
                .app_data(settings.clone())
                .route("/auth", web::route().to(forward_auth::auth))
                .route("/healthz", web::get().to(health::healthz))
                .default_service(web::to(not_found))
        })
        // Held requests are answered (ready or not) within hold_timeout: shutdown waits for them.
        .shutdown_timeout(hold_secs)
        .disable_signals()
        // Answers are one small write each; Nagle would only hold them back.
        .tcp_nodelay(true)
        .listen(auth_listener)?
        .run();

        Ok(Self {
            api_port,
            auth_port,
            api,
            auth,
            tasks,
        })
    }

    pub fn api_port(&self) -> u16 {
        self.api_port
    }

    pub fn auth_port(&self) -> u16 {
        self.auth_port
    }

    /// Serves until SIGTERM or SIGINT (or either server ends), then shuts down gracefully: no
    /// new connection is accepted, every request already held is answered (200 when its
    /// instance got ready within its `hold_timeout`, else the 503 page), and only then do the
    /// background tasks stop. A start the engine was asked for completes in the engine; the
    /// next spawner finds the instance running and checks its readiness again.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let api = self.api.handle();
        let auth = self.auth.handle();
        // The servers are polled to the end: a dropped server future ends its connections.
        let (mut api_server, mut auth_server) = (self.api, self.auth);
        let (mut api_ended, mut auth_ended) = (false, false);
        let result = tokio::select! {
            r = &mut api_server => { api_ended = true; r }
            r = &mut auth_server => { auth_ended = true; r }
            signal = shutdown_signal() => {
                log::info!("{signal}: shutting down; answering the requests already held");
                Ok(())
            }
        };
        let api_rest = async move {
            if !api_ended {
                let _ = api_server.await;
            }
        };
        let auth_rest = async move {
            if !auth_ended {
                let _ = auth_server.await;
            }
        };
        tokio::join!(api.stop(true), auth.stop(true), api_rest, auth_rest);
        let left = self.tasks.shutdown(TASKS_GRACE).await;
        log::info!("shut down cleanly ({left} background task(s) left to the runtime)");
        result
    }
}

/// Resolves on SIGTERM (`docker stop`, `docker restart`) or SIGINT (Ctrl-C), naming it.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(term), Ok(int)) => (term, int),
        _ => {
            log::error!("cannot listen for signals; stop spawner with SIGKILL");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Op;
    use crate::error::chain;

    #[test]
    fn a_failed_start_says_its_sentence_and_then_each_cause_once() {
        let bind = StartupError::Bind {
            setting: "api_addr",
            addr: "127.0.0.1:8008".parse().unwrap(),
            source: std::io::Error::other("address in use"),
        };
        let docker = StartupError::Docker(BackendError::Unavailable {
            op: Op::Connect,
            source: "no socket at /nonexistent/docker.sock".into(),
        });
        for (e, cause) in [
            (bind, "address in use"),
            (docker, "/nonexistent/docker.sock"),
        ] {
            let text = chain(&e);
            assert_eq!(text.matches(cause).count(), 1, "{text}");
            assert!(!e.to_string().contains(cause), "{e}");
        }
    }
}
