//! `max_running`: never more instances running in the engine than the cap, however many wake at
//! once; the least recently active makes room; a start or a create is refused, leaving nothing
//! changed, when nobody may be stopped.

use std::time::{Duration, SystemTime};

use futures_util::future::join_all;

use super::{settle, Harness, Knobs, IMAGE};
use crate::backend::Op;
use crate::domain::{DeploySpec, RunState};
use crate::gate::Outcome;
use crate::instances::{Lookup, OpError, StartError};

fn capped(max: usize, evict_grace: Duration) -> Knobs {
    Knobs {
        max_running: Some(max),
        evict_grace,
        ..Knobs::default()
    }
}

const HOUR: Duration = Duration::from_secs(3600);

fn deploy(h: &Harness, name: &str) -> DeploySpec {
    DeploySpec {
        start: true,
        ..h.deploy_spec(name, IMAGE)
    }
}

#[tokio::test]
async fn twenty_wakes_under_a_cap_of_five_never_run_more_than_five() {
    let h = Harness::synced(capped(5, Duration::ZERO)).await;
    let names: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    h.stopped(&names).await;
    h.engine.reset_calls();
    h.engine.delay(Op::Start, Duration::from_millis(2));
    let sampled = std::sync::atomic::AtomicUsize::new(0);
    let wakes = join_all(names.iter().map(|n| h.instances.ensure_ready(n)));
    let sampler = async {
        loop {
            let running = h.engine.running().len();
            sampled.fetch_max(running, std::sync::atomic::Ordering::Relaxed);
            tokio::task::yield_now().await;
        }
    };
    let outcomes = tokio::select! {
        outcomes = wakes => outcomes,
        () = sampler => unreachable!(),
    };
    let mut woken = 0;
    for outcome in outcomes {
        match outcome {
            Ok(()) => woken += 1,
            Err(StartError::Capacity(full)) => assert_eq!(full.max, 5),
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(woken >= 5, "{woken} woke");
    assert!(h.engine.peak_running() <= 5, "{}", h.engine.peak_running());
    assert!(sampled.into_inner() <= 5);
    assert!(h.engine.running().len() <= 5);
}

#[tokio::test]
async fn a_wake_at_the_cap_evicts_the_least_recently_active_instance() {
    let h = Harness::synced(capped(3, Duration::ZERO)).await;
    h.ready(&["ma", "mb", "mc"]).await;
    for name in ["mb", "mc", "ma"] {
        settle().await;
        assert_eq!(
            h.instances.snapshot().lookup(name, SystemTime::now()),
            Lookup::Ready
        );
    }
    settle().await;
    h.stopped(&["md"]).await;
    h.instances.ensure_ready("md").await.unwrap();
    assert_eq!(h.engine.calls(Op::Stop), 1);
    assert_eq!(h.engine.state_of("mb"), Some(RunState::Exited));
    assert_eq!(h.engine.running(), ["ma", "mc", "md"]);
}

#[tokio::test]
async fn a_wake_at_the_cap_is_refused_when_everyone_was_active_within_the_grace() {
    let h = Harness::synced(capped(2, HOUR)).await;
    h.ready(&["ma", "mb"]).await;
    h.stopped(&["mc"]).await;
    let refused = h.instances.ensure_ready("mc").await.unwrap_err();
    assert!(matches!(refused, StartError::Capacity(_)), "{refused:?}");
    let outcome = h.decide_for("mc").await;
    let Outcome::Failed { error, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(matches!(error, StartError::Capacity(_)), "{error:?}");
    assert_eq!(h.engine.calls(Op::Start), 0);
    assert_eq!(h.engine.calls(Op::Stop), 0);
    assert_eq!(h.engine.running(), ["ma", "mb"]);
}

#[tokio::test]
async fn an_instance_still_starting_is_never_evicted() {
    let h = Harness::synced(capped(1, Duration::ZERO)).await;
    h.stopped(&["ma", "mb"]).await;
    let (slow, wake) = h.wake_held_at_start("ma").await;
    let refused = h.instances.ensure_ready("mb").await.unwrap_err();
    assert!(matches!(refused, StartError::Capacity(_)), "{refused:?}");
    slow.release();
    wake.await.unwrap().unwrap();
    assert_eq!(h.engine.running(), ["ma"]);
}

#[tokio::test]
async fn a_create_under_the_cap_starts_the_instance() {
    let h = Harness::synced(capped(2, HOUR)).await;
    h.ready(&["ma"]).await;
    let view = h.instances.create(&deploy(&h, "mb")).await.unwrap();
    assert_eq!(view.state, RunState::Running);
    assert_eq!(h.engine.running(), ["ma", "mb"]);
    let b = h.engine.container("mb").unwrap();
    let fixed = b.fixed_ips.values().next().copied();
    assert!(fixed.is_some(), "a fixed address on spawner's network");
    assert_eq!(b.ips.values().next().copied(), fixed);
}

#[tokio::test]
async fn a_create_at_the_cap_with_nobody_to_evict_is_refused_and_leaves_nothing_behind() {
    let h = Harness::synced(capped(1, HOUR)).await;
    h.ready(&["ma"]).await;
    let refused = h.instances.create(&deploy(&h, "mb")).await.unwrap_err();
    assert!(matches!(refused, OpError::Capacity(_)), "{refused:?}");
    assert!(h.engine.container("mb").is_none(), "removed again");
    assert_eq!(h.engine.calls(Op::Start), 0);
    assert_eq!(h.engine.running(), ["ma"]);
}

#[tokio::test]
async fn a_create_under_a_taken_name_evicts_nobody() {
    let h = Harness::synced(capped(1, Duration::ZERO)).await;
    h.ready(&["ma"]).await;
    let refused = h.instances.create(&deploy(&h, "ma")).await.unwrap_err();
    assert!(matches!(refused, OpError::NameTaken(_)), "{refused:?}");
    assert_eq!(h.engine.calls(Op::Stop), 0);
    assert_eq!(h.engine.running(), ["ma"]);
}
