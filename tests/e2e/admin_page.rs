//! The admin page in a real browser (headless Chromium via chromedriver), against a spawner
//! process on the real daemon: a wrong token is refused, the right one shows the instances; a
//! stop, a pause and a start from the page, and a change made elsewhere, show in their rows
//! without a reload; a recreate takes a new environment; the filter hides rows; "open as user"
//! shows a session and logs it; a delete (purging the volumes, confirmed with the name) removes
//! the row and the container. It saves the screenshot the README shows (`docs/admin.png`).

use std::process::Command;
use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use crate::browser::{browser, Driver};
use crate::common::{docker, eventually, SpawnerProcess};

pub const TOKEN: &str = "a-token-for-the-admin-page-test-0123";
const IMAGE: &str = "mock-app:latest";

/// A unique prefix for what a test names.
pub fn prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// Removes, on drop, the containers and volumes named with the test's prefix.
pub struct Scope(pub String);

impl Drop for Scope {
    fn drop(&mut self) {
        let filter = format!("name=^/{}", self.0);
        let ids = docker_lines(&["ps", "-aq", "--filter", &filter]);
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .arg("rm")
                .arg("-f")
                .args(&ids)
                .output();
        }
        let volumes = docker_lines(&[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("name=spawner-{}-", self.0),
        ]);
        if !volumes.is_empty() {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f"])
                .args(&volumes)
                .output();
        }
    }
}

fn docker_lines(args: &[&str]) -> Vec<String> {
    Command::new("docker")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

async fn bearer(
    spawner: &SpawnerProcess,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> u16 {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", spawner.api))
        .bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap().status().as_u16()
}

fn state(name: &str) -> String {
    docker(&["inspect", "-f", "{{.State.Status}}", name])
}

pub async fn sign_in(client: &Client, api: &str, token: &str) {
    client.goto(&format!("{api}/admin")).await.unwrap();
    let field = client
        .wait()
        .for_element(Locator::Id("token"))
        .await
        .unwrap();
    field.send_keys(token).await.unwrap();
    client
        .find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The text of `name`'s state cell; `None` while it has no row.
async fn row_state(client: &Client, name: &str) -> Option<String> {
    let cell = format!("tr[data-name=\"{name}\"] td.state");
    let cell = client.find(Locator::Css(&cell)).await.ok()?;
    cell.text().await.ok()
}

async fn until_row(client: &Client, name: &str, state: &str) -> bool {
    eventually(Duration::from_secs(20), || async {
        row_state(client, name)
            .await
            .is_some_and(|s| s.starts_with(state))
    })
    .await
}

async fn click(client: &Client, css: &str) {
    let element = client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    element.click().await.unwrap();
}

async fn loaded_at(client: &Client) -> Value {
    client
        .execute("return window.spawnerAdminLoadedAt;", vec![])
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_signs_in_and_stops_starts_and_deletes_an_instance_from_the_admin_page() {
    let prefix = prefix();
    let _scope = Scope(prefix.clone());
    let spawner = SpawnerProcess::start(
        "spawner",
        &[
            ("SPAWNER_SCOPE", prefix.as_str()),
            ("SPAWNER_API_TOKEN", TOKEN),
            ("SPAWNER_MAX_RUNNING", "20"),
        ],
    );
    let name = format!("{prefix}-alice");
    let other = format!("{prefix}-bob");
    let post = reqwest::Method::POST;
    let body = json!({"name": name, "image": IMAGE, "envs": {"IDLE": "0"}, "memory": "256m",
        "cpus": 0.5, "volumes": {"data": "/data"}});
    assert_eq!(
        bearer(&spawner, post.clone(), "/deploy", Some(body)).await,
        201
    );
    let body = json!({"name": other, "image": IMAGE, "envs": {"IDLE": "0"}, "start": false});
    assert_eq!(
        bearer(&spawner, post.clone(), "/deploy", Some(body)).await,
        201
    );

    let driver = Driver::start();
    let client = browser(&driver).await;
    client.set_window_size(1500, 600).await.unwrap();

    // A wrong token: refused, with a message, and no cookie.
    sign_in(&client, &spawner.api, "not-the-token-not-the-token").await;
    let refused = eventually(Duration::from_secs(10), || async {
        client
            .source()
            .await
            .is_ok_and(|s| s.contains("Wrong token"))
    });
    assert!(
        refused.await,
        "{}\n{}",
        client.source().await.unwrap_or_default(),
        spawner.log()
    );
    assert!(client.get_named_cookie("spawner_admin").await.is_err());

    // The right one: the table, with the instance running.
    sign_in(&client, &spawner.api, TOKEN).await;
    assert!(
        until_row(&client, &name, "running").await,
        "{}",
        client.source().await.unwrap_or_default()
    );
    assert!(until_row(&client, &other, "created").await);
    let cookie = client.get_named_cookie("spawner_admin").await.unwrap();
    assert_eq!(cookie.http_only(), Some(true), "{cookie}");
    assert!(!cookie.value().contains(TOKEN));
    let loaded = loaded_at(&client).await;
    assert!(loaded.is_number(), "{loaded}");
    let row = format!("tr[data-name=\"{name}\"]");
    let limits = client
        .find(Locator::Css(&format!("{row} td.limits")))
        .await
        .unwrap();
    assert!(limits.text().await.unwrap().contains("256 MiB"));
    let volumes = client
        .find(Locator::Css(&format!("{row} td.volumes")))
        .await
        .unwrap();
    assert!(volumes.text().await.unwrap().contains("/data"));

    // Stop from the page: the row says so without a reload, and Docker agrees.
    click(&client, &format!("{row} button[data-action=\"stop\"]")).await;
    assert!(
        until_row(&client, &name, "exited").await,
        "{}",
        spawner.log()
    );
    assert_eq!(state(&name), "exited");
    // A change made elsewhere (the bearer API) comes through the event stream.
    let start_other = format!("/deploy/{other}");
    assert_eq!(
        bearer(&spawner, reqwest::Method::PUT, &start_other, None).await,
        200
    );
    assert!(
        until_row(&client, &other, "running").await,
        "{}",
        spawner.log()
    );

    // Pause the other one from the page.
    let other_row = format!("tr[data-name=\"{other}\"]");
    click(
        &client,
        &format!("{other_row} button[data-action=\"pause\"]"),
    )
    .await;
    assert!(
        until_row(&client, &other, "paused").await,
        "{}",
        spawner.log()
    );
    assert_eq!(state(&other), "paused");
    let picture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/admin.png");
    std::fs::write(&picture, client.screenshot().await.unwrap()).unwrap();

    // Start from the page.
    click(&client, &format!("{row} button[data-action=\"start\"]")).await;
    assert!(
        until_row(&client, &name, "running").await,
        "{}",
        spawner.log()
    );
    assert_eq!(state(&name), "running");
    assert_eq!(loaded_at(&client).await, loaded, "the page was reloaded");

    // Recreate with another environment, through its dialog.
    click(&client, &format!("{row} button[data-action=\"recreate\"]")).await;
    let envs = client.find(Locator::Id("recreate-envs")).await.unwrap();
    envs.send_keys("IDLE=0\nGREETING=from the admin page")
        .await
        .unwrap();
    click(&client, "#recreate-confirm").await;
    let recreated = eventually(Duration::from_secs(20), || async {
        let message = client.find(Locator::Id("message")).await.unwrap();
        message.text().await.unwrap().contains("recreated from")
    });
    assert!(recreated.await, "{}", spawner.log());
    let env = docker(&["inspect", "-f", "{{json .Config.Env}}", &name]);
    assert!(env.contains("GREETING=from the admin page"), "{env}");
    assert!(until_row(&client, &name, "running").await);

    // The filter hides the other rows without reading the list again.
    let filter = client.find(Locator::Id("filter-name")).await.unwrap();
    filter.send_keys("-bob").await.unwrap();
    let hidden = client.find(Locator::Css(&row)).await.unwrap();
    assert!(!hidden.is_displayed().await.unwrap());
    let backspaces = fantoccini::key::Key::Backspace.to_string().repeat(4);
    filter.send_keys(&backspaces).await.unwrap();
    let shown = client.find(Locator::Css(&row)).await.unwrap();
    assert!(shown.is_displayed().await.unwrap());

    // "Open as user": the session's cookie, shown to the operator, and the log says who.
    click(&client, &format!("{row} button[data-action=\"session\"]")).await;
    let issued = client
        .wait()
        .for_element(Locator::Css("#session-dialog[open] #session-cookie"))
        .await;
    assert!(issued
        .unwrap()
        .text()
        .await
        .unwrap()
        .starts_with("instance="));
    assert!(spawner
        .log()
        .contains(&format!("opened {name} as its user")));
    click(&client, "#session-dialog .cancel").await;

    // Delete, purging its volumes (confirmed with its name): the row goes, and the container.
    click(&client, &format!("{row} button[data-action=\"delete\"]")).await;
    click(&client, "#delete-purge").await;
    let confirm = client
        .find(Locator::Id("delete-confirm-name"))
        .await
        .unwrap();
    confirm.send_keys(&name).await.unwrap();
    click(&client, "#delete-confirm").await;
    let gone = eventually(Duration::from_secs(20), || async {
        row_state(&client, &name).await.is_none()
    });
    assert!(gone.await, "{}", spawner.log());
    assert!(docker_lines(&["ps", "-aq", "--filter", &format!("name=^/{name}$")]).is_empty());
    let volume = format!("name=spawner-{name}-data");
    assert!(docker_lines(&["volume", "ls", "-q", "--filter", &volume]).is_empty());
    assert!(row_state(&client, &other).await.is_some());
    assert_eq!(loaded_at(&client).await, loaded, "the page was reloaded");
    let _ = client.close().await;
}
