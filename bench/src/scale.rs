//! (6) many managed instances.

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::measure::*;
use crate::paced::*;
use crate::Bench;

/// Requests per second of the paced load: a fraction of what one core answers.
const PACED_RATE: u32 = 1000;

impl Bench {
    pub(crate) async fn timed_get(&self, path: &str) -> (Stat, usize) {
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
    pub(crate) fn auth_runs(&self) -> (Vec<WrkRun>, Vec<WrkRun>) {
        let cookie = self.cookie(&self.args.app);
        let url = format!("{}/auth", self.args.auth);
        let headers = Self::auth_headers(&self.args.app, &cookie);
        let saturating = (0..self.plan.runs)
            .map(|_| wrk(&url, &headers, &self.plan))
            .collect();
        let light = (0..self.plan.runs)
            .map(|_| wrk_light(&url, &headers, &self.plan))
            .collect();
        (saturating, light)
    }

    pub(crate) async fn listed(&self) -> usize {
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
    pub(crate) async fn scale(&self) -> Value {
        for kind in ["cold-healthcheck", "cold-http", "cold-tcp", "herd"] {
            let name = format!("{}-{kind}", self.args.prefix);
            let _ = Command::new("docker")
                .args(["stop", "-t", "2", &name])
                .output();
        }
        let before = self.listed().await;
        let traefik_rss_before = rss_mib(self.args.traefik_pid);
        let baseline = self.auth_runs();
        eprintln!("    paced /auth, one instance, traefik polling and paused in turn");
        let paced_one = self.paced_auth().await;
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
        eprintln!("    paced /auth, with them all, traefik polling and paused in turn");
        let paced_many = self.paced_auth().await;
        let (_, _, p99) = summarize(&light);
        let (_, _, base_p99) = summarize(&baseline.1);
        let traefik_rss = rss_mib(self.args.traefik_pid);
        eprintln!("    the hot path through traefik, with them all routed");
        let hot_path = self.hot_path();
        eprintln!("    cold starts, with them all routed");
        let cold = self.cold_at_scale().await;
        eprintln!(
            "    the culler's cost, {} of them running",
            self.plan.scale_running
        );
        let culler = self.culler_cost(&names, self.plan.scale_running).await;
        let ratio = |i: usize| round(median_p99(&paced_many[i]) / median_p99(&paced_one[i]));
        let paced = json!({
            "rate_per_s": PACED_RATE, "seconds": self.paced_seconds(),
            "one": {"traefik_polling": paced_json(&paced_one[0]), "traefik_paused": paced_json(&paced_one[1])},
            "many": {"traefik_polling": paced_json(&paced_many[0]), "traefik_paused": paced_json(&paced_many[1])},
            "p99_ratio_traefik_polling": ratio(0),
            "p99_ratio_traefik_paused": ratio(1),
            "cpu_ratio_traefik_polling": round(median_cpu(&paced_many[0]) / median_cpu(&paced_one[0])),
        });
        json!({
            "paced": paced,
            "culler": culler,
            "traefik_rss_mib_before": round(traefik_rss_before),
            "traefik_rss_mib": round(traefik_rss),
            "hot_path": hot_path,
            "cold_tcp_traefik": cold,
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

    fn paced_seconds(&self) -> u32 {
        if self.args.quick {
            2
        } else {
            10
        }
    }

    /// `/auth` for the running instance at [`PACED_RATE`], round after round: once while traefik
    /// polls spawner's configuration every second, once with traefik paused (no polling). Runs
    /// of each condition, in that order.
    async fn paced_auth(&self) -> [Vec<PacedRun>; 2] {
        let cookie = self.cookie(&self.args.app);
        let url = format!("{}/auth", self.args.auth);
        let headers = Self::auth_headers(&self.args.app, &cookie);
        let default = if self.args.quick { 1 } else { 5 };
        let rounds = self.args.paced_rounds.unwrap_or(default);
        let pid = self.args.spawner_pid;
        let mut out: [Vec<PacedRun>; 2] = Default::default();
        for _ in 0..rounds {
            out[0].push(paced(&url, &headers, PACED_RATE, self.paced_seconds(), pid).await);
            docker(&["pause", &self.args.traefik_container]);
            let run = paced(&url, &headers, PACED_RATE, self.paced_seconds(), pid).await;
            docker(&["unpause", &self.args.traefik_container]);
            out[1].push(run);
        }
        out
    }

    /// The TCP-readiness instance of scenario 3, woken again and then cold-started as there.
    async fn cold_at_scale(&self) -> Value {
        let name = format!("{}-cold-tcp", self.args.prefix);
        if self.args.only.is_some() && self.state(&name).await.is_empty() {
            // Scenario 3 did not run (BENCH_ONLY): make its instance as it would have.
            self.deploy(&name, "mock-app:nohc", json!({}), Some(9000), true)
                .await;
            self.wait_routed(&name).await;
        }
        let woken = self.request(&name, true).send().await.unwrap();
        assert_eq!(woken.status(), 200, "waking {name}");
        self.cold_samples(&name, true).await
    }
}
