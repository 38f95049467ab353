//! spawner-bench: the measuring half of `scripts/bench.sh`, which brings up the stack and passes
//! its addresses here. Every figure is the median of repeated runs, with min and max.
//!
//! Scenarios: (1) the hot path through traefik with no middleware, with spawner's ForwardAuth and
//! with a do-nothing ForwardAuth (wrk); (2) `/auth` alone (wrk) with spawner's CPU per request and
//! RSS; (3) cold starts per readiness kind, split into Docker start, app-ready (a direct probe of
//! the app, independent of spawner) and spawner's overhead; (4) a thundering herd on one stopped
//! instance; (5) many managed instances.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use serde_json::{json, Value};
use spawner::domain::session::{Keys, Secret};
use spawner::domain::InstanceName;

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
    #[arg(long, env = "BENCH_OUT")]
    out: String,
    /// spawner's API token (sent as a bearer token)
    #[arg(long, env = "BENCH_TOKEN")]
    token: String,
    /// spawner's cookie secret: the driver signs sessions as spawner does
    #[arg(long, env = "BENCH_COOKIE_SECRET")]
    cookie_secret: String,
}

struct Plan {
    runs: usize,
    wrk_seconds: u32,
    connections: u32,
    cold_samples: usize,
    herd: usize,
    scale: usize,
}

/// median, min, max.
#[derive(Clone, Copy, Debug, Default)]
struct Stat {
    median: f64,
    min: f64,
    max: f64,
}

impl Stat {
    fn of(values: &[f64]) -> Self {
        let mut v = values.to_vec();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        if v.is_empty() {
            return Self::default();
        }
        let mid = v.len() / 2;
        let median = if v.len() % 2 == 0 {
            (v[mid - 1] + v[mid]) / 2.0
        } else {
            v[mid]
        };
        Self {
            median,
            min: v[0],
            max: v[v.len() - 1],
        }
    }

    fn json(&self) -> Value {
        json!({"median": round(self.median), "min": round(self.min), "max": round(self.max)})
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    if !out.status.success() {
        panic!("docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

// ---- wrk ----------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct WrkRun {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: f64,
}

fn parse_latency(text: &str) -> f64 {
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().unwrap_or(f64::NAN) * factor
}

/// Saturating load: throughput. Its p99 is mostly the scheduler's (every core is busy).
fn wrk(url: &str, headers: &[(&str, &str)], plan: &Plan) -> WrkRun {
    wrk_with(url, headers, 2, plan.connections, plan.wrk_seconds)
}

/// Light load (1 thread, 4 connections, cores left idle): latency that is the server's own.
fn wrk_light(url: &str, headers: &[(&str, &str)], plan: &Plan) -> WrkRun {
    wrk_with(url, headers, 1, 4, plan.wrk_seconds)
}

fn wrk_with(
    url: &str,
    headers: &[(&str, &str)],
    threads: u32,
    connections: u32,
    seconds: u32,
) -> WrkRun {
    let mut cmd = Command::new("wrk");
    cmd.args([
        format!("-t{threads}"),
        format!("-c{connections}"),
        format!("-d{seconds}s"),
        "--latency".to_string(),
    ]);
    for (k, v) in headers {
        cmd.arg("-H").arg(format!("{k}: {v}"));
    }
    let out = cmd
        .arg(url)
        .output()
        .expect("wrk (scripts/bench.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("Non-2xx or 3xx responses"),
        "wrk saw error answers from {url}; the figures would be meaningless:\n{text}"
    );
    let mut run = WrkRun {
        rps: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        requests: f64::NAN,
    };
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => run.p50_ms = parse_latency(v),
            ["99%", v] => run.p99_ms = parse_latency(v),
            ["Requests/sec:", v] => run.rps = v.parse().unwrap_or(f64::NAN),
            [n, "requests", "in", ..] => run.requests = n.parse().unwrap_or(f64::NAN),
            _ => {}
        }
    }
    run
}

fn summarize(runs: &[WrkRun]) -> (Stat, Stat, Stat) {
    let pick = |f: fn(&WrkRun) -> f64| Stat::of(&runs.iter().map(f).collect::<Vec<_>>());
    (pick(|r| r.rps), pick(|r| r.p50_ms), pick(|r| r.p99_ms))
}

fn wrk_json(runs: &[WrkRun]) -> Value {
    let (rps, p50, p99) = summarize(runs);
    json!({"req_per_s": rps.json(), "p50_ms": p50.json(), "p99_ms": p99.json(), "runs": runs.len()})
}

// ---- the spawner process ------------------------------------------------------------------------

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11)
        .and_then(|u| u.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
        + fields
            .get(12)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(f64::NAN);
    ticks / 100.0
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
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

impl Bench {
    /// A session cookie for `name`, signed with spawner's secret and the instance's session epoch
    /// (read from Docker), valid for a day.
    fn cookie(&self, name: &str) -> String {
        let mut cookies = self.cookies.lock().unwrap();
        cookies
            .entry(name.to_string())
            .or_insert_with(|| self.sign(name))
            .clone()
    }

    fn sign(&self, name: &str) -> String {
        let secret = Secret::parse(&self.args.cookie_secret).expect("a valid cookie secret");
        let keys = Keys::new(vec![secret]).expect("one secret");
        let epoch = std::process::Command::new("docker")
            .args([
                "inspect",
                "-f",
                "{{index .Config.Labels \"spawner.session-epoch\"}}",
                name,
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .expect("the docker CLI");
        let name = InstanceName::parse(name).expect("a valid instance name");
        let expires = std::time::SystemTime::now() + Duration::from_secs(86_400);
        format!("instance={}", keys.sign(&name, &epoch, expires))
    }

    async fn deploy(&self, name: &str, image: &str, labels: Value, port: Option<u16>, start: bool) {
        let mut body = json!({"name": name, "image": image, "network": self.args.network,
                              "labels": labels, "envs": {"IDLE": "30m"}, "start": start});
        if let Some(port) = port {
            body["port"] = port.into();
        }
        let r = self
            .client
            .post(format!("{}/deploy", self.args.api))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "deploy {name}: {:?}", r.text().await);
    }

    async fn state(&self, name: &str) -> String {
        let r = self
            .client
            .get(format!("{}/deploy/{name}", self.args.api))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        v["state"].as_str().unwrap_or("").to_string()
    }

    async fn stop_and_wait(&self, name: &str) {
        docker(&["stop", "-t", "2", name]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.state(name).await != "exited" {
            assert!(Instant::now() < deadline, "spawner did not see {name} stop");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn ip(&self, name: &str) -> String {
        docker(&[
            "inspect",
            "-f",
            &format!(
                "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
                self.args.network
            ),
            name,
        ])
    }

    fn started_at(&self, name: &str) -> SystemTime {
        let raw = docker(&["inspect", "-f", "{{.State.StartedAt}}", name]);
        humantime::parse_rfc3339_weak(raw.trim_end_matches('Z')).expect("StartedAt")
    }

    fn start_events(&self, name: &str, since: SystemTime) -> usize {
        let ts = |t: SystemTime| {
            let d = t.duration_since(UNIX_EPOCH).unwrap();
            format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
        };
        let until = SystemTime::now() + Duration::from_secs(1);
        docker(&[
            "events",
            "--since",
            &ts(since),
            "--until",
            &ts(until),
            "--filter",
            &format!("container={name}"),
            "--filter",
            "event=start",
            "--format",
            "{{.ID}}",
        ])
        .lines()
        .count()
    }

    /// Until traefik has loaded the instance's own router (a request through it answers 200).
    async fn wait_routed(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = self
                .request(name, true)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok();
            if status == Some(200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "traefik did not route {name}: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A request as a user's browser makes it: through traefik with the cookie, or `/auth` alone.
    fn request(&self, name: &str, via_traefik: bool) -> reqwest::RequestBuilder {
        let cookie = self.cookie(name);
        if via_traefik {
            self.client
                .get(format!("{}/", self.args.public))
                .header("Cookie", cookie)
        } else {
            self.client
                .get(format!("{}/auth", self.args.auth))
                .header("Cookie", cookie)
                .header("X-Forwarded-Uri", "/")
        }
    }

    // ---- (1) and (2) ----------------------------------------------------------------------------

    fn hot_path(&self) -> Value {
        let cookie = self.cookie(&self.args.app);
        let variants = [
            ("direct", "no middleware (limit)"),
            ("spawner", "spawner ForwardAuth"),
            ("noop", "no-op ForwardAuth"),
        ];
        let mut runs: BTreeMap<&str, Vec<WrkRun>> = BTreeMap::new();
        let mut light: BTreeMap<&str, Vec<WrkRun>> = BTreeMap::new();
        let url = format!("{}/", self.args.public);
        for _ in 0..self.plan.runs {
            // Interleaved, so drift on the machine touches all three alike.
            for (host, _) in variants {
                let h = format!("{host}.bench");
                let headers = [("Host", h.as_str()), ("Cookie", cookie.as_str())];
                runs.entry(host)
                    .or_default()
                    .push(wrk(&url, &headers, &self.plan));
                light
                    .entry(host)
                    .or_default()
                    .push(wrk_light(&url, &headers, &self.plan));
            }
        }
        let (a, _, a99) = summarize(&runs["direct"]);
        let (b, _, b99) = summarize(&runs["spawner"]);
        let (c, _, c99) = summarize(&runs["noop"]);
        let (_, _, light_b99) = summarize(&light["spawner"]);
        let (_, _, light_c99) = summarize(&light["noop"]);
        let mut out = json!({
            "light_p99_b_minus_c_ms": round(light_b99.median - light_c99.median),
            "ratio_b_over_a": round(b.median / a.median),
            "ratio_b_over_c": round(b.median / c.median),
            "p99_b_minus_c_ms": round(b99.median - c99.median),
            "p99_b_minus_a_ms": round(b99.median - a99.median),
        });
        for (host, label) in variants {
            out[host] = wrk_json(&runs[host]);
            out[host]["label"] = label.into();
            out[host]["light_load"] = wrk_json(&light[host]);
        }
        out
    }

    fn auth_alone(&self) -> Value {
        let cookie = self.cookie(&self.args.app);
        let pid = self.args.spawner_pid;
        let mut runs = Vec::new();
        let mut cpu_us = Vec::new();
        for _ in 0..self.plan.runs {
            let before = cpu_seconds(pid);
            let run = wrk(
                &format!("{}/auth", self.args.auth),
                &[("Cookie", &cookie), ("X-Forwarded-Uri", "/")],
                &self.plan,
            );
            let spent = cpu_seconds(pid) - before;
            cpu_us.push(spent / run.requests * 1e6);
            runs.push(run);
        }
        let mut out = wrk_json(&runs);
        let url = format!("{}/auth", self.args.auth);
        let headers = [("Cookie", cookie.as_str()), ("X-Forwarded-Uri", "/")];
        let light: Vec<WrkRun> = (0..self.plan.runs)
            .map(|_| wrk_light(&url, &headers, &self.plan))
            .collect();
        out["light_load"] = wrk_json(&light);
        out["cpu_us_per_request"] = Stat::of(&cpu_us).json();
        out["rss_mib"] = round(rss_mib(pid)).into();
        out
    }

    // ---- (3) ------------------------------------------------------------------------------------

    /// One cold start, or `None` when the restart moved the container to another address (the
    /// independent probe then watched the wrong one and the sample is void).
    async fn cold_start_once(&self, name: &str, via_traefik: bool) -> Option<[f64; 4]> {
        // Docker clears the address of a stopped container: take it while it runs.
        let ip = self.ip(name);
        self.stop_and_wait(name).await;
        // The independent probe: the first moment the app itself answers, polled every ~1 ms.
        let probe = {
            let client = reqwest::Client::builder()
                .connect_timeout(Duration::from_millis(5))
                .timeout(Duration::from_millis(200))
                .build()
                .unwrap();
            let url = format!("http://{ip}:9000/status");
            tokio::spawn(async move {
                loop {
                    if let Ok(r) = client.get(&url).send().await {
                        if r.status() == 200 {
                            return Instant::now();
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        };
        let wall0 = SystemTime::now();
        let t0 = Instant::now();
        let response = self.request(name, via_traefik).send().await.unwrap();
        let total = t0.elapsed();
        assert_eq!(
            response.status(),
            200,
            "cold start of {name}: {:?}",
            response.text().await
        );
        if self.ip(name) != ip {
            return None;
        }
        let ready_at = tokio::time::timeout(Duration::from_secs(5), probe)
            .await
            .expect("probe")
            .unwrap();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let app_ready = ms(ready_at.saturating_duration_since(t0));
        let docker_start = ms(self
            .started_at(name)
            .duration_since(wall0)
            .unwrap_or_default());
        Some([ms(total), docker_start, app_ready, ms(total) - app_ready])
    }

    async fn cold_starts(&self) -> Value {
        // kind, image, labels for a name, port.
        type Kind<'a> = (&'a str, &'a str, fn(&str) -> Value, Option<u16>);
        let kinds: [Kind; 3] = [
            ("healthcheck", "mock-app:latest", |_| json!({}), Some(9000)),
            (
                "http",
                "mock-app:nohc",
                |n| json!({"health-check": format!("http://{n}:9000/status")}),
                None,
            ),
            ("tcp", "mock-app:nohc", |_| json!({}), Some(9000)),
        ];
        let mut out = json!({});
        let targets: &[(&str, bool)] = if self.args.quick {
            &[("traefik", true)]
        } else {
            &[("traefik", true), ("auth", false)]
        };
        for (kind, image, labels, port) in kinds {
            let name = format!("{}-cold-{kind}", self.args.prefix);
            self.deploy(&name, image, labels(&name), port, true).await;
            self.wait_routed(&name).await;
            for (target, via_traefik) in targets {
                // One warm-up, so both paths have their connections (as a live site has).
                let _ = self.cold_start_once(&name, *via_traefik).await;
                let mut samples: [Vec<f64>; 4] = Default::default();
                let mut void = 0;
                while samples[0].len() < self.plan.cold_samples {
                    match self.cold_start_once(&name, *via_traefik).await {
                        Some(s) => s.iter().enumerate().for_each(|(i, v)| samples[i].push(*v)),
                        None => {
                            void += 1;
                            assert!(void < 10, "{name} keeps changing its address");
                        }
                    }
                }
                out[kind][*target] = json!({
                    "n": self.plan.cold_samples,
                    "void_samples": void,
                    "total_ms": Stat::of(&samples[0]).json(),
                    "docker_start_ms": Stat::of(&samples[1]).json(),
                    "app_ready_ms": Stat::of(&samples[2]).json(),
                    "overhead_ms": Stat::of(&samples[3]).json(),
                });
            }
        }
        out
    }

    // ---- (4) ------------------------------------------------------------------------------------

    async fn herd(&self) -> Value {
        let name = format!("{}-herd", self.args.prefix);
        self.deploy(
            &name,
            "mock-app:nohc",
            json!({"health-check": format!("http://{name}:9000/status")}),
            None,
            true,
        )
        .await;
        self.wait_routed(&name).await;
        self.stop_and_wait(&name).await;
        self.cookie(&name); // made before the clock starts
        let since = SystemTime::now();
        let t0 = Instant::now();
        let requests = (0..self.plan.herd).map(|_| {
            let request = self.request(&name, true);
            async move {
                let status = request
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                (status, t0.elapsed().as_secs_f64() * 1000.0)
            }
        });
        let results = futures_util::future::join_all(requests).await;
        let ok = results.iter().filter(|(s, _)| *s == 200).count();
        let times: Vec<f64> = results.iter().map(|(_, t)| *t).collect();
        let stat = Stat::of(&times);
        json!({
            "requests": self.plan.herd,
            "successes": ok,
            "docker_starts": self.start_events(&name, since),
            "first_answer_ms": round(stat.min),
            "last_answer_ms": round(stat.max),
            "spread_ms": round(stat.max - stat.min),
        })
    }

    // ---- (5) ------------------------------------------------------------------------------------

    async fn timed_get(&self, path: &str) -> (Stat, usize) {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..10 {
            let t = Instant::now();
            let body = self
                .client
                .get(format!("{}{path}", self.args.api))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            size = body.len();
        }
        (Stat::of(&times), size)
    }

    /// `/auth` for the running instance, saturating and light load.
    fn auth_runs(&self) -> (Vec<WrkRun>, Vec<WrkRun>) {
        let cookie = self.cookie(&self.args.app);
        let url = format!("{}/auth", self.args.auth);
        let headers = [("Cookie", cookie.as_str()), ("X-Forwarded-Uri", "/")];
        let saturating = (0..self.plan.runs)
            .map(|_| wrk(&url, &headers, &self.plan))
            .collect();
        let light = (0..self.plan.runs)
            .map(|_| wrk_light(&url, &headers, &self.plan))
            .collect();
        (saturating, light)
    }

    async fn listed(&self) -> usize {
        let r = self
            .client
            .get(format!("{}/deploy", self.args.api))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        let ours = |i: &&Value| {
            i["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(&self.args.prefix))
        };
        v["instances"]
            .as_array()
            .map_or(0, |all| all.iter().filter(ours).count())
    }

    /// Both figures under the same conditions: the earlier scenarios' instances stopped (a running
    /// Docker HEALTHCHECK execs a process every second), the baseline taken just before creating,
    /// and the many-instance figure once spawner's index holds them all.
    async fn scale(&self) -> Value {
        for kind in ["cold-healthcheck", "cold-http", "cold-tcp", "herd"] {
            let name = format!("{}-{kind}", self.args.prefix);
            let _ = Command::new("docker")
                .args(["stop", "-t", "2", &name])
                .output();
        }
        let before = self.listed().await;
        let baseline = self.auth_runs();
        let t = Instant::now();
        let names: Vec<String> = (0..self.plan.scale)
            .map(|i| format!("{}-s{i}", self.args.prefix))
            .collect();
        let creates = names
            .iter()
            .map(|n| self.deploy(n, "mock-app:nohc", json!({}), Some(9000), false));
        futures_util::stream::iter(creates)
            .buffer_unordered(8)
            .collect::<Vec<()>>()
            .await;
        let create_s = t.elapsed().as_secs_f64();
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.listed().await < before + self.plan.scale {
            assert!(
                Instant::now() < deadline,
                "spawner's index did not reach {} instances",
                self.plan.scale
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let indexed_s = t.elapsed().as_secs_f64();
        // traefik loads the new routes on its next poll; let that pass too.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (list, list_bytes) = self.timed_get("/deploy").await;
        let (config, config_bytes) = self.timed_get("/traefik/config").await;
        let (runs, light) = self.auth_runs();
        let (_, _, p99) = summarize(&light);
        let (_, _, base_p99) = summarize(&baseline.1);
        json!({
            "instances": self.plan.scale,
            "create_all_s": round(create_s),
            "indexed_all_s": round(indexed_s),
            "auth_one_instance": wrk_json(&baseline.0),
            "auth_one_instance_light": wrk_json(&baseline.1),
            "auth": wrk_json(&runs),
            "auth_light": wrk_json(&light),
            "auth_p99_vs_one_instance": round(p99.median / base_p99.median),
            "get_deploy_ms": list.json(), "get_deploy_bytes": list_bytes,
            "get_traefik_config_ms": config.json(), "get_traefik_config_bytes": config_bytes,
            "rss_mib": round(rss_mib(self.args.spawner_pid)),
        })
    }
}

use futures_util::StreamExt;

fn print_table(r: &Value, quick: bool) {
    let s = |v: &Value| -> String {
        match (v["median"].as_f64(), v["min"].as_f64(), v["max"].as_f64()) {
            (Some(m), Some(lo), Some(hi)) => format!("{m:.2} ({lo:.2}–{hi:.2})"),
            _ => "–".into(),
        }
    };
    let h = &r["hot_path"];
    println!(
        "\n## Results{}\n",
        if quick {
            " (--quick: smoke run, not representative)"
        } else {
            ""
        }
    );
    println!(
        "### 1. Hot path through traefik (running mock-app, keep-alive, wrk -t2 -c{})\n",
        r["plan"]["connections"]
    );
    println!("| variant | load | req/s | p50 ms | p99 ms |\n|---|---|---|---|---|");
    for (load, light) in [("saturating", false), ("light (c4)", true)] {
        for (letter, key) in [("a", "direct"), ("b", "spawner"), ("c", "noop")] {
            let v = if light {
                &h[key]["light_load"]
            } else {
                &h[key]
            };
            let label = h[key]["label"].as_str().unwrap_or("");
            println!(
                "| ({letter}) {label} | {load} | {} | {} | {} |",
                s(&v["req_per_s"]),
                s(&v["p50_ms"]),
                s(&v["p99_ms"])
            );
        }
    }
    println!(
        "\nb/a = {}, b/c = {} (target ≥ 0.95); p99 b−c = {} ms saturating, {} ms at light load (target < 1 ms)\n",
        h["ratio_b_over_a"], h["ratio_b_over_c"], h["p99_b_minus_c_ms"], h["light_p99_b_minus_c_ms"]
    );
    let a = &r["auth_alone"];
    println!(
        "### 2. /auth alone, running instance (wrk -t2 -c{})\n",
        r["plan"]["connections"]
    );
    println!("| load | req/s (target ≥ 30,000) | p50 ms | p99 ms | spawner CPU µs/request | spawner RSS MiB |\n|---|---|---|---|---|---|");
    println!(
        "| saturating (c{}) | {} | {} | {} | {} | {} |",
        r["plan"]["connections"],
        s(&a["req_per_s"]),
        s(&a["p50_ms"]),
        s(&a["p99_ms"]),
        s(&a["cpu_us_per_request"]),
        a["rss_mib"]
    );
    let l = &a["light_load"];
    println!(
        "| light (c4) | {} | {} | {} | | |\n",
        s(&l["req_per_s"]),
        s(&l["p50_ms"]),
        s(&l["p99_ms"])
    );
    println!(
        "### 3. Cold start of a stopped mock-app (n = {} each, after one warm-up)\n",
        r["plan"]["cold_samples"]
    );
    println!("| readiness | via | total ms | Docker start ms | app ready ms | spawner overhead ms (target ≤ 50) |\n|---|---|---|---|---|---|");
    for kind in ["healthcheck", "http", "tcp"] {
        for via in ["traefik", "auth"] {
            let v = &r["cold_start"][kind][via];
            if v.is_null() {
                continue;
            }
            println!(
                "| {kind} | {via} | {} | {} | {} | {} |",
                s(&v["total_ms"]),
                s(&v["docker_start_ms"]),
                s(&v["app_ready_ms"]),
                s(&v["overhead_ms"])
            );
        }
    }
    let herd = &r["herd"];
    println!("\n### 4. Thundering herd (one stopped instance, through traefik)\n");
    println!("| requests | 200s | Docker starts | first answer ms | last answer ms | spread ms |\n|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} | {} | {} |",
        herd["requests"],
        herd["successes"],
        herd["docker_starts"],
        herd["first_answer_ms"],
        herd["last_answer_ms"],
        herd["spread_ms"]
    );
    let sc = &r["scale"];
    println!(
        "\n### 5. Scale ({} managed instances, all but the benchmark's few stopped)\n",
        sc["instances"]
    );
    println!(
        "| instances | load | /auth req/s | /auth p50 ms | /auth p99 ms |\n|---|---|---|---|---|"
    );
    for (label, key) in [
        ("1 (just before)", "auth_one_instance"),
        ("1 + the many", "auth"),
        ("1 (just before)", "auth_one_instance_light"),
        ("1 + the many", "auth_light"),
    ] {
        let load = if key.ends_with("light") {
            "light (c4)"
        } else {
            "saturating"
        };
        let v = &sc[key];
        println!(
            "| {label} | {load} | {} | {} | {} |",
            s(&v["req_per_s"]),
            s(&v["p50_ms"]),
            s(&v["p99_ms"])
        );
    }
    println!(
        "\np99 ratio at light load = {} (target ≤ 1.10)\n",
        sc["auth_p99_vs_one_instance"]
    );
    println!("| GET /deploy ms | GET /traefik/config ms | spawner RSS MiB | created in s | all indexed after s |\n|---|---|---|---|---|");
    println!(
        "| {} ({} bytes) | {} ({} bytes) | {} | {} | {} |",
        s(&sc["get_deploy_ms"]),
        sc["get_deploy_bytes"],
        s(&sc["get_traefik_config_ms"]),
        sc["get_traefik_config_bytes"],
        sc["rss_mib"],
        sc["create_all_s"],
        sc["indexed_all_s"]
    );
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
        }
    } else {
        Plan {
            runs: 3,
            wrk_seconds: 10,
            connections: 64,
            cold_samples: 10,
            herd: 500,
            scale: 1000,
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
    eprintln!("==> 1. hot path through traefik");
    let hot_path = bench.hot_path();
    eprintln!("==> 2. /auth alone");
    let auth_alone = bench.auth_alone();
    eprintln!("==> 3. cold starts");
    let cold_start = bench.cold_starts().await;
    eprintln!("==> 4. thundering herd");
    let herd = bench.herd().await;
    eprintln!("==> 5. scale ({} instances)", bench.plan.scale);
    let scale = bench.scale().await;
    let report = json!({
        "date": humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        "quick": bench.args.quick,
        "plan": {"runs": bench.plan.runs, "wrk_seconds": bench.plan.wrk_seconds, "connections": bench.plan.connections,
                 "cold_samples": bench.plan.cold_samples, "herd": bench.plan.herd, "scale": bench.plan.scale},
        "hot_path": hot_path, "auth_alone": auth_alone, "cold_start": cold_start, "herd": herd, "scale": scale,
    });
    std::fs::write(
        &bench.args.out,
        serde_json::to_string_pretty(&report).unwrap(),
    )
    .unwrap();
    print_table(&report, bench.args.quick);
    println!("\nfigures written to {}", bench.args.out);
}
