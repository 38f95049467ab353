//! A mutation fuzz of `POST /deploy`: a valid body with one field (or two) replaced by wrong
//! types, huge and negative numbers, NUL bytes, unicode, very long strings, invalid image
//! references, bad volume targets and unknown fields, plus bodies that are not JSON at all.
//! Whatever the body, spawner answers (no dropped connection), never with a 5xx (nothing here is
//! Docker's fault), names the field in a 400, keeps `GET /deploy` answering, and leaves nothing
//! behind for a refused body.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use bollard::query_parameters::{ListContainersOptionsBuilder, ListVolumesOptionsBuilder};
use serde_json::Value;

use crate::helpers::*;

/// Raw JSON values that are wrong (or odd) for any field.
fn junk() -> Vec<String> {
    let long = format!("\"{}\"", "x".repeat(100_000));
    let nested = format!("{}{}", "[".repeat(200), "]".repeat(200));
    [
        "null",
        "true",
        "0",
        "-1",
        "1.5",
        "1e999",
        "-1e999",
        "18446744073709551616",
        "-9223372036854775809",
        "\"\"",
        "\"\\u0000\"",
        "\"ünï 日本 🚀\"",
        "\"\\ud800\"",
        "[]",
        "{}",
        "[1,\"a\"]",
        "{\"a\":{\"b\":[]}}",
        &long,
        &nested,
    ]
    .map(str::to_string)
    .to_vec()
}

/// Values aimed at each field's own rules (some of them valid).
fn aimed(field: &str, name: &str) -> Vec<String> {
    let s = |v: &str| serde_json::to_string(v).unwrap();
    let many_volumes: BTreeMap<String, String> = (0..17)
        .map(|i| (format!("v{i}"), format!("/v{i}")))
        .collect();
    let values: Vec<String> = match field {
        "name" => vec![
            s("a"),
            s(&format!("{name}-{}", "x".repeat(63))),
            s("-lead"),
            s(&format!("{name}/x")),
            s(&format!("{name}\0")),
            s(&format!("{name}-é")),
            s(&format!("{name}.x")),
            s(&format!("{name}-ok_9")),
        ],
        "image" => vec![
            s("MOCK-APP:LATEST"),
            s("Mock-App:nohc"),
            s("mock-app:"),
            s("mock-app::nohc"),
            s("mock-app:nohc@sha256:xyz"),
            s("mock app"),
            s("mock-app:nohc\n"),
            s("http://mock-app"),
            s("localhost:99999999999999999999/x"),
            s("-mock-app"),
            s(&"a".repeat(300)),
            s(&format!("mock-app:{}", "t".repeat(129))),
            s(&format!("{name}-absent:1")),
            s(" mock-app:nohc "),
        ],
        "network" => vec![s("host"), s("none"), s("container:x"), s("bridge"), s(" ")],
        "labels" => vec![
            r#"{"":"x"}"#.into(),
            r#"{"a":"\u0000"}"#.into(),
            r#"{"a\u0000":"b"}"#.into(),
            r#"{"origin":"x"}"#.into(),
            r#"{"spawner.scope":"other"}"#.into(),
            r#"{"a":1}"#.into(),
            r#"{"a":null}"#.into(),
            r#"{"ü":"日本 🚀"}"#.into(),
        ],
        "envs" => vec![
            r#"{"A=B":"c"}"#.into(),
            r#"{"":"c"}"#.into(),
            r#"{"A":"c\u0000d"}"#.into(),
            r#"{"A\u0000":"c"}"#.into(),
            r#"{"A":1}"#.into(),
            r#"{"A":"ü 日本 🚀"}"#.into(),
        ],
        "port" => ["0", "65536", "-1", "1.5", "\"80\"", "1", "65535"]
            .map(String::from)
            .to_vec(),
        "start" => ["\"yes\"", "1"].map(String::from).to_vec(),
        "memory" => [
            "0",
            "\"0\"",
            "\"5m\"",
            "\"1e999g\"",
            "\"-1m\"",
            "\"1t\"",
            "\"NaNm\"",
            "\"infm\"",
            "\"99999999999999999999g\"",
            "18446744073709551615",
            "1.5",
            "\"6m\"",
            "6291456",
        ]
        .map(String::from)
        .to_vec(),
        "cpus" => [
            "0",
            "0.009",
            "0.0099999",
            "-1",
            "1e308",
            "\"1\"",
            "0.01",
            "1000",
        ]
        .map(String::from)
        .to_vec(),
        "pids_limit" => ["0", "-1", "4294967296", "1000000", "1"]
            .map(String::from)
            .to_vec(),
        "idle_timeout" => vec![
            s("99999999999h"),
            s("365d 1s"),
            s("-1s"),
            s("1 fortnight"),
            s(""),
            s("18446744073709551615s"),
            s("0"),
            s("365d"),
            s("1ns"),
        ],
        "idle_action" => vec![s("sleep"), s(""), s("STOP"), s("pause\0")],
        "volumes" => vec![
            r#"{"a":"/proc"}"#.into(),
            r#"{"a":"/proc/self"}"#.into(),
            r#"{"a":"/sys/x"}"#.into(),
            r#"{"a":"/dev"}"#.into(),
            r#"{"a":"/etc/hosts"}"#.into(),
            r#"{"a":"/etc/resolv.conf"}"#.into(),
            r#"{"a":"relative"}"#.into(),
            r#"{"a":"/"}"#.into(),
            r#"{"a":"/x/../y"}"#.into(),
            r#"{"/host":"/x"}"#.into(),
            r#"{"a":"/x\u0000"}"#.into(),
            format!(r#"{{"a":"/{}"}}"#, "a".repeat(300)),
            serde_json::to_string(&many_volumes).unwrap(),
            r#"{"a":"/x","b":"/x/"}"#.into(),
            r#"{"a":"/data"}"#.into(),
        ],
        "pull_policy" => vec![s("often"), s(""), s("MISSING")],
        _ => unreachable!("{field}"),
    };
    values
}

const FIELDS: [&str; 14] = [
    "name",
    "image",
    "network",
    "labels",
    "envs",
    "port",
    "start",
    "memory",
    "cpus",
    "pids_limit",
    "idle_timeout",
    "idle_action",
    "volumes",
    "pull_policy",
];

/// The fields whose values Docker may refuse only at the start.
const STARTED: [&str; 8] = [
    "envs",
    "labels",
    "memory",
    "cpus",
    "pids_limit",
    "idle_timeout",
    "idle_action",
    "volumes",
];

/// A valid body (not started, never pulled) with `changes` (field, raw JSON) applied.
fn body(name: &str, changes: &[(&str, &str)]) -> String {
    let mut fields: BTreeMap<&str, String> = BTreeMap::from([
        ("name", serde_json::to_string(name).unwrap()),
        ("image", format!("\"{IMAGE_NO_HEALTHCHECK}\"")),
        ("start", "false".into()),
        ("pull_policy", "\"never\"".into()),
    ]);
    for (field, raw) in changes {
        fields.insert(*field, raw.to_string());
    }
    let members: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", members.join(","))
}

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[tokio::test]
async fn no_deploy_body_gets_a_5xx_a_dropped_connection_or_leaves_anything_behind() {
    let app = spawn_app().await;
    let prefix = app.cleanup.prefix.clone();
    // (body, the field changed: a 400 must name it)
    let mut cases: Vec<(Vec<u8>, Option<String>)> = Vec::new();
    let mut count = 0;
    let mut next_name = || {
        count += 1;
        format!("{prefix}-f{count}")
    };
    for field in FIELDS {
        let name = next_name();
        for raw in junk().into_iter().chain(aimed(field, &name)) {
            cases.push((
                body(&name, &[(field, &raw)]).into_bytes(),
                Some(field.into()),
            ));
        }
    }
    // Docker refuses some values only when the container starts: the same, started.
    for field in STARTED {
        let name = next_name();
        for raw in aimed(field, &name) {
            let changes = [(field, raw.as_str()), ("start", "true")];
            cases.push((body(&name, &changes).into_bytes(), Some(field.into())));
        }
    }
    let mut rng = Rng(0x5eed_cafe_f00d);
    for _ in 0..60 {
        let name = next_name();
        let (a, b) = (FIELDS[rng.below(14)], FIELDS[rng.below(14)]);
        let pick = |rng: &mut Rng, field: &str| {
            let mut all = junk();
            all.extend(aimed(field, &name));
            all.swap_remove(rng.below(all.len()))
        };
        let (raw_a, raw_b) = (pick(&mut rng, a), pick(&mut rng, b));
        cases.push((body(&name, &[(a, &raw_a), (b, &raw_b)]).into_bytes(), None));
    }
    let name = next_name();
    let valid = body(&name, &[]);
    for raw in [
        b"".to_vec(),
        b"{".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        b"\"str\"".to_vec(),
        b"{\"name\":\"\xff\xfe\",\"image\":\"mock-app:nohc\"}".to_vec(),
        valid
            .replacen('{', "{\"binds\":[\"/:/host\"],", 1)
            .into_bytes(),
        valid.replacen('{', "{\"privileged\":true,", 1).into_bytes(),
        valid.replacen('{', "{\"Name\":\"x\",", 1).into_bytes(),
        valid
            .replacen('{', &format!("{{\"name\":\"{name}\","), 1)
            .into_bytes(),
        valid
            .replacen('{', &format!("{{\"pad\":\"{}\",", "p".repeat(300_000)), 1)
            .into_bytes(),
        valid.as_bytes()[..valid.len() - 1].to_vec(),
    ] {
        cases.push((raw, None));
    }

    let started = Instant::now();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (raw, field) in &cases {
        let shown = String::from_utf8_lossy(&raw[..raw.len().min(300)]).to_string();
        let sent = app
            .client
            .post(format!("{}/deploy", app.api))
            .header("content-type", "application/json")
            .body(raw.clone())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                failures.push(format!("dropped connection: {e} for {shown}"));
                continue;
            }
        };
        let status = response.status().as_u16();
        *by_status.entry(status).or_default() += 1;
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status >= 500 {
            failures.push(format!("{status} {answer} for {shown}"));
        }
        if let (400, Some(field)) = (status, field) {
            let error = answer["error"].as_str().unwrap_or_default();
            let names_it = error.contains(&format!("`{field}")) || error.contains("not valid JSON");
            if !names_it {
                failures.push(format!("400 without naming `{field}`: {error} for {shown}"));
            }
        }
        if status == 201 {
            let path = format!("/deploy/{}?purge=true", answer["name"].as_str().unwrap());
            let (deleted, _) = app.api_call(reqwest::Method::DELETE, &path).await;
            assert_eq!(deleted, 200, "{path}");
        }
        let list = app.client.get(format!("{}/deploy", app.api)).send().await;
        match list.map(|r| r.status().as_u16()) {
            Ok(200) => {}
            other => failures.push(format!("GET /deploy: {other:?} after {shown}")),
        }
        let left = left_behind(&app).await;
        if !left.is_empty() {
            failures.push(format!("{status} left {left:?} behind for {shown}"));
        }
    }
    println!(
        "deploy fuzz: {} bodies in {:.1?}; answers by status: {by_status:?}",
        cases.len(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Containers of this spawner and volumes with the test's prefix that still exist.
async fn left_behind(app: &TestApp) -> Vec<String> {
    let scope = format!("spawner.scope={}", app.settings.engine.scope);
    let by_scope = HashMap::from([("label".to_string(), vec![scope])]);
    let containers = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&by_scope)
        .build();
    let by_prefix = HashMap::from([(
        "name".to_string(),
        vec![format!("spawner-{}", app.cleanup.prefix)],
    )]);
    let volumes = ListVolumesOptionsBuilder::default()
        .filters(&by_prefix)
        .build();
    let containers = app.docker.list_containers(Some(containers)).await.unwrap();
    let volumes = app.docker.list_volumes(Some(volumes)).await.unwrap();
    let names = containers
        .into_iter()
        .flat_map(|c| c.names.unwrap_or_default());
    names
        .chain(
            volumes
                .volumes
                .unwrap_or_default()
                .into_iter()
                .map(|v| v.name),
        )
        .collect()
}
