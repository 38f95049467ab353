//! The in-memory engine answers as Docker does where spawner relies on it.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use futures_util::StreamExt;

use super::{Failure, MemoryEngine};
use crate::backend::{CreateSpec, EventKind, Op};
use crate::domain::limits::Limits;
use crate::domain::RunState;

fn spec(name: &str) -> CreateSpec {
    CreateSpec {
        name: name.into(),
        image: "app".into(),
        network: "net".into(),
        // What a deploy writes (`InstanceLabels::for_deploy`); the engine keeps what it is given.
        labels: BTreeMap::from([("origin".into(), "spawner".into())]),
        envs: BTreeMap::new(),
        limits: Limits {
            memory_bytes: 64 << 20,
            cpus: 1.0,
            pids: 64,
        },
        cap_drop: Vec::new(),
        address: Some("10.1.0.5".parse().unwrap()),
        volumes: Vec::new(),
    }
}

fn engine() -> MemoryEngine {
    let engine = MemoryEngine::new();
    engine.add_image("app:latest");
    engine.add_network("net", "10.1.0.0/24".parse().unwrap());
    engine
}

#[tokio::test]
async fn a_taken_name_is_a_conflict_and_a_missing_image_not_found() {
    let engine = engine();
    engine.create(&spec("a")).await.unwrap();
    let again = engine.create(&spec("a")).await.unwrap_err();
    assert_eq!(again.kind(), "conflict", "{again}");
    let mut other = spec("b");
    other.image = "nowhere:1".into();
    let missing = engine.create(&other).await.unwrap_err();
    assert_eq!(missing.kind(), "not_found", "{missing}");
    assert!(engine
        .start("0123456789ab")
        .await
        .unwrap_err()
        .is_not_found());
}

#[tokio::test]
async fn a_run_has_its_fixed_address_and_later_times_than_the_one_before() {
    let engine = engine();
    let id = engine.create(&spec("a")).await.unwrap();
    engine.start(&id).await.unwrap();
    let first = engine.inspect_managed("a").await.unwrap();
    assert_eq!(first.state, RunState::Running);
    assert_eq!(first.ips["net"].to_string(), "10.1.0.5");
    engine.stop(&id, Duration::ZERO).await.unwrap();
    engine.start(&id[..12]).await.unwrap();
    let second = engine.inspect_managed(&id).await.unwrap();
    assert!(second.started_at > first.started_at);
    assert!(second.finished_at.unwrap() > first.started_at.unwrap());
    assert_eq!(engine.calls(Op::Start), 2);
}

#[tokio::test]
async fn the_events_stream_replays_history_then_follows_changes() {
    let engine = engine();
    let id = engine.create(&spec("a")).await.unwrap();
    let mut events = engine.events(UNIX_EPOCH);
    engine.start(&id).await.unwrap();
    engine.kill("a", 3);
    engine.remove(&id).await.unwrap();
    let mut kinds = Vec::new();
    for _ in 0..4 {
        kinds.push(events.next().await.unwrap().unwrap().kind);
    }
    let died = EventKind::Died { exit_code: Some(3) };
    let expected = [
        EventKind::Created,
        EventKind::Started,
        died,
        EventKind::Destroyed,
    ];
    assert_eq!(kinds, expected);
}

#[tokio::test]
async fn a_queued_failure_fails_one_call_and_a_hold_keeps_calls_until_released() {
    let engine = engine();
    let id = engine.create(&spec("a")).await.unwrap();
    engine.fail_next(Op::Start, "a", Failure::Unavailable);
    assert!(engine.start(&id).await.unwrap_err().is_unavailable());
    let hold = engine.hold(Op::Start, Some("a"));
    let starting = tokio::spawn({
        let engine = engine.clone();
        async move { engine.start(&id).await }
    });
    hold.arrived(1).await;
    assert_eq!(engine.state_of("a"), Some(RunState::Created));
    hold.release();
    starting.await.unwrap().unwrap();
    assert_eq!(engine.state_of("a"), Some(RunState::Running));
    assert_eq!(engine.peak_in_flight(Op::Start), 1);
}
