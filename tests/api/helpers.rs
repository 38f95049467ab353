//! The test harness: a spawner built in-process on free loopback ports, managing real containers
//! on the local Docker daemon, on a network of its own; names unique per test; everything removed
//! when the test ends (even when it fails).

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use crate::cleanup::{docker_lines, image_present, instance_volumes, Cleanup};
pub use crate::common::{docker, eventually, session_epoch, SpawnerProcess};
pub use crate::docker_proxy::DockerProxy;
use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::StreamExt;
use serde_json::Value;
use spawner::configuration::Settings;
use spawner::domain::session::{Keys, Secret};
use spawner::domain::InstanceName;
pub use spawner::domain::Routing;
use spawner::startup::Application;

pub const IMAGE: &str = "mock-app:latest";
/// The API token of a test spawner that requires one.
pub const TEST_TOKEN: &str = "a-token-for-the-tests-0123456789";
/// The cookie secret of every test spawner, so tests can sign sessions as spawner does.
pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret-0123";
pub const IMAGE_NO_HEALTHCHECK: &str = "mock-app:nohc";

/// Fails loudly (never skips) when the daemon is missing.
pub fn require_docker() {
    let out = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "the Docker daemon is unreachable (docker info: {}); these tests need a running Docker daemon",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("the docker CLI cannot run ({e}); these tests need Docker"),
    }
    for image in [IMAGE, IMAGE_NO_HEALTHCHECK] {
        assert!(
            image_present(image),
            "image {image} is missing: run scripts/build_project.sh first"
        );
    }
}

pub struct TestApp {
    pub api: String,
    pub auth: String,
    pub settings: Settings,
    pub client: reqwest::Client,
    pub docker: bollard::Docker,
    pub cleanup: Arc<Cleanup>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

pub fn unique_prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A spawner whose settings `adjust` may change (its network and loopback ports are preset).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    require_docker();
    let prefix = unique_prefix();
    let network = format!("{prefix}-net");
    docker(&["network", "create", "--label", "spawner-test=1", &network]);
    let cleanup = Arc::new(Cleanup {
        prefix,
        network: network.clone(),
        images: Mutex::new(Vec::new()),
    });
    let mut settings = Settings::for_tests();
    settings.engine.network = network.clone();
    settings.engine.scope = network.clone();
    settings.engine.allowed_networks = vec![network];
    settings.traefik.traefik_check_enabled = false;
    settings.readiness.hold_timeout = Duration::from_secs(20);
    settings.sessions.cookie_secrets = vec![Secret::parse(TEST_SECRET).unwrap()];
    adjust(&mut settings);
    start_app(settings, cleanup).await
}

/// A spawner on an existing test's network and names (e.g. a restart of the same service). With
/// an `api_token` in the settings, it must be [`TEST_TOKEN`]; the test's client sends it.
pub async fn start_app(settings: Settings, cleanup: Arc<Cleanup>) -> TestApp {
    let app = Application::build(settings.clone())
        .await
        .expect("spawner builds");
    let api = format!("http://127.0.0.1:{}", app.api_port());
    let auth = format!("http://127.0.0.1:{}", app.auth_port());
    let server = tokio::spawn(async move {
        let _ = app.run_until_stopped().await;
    });
    let headers = token_header(settings.listen.api_token.is_some());
    let test_app = TestApp {
        api,
        auth,
        settings,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap(),
        docker: bollard::Docker::connect_with_defaults()
            .unwrap()
            .negotiate_version()
            .await
            .unwrap(),
        cleanup,
        server: Some(server),
    };
    test_app.wait_synced().await;
    test_app
}

fn token_header(with_token: bool) -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    if with_token {
        let value = format!("Bearer {TEST_TOKEN}").parse().unwrap();
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    headers
}

impl TestApp {
    /// A unique instance name for this test.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.cleanup.prefix)
    }

    pub fn network(&self) -> &str {
        &self.cleanup.network
    }

    async fn wait_synced(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(r) = self.client.get(format!("{}/deploy", self.api)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("spawner did not list the containers within 10s");
    }

    pub async fn post_deploy(&self, body: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/deploy", self.api))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// Deploys `name` from `image` with extra JSON fields; asserts 201.
    pub async fn deploy(&self, name: &str, image: &str, extra: Value) -> Value {
        let mut body = serde_json::json!({ "name": name, "image": image });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        let response = self.post_deploy(&body.to_string()).await;
        let status = response.status();
        let json: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "deploy {name}: {json}");
        json
    }

    pub async fn api_get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.api))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn api_call(&self, method: reqwest::Method, path: &str) -> (u16, Value) {
        let r = self
            .client
            .request(method, format!("{}{path}", self.api))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// `/auth` as traefik calls it from the instance router that `cookie` (or, in path mode,
    /// `uri`) matches: the original headers, `X-Forwarded-*`, and the router's
    /// `X-Spawner-Instance`. Without a match, as the catch-all calls it (`?fallback=true`).
    pub fn auth_request(&self, cookie: Option<&str>, uri: &str) -> reqwest::RequestBuilder {
        let routed = if self.settings.traefik.routing == Routing::Path {
            let prefix = format!("{}/", self.settings.traefik.container_prefix);
            uri.strip_prefix(&prefix)
                .map(|rest| rest.split(['/', '?']).next().unwrap_or_default())
        } else {
            cookie
                .and_then(|c| c.strip_prefix("instance="))
                .map(|v| v.split(['.', ';']).next().unwrap_or_default())
        }
        .filter(|name| !name.is_empty());
        let mut request = match routed {
            Some(name) => self
                .client
                .get(format!("{}/auth", self.auth))
                .header("X-Spawner-Instance", name),
            None => self.client.get(format!("{}/auth?fallback=true", self.auth)),
        };
        request = request
            .header("X-Forwarded-Method", "GET")
            .header("X-Forwarded-Proto", "http")
            .header("X-Forwarded-Host", "localhost")
            .header("X-Forwarded-Uri", uri)
            .header("X-Forwarded-For", "10.0.0.1");
        if let Some(cookie) = cookie {
            request = request.header("Cookie", cookie);
        }
        request
    }

    /// `/auth` as the catch-all router calls it (`?fallback=true`), with `cookie` if given:
    /// traefik has no route for the instance (yet).
    pub fn fallback_request(&self, cookie: Option<&str>) -> reqwest::RequestBuilder {
        let request = self.client.get(format!("{}/auth?fallback=true", self.auth));
        match cookie {
            Some(cookie) => request.header("Cookie", cookie),
            None => request,
        }
    }

    /// A valid session cookie for `name`, signed as spawner signs it (an hour from now).
    pub fn cookie(&self, name: &str) -> String {
        let keys = Keys::new(vec![Secret::parse(TEST_SECRET).unwrap()]).unwrap();
        let expires = SystemTime::now() + Duration::from_secs(3600);
        let epoch = session_epoch(name);
        let value = keys.sign(&InstanceName::parse(name).unwrap(), &epoch, expires);
        format!("instance={value}")
    }

    pub async fn auth_for(&self, name: &str) -> reqwest::Response {
        self.auth_request(Some(&self.cookie(name)), "/")
            .send()
            .await
            .unwrap()
    }

    /// `/auth` as a browser's request reaches it (it accepts HTML).
    pub async fn auth_from_browser(&self, name: &str) -> reqwest::Response {
        self.auth_request(Some(&self.cookie(name)), "/")
            .header("Accept", "text/html")
            .send()
            .await
            .unwrap()
    }

    /// Whether spawner's API shows `name` in `state` within `within` (its index follows Docker).
    pub async fn api_shows(&self, name: &str, state: &str, within: Duration) -> bool {
        eventually(within, || async {
            self.api_get(&format!("/deploy/{name}")).await.1["state"] == state
        })
        .await
    }

    pub fn state(&self, name: &str) -> String {
        docker(&["inspect", "-f", "{{.State.Status}}", name])
    }

    /// Whether a container is named (or has an id that starts with) `name`: containers only,
    /// as a short name like `q` is also the start of other objects' ids (Swarm's networks).
    pub fn exists(&self, name: &str) -> bool {
        Command::new("docker")
            .args(["inspect", "--type", "container", name])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    pub fn ip(&self, name: &str) -> String {
        docker(&[
            "inspect",
            "-f",
            &format!(
                "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
                self.network()
            ),
            name,
        ])
    }

    /// GET on the app directly, at its container IP.
    pub async fn app_get(&self, name: &str, path: &str) -> reqwest::Result<reqwest::Response> {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap()
            .get(format!("http://{}:9000{path}", self.ip(name)))
            .send()
            .await
    }

    /// Builds a throw-away image `FROM <base>` plus `lines`; removed with the test.
    pub fn build_image(&self, base: &str, lines: &str) -> String {
        let tag = format!(
            "{}-img:{}",
            self.cleanup.prefix,
            self.cleanup.images.lock().unwrap().len()
        );
        let mut child = Command::new("docker")
            .args(["build", "-q", "-t", &tag, "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("FROM {base}\n{lines}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "docker build: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.cleanup.images.lock().unwrap().push(tag.clone());
        tag
    }

    /// The daemon's clock now: event times are the daemon's, so compare them with this.
    pub async fn daemon_now(&self) -> SystemTime {
        let info = self.docker.info().await.expect("docker info");
        let raw = info.system_time.expect("the daemon tells its time");
        humantime::parse_rfc3339_weak(raw.trim_end_matches('Z')).expect("an RFC 3339 time")
    }

    /// How many `start` events the daemon reported for `name` from `since` (daemon time) on.
    pub async fn start_events(&self, name: &str, since: SystemTime) -> usize {
        let secs = |t: SystemTime| {
            let d = t.duration_since(UNIX_EPOCH).unwrap();
            format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
        };
        let filters = HashMap::from([
            ("container".to_string(), vec![name.to_string()]),
            ("event".to_string(), vec!["start".to_string()]),
        ]);
        let options = EventsOptionsBuilder::default()
            .since(&secs(since))
            .until(&secs(self.daemon_now().await))
            .filters(&filters)
            .build();
        self.docker
            .events(Some(options))
            .filter(|e| futures_util::future::ready(e.is_ok()))
            .count()
            .await
    }
}

/// The status and `Location` of an answer.
pub async fn status_and_location(response: reqwest::Response) -> (u16, Option<String>) {
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (response.status().as_u16(), location)
}
