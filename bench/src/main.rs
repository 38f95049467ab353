//! spawner-bench: the measuring half of `scripts/bench.sh`, which brings up the stack and passes
//! its addresses here. Every figure is the median of repeated runs, with min and max.
//!
//! Scenarios: (1) the hot path through traefik with no middleware, with spawner's ForwardAuth and
//! with a do-nothing ForwardAuth (wrk); (2) `/auth` alone (wrk) with spawner's CPU per request and
//! RSS; (3) cold starts per readiness kind, split into Docker start, app-ready (a direct probe of
//! the app, independent of spawner) and spawner's overhead; (4) a thundering herd on one stopped
//! instance; (5) the wake from pause through traefik; (6) many managed instances, with the
//! culler's cost per check.

mod cold;
mod hot;
mod instances;
mod measure;
mod paced;
mod report;
mod scale;
mod sleep;

use std::time::{Duration, SystemTime};

use clap::Parser;
use serde_json::json;

#[derive(Parser, Debug)]
struct Args {
    /// traefik's web entrypoint (container address, bypassing docker-proxy)
    #[arg(long, env = "BENCH_PUBLIC")]
    public: String,
    /// spawner's private API
    #[arg(long, env = "BENCH_API")]
    api: String,
    /// spawner's ForwardAuth endpoint (container address)
    #[arg(long, env = "BENCH_AUTH")]
    auth: String,
    /// host PID of spawner's process (CPU and RSS)
    #[arg(long, env = "BENCH_SPAWNER_PID")]
    spawner_pid: u32,
    /// host PID of traefik's process (RSS)
    #[arg(long, env = "BENCH_TRAEFIK_PID")]
    traefik_pid: u32,
    /// traefik's container (paused to measure without its configuration polling)
    #[arg(long, env = "BENCH_TRAEFIK_CONTAINER")]
    traefik_container: String,
    #[arg(long, env = "BENCH_NETWORK")]
    network: String,
    /// unique prefix of every instance this run creates
    #[arg(long, env = "BENCH_PREFIX")]
    prefix: String,
    /// the running instance the hot-path scenarios hit
    #[arg(long, env = "BENCH_APP")]
    app: String,
    #[arg(long, env = "BENCH_QUICK", default_value_t = false)]
    quick: bool,
    /// only these scenarios (comma-separated: hot, auth, cold, herd, pause, scale), e.g. to
    /// repeat one with more rounds; default: all
    #[arg(long, env = "BENCH_ONLY")]
    only: Option<String>,
    /// rounds of the paced /auth comparison in scenario 6 (default 5; 1 with --quick)
    #[arg(long, env = "BENCH_PACED_ROUNDS")]
    paced_rounds: Option<usize>,
    #[arg(long, env = "BENCH_OUT")]
    out: String,
    /// spawner's API token (sent as a bearer token)
    #[arg(long, env = "BENCH_TOKEN")]
    token: String,
    /// spawner's cookie secret: the driver signs sessions as spawner does
    #[arg(long, env = "BENCH_COOKIE_SECRET")]
    cookie_secret: String,
    /// the stack's idle_check_interval (the culler's cost is measured per check)
    #[arg(long, env = "BENCH_IDLE_CHECK_INTERVAL", value_parser = humantime::parse_duration, default_value = "10s")]
    idle_check_interval: Duration,
}

struct Plan {
    runs: usize,
    wrk_seconds: u32,
    connections: u32,
    cold_samples: usize,
    herd: usize,
    scale: usize,
    /// How many of the `scale` instances run while the culler's cost is measured.
    scale_running: usize,
}

// ---- instances ----------------------------------------------------------------------------------

struct Bench {
    args: Args,
    plan: Plan,
    client: reqwest::Client,
    /// Session cookies by instance: made once (reading the epoch costs a `docker inspect`), so
    /// no timed request pays for it.
    cookies: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let plan = if args.quick {
        Plan {
            runs: 1,
            wrk_seconds: 2,
            connections: 32,
            cold_samples: 2,
            herd: 50,
            scale: 20,
            scale_running: 10,
        }
    } else {
        Plan {
            runs: 3,
            wrk_seconds: 10,
            connections: 64,
            cold_samples: 10,
            herd: 500,
            scale: 1000,
            scale_running: 200,
        }
    };
    let mut headers = reqwest::header::HeaderMap::new();
    let bearer = format!("Bearer {}", args.token)
        .parse()
        .expect("a token is a header value");
    headers.insert(reqwest::header::AUTHORIZATION, bearer);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .pool_max_idle_per_host(1000)
        .timeout(Duration::from_secs(40))
        .build()
        .unwrap();
    let bench = Bench {
        args,
        plan,
        client,
        cookies: Default::default(),
    };
    let mut report = json!({});
    let runs = |key: &str| {
        bench
            .args
            .only
            .as_deref()
            .is_none_or(|only| only.split(',').any(|k| k.trim() == key))
    };
    if runs("hot") {
        eprintln!("==> 1. hot path through traefik");
        report["hot_path"] = bench.hot_path();
    }
    if runs("auth") {
        eprintln!("==> 2. /auth alone");
        report["auth_alone"] = bench.auth_alone();
    }
    if runs("cold") {
        eprintln!("==> 3. cold starts");
        report["cold_start"] = bench.cold_starts().await;
    }
    if runs("herd") {
        eprintln!("==> 4. thundering herd");
        report["herd"] = bench.herd().await;
    }
    if runs("pause") {
        eprintln!("==> 5. wake from pause");
        report["pause_wake"] = bench.pause_wake().await;
    }
    if runs("scale") {
        eprintln!("==> 6. scale ({} instances)", bench.plan.scale);
        report["scale"] = bench.scale().await;
    }
    report["date"] = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .into();
    report["quick"] = bench.args.quick.into();
    report["plan"] = json!({"runs": bench.plan.runs, "wrk_seconds": bench.plan.wrk_seconds, "connections": bench.plan.connections,
             "cold_samples": bench.plan.cold_samples, "herd": bench.plan.herd, "scale": bench.plan.scale});
    std::fs::write(
        &bench.args.out,
        serde_json::to_string_pretty(&report).unwrap(),
    )
    .unwrap();
    report::print_table(&report, bench.args.quick);
    println!("\nfigures written to {}", bench.args.out);
}
