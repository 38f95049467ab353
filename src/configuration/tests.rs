//! Unit tests of the layers, the parsers and the command line.

use std::time::Duration;

use super::*;
use crate::domain::{IdleAction, Routing};

/// What `main` prints for a refused configuration: the whole chain.
fn said(error: ConfigError) -> String {
    crate::error::chain(&error)
}

fn load(args: &[&str], env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let args = std::iter::once("spawner")
        .chain(args.iter().copied())
        .map(String::from);
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::load(args, env).expect("valid command line")
}

#[test]
fn defaults_match_the_design() {
    let s = load(&[], &[]).unwrap();
    assert_eq!(s.listen.api_addr.to_string(), "0.0.0.0:8008");
    assert_eq!(s.listen.auth_addr.to_string(), "0.0.0.0:8000");
    assert_eq!(s.sessions.cookie_key, "instance");
    assert_eq!(s.sessions.cookie_fallback_url, "/home");
    assert_eq!(s.readiness.redirect_timeout, Duration::from_secs(2));
    assert_eq!(s.readiness.hold_timeout, Duration::from_secs(25));
    assert_eq!(s.engine.allowed_networks, vec!["traefiknet".to_string()]);
    assert!(s.traefik.traefik_check_enabled && s.traefik.routing == Routing::Cookie);
    assert_eq!(s.readiness.max_concurrent_starts, 32);
}

#[test]
fn environment_wins_over_defaults_and_flags_win_over_environment() {
    let env = [
        ("SPAWNER_HOLD_TIMEOUT", "3s"),
        ("SPAWNER_NETWORK", "envnet"),
    ];
    let s = load(&[], &env).unwrap();
    assert_eq!(s.readiness.hold_timeout, Duration::from_secs(3));
    assert_eq!(s.engine.network, "envnet");
    let s = load(
        &["--hold-timeout", "4s", "--traefik-check-enabled=false"],
        &env,
    )
    .unwrap();
    assert_eq!(s.readiness.hold_timeout, Duration::from_secs(4));
    assert!(!s.traefik.traefik_check_enabled);
    let s = load(&["--use-path-routing", "--container-prefix", "/p/"], &[]).unwrap();
    assert_eq!(s.traefik.routing, Routing::Path);
    assert_eq!(s.traefik.container_prefix, "/p");
}

#[test]
fn the_file_sits_between_defaults_and_environment() {
    let dir = std::env::temp_dir().join(format!("spawner-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("spawner.toml");
    std::fs::write(&file, "hold_timeout = \"7s\"\nnetwork = \"filenet\"\n").unwrap();
    let path = file.to_str().unwrap();
    let s = load(&["--config", path], &[]).unwrap();
    assert_eq!(s.readiness.hold_timeout, Duration::from_secs(7));
    let s = load(
        &[],
        &[("SPAWNER_CONFIG", path), ("SPAWNER_NETWORK", "envnet")],
    )
    .unwrap();
    assert_eq!(
        (s.engine.network.as_str(), s.readiness.hold_timeout),
        ("envnet", Duration::from_secs(7))
    );
    std::fs::write(&file, "hold_timout = \"7s\"\n").unwrap();
    let err = said(load(&["--config", path], &[]).unwrap_err());
    assert!(err.contains("unknown setting `hold_timout`"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_bad_value_names_the_setting_whatever_layer_it_came_from() {
    let err = said(load(&["--hold-timeout", "soon"], &[]).unwrap_err());
    assert!(
        err.contains("`hold_timeout`") && err.contains("--hold-timeout"),
        "{err}"
    );
    let err = said(load(&[], &[("SPAWNER_HTTP_PROBE_OK_STATUS", "abc")]).unwrap_err());
    assert!(err.contains("`http_probe_ok_status`"), "{err}");
    let err = said(load(&["--api-addr", "nowhere"], &[]).unwrap_err());
    assert!(err.contains("`api_addr`"), "{err}");
    let err = said(load(&["--traefik-check-enabled=maybe"], &[]).unwrap_err());
    assert!(err.contains("`traefik_check_enabled`"), "{err}");
}

#[test]
fn help_lists_every_setting() {
    let help = command().render_long_help().to_string();
    for (key, ..) in SETTINGS {
        assert!(help.contains(&format!("--{}", flag(key))), "{key}");
    }
}

#[test]
fn go_style_single_dash_flags_are_read_as_long_flags() {
    let s = load(
        &[
            "-use-path-routing=true",
            "-container-prefix",
            "/mycustomprefix",
        ],
        &[],
    )
    .unwrap();
    assert_eq!(s.traefik.routing, Routing::Path);
    assert_eq!(s.traefik.container_prefix, "/mycustomprefix");
    let s = load(&["-traefik-check-enabled=false", "-hold-timeout=3s"], &[]).unwrap();
    assert!(!s.traefik.traefik_check_enabled);
    assert_eq!(s.readiness.hold_timeout, Duration::from_secs(3));
    // Short flags and unknown names are left for clap to judge.
    assert_eq!(
        cli::go_style(["spawner", "-h", "-x", "-config=a"].map(String::from)),
        ["spawner", "-h", "-x", "--config=a"]
    );
}

#[test]
fn idle_and_capacity_settings_default_as_documented_and_zero_means_none() {
    let s = load(&[], &[]).unwrap();
    assert_eq!(s.idle.idle_timeout, Some(Duration::from_secs(900)));
    assert_eq!(s.idle.idle_check_interval, Duration::from_secs(10));
    assert_eq!(s.idle.idle_action, IdleAction::Stop);
    assert_eq!(s.capacity.max_running, None);
    assert_eq!(s.capacity.evict_grace, Duration::from_secs(10));
    let s = load(
        &[
            "--idle-timeout",
            "0",
            "--idle-action",
            "pause",
            "--max-running",
            "5",
        ],
        &[],
    )
    .unwrap();
    assert_eq!(s.idle.idle_timeout, None);
    assert_eq!(s.idle.idle_action, IdleAction::Pause);
    assert_eq!(s.capacity.max_running, Some(5));
    for (flag, value, says) in [
        ("--idle-action", "sleep", "write stop or pause"),
        ("--idle-check-interval", "0", "longer than zero"),
        ("--max-running", "many", "0: no limit"),
        ("--idle-timeout", "soon", "0: never"),
        ("--idle-timeout", "366d", "at most 365 days"),
        ("--max-cpus", "0.001", "at least 0.01"),
    ] {
        let error = said(load(&[flag, value], &[]).unwrap_err());
        assert!(error.contains(&flag[2..].replace('-', "_")), "{error}");
        assert!(error.contains(says), "{flag}: {error}");
    }
}

#[test]
fn an_unreadable_file_keeps_the_config_crates_error_as_its_cause() {
    let dir = std::env::temp_dir().join(format!("spawner-cfg-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("spawner.toml");
    std::fs::write(&file, "hold_timeout = = \"7s\"\n").unwrap();
    let e = load(&["--config", file.to_str().unwrap()], &[]).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(e.to_string(), "cannot read the configuration");
    let cause = std::error::Error::source(&e).expect("the config crate's error is kept");
    assert!(cause.to_string().contains("spawner.toml"), "{cause}");
}

#[test]
fn a_file_that_a_setting_names_and_that_cannot_be_read_is_kept_as_the_cause() {
    let e = load(&["--cookie-secret-file", "/no/such/secret"], &[]).unwrap_err();
    let refusal = std::error::Error::source(&e).expect("the refusal");
    let io = refusal.source().expect("the file's own error");
    assert!(io.downcast_ref::<std::io::Error>().is_some(), "{io}");
    let said = said(e);
    assert!(
        said.contains("`cookie_secret_file`") && said.contains("cannot read /no/such/secret: "),
        "{said}"
    );
}

#[test]
fn the_swarm_engine_is_chosen_by_name_and_refuses_to_pause() {
    assert_eq!(load(&[], &[]).unwrap().engine.engine, EngineKind::Docker);
    let swarm = load(&["--engine", "Swarm"], &[]).unwrap();
    assert_eq!(swarm.engine.engine, EngineKind::Swarm);
    let refused = said(load(&["--engine", "swarm", "--idle-action", "pause"], &[]).unwrap_err());
    assert!(refused.contains("`idle_action`"), "{refused}");
    assert!(refused.contains("cannot be paused"), "{refused}");
    let unknown = said(load(&[], &[("SPAWNER_ENGINE", "k8s")]).unwrap_err());
    assert!(unknown.contains("write docker or swarm"), "{unknown}");
}
