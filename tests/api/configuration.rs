//! The `spawner` binary's command line: help and refusal of bad settings.

use std::process::Command;

use spawner::configuration::SETTINGS;

fn spawner(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_spawner"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn help_lists_every_setting_with_its_old_flag_name() {
    let out = spawner(&["--help"], &[]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for (key, ..) in SETTINGS {
        assert!(
            help.contains(&format!("--{}", key.replace('_', "-"))),
            "{key} missing:\n{help}"
        );
    }
    for old in [
        "--cookie-key",
        "--cookie-fallback-url",
        "--redirect-timeout",
        "--http-probe-ok-status",
        "--http-probe-timeout",
        "--traefik-base-url",
        "--traefik-check-enabled",
        "--use-path-routing",
        "--container-prefix",
        "--config",
    ] {
        assert!(help.contains(old), "{old} missing");
    }
}

#[test]
fn an_invalid_value_stops_spawner_at_start_with_exit_code_2_naming_the_setting() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 4] = [
        (&["--hold-timeout", "forever"], &[], "hold_timeout"),
        (
            &[],
            &[("SPAWNER_HTTP_PROBE_OK_STATUS", "ok")],
            "http_probe_ok_status",
        ),
        (&["--api-addr", "localhost"], &[], "api_addr"),
        (&["--no-such-flag"], &[], "--no-such-flag"),
    ];
    for (args, env, named) in cases {
        let out = spawner(args, env);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}
