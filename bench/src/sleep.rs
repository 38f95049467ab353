//! (5) the wake from pause through traefik, and (part of 6) what the culler costs per check with many
//! instances running (spawner's CPU, and the Docker daemon's for the counters it is asked for).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::measure::*;
use crate::Bench;

impl Bench {
    /// A paused instance woken by a request through traefik: the request's whole time.
    pub(crate) async fn pause_wake(&self) -> Value {
        let name = format!("{}-pause", self.args.prefix);
        self.deploy(&name, "mock-app:nohc", json!({}), Some(9000), true)
            .await;
        self.wait_routed(&name).await;
        let mut times = Vec::new();
        for _ in 0..self.plan.cold_samples {
            docker(&["pause", &name]);
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.state(&name).await != "paused" {
                assert!(
                    Instant::now() < deadline,
                    "spawner did not see {name} paused"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let t0 = Instant::now();
            let response = self.request(&name, true).send().await.unwrap();
            let total = t0.elapsed();
            assert_eq!(response.status(), 200, "waking {name} from pause");
            times.push(total.as_secs_f64() * 1000.0);
            // Let the unpause event pass before the next pause.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", &name])
            .output();
        json!({"n": times.len(), "total_ms": Stat::of(&times).json()})
    }

    /// The culler's cost: spawner's and dockerd's CPU over the same window with `running` of
    /// the managed instances running (each sampled at every check) and with them stopped.
    pub(crate) async fn culler_cost(&self, names: &[String], running: usize) -> Value {
        let interval = self.args.idle_check_interval;
        let started: Vec<&String> = names.iter().take(running).collect();
        let t = Instant::now();
        futures_util::stream::iter(started.iter().map(|n| async move {
            docker(&["start", n.as_str()]);
        }))
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
        let start_s = t.elapsed().as_secs_f64();
        // Every one of them quiet for a whole interval, so each check samples them all.
        tokio::time::sleep(interval * 2).await;
        let window = if self.args.quick {
            Duration::from_secs(10)
        } else {
            Duration::from_secs(40)
        };
        let dockerd = dockerd_pid();
        let with = cpu_over(self.args.spawner_pid, dockerd, window).await;
        futures_util::stream::iter(started.iter().map(|n| async move {
            docker(&["stop", "-t", "1", n.as_str()]);
        }))
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
        tokio::time::sleep(interval * 2).await;
        let without = cpu_over(self.args.spawner_pid, dockerd, window).await;
        let checks = window.as_secs_f64() / interval.as_secs_f64();
        let per_check_ms = (with.0 - without.0) * 1000.0 / checks;
        let dockerd_per_check_ms = (with.1 - without.1) * 1000.0 / checks;
        // At the default interval (10 s): the share of one core.
        let default_interval_s = 10.0;
        json!({
            "managed": names.len(),
            "running": running,
            "start_running_s": round(start_s),
            "check_interval_s": interval.as_secs_f64(),
            "window_s": window.as_secs_f64(),
            "spawner_cpu_s_running": round(with.0), "spawner_cpu_s_stopped": round(without.0),
            "dockerd_cpu_s_running": round(with.1), "dockerd_cpu_s_stopped": round(without.1),
            "culler_cpu_ms_per_check": round(per_check_ms),
            "culler_core_percent_at_10s": round(per_check_ms / 1000.0 / default_interval_s * 100.0),
            "dockerd_cpu_ms_per_check": round(dockerd_per_check_ms),
            "dockerd_core_percent_at_10s": round(dockerd_per_check_ms / 1000.0 / default_interval_s * 100.0),
        })
    }
}

/// The Docker daemon's process on this host (0 when it cannot be found: its figures are then NaN).
fn dockerd_pid() -> u32 {
    std::process::Command::new("pgrep")
        .args(["-x", "dockerd"])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// CPU seconds spent by both processes over `window`.
async fn cpu_over(spawner: u32, dockerd: u32, window: Duration) -> (f64, f64) {
    let before = (cpu_seconds(spawner), cpu_seconds(dockerd));
    tokio::time::sleep(window).await;
    (
        cpu_seconds(spawner) - before.0,
        cpu_seconds(dockerd) - before.1,
    )
}
