//! The `spawner` binary's command line: help, refusal of bad settings, the old Go-style flags.

use std::process::Command;

use crate::helpers::{require_docker, SpawnerProcess};

fn spawner(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_spawner"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Every setting's flag, written out here rather than read from the table `--help` is built
/// from: a setting dropped or renamed in the table fails this test.
const FLAGS: &[&str] = &[
    "--config",
    "--api-addr",
    "--auth-addr",
    "--reuse-port",
    "--engine",
    "--docker-host",
    "--network",
    "--network-subnet",
    "--scope",
    // Limits of every instance.
    "--default-memory",
    "--max-memory",
    "--default-cpus",
    "--max-cpus",
    "--default-pids-limit",
    "--max-pids-limit",
    "--cap-drop",
    "--allowed-networks",
    // The old spawner's flags, same names.
    "--cookie-key",
    "--cookie-fallback-url",
    // Sessions and the API token.
    "--cookie-signing",
    "--cookie-secret",
    "--cookie-secret-file",
    "--session-ttl",
    "--cookie-secure",
    "--api-token",
    "--api-token-file",
    "--redirect-timeout",
    "--http-probe-ok-status",
    "--http-probe-timeout",
    "--traefik-base-url",
    "--traefik-check-enabled",
    "--routing",
    "--use-path-routing",
    "--container-prefix",
    "--host-domain",
    "--router-tls",
    "--tls-cert-resolver",
    "--public-path",
    "--hold-timeout",
    "--html-hold",
    "--route-timeout",
    "--ready-timeout",
    "--max-concurrent-starts",
    "--entrypoint",
    "--idle-timeout",
    "--idle-check-interval",
    "--idle-action",
    "--pause-timeout",
    "--max-running",
    "--evict-grace",
    "--pull-policy",
    "--registry-auth-file",
];

#[test]
fn help_lists_every_setting_with_its_old_flag_name() {
    let out = spawner(&["--help"], &[]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in FLAGS {
        assert!(help.contains(flag), "{flag} missing:\n{help}");
    }
    let listed = help
        .lines()
        .filter(|l| l.trim_start().starts_with("--"))
        .filter(|l| !l.contains("--help") && !l.contains("--version"))
        .count();
    assert_eq!(listed, FLAGS.len(), "a setting is not tested here:\n{help}");
}

#[test]
fn an_invalid_value_stops_spawner_at_start_with_exit_code_2_naming_the_setting() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 11] = [
        (&["--hold-timeout", "forever"], &[], "hold_timeout"),
        (
            &[],
            &[("SPAWNER_HTTP_PROBE_OK_STATUS", "ok")],
            "http_probe_ok_status",
        ),
        (&["--api-addr", "localhost"], &[], "api_addr"),
        (&["--no-such-flag"], &[], "--no-such-flag"),
        (&["-max-concurrent-starts=0"], &[], "max_concurrent_starts"),
        (&["--cookie-secret", "short"], &[], "at least 32"),
        (&[], &[("SPAWNER_API_TOKEN", "short")], "api_token"),
        (
            &["--api-token-file", "/no/such/file"],
            &[],
            "cannot read /no/such/file",
        ),
        (&["--default-memory", "4g"], &[], "above max_memory"),
        (&["--engine", "kubernetes"], &[], "write docker or swarm"),
        (
            &["--engine", "swarm", "--idle-action", "pause"],
            &[],
            "a Swarm task cannot be paused",
        ),
    ];
    for (args, env, named) in cases {
        let out = spawner(args, env);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(named), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("\"short\""),
            "a secret was printed: {stderr}"
        );
    }
}

/// The old README's own command lines, run as a shell runs them.
#[test]
fn the_old_readmes_go_style_command_lines_start_spawner_with_those_settings() {
    require_docker();
    let cases = [
        ("spawner -use-path-routing=true", "routing=path"),
        (
            "./spawner -container-prefix='/mycustomprefix'",
            "container_prefix=\"/mycustomprefix\"",
        ),
        (
            "spawner -traefik-check-enabled=false",
            "traefik_check_enabled=false",
        ),
        (
            "spawner -use-path-routing -container-prefix /p -hold-timeout 3s",
            "routing=path container_prefix=\"/p\" traefik_check_enabled=true hold_timeout=3s",
        ),
    ];
    for (line, expected) in cases {
        let process = SpawnerProcess::start(line, &[]);
        let log = process.log();
        let settings = log
            .lines()
            .find(|l| l.contains("settings: "))
            .unwrap_or_else(|| panic!("{line}: no settings line in\n{log}"));
        for pair in expected.split(' ') {
            assert!(settings.contains(pair), "{line}: {pair} not in {settings}");
        }
    }
}
