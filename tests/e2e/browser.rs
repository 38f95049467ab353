//! A real browser (headless Chromium via chromedriver) registers, lands on its app, and comes
//! back to it after the container stopped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

use crate::stack::*;

pub struct Driver {
    process: Child,
    port: u16,
}

impl Driver {
    pub fn start() -> Self {
        let binary = ["chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|b| {
                Command::new(b)
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .expect(
                "chromedriver is missing: scripts/test.sh installs chromium and chromium-driver",
            );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self { process, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

pub async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--no-first-run", "--disable-dev-shm-usage"
        ]}),
    );
    let url = format!("http://127.0.0.1:{}", driver.port);
    for _ in 0..50 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        if let Ok(client) = ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("could not start a Chromium session through chromedriver");
}

/// Opens `/home`, types `name` into the registration form and submits it.
/// Fills the home page's form whose fields and button have these ids, and sends it.
async fn submit(client: &Client, public: &str, fields: &[(&str, &str)], button: &str) {
    client.goto(&format!("{public}/home")).await.unwrap();
    for (id, value) in fields {
        let input = client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|_| panic!("the field {id} on the home page"));
        input.send_keys(value).await.unwrap();
    }
    client
        .find(Locator::Id(button))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn register(client: &Client, public: &str, name: &str, password: &str) {
    let fields = [("name", name), ("password", password)];
    submit(client, public, &fields, "register").await;
}

async fn login(client: &Client, public: &str, name: &str, password: &str) {
    let fields = [("login-name", name), ("login-password", password)];
    submit(client, public, &fields, "login").await;
}

async fn logout(client: &Client, public: &str) {
    submit(client, public, &[], "logout").await;
}

async fn wait_for_text(client: &Client, text: &str) -> bool {
    eventually(Duration::from_secs(30), || async {
        client.source().await.is_ok_and(|s| s.contains(text))
    })
    .await
}

#[tokio::test]
async fn a_browser_registers_reaches_its_app_logs_out_and_logs_back_in() {
    let stack = Stack::up().await;
    let driver = Driver::start();
    let client = browser(&driver).await;
    let name = stack.name("browser");
    let hostname = format!("\"hostname\":\"{name}\"");

    let password = "a long enough password";
    register(&client, &stack.public, &name, password).await;
    let landed = wait_for_text(&client, &hostname).await;
    let page = client.source().await.unwrap_or_default();
    assert!(landed, "did not land on the app; the page shows: {page}");
    assert_eq!(client.current_url().await.unwrap().path(), "/");
    // The cookie is the session spawner signed, out of the page's scripts' reach.
    let cookie = client.get_named_cookie("instance").await.unwrap();
    assert!(cookie.value().starts_with(&format!("{name}.")), "{cookie}");
    assert_eq!(cookie.http_only(), Some(true), "{cookie}");

    docker(&["stop", &name]);
    assert_eq!(stack.state(&name), "exited");
    client.refresh().await.unwrap();
    let back = wait_for_text(&client, &hostname).await;
    let page = client.source().await.unwrap_or_default();
    assert!(back, "the page did not come back after the stop: {page}");
    assert_eq!(stack.state(&name), "running");

    // A taken name gets a clear message, in the form page, and no new cookie.
    register(&client, &stack.public, &name, "another password").await;
    assert!(wait_for_text(&client, "already taken").await);

    // Logging out clears the cookie: the site is home again.
    logout(&client, &stack.public).await;
    client.goto(&format!("{}/", stack.public)).await.unwrap();
    assert!(wait_for_text(&client, "You are at Home").await);
    assert!(client.get_named_cookie("instance").await.is_err());

    // A wrong password: the form again, and still no cookie.
    login(&client, &stack.public, &name, "not the password").await;
    assert!(wait_for_text(&client, "do not match").await);
    assert!(client.get_named_cookie("instance").await.is_err());

    // The right one: back on the same instance.
    login(&client, &stack.public, &name, password).await;
    let back = wait_for_text(&client, &hostname).await;
    let page = client.source().await.unwrap_or_default();
    assert!(back, "login did not lead back to the instance: {page}");
    let _ = client.close().await;
}
