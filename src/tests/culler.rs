//! The idle stop ([`Instances::start_culler`](crate::instances::Instances::start_culler)): an
//! instance idle for its whole timeout is stopped, and one still getting ready is not.

use std::sync::Arc;
use std::time::Duration;

use super::{settle, until, Harness, Knobs, CHECKED_IMAGE};
use crate::backend::Op;
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
