//! The `spawner` binary: reads the settings, builds the service ([`Application`]) and serves
//! until a signal. A refused setting exits with 2, a failed start with 1; either prints its
//! whole chain of causes once.

use std::process::ExitCode;

use spawner::configuration::Settings;
use spawner::error::chain;
use spawner::startup::Application;

/// `spawner anchor`: does nothing until stopped. In Swarm mode spawner runs it on each node as
/// the plain container that the instances' networks are joined to first (`backend::swarm`).
async fn anchor() -> ExitCode {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            eprintln!("spawner anchor: {e}");
            return ExitCode::from(1);
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    ExitCode::SUCCESS
}

#[actix_web::main]
async fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    if std::env::args().nth(1).as_deref() == Some("anchor") {
        return anchor().await;
    }
    let settings = match Settings::load(std::env::args(), std::env::vars().collect()) {
        Err(usage) => usage.exit(),
        Ok(Err(e)) => {
            eprintln!("spawner: {}", chain(&e));
            return ExitCode::from(2);
        }
        Ok(Ok(settings)) => settings,
    };
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("spawner: {}", chain(&e));
            return ExitCode::from(1);
        }
    };
    log::info!(
        "spawner listening: API on port {}, ForwardAuth on port {}",
        app.api_port(),
        app.auth_port()
    );
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spawner: {}", chain(&e));
            ExitCode::from(1)
        }
    }
}
