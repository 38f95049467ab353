//! Every setting once: its key, default, value name and help. The command line, `--help`, the
//! layering and the error messages are all built from this table, so a setting cannot be
//! documented in one place and missing in another.

/// key, default, value name, help.
pub const SETTINGS: &[(&str, &str, &str, &str)] = &[
    (
        "api_addr",
        "0.0.0.0:8008",
        "ADDR",
        "Address of the private API (deploy, traefik config)",
    ),
    (
        "auth_addr",
        "0.0.0.0:8000",
        "ADDR",
        "Address of the ForwardAuth endpoint (/auth)",
    ),
    (
        "docker_host",
        "",
        "URL",
        "Docker endpoint, e.g. unix:///var/run/docker.sock (empty: DOCKER_HOST, else the local socket)",
    ),
    (
        "network",
        "traefiknet",
        "NETWORK",
        "Docker network instances are created on",
    ),
    (
        "allowed_networks",
        "",
        "LIST",
        "Comma-separated networks a deploy may choose (empty: only --network)",
    ),
    (
        "cookie_key",
        "instance",
        "NAME",
        "Cookie that names the user's instance",
    ),
    (
        "cookie_fallback_url",
        "/home",
        "URL",
        "Where clients without a usable instance are redirected",
    ),
    (
        "public_path",
        "/home",
        "PATH",
        "Path (and sub-paths) that pass without an instance",
    ),
    (
        "redirect_timeout",
        "2s",
        "DURATION",
        "Wait after a start when nothing tells readiness",
    ),
    (
        "http_probe_ok_status",
        "200",
        "STATUS",
        "Status the health-check URL answers when ready",
    ),
    (
        "http_probe_timeout",
        "1s",
        "DURATION",
        "Timeout of one readiness probe",
    ),
    (
        "traefik_base_url",
        "http://traefik:8080",
        "URL",
        "traefik's API, asked whether a new route is loaded",
    ),
    (
        "traefik_check_enabled",
        "true",
        "BOOL",
        "Wait for traefik to load a new instance's route (fallback)",
    ),
    (
        "use_path_routing",
        "false",
        "BOOL",
        "Route by path (<prefix>/<name>/...) instead of cookie",
    ),
    (
        "container_prefix",
        "",
        "PATH",
        "Path prefix of instances in path-routing mode, e.g. /p",
    ),
    (
        "hold_timeout",
        "25s",
        "DURATION",
        "How long /auth holds a request for a starting instance (keep under traefik's 30s)",
    ),
    (
        "route_timeout",
        "10s",
        "DURATION",
        "How long the fallback waits for traefik to load a route",
    ),
    (
        "ready_timeout",
        "5m",
        "DURATION",
        "After this, a start that never got ready is given up",
    ),
    (
        "max_concurrent_starts",
        "32",
        "N",
        "How many container starts spawner asks of Docker at once",
    ),
    (
        "entrypoint",
        "web",
        "NAME",
        "traefik entrypoint of the served routers",
    ),
];
