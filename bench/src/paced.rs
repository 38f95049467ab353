//! A paced load for latency at scale: requests at a fixed rate (an open loop, unlike wrk, whose
//! connections send as fast as answers come and so keep a core busy), every latency kept, and
//! the server's CPU per request. Conditions are measured in turn, round after round
//! ([`interleaved`]), so a slow phase of this noisy machine falls on all of them alike.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::measure::*;

/// What one paced run saw.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PacedRun {
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) p999_ms: f64,
    pub(crate) cpu_us_per_request: f64,
}

/// `rate` GETs per second for `seconds`, over 4 kept-alive connections; `pid` is the server's.
pub(crate) async fn paced(
    url: &str,
    headers: &[(&str, &str)],
    rate: u32,
    seconds: u32,
    pid: u32,
) -> PacedRun {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4)
        .build()
        .unwrap();
    let mut map = reqwest::header::HeaderMap::new();
    for (k, v) in headers {
        map.insert(
            reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let workers = 4;
    let cpu0 = cpu_seconds(pid);
    let tasks = (0..workers).map(|_| {
        let (client, map, url) = (client.clone(), map.clone(), url.to_string());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(
                f64::from(workers) / f64::from(rate),
            ));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let end = Instant::now() + Duration::from_secs(seconds.into());
            let mut latencies = Vec::new();
            while Instant::now() < end {
                tick.tick().await;
                let t = Instant::now();
                let response = client.get(&url).headers(map.clone()).send().await;
                let ok = response.is_ok_and(|r| r.status().is_success());
                assert!(ok, "a paced request to {url} failed");
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            latencies
        })
    });
    let mut all: Vec<f64> = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        all.extend(task.await.unwrap());
    }
    let cpu = cpu_seconds(pid) - cpu0;
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    PacedRun {
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        p999_ms: at(0.999),
        cpu_us_per_request: cpu * 1e6 / all.len() as f64,
    }
}

/// Summary of one condition's runs.
pub(crate) fn paced_json(runs: &[PacedRun]) -> Value {
    let pick = |f: fn(&PacedRun) -> f64| Stat::of(&runs.iter().map(f).collect::<Vec<_>>()).json();
    json!({
        "runs": runs.len(),
        "p50_ms": pick(|r| r.p50_ms),
        "p99_ms": pick(|r| r.p99_ms),
        "p999_ms": pick(|r| r.p999_ms),
        "cpu_us_per_request": pick(|r| r.cpu_us_per_request),
    })
}

pub(crate) fn median_p99(runs: &[PacedRun]) -> f64 {
    Stat::of(&runs.iter().map(|r| r.p99_ms).collect::<Vec<_>>()).median
}

pub(crate) fn median_cpu(runs: &[PacedRun]) -> f64 {
    Stat::of(
        &runs
            .iter()
            .map(|r| r.cpu_us_per_request)
            .collect::<Vec<_>>(),
    )
    .median
}
