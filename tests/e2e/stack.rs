//! One whole stack per test (traefik, spawner, mock-home) started with the project's own scripts,
//! under its own compose project name, ports, network and subnet; instances named with a unique
//! prefix.
//! `Drop` runs `scripts/down.sh --purge`, which removes the stack and its instances.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub use crate::common::{docker, eventually};
use serde_json::{json, Value};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A port that is free now, chosen outside the kernel's ephemeral range (32768 and up), so no
/// outgoing connection takes it before compose binds it. Another stack may still take it first:
/// [`Stack::up_with_env`] then tries again with other ports.
pub fn free_port() -> u16 {
    loop {
        let random = u16::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..2].try_into().unwrap());
        let port = 20000 + random % 12000;
        if std::net::TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
}

/// An idle connection is dropped before the servers' keep-alive (actix: 5 s) closes it, so a
/// request never goes out on a connection the server is closing at that moment (hyper's
/// `IncompleteMessage`).
const POOL_IDLE: Duration = Duration::from_secs(3);

/// How many times `up` is tried when a chosen port or subnet was taken meanwhile.
const UP_TRIES: usize = 3;

pub struct Stack {
    pub prefix: String,
    /// The private API's token of this stack (given to its scripts as API_TOKEN).
    pub token: String,
    /// The secret its spawner signs cookies with (COOKIE_SECRET), so tests can forge with it.
    pub cookie_secret: String,
    /// The session cookie spawner issued for each instance this test created.
    sessions: std::sync::Mutex<std::collections::HashMap<String, String>>,
    pub env: Vec<(String, String)>,
    pub public: String,
    pub api: String,
    /// Follows no redirect: tests see every hop.
    pub client: reqwest::Client,
    /// Follows redirects, as a browser does.
    pub browser_like: reqwest::Client,
}

impl Stack {
    pub async fn up() -> Self {
        Self::up_with(false).await
    }

    pub async fn up_with(path_routing: bool) -> Self {
        let extra: &[(&str, &str)] = if path_routing {
            &[("PATH_ROUTING", "1")]
        } else {
            &[]
        };
        Self::up_with_env(extra).await
    }

    /// A stack whose scripts also get `extra` in their environment.
    pub async fn up_with_env(extra: &[(&str, &str)]) -> Self {
        let prefix = format!("e{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        for attempt in 1..=UP_TRIES {
            let stack = Self::new(&prefix, extra);
            let out = stack.script("up.sh", &[], &[]);
            if out.status.success() {
                return stack;
            }
            let stderr = String::from_utf8_lossy(&out.stderr).to_string();
            let lower = stderr.to_lowercase();
            let taken = [
                "already allocated",
                "address already in use",
                "pool overlaps",
            ]
            .iter()
            .any(|sign| lower.contains(sign));
            assert!(
                taken && attempt < UP_TRIES,
                "scripts/up.sh failed:\n{}\n{stderr}",
                String::from_utf8_lossy(&out.stdout)
            );
            eprintln!("a port or the subnet was taken meanwhile; starting the stack again");
            drop(stack); // down.sh --purge
        }
        unreachable!("the loop returns or panics")
    }

    fn new(prefix: &str, extra: &[(&str, &str)]) -> Self {
        let (http, api, dashboard) = (free_port(), free_port(), free_port());
        let (auth, home) = (free_port(), free_port());
        let token = format!("token-{}", uuid::Uuid::new_v4().simple());
        let cookie_secret = format!("secret-{}", uuid::Uuid::new_v4().simple());
        let mut env = vec![
            ("API_TOKEN".to_string(), token.clone()),
            ("COOKIE_SECRET".to_string(), cookie_secret.clone()),
            ("COMPOSE_PROJECT_NAME".to_string(), prefix.to_string()),
            ("NETWORK".to_string(), format!("{prefix}-net")),
            ("HTTP_PORT".to_string(), http.to_string()),
            ("API_PORT".to_string(), api.to_string()),
            ("DASHBOARD_PORT".to_string(), dashboard.to_string()),
            ("AUTH_PORT".to_string(), auth.to_string()),
            ("HOME_PORT".to_string(), home.to_string()),
            // Swarm mode takes a /25 per instance.
            (
                "SUBNET".to_string(),
                match extra.contains(&("SWARM", "1")) {
                    true => crate::common::free_subnet_of(20),
                    false => crate::common::free_subnet(),
                },
            ),
            // A stack that does not come up says so soon (its logs then tell why).
            ("UP_TIMEOUT".to_string(), "45".to_string()),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self {
            prefix: prefix.to_string(),
            token,
            cookie_secret,
            sessions: Default::default(),
            env,
            public: format!("http://127.0.0.1:{http}"),
            api: format!("http://127.0.0.1:{api}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(40))
                .pool_idle_timeout(POOL_IDLE)
                .build()
                .unwrap(),
            browser_like: reqwest::Client::builder()
                .timeout(Duration::from_secs(40))
                .pool_idle_timeout(POOL_IDLE)
                .build()
                .unwrap(),
        }
    }

    /// Runs one of the project's scripts with this stack's environment.
    pub fn script(&self, name: &str, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        Command::new("bash")
            .arg(root().join("scripts").join(name))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra_env.iter().copied())
            .output()
            .unwrap()
    }

    /// A value this stack's scripts got (a port, the network, …).
    pub fn var(&self, key: &str) -> &str {
        let found = self.env.iter().find(|(k, _)| k == key);
        &found.unwrap_or_else(|| panic!("the stack has no {key}")).1
    }

    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.prefix)
    }

    pub fn network(&self) -> String {
        format!("{}-net", self.prefix)
    }

    /// Creates a mock-app minion through the private API with the old clients' body.
    pub async fn create(&self, name: &str, envs: Value) -> Value {
        self.create_with(name, envs, json!({})).await
    }

    /// Like [`Stack::create`], with `extra` fields added to the body (e.g. `idle_timeout`).
    pub async fn create_with(&self, name: &str, envs: Value, extra: Value) -> Value {
        let mut all_envs = json!({"CONNSTR": format!("db of {name}"), "IDLE": "1m"});
        all_envs
            .as_object_mut()
            .unwrap()
            .extend(envs.as_object().cloned().unwrap_or_default());
        let body = json!({
            "name": name, "network": self.network(), "image": "mock-app:latest",
            "labels": {
                "health-check": format!("http://{name}:9000/status"),
                "traefik.enable": "true",
                format!("traefik.http.services.{name}.loadbalancer.server.port"): "9000"
            },
            "envs": all_envs
        });
        let mut body = body;
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        let response = self
            .client
            .post(format!("{}/deploy", self.api))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let created: Value = response.json().await.unwrap_or_default();
        assert_eq!(status, 201, "{created}");
        let cookie = created["session"]["cookie"].as_str().unwrap().to_string();
        self.sessions
            .lock()
            .unwrap()
            .insert(name.to_string(), cookie);
        created
    }

    /// Creates a stopped, routed minion whose app gets ready `ready_after` after each start. It
    /// has no Docker HEALTHCHECK (which would call the slow app unhealthy): readiness by its URL.
    pub async fn create_slow(&self, name: &str, ready_after: &str) {
        let envs = json!({ "READY_AFTER": ready_after });
        let extra = json!({"start": false, "image": "mock-app:nohc"});
        self.create_with(name, envs, extra).await;
        self.wait_routed(name).await;
    }

    /// A session issued now by the private API (`POST /deploy/{name}/session`).
    pub async fn session(&self, name: &str) -> Value {
        let response = self
            .client
            .post(format!("{}/deploy/{name}/session", self.api))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "session for {name}");
        response.json().await.unwrap()
    }

    /// Creates minions and waits until traefik routes every one of them.
    pub async fn create_routed(&self, names: &[&str], envs: Value) {
        for name in names {
            self.create(name, envs.clone()).await;
        }
        for name in names {
            self.wait_routed(name).await;
        }
    }

    /// Waits until traefik has loaded the instance's route (its dashboard API lists it).
    pub async fn wait_routed(&self, name: &str) {
        let dashboard = self.var("DASHBOARD_PORT");
        let url = format!("http://127.0.0.1:{dashboard}/api/http/routers/{name}@http");
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(r) = self.client.get(&url).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("traefik did not load the route of {name}");
    }

    /// The cookie spawner issued for `name` when this test created it; for any other name, the
    /// bare (unsigned) `instance=<name>`, which spawner refuses.
    pub fn cookie(&self, name: &str) -> String {
        let sessions = self.sessions.lock().unwrap();
        sessions
            .get(name)
            .cloned()
            .unwrap_or_else(|| format!("instance={name}"))
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.public));
        if let Some(name) = cookie {
            request = request.header("Cookie", self.cookie(name));
        }
        request.send().await.unwrap()
    }

    /// A text POST through traefik with `name`'s cookie.
    pub async fn post_text(&self, path: &str, name: &str, body: &str) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.public))
            .header("Cookie", self.cookie(name))
            .header("Content-Type", "text/plain")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    pub fn state(&self, name: &str) -> String {
        docker(&["inspect", "-f", "{{.State.Status}}", name])
    }
}

impl Stack {
    /// Ids of the stack's running containers of compose service `service`, one a line.
    pub fn containers_of(&self, service: &str) -> String {
        docker(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.prefix),
            "--filter",
            &format!("label=com.docker.compose.service={service}"),
        ])
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let out = self.script("down.sh", &["--purge"], &[]);
        if !out.status.success() {
            eprintln!("down.sh --purge: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}
