//! Measuring tools: wrk runs and their summary, a process's CPU time and RSS, `docker`.

use std::process::Command;

use serde_json::{json, Value};

use crate::Plan;

/// median, min, max.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stat {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

impl Stat {
    pub(crate) fn of(values: &[f64]) -> Self {
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

    pub(crate) fn json(&self) -> Value {
        json!({"median": round(self.median), "min": round(self.min), "max": round(self.max)})
    }
}

pub(crate) fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub(crate) fn docker(args: &[&str]) -> String {
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
pub(crate) struct WrkRun {
    pub(crate) rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    pub(crate) requests: f64,
}

pub(crate) fn parse_latency(text: &str) -> f64 {
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
pub(crate) fn wrk(url: &str, headers: &[(&str, &str)], plan: &Plan) -> WrkRun {
    wrk_with(url, headers, 2, plan.connections, plan.wrk_seconds)
}

/// Light load (1 thread, 4 connections, cores left idle): latency that is the server's own.
pub(crate) fn wrk_light(url: &str, headers: &[(&str, &str)], plan: &Plan) -> WrkRun {
    wrk_with(url, headers, 1, 4, plan.wrk_seconds)
}

pub(crate) fn wrk_with(
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

pub(crate) fn summarize(runs: &[WrkRun]) -> (Stat, Stat, Stat) {
    let pick = |f: fn(&WrkRun) -> f64| Stat::of(&runs.iter().map(f).collect::<Vec<_>>());
    (pick(|r| r.rps), pick(|r| r.p50_ms), pick(|r| r.p99_ms))
}

pub(crate) fn wrk_json(runs: &[WrkRun]) -> Value {
    let (rps, p50, p99) = summarize(runs);
    json!({"req_per_s": rps.json(), "p50_ms": p50.json(), "p99_ms": p99.json(), "runs": runs.len()})
}

// ---- the spawner process ------------------------------------------------------------------------

pub(crate) fn cpu_seconds(pid: u32) -> f64 {
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

pub(crate) fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}
