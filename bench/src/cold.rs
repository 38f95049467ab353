//! (3) cold starts per readiness kind, (4) the thundering herd.

use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

use crate::measure::*;
use crate::Bench;

impl Bench {
    /// One cold start, or `None` when the restart moved the container to another address (the
    /// independent probe then watched the wrong one and the sample is void).
    pub(crate) async fn cold_start_once(&self, name: &str, via_traefik: bool) -> Option<[f64; 4]> {
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

    pub(crate) async fn cold_starts(&self) -> Value {
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
                out[kind][*target] = self.cold_samples(&name, *via_traefik).await;
            }
        }
        out
    }

    /// `plan.cold_samples` cold starts of `name`, summarized (Docker start, app ready, overhead).
    pub(crate) async fn cold_samples(&self, name: &str, via_traefik: bool) -> Value {
        let mut samples: [Vec<f64>; 4] = Default::default();
        let mut void = 0;
        while samples[0].len() < self.plan.cold_samples {
            match self.cold_start_once(name, via_traefik).await {
                Some(s) => s.iter().enumerate().for_each(|(i, v)| samples[i].push(*v)),
                None => {
                    void += 1;
                    assert!(void < 10, "{name} keeps changing its address");
                }
            }
        }
        json!({
            "n": self.plan.cold_samples,
            "void_samples": void,
            "total_ms": Stat::of(&samples[0]).json(),
            "docker_start_ms": Stat::of(&samples[1]).json(),
            "app_ready_ms": Stat::of(&samples[2]).json(),
            "overhead_ms": Stat::of(&samples[3]).json(),
        })
    }

    // ---- (4) ------------------------------------------------------------------------------------

    pub(crate) async fn herd(&self) -> Value {
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
}
