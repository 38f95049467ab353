//! (1) the hot path through traefik, (2) `/auth` alone.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::measure::*;
use crate::Bench;

impl Bench {
    pub(crate) fn hot_path(&self) -> Value {
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

    pub(crate) fn auth_alone(&self) -> Value {
        let cookie = self.cookie(&self.args.app);
        let url = format!("{}/auth", self.args.auth);
        let headers = Self::auth_headers(&self.args.app, &cookie);
        let pid = self.args.spawner_pid;
        let mut runs = Vec::new();
        let mut cpu_us = Vec::new();
        for _ in 0..self.plan.runs {
            let before = cpu_seconds(pid);
            let run = wrk(&url, &headers, &self.plan);
            let spent = cpu_seconds(pid) - before;
            cpu_us.push(spent / run.requests * 1e6);
            runs.push(run);
        }
        let mut out = wrk_json(&runs);
        let light: Vec<WrkRun> = (0..self.plan.runs)
            .map(|_| wrk_light(&url, &headers, &self.plan))
            .collect();
        out["light_load"] = wrk_json(&light);
        out["cpu_us_per_request"] = Stat::of(&cpu_us).json();
        out["rss_mib"] = round(rss_mib(pid)).into();
        out
    }
}
