//! The idle stop ([`Instances::start_culler`](crate::instances::Instances::start_culler)): an
//! instance idle for its whole timeout is stopped, one still getting ready is not, and traffic
//! only its counters show (requests through another replica) keeps it running.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{settle, until, Harness, Knobs, CHECKED_IMAGE};
use crate::backend::{Op, Stats};
use crate::domain::{Health, RunState};

fn idling_after(timeout: Duration) -> Knobs {
    Knobs {
        idle_timeout: Some(timeout),
        ..Knobs::default()
    }
}

#[tokio::test]
async fn an_instance_idle_for_its_whole_timeout_is_stopped() {
    let h = Harness::synced(idling_after(Duration::from_millis(30))).await;
    h.ready(&["ma"]).await;
    h.instances.start_culler();
    let stopped = || h.engine.state_of("ma") == Some(RunState::Exited);
    until("the culler stopped it", stopped).await;
    assert_eq!(h.engine.calls_on(Op::Stop, "ma"), 1);
    let exited = || h.instances.get("ma").unwrap().info.state == RunState::Exited;
    until("the index shows it stopped", exited).await;
}

#[tokio::test]
async fn an_instance_still_getting_ready_is_not_stopped_however_idle() {
    let h = Arc::new(Harness::synced(idling_after(Duration::from_millis(1))).await);
    h.seed("ma", CHECKED_IMAGE).await;
    h.engine.set_exec_exit(Some("ma"), 1);
    let wake = tokio::spawn({
        let instances = Arc::clone(&h.instances);
        async move { instances.ensure_ready("ma").await }
    });
    until("its check ran", || h.engine.calls_on(Op::Exec, "ma") > 0).await;
    h.instances.start_culler();
    settle().await;
    settle().await;
    assert_eq!(h.engine.calls(Op::Stop), 0, "{:?}", h.engine.log());
    assert_eq!(h.engine.state_of("ma"), Some(RunState::Running));
    h.engine.set_health("ma", Health::Healthy);
    wake.await.unwrap().unwrap();
}

/// An HTTP exchange on the container's connections: a request in, an answer out.
fn exchange() -> Stats {
    Stats {
        rx_bytes: 600,
        rx_packets: 2,
        tx_bytes: 900,
        tx_packets: 2,
        ..Stats::default()
    }
}

/// Requests that another replica lets through never reach this one's `/auth`: only the counters
/// show them, and they keep the instance running; once they end, it sleeps.
#[tokio::test]
async fn traffic_through_another_replica_keeps_it_running() {
    let h = Harness::synced(idling_after(Duration::from_millis(60))).await;
    h.ready(&["ma"]).await;
    h.instances.start_culler();
    let busy_until = Instant::now() + Duration::from_millis(400);
    while Instant::now() < busy_until {
        h.engine.add_traffic("ma", exchange());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(h.engine.calls(Op::Stop), 0, "{:?}", h.engine.log());
    let stopped = || h.engine.state_of("ma") == Some(RunState::Exited);
    until("the culler stopped it once the traffic ended", stopped).await;
}

/// A culler that looks for the first time at an instance due to sleep (a replica that just
/// started, or one that had no reason to look) counts the traffic of the whole run so far.
#[tokio::test]
async fn traffic_before_the_first_look_counts() {
    let h = Harness::synced(idling_after(Duration::from_millis(60))).await;
    h.ready(&["ma"]).await;
    h.engine.add_traffic("ma", exchange());
    tokio::time::sleep(Duration::from_millis(100)).await;
    h.instances.start_culler();
    settle().await;
    assert_eq!(h.engine.calls(Op::Stop), 0, "{:?}", h.engine.log());
    let stopped = || h.engine.state_of("ma") == Some(RunState::Exited);
    until(
        "the culler stopped it a timeout after it saw the traffic",
        stopped,
    )
    .await;
}
