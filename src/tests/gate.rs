//! The gate's answer ([`Gate::decide`](crate::gate::Gate::decide)) to what traefik forwards:
//! who is sent home, who passes at once, and what a held request is told when its instance
//! starts, fails, exits, turns unhealthy or disappears.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{settle, until, Harness, Knobs, CHECKED_IMAGE, HTML_HOLD};
use crate::backend::memory::Failure;
use crate::backend::Op;
use crate::domain::{Health, RunState};
use crate::gate::Outcome;
use crate::instances::StartError;

#[tokio::test]
async fn a_request_without_a_session_is_sent_home() {
    let h = Harness::synced(Knobs::default()).await;
    h.ready(&["ma"]).await;
    let outcome = h.gate.decide(&h.request(None, "ma"), false).await;
    assert!(matches!(outcome, Outcome::Home), "{outcome:?}");
}

#[tokio::test]
async fn a_session_for_an_instance_that_does_not_exist_is_sent_home() {
    let h = Harness::synced(Knobs::default()).await;
    h.engine.reset_calls();
    let outcome = h.decide_for("nobody").await;
    assert!(matches!(outcome, Outcome::Home), "{outcome:?}");
    assert_eq!(h.engine.log(), vec![], "the engine was not asked");
}

#[tokio::test]
async fn a_ready_instance_is_allowed_without_a_call_to_the_engine() {
    let h = Harness::synced(Knobs::default()).await;
    h.ready(&["ma"]).await;
    for _ in 0..10 {
        let outcome = h.decide_for("ma").await;
        assert!(matches!(outcome, Outcome::Allow), "{outcome:?}");
    }
    assert_eq!(
        h.engine.log(),
        vec![],
        "the hot path never calls the engine"
    );
}

#[tokio::test]
async fn fifty_requests_for_a_stopped_instance_start_it_once() {
    let h = Arc::new(Harness::synced(Knobs::default()).await);
    h.stopped(&["ma"]).await;
    h.engine.delay(Op::Start, Duration::from_millis(5));
    let requests = (0..50).map(|_| {
        let h = Arc::clone(&h);
        tokio::spawn(async move { h.decide_for("ma").await })
    });
    for request in requests.collect::<Vec<_>>() {
        let outcome = request.await.unwrap();
        assert!(matches!(outcome, Outcome::Allow), "{outcome:?}");
    }
    assert_eq!(h.engine.calls_on(Op::Start, "ma"), 1);
    assert_eq!(h.engine.state_of("ma"), Some(RunState::Running));
}

#[tokio::test]
async fn a_session_for_another_instance_is_sent_home_and_starts_nothing() {
    let h = Harness::synced(Knobs::default()).await;
    h.stopped(&["ma", "mb"]).await;
    let outcome = h.gate.decide(&h.request(Some("ma"), "mb"), false).await;
    assert!(matches!(outcome, Outcome::Home), "{outcome:?}");
    assert_eq!(h.engine.calls(Op::Start), 0);
}

#[tokio::test]
async fn a_start_the_engine_refuses_fails_the_request_with_the_engine_error() {
    let h = Harness::synced(Knobs::default()).await;
    h.stopped(&["ma"]).await;
    h.engine.fail_next(Op::Start, "ma", Failure::Failed);
    let outcome = h.decide_for("ma").await;
    let Outcome::Failed { name, error } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(name.as_str(), "ma");
    assert!(matches!(error, StartError::StartFailed { .. }), "{error:?}");
}

#[tokio::test]
async fn an_unreachable_engine_fails_the_request_as_unavailable() {
    let h = Harness::synced(Knobs::default()).await;
    h.stopped(&["ma"]).await;
    h.engine.fail_next(Op::Start, "ma", Failure::Unavailable);
    let outcome = h.decide_for("ma").await;
    let Outcome::Failed { error, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(matches!(error, StartError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn an_instance_that_exits_during_its_start_fails_the_request_with_its_exit_code() {
    let h = Harness::synced(Knobs::default()).await;
    h.stopped(&["ma"]).await;
    h.engine.exit_on_next_start("ma", 3);
    let outcome = h.decide_for("ma").await;
    let Outcome::Failed { error, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(
        matches!(error, StartError::Exited { code: Some(3), .. }),
        "{error:?}"
    );
    assert_eq!(h.engine.state_of("ma"), Some(RunState::Exited));
}

#[tokio::test]
async fn a_request_before_the_first_list_waits_for_it_then_is_allowed() {
    let h = Arc::new(Harness::new(Knobs::default()));
    h.stopped(&["ma"]).await;
    let request = tokio::spawn({
        let h = Arc::clone(&h);
        async move { h.decide_for("ma").await }
    });
    settle().await;
    assert!(!request.is_finished(), "it waits for the index");
    h.sync().await;
    let outcome = request.await.unwrap();
    assert!(matches!(outcome, Outcome::Allow), "{outcome:?}");
    assert_eq!(h.engine.calls_on(Op::Start, "ma"), 1);
}

#[tokio::test]
async fn a_request_when_the_engine_never_lists_is_told_spawner_is_not_synced() {
    let knobs = Knobs {
        hold_timeout: Duration::from_millis(30),
        ..Knobs::default()
    };
    let h = Harness::new(knobs);
    let _never = h.engine.hold(Op::List, None);
    h.instances.start_watcher();
    let outcome = h.decide_for("ma").await;
    assert!(matches!(outcome, Outcome::NotSynced), "{outcome:?}");
}

#[tokio::test]
async fn an_instance_whose_healthcheck_passes_is_allowed() {
    let h = Harness::synced(Knobs::default()).await;
    h.seed("ma", CHECKED_IMAGE).await;
    let outcome = h.decide_for("ma").await;
    assert!(matches!(outcome, Outcome::Allow), "{outcome:?}");
    assert_eq!(h.engine.calls_on(Op::Exec, "ma"), 1, "one run of its check");
    assert!(h.instances.get("ma").unwrap().is_ready());
}

#[tokio::test]
async fn an_instance_that_turns_unhealthy_is_stopped_and_the_request_told_so() {
    let h = Arc::new(Harness::synced(Knobs::default()).await);
    h.seed("ma", CHECKED_IMAGE).await;
    h.engine.set_exec_exit(Some("ma"), 1);
    let request = tokio::spawn({
        let h = Arc::clone(&h);
        async move { h.decide_for("ma").await }
    });
    until("its check ran", || h.engine.calls_on(Op::Exec, "ma") > 0).await;
    h.engine.set_health("ma", Health::Unhealthy);
    let outcome = request.await.unwrap();
    let Outcome::Failed { error, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(matches!(error, StartError::Unhealthy(_)), "{error:?}");
    assert_eq!(h.engine.state_of("ma"), Some(RunState::Exited));
}

#[tokio::test]
async fn a_request_not_ready_within_the_hold_is_told_so_and_the_start_goes_on() {
    let knobs = Knobs {
        hold_timeout: Duration::from_millis(30),
        ..Knobs::default()
    };
    let h = Harness::synced(knobs).await;
    h.stopped(&["ma"]).await;
    let slow = h.engine.hold(Op::Start, Some("ma"));
    let outcome = h.decide_for("ma").await;
    let Outcome::NotReady { phase, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(phase, "starting its container");
    slow.release();
    let ready = || h.instances.get("ma").is_some_and(|i| i.is_ready());
    until("the start went on to readiness", ready).await;
    assert_eq!(h.engine.calls_on(Op::Start, "ma"), 1);
}

#[tokio::test]
async fn an_instance_removed_while_it_starts_sends_the_request_home() {
    let h = Arc::new(Harness::synced(Knobs::default()).await);
    h.stopped(&["ma"]).await;
    let slow = h.engine.hold(Op::Start, Some("ma"));
    let request = tokio::spawn({
        let h = Arc::clone(&h);
        async move { h.decide_for("ma").await }
    });
    slow.arrived(1).await;
    h.engine.remove_behind_back("ma");
    slow.release();
    let outcome = request.await.unwrap();
    assert!(matches!(outcome, Outcome::Home), "{outcome:?}");
    until("the index forgot it", || h.instances.get("ma").is_none()).await;
}

#[tokio::test]
async fn a_crashed_instance_is_started_again_by_the_next_request() {
    let h = Harness::synced(Knobs::default()).await;
    h.ready(&["ma"]).await;
    h.engine.kill("ma", 137);
    let exited = || h.instances.get("ma").unwrap().info.state == RunState::Exited;
    until("the index saw it die", exited).await;
    let outcome = h.decide_for("ma").await;
    assert!(matches!(outcome, Outcome::Allow), "{outcome:?}");
    assert_eq!(h.engine.calls_on(Op::Start, "ma"), 1);
}

#[tokio::test]
async fn the_catch_all_wakes_the_sessions_instance_and_sends_the_client_back_to_its_uri() {
    let h = Harness::synced(Knobs::default()).await;
    h.stopped(&["ma"]).await;
    let request = h.catch_all_request("ma", "/notebook/1?x=2");
    let outcome = h.gate.decide(&request, true).await;
    let Outcome::Retry { location } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(location, "/notebook/1?x=2");
    assert_eq!(h.engine.state_of("ma"), Some(RunState::Running));
}

/// A browser's page request gets the waiting page after `html_hold` (the page's own long poll
/// waits the rest); an API client's request to the same slow start is held on, then let through.
#[tokio::test]
async fn a_browser_gets_the_waiting_page_at_once_and_an_api_client_is_held_on() {
    let h = Arc::new(Harness::synced(Knobs::default()).await);
    h.stopped(&["ma"]).await;
    let slow = h.engine.hold(Op::Start, Some("ma"));
    let api = tokio::spawn({
        let h = Arc::clone(&h);
        async move { h.decide_for("ma").await }
    });
    let mut page = h.request(Some("ma"), "ma");
    page.wants_html = true;
    let asked = Instant::now();
    let outcome = h.gate.decide(&page, false).await;
    let Outcome::NotReady { waited, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(waited, HTML_HOLD);
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    settle().await;
    assert!(!api.is_finished(), "the API client was not held on");
    slow.release();
    let outcome = api.await.unwrap();
    assert!(matches!(outcome, Outcome::Allow), "{outcome:?}");
}
