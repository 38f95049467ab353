//! The waiting page: when a wake takes longer than `html_hold`, headless Chromium gets a page at
//! once that shows progress and reaches the app's content by itself, within a second of the
//! instance becoming ready; an API client is held `hold_timeout`, then gets the JSON 503 with
//! `Retry-After`.

use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::browser::{browser, Driver};
use crate::stack::*;

/// When the container's current run started, by the daemon (the same host's clock).
fn started_at(name: &str) -> SystemTime {
    let raw = docker(&["inspect", "-f", "{{.State.StartedAt}}", name]);
    humantime::parse_rfc3339(raw.trim()).unwrap()
}

#[tokio::test]
async fn a_slow_wake_shows_a_page_that_moves_on_by_itself_the_moment_it_is_ready() {
    let stack = Stack::up_with_env(&[("HOLD_TIMEOUT", "2s")]).await;
    let name = stack.name("slow");
    let ready_after = Duration::from_secs(7);
    stack.create_slow(&name, "7s").await;

    // An API client: JSON, 503, Retry-After, and the mark the page's script reads.
    let response = stack.get("/", Some(&name)).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(response.headers()["x-spawner-status"], "starting");
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("still starting"),
        "{body}"
    );
    assert_eq!(body["retry_after"], 2);

    let driver = Driver::start();
    let client = browser(&driver).await;
    with_session(&client, &stack, &name).await;
    client.goto(&format!("{}/", stack.public)).await.unwrap();
    let page = client.source().await.unwrap();
    assert!(page.contains("Your instance is starting"), "{page}");
    assert!(
        page.contains("Waiting for"),
        "the page shows progress: {page}"
    );

    app_within_a_second_of_readiness(&client, &name, started_at(&name) + ready_after).await;
    let _ = client.close().await;
}

/// Gives the browser `name`'s session cookie for the site (from the home page's origin).
async fn with_session(client: &fantoccini::Client, stack: &Stack, name: &str) {
    client
        .goto(&format!("{}/home", stack.public))
        .await
        .unwrap();
    let session = stack.cookie(name);
    let value = session.split_once('=').unwrap().1.to_string();
    // chromedriver refuses a cookie for an IP address; the page's own script may set it.
    let script = format!("document.cookie = 'instance={value}; path=/'");
    client.execute(&script, vec![]).await.unwrap();
}

/// Waits until the page shows `name`'s app, checking just before `ready` that it is still the
/// page the browser first got (no blind reload), and that the app came within a second of
/// `ready`, at the URL first asked for.
async fn app_within_a_second_of_readiness(
    client: &fantoccini::Client,
    name: &str,
    ready: SystemTime,
) {
    // A mark in the page's memory: a reload (a blind refresh) would lose it.
    let mark = "return window.spawnerTestMark || null";
    client
        .execute("window.spawnerTestMark = 'the same page'", vec![])
        .await
        .unwrap();
    let mut checked = false;
    let hostname = format!("\"hostname\":\"{name}\"");
    let deadline = Instant::now() + Duration::from_secs(30);
    let shown = loop {
        if client.source().await.is_ok_and(|s| s.contains(&hostname)) {
            break SystemTime::now();
        }
        // Just before readiness, it is still the page the browser first got.
        if !checked && SystemTime::now() + Duration::from_millis(500) >= ready {
            let kept = client.execute(mark, vec![]).await.unwrap();
            assert_eq!(
                kept, "the same page",
                "the waiting page reloaded itself blindly"
            );
            checked = true;
        }
        assert!(
            Instant::now() < deadline,
            "the page never reached the app: {}",
            client.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(checked, "the page moved on before the instance was ready");
    let late = shown.duration_since(ready).unwrap_or_default();
    eprintln!("the app's content was shown {late:?} after the instance was ready");
    assert!(
        late < Duration::from_secs(1),
        "the app's content came {late:?} after the instance was ready"
    );
    assert_eq!(client.current_url().await.unwrap().path(), "/");
}

/// With the default `hold_timeout` (25 s): the page comes within 2.5 s of the request (not after
/// 25 s of a blank tab), its counter counts from the request, and the app replaces it when ready.
#[tokio::test]
async fn a_browser_sees_the_waiting_page_at_once_and_the_app_when_ready() {
    let stack = Stack::up().await;
    let name = stack.name("slowpage");
    let ready_after = Duration::from_secs(7);
    stack.create_slow(&name, "7s").await;

    let driver = Driver::start();
    let client = browser(&driver).await;
    with_session(&client, &stack, &name).await;
    let asked = Instant::now();
    client.goto(&format!("{}/", stack.public)).await.unwrap();
    let page_after = asked.elapsed();
    let page = client.source().await.unwrap();
    eprintln!("the waiting page came {page_after:?} after the request");
    assert!(page.contains("Your instance is starting"), "{page}");
    assert!(
        page_after < Duration::from_millis(2500),
        "the page came {page_after:?} after the request"
    );
    let counter = "return document.getElementById('elapsed').textContent";
    let counted = client.execute(counter, vec![]).await.unwrap();
    // Counted from the request (about 1.5 s before the page), not from the page's own load.
    let seconds: u64 = counted
        .as_str()
        .and_then(|t| t.strip_prefix("Waiting for "))
        .and_then(|t| t.strip_suffix(" s"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the counter says {counted}"));
    assert!(seconds >= 1, "the counter started at the page: {counted}");

    app_within_a_second_of_readiness(&client, &name, started_at(&name) + ready_after).await;
    let _ = client.close().await;
}
