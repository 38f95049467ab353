//! Wake ([`Instances::ensure_ready`](crate::instances::Instances::ensure_ready)): one engine
//! start however many wait, a start that outlives the callers who gave up on it, and at most
//! `max_concurrent_starts` engine starts under way.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

use super::{settle, until, Harness, Knobs, IMAGE};
use crate::backend::memory::Failure;
use crate::backend::Op;
use crate::domain::RunState;
use crate::instances::StartError;

#[tokio::test]
async fn twenty_concurrent_wakes_of_one_instance_make_one_engine_start() {
    let h = Harness::synced(Knobs::default()).await;
    h.stopped(&["ma"]).await;
    h.engine.delay(Op::Start, Duration::from_millis(5));
    let wakes = (0..20).map(|_| h.instances.ensure_ready("ma"));
    for woken in join_all(wakes).await {
        woken.unwrap();
    }
    assert_eq!(h.engine.calls_on(Op::Start, "ma"), 1);
}

#[tokio::test]
async fn a_caller_that_gives_up_does_not_cancel_the_start() {
    let h = Harness::synced(Knobs::default()).await;
    h.stopped(&["ma"]).await;
    let slow = h.engine.hold(Op::Start, Some("ma"));
    let impatient = tokio::time::timeout(Duration::from_millis(5), h.instances.ensure_ready("ma"));
    assert!(impatient.await.is_err(), "it gave up");
    slow.release();
    let ready = || h.instances.get("ma").is_some_and(|i| i.is_ready());
    until("the start went on", ready).await;
    h.instances.ensure_ready("ma").await.unwrap();
    assert_eq!(h.engine.calls_on(Op::Start, "ma"), 1);
}

#[tokio::test]
async fn max_concurrent_starts_bounds_the_engine_start_calls_under_way() {
    let knobs = Knobs {
        max_concurrent_starts: 2,
        ..Knobs::default()
    };
    let h = Arc::new(Harness::synced(knobs).await);
    let names = ["ma", "mb", "mc", "md", "me", "mf"];
    h.stopped(&names).await;
    let slow = h.engine.hold(Op::Start, None);
    let wakes: Vec<_> = names
        .iter()
        .map(|&name| {
            let instances = Arc::clone(&h.instances);
            tokio::spawn(async move { instances.ensure_ready(name).await })
        })
        .collect();
    slow.arrived(2).await;
    settle().await;
    assert_eq!(
        slow.count(),
        2,
        "two starts reached the engine, the rest wait"
    );
    slow.release();
    for wake in wakes {
        wake.await.unwrap().unwrap();
    }
    assert_eq!(h.engine.calls(Op::Start), 6);
    assert_eq!(h.engine.peak_in_flight(Op::Start), 2);
}

#[tokio::test]
async fn a_paused_instance_is_unpaused_not_started() {
    let h = Harness::synced(Knobs::default()).await;
    h.ready(&["ma"]).await;
    let id = h.instances.get("ma").unwrap().info.id;
    h.engine.pause(&id).await.unwrap();
    let paused = || h.instances.get("ma").unwrap().info.state == RunState::Paused;
    until("the index saw the pause", paused).await;
    h.instances.ensure_ready("ma").await.unwrap();
    assert_eq!(h.engine.calls(Op::Unpause), 1);
    assert_eq!(h.engine.calls(Op::Start), 0);
    assert_eq!(h.engine.state_of("ma"), Some(RunState::Running));
}

#[tokio::test]
async fn an_instance_running_when_spawner_starts_is_made_ready_without_a_start() {
    let h = Harness::new(Knobs::default());
    let id = h.seed("ma", IMAGE).await;
    h.engine.start(&id).await.unwrap();
    h.engine.reset_calls();
    h.sync().await;
    assert!(!h.instances.get("ma").unwrap().is_ready(), "not probed yet");
    h.instances.ensure_ready("ma").await.unwrap();
    assert!(h.instances.get("ma").unwrap().is_ready());
    assert_eq!(h.engine.calls(Op::Start), 0);
}

#[tokio::test]
async fn a_failed_wake_is_not_remembered_and_the_next_one_starts_afresh() {
    let h = Harness::synced(Knobs::default()).await;
    h.stopped(&["ma"]).await;
    h.engine.fail_next(Op::Start, "ma", Failure::Failed);
    let failed = h.instances.ensure_ready("ma").await.unwrap_err();
    assert!(
        matches!(failed, StartError::StartFailed { .. }),
        "{failed:?}"
    );
    h.instances.ensure_ready("ma").await.unwrap();
    assert_eq!(h.engine.calls_on(Op::Start, "ma"), 2);
}

#[tokio::test]
async fn a_wake_of_an_unknown_instance_finds_it_gone() {
    let h = Harness::synced(Knobs::default()).await;
    let gone = h.instances.ensure_ready("nobody").await.unwrap_err();
    assert!(matches!(gone, StartError::Gone(_)), "{gone:?}");
    assert_eq!(h.engine.calls(Op::Start), 0);
}
