//! The table printed at the end (BENCHMARKS.md takes its rows).

use serde_json::Value;

/// Prints what the run measured (a scenario left out by `--only` prints nothing or dashes).
pub(crate) fn print_table(r: &Value, quick: bool) {
    print_front(r, quick);
    if !r["scale"].is_null() {
        print_scale(r);
    }
    print_pause(r);
}

fn print_front(r: &Value, quick: bool) {
    let s = stat_text;
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
}

fn print_scale(r: &Value) {
    let s = stat_text;
    let sc = &r["scale"];
    println!(
        "\n### 6. Scale ({} managed instances, all but the benchmark's few stopped)\n",
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
    let pc = &sc["paced"];
    println!(
        "Paced /auth ({} req/s for {} s, 4 connections; conditions in turn, round after round):\n",
        pc["rate_per_s"], pc["seconds"]
    );
    println!("| instances | traefik | p50 ms | p99 ms | p99.9 ms | spawner CPU µs/request |\n|---|---|---|---|---|---|");
    for (label, key) in [("1", "one"), ("1 + the many", "many")] {
        for (traefik, cond) in [
            ("polling every 1 s", "traefik_polling"),
            ("paused", "traefik_paused"),
        ] {
            let v = &pc[key][cond];
            println!(
                "| {label} | {traefik} | {} | {} | {} | {} |",
                s(&v["p50_ms"]),
                s(&v["p99_ms"]),
                s(&v["p999_ms"]),
                s(&v["cpu_us_per_request"])
            );
        }
    }
    println!(
        "\np99 ratio, many / one: {} with traefik polling, {} with traefik paused (target ≤ 1.10); CPU per request ratio {}\n",
        pc["p99_ratio_traefik_polling"], pc["p99_ratio_traefik_paused"], pc["cpu_ratio_traefik_polling"]
    );
    println!("| GET /deploy ms | GET /traefik/config ms | spawner RSS MiB | traefik RSS MiB before → after | created in s | all indexed after s |\n|---|---|---|---|---|---|");
    println!(
        "| {} ({} bytes) | {} ({} bytes) | {} | {} → {} | {} | {} |",
        s(&sc["get_deploy_ms"]),
        sc["get_deploy_bytes"],
        s(&sc["get_traefik_config_ms"]),
        sc["get_traefik_config_bytes"],
        sc["rss_mib"],
        sc["traefik_rss_mib_before"],
        sc["traefik_rss_mib"],
        sc["create_all_s"],
        sc["indexed_all_s"]
    );
    let hot = &sc["hot_path"];
    let cold = &sc["cold_tcp_traefik"];
    println!(
        "\nWith them all routed: hot path b/c = {}, p99 b−c = {} ms (saturating), {} ms (light); \
         TCP cold start through traefik: total {} ms, overhead {} ms (n = {})",
        hot["ratio_b_over_c"],
        hot["p99_b_minus_c_ms"],
        hot["light_p99_b_minus_c_ms"],
        s(&cold["total_ms"]),
        s(&cold["overhead_ms"]),
        cold["n"]
    );
    let c = &sc["culler"];
    println!(
        "\nThe culler, {} of {} managed instances running, a check every {} s (window {} s each way): \
         spawner CPU {} ms per check = {} % of one core at the default 10 s (target < 1 %); \
         Docker daemon CPU for the counters {} ms per check = {} % of one core at 10 s",
        c["running"],
        c["managed"],
        c["check_interval_s"],
        c["window_s"],
        c["culler_cpu_ms_per_check"],
        c["culler_core_percent_at_10s"],
        c["dockerd_cpu_ms_per_check"],
        c["dockerd_core_percent_at_10s"]
    );
}

fn print_pause(r: &Value) {
    let s = stat_text;
    let p = &r["pause_wake"];
    if p.is_null() {
        return;
    }
    println!(
        "\n### 5. Wake from pause (through traefik, n = {})\n",
        p["n"]
    );
    println!(
        "| total ms (target ≤ 30 median) |\n|---|\n| {} |",
        s(&p["total_ms"])
    );
}

/// `median (min–max)`, or a dash.
fn stat_text(v: &Value) -> String {
    match (v["median"].as_f64(), v["min"].as_f64(), v["max"].as_f64()) {
        (Some(m), Some(lo), Some(hi)) => format!("{m:.2} ({lo:.2}–{hi:.2})"),
        _ => "–".into(),
    }
}
