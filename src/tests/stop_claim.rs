//! The stop claim: no stop begins while a start or a held request is under way, and a request
//! that arrives during a stop waits for it and wakes the instance again. Through the API's stop
//! ([`Instances::stop_now`](crate::instances::Instances::stop_now)) and the fallback's
//! ([`Instances::stop_unrouted`](crate::instances::Instances::stop_unrouted)).

use std::sync::Arc;
use std::time::SystemTime;

use super::{settle, Harness, Knobs};
use crate::backend::Op;
use crate::domain::RunState;
use crate::gate::Outcome;
use crate::instances::Lookup;

/// Where the first call of `op` on `target` stands in the engine's log.
fn position(h: &Harness, op: Op, target: &str) -> usize {
    let log = h.engine.log();
    let found = log.iter().position(|(o, t)| *o == op && t == target);
    found.unwrap_or_else(|| panic!("no {op} of {target} in {log:?}"))
}

#[tokio::test]
async fn an_api_stop_during_a_wake_waits_for_the_wake_to_end() {
    let h = Harness::synced(Knobs::default()).await;
    h.stopped(&["ma"]).await;
    let (slow, wake) = h.wake_held_at_start("ma").await;
    let stop = tokio::spawn({
        let instances = Arc::clone(&h.instances);
        let instance = instances.get("ma").unwrap();
        async move { instances.stop_now(&instance).await }
    });
    settle().await;
    assert!(!stop.is_finished(), "the stop waits for the start");
    assert_eq!(h.engine.calls(Op::Stop), 0);
    slow.release();
    wake.await.unwrap().unwrap();
    let stopped = stop.await.unwrap().unwrap();
    assert_eq!(stopped.state, RunState::Exited);
    assert!(position(&h, Op::Start, "ma") < position(&h, Op::Stop, "ma"));
    assert_eq!(h.engine.state_of("ma"), Some(RunState::Exited));
}

#[tokio::test]
async fn a_request_during_a_stop_waits_for_it_and_wakes_the_instance_again() {
    let h = Arc::new(Harness::synced(Knobs::default()).await);
    h.ready(&["ma"]).await;
    let slow = h.engine.hold(Op::Stop, Some("ma"));
    let stop = tokio::spawn({
        let instances = Arc::clone(&h.instances);
        let instance = instances.get("ma").unwrap();
        async move { instances.stop_now(&instance).await }
    });
    slow.arrived(1).await;
    let request = tokio::spawn({
        let h = Arc::clone(&h);
        async move { h.decide_for("ma").await }
    });
    settle().await;
    assert!(!request.is_finished(), "the request waits for the stop");
    assert_eq!(h.engine.calls(Op::Start), 0, "no start crosses the stop");
    slow.release();
    stop.await.unwrap().unwrap();
    let outcome = request.await.unwrap();
    assert!(matches!(outcome, Outcome::Allow), "{outcome:?}");
    assert!(position(&h, Op::Stop, "ma") < position(&h, Op::Start, "ma"));
    assert_eq!(h.engine.state_of("ma"), Some(RunState::Running));
}

#[tokio::test]
async fn stop_unrouted_stops_an_instance_nobody_used_since_the_reading() {
    let h = Harness::synced(Knobs::default()).await;
    h.ready(&["ma"]).await;
    let seen = h.instances.activity_seen("ma").unwrap();
    assert!(h.instances.stop_unrouted("ma", seen).await);
    assert_eq!(h.engine.state_of("ma"), Some(RunState::Exited));
}

#[tokio::test]
async fn stop_unrouted_refuses_when_a_request_came_since_the_reading() {
    let h = Harness::synced(Knobs::default()).await;
    h.ready(&["ma"]).await;
    let seen = h.instances.activity_seen("ma").unwrap();
    // A request on its router, as the hot path counts it.
    assert_eq!(
        h.instances.snapshot().lookup("ma", SystemTime::now()),
        Lookup::Ready
    );
    assert!(!h.instances.stop_unrouted("ma", seen).await);
    assert_eq!(h.engine.calls(Op::Stop), 0);
    assert_eq!(h.engine.state_of("ma"), Some(RunState::Running));
}

#[tokio::test]
async fn stop_unrouted_refuses_while_a_start_is_under_way() {
    let h = Harness::synced(Knobs::default()).await;
    h.stopped(&["ma"]).await;
    let seen = h.instances.activity_seen("ma").unwrap();
    let (slow, wake) = h.wake_held_at_start("ma").await;
    assert!(!h.instances.stop_unrouted("ma", seen).await);
    slow.release();
    wake.await.unwrap().unwrap();
    assert_eq!(h.engine.calls(Op::Stop), 0);
    assert_eq!(h.engine.state_of("ma"), Some(RunState::Running));
}

#[tokio::test]
async fn a_delete_during_a_wake_waits_for_it_then_removes_the_container() {
    let h = Harness::synced(Knobs::default()).await;
    h.stopped(&["ma"]).await;
    let (slow, wake) = h.wake_held_at_start("ma").await;
    let delete = tokio::spawn({
        let instances = Arc::clone(&h.instances);
        let instance = instances.get("ma").unwrap();
        async move { instances.delete(&instance, false).await }
    });
    settle().await;
    assert!(!delete.is_finished(), "the delete waits for the start");
    slow.release();
    wake.await.unwrap().unwrap();
    delete.await.unwrap().unwrap();
    assert_eq!(h.engine.container("ma").map(|c| c.state), None);
    assert!(h.instances.get("ma").is_none());
}
