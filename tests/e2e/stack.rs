//! One whole stack per test (traefik, spawner, mock-home) started with the project's own scripts,
//! under its own compose project name, network and free ports; instances named with a unique
//! prefix. `Drop` runs `scripts/down.sh --purge`, which removes the stack and its instances.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub use crate::common::{docker, eventually};
use serde_json::{json, Value};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Stack {
    pub prefix: String,
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
        let prefix = format!("e{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let (http, api, dashboard) = (free_port(), free_port(), free_port());
        let mut env = vec![
            ("COMPOSE_PROJECT_NAME".to_string(), prefix.clone()),
            ("NETWORK".to_string(), format!("{prefix}-net")),
            ("HTTP_PORT".to_string(), http.to_string()),
            ("API_PORT".to_string(), api.to_string()),
            ("DASHBOARD_PORT".to_string(), dashboard.to_string()),
        ];
        if path_routing {
            env.push(("PATH_ROUTING".into(), "1".into()));
        }
        let stack = Self {
            prefix,
            env,
            public: format!("http://127.0.0.1:{http}"),
            api: format!("http://127.0.0.1:{api}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(40))
                .build()
                .unwrap(),
            browser_like: reqwest::Client::builder()
                .timeout(Duration::from_secs(40))
                .build()
                .unwrap(),
        };
        let out = stack.script("up.sh", &[], &[]);
        assert!(
            out.status.success(),
            "scripts/up.sh failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        stack
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

    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.prefix)
    }

    pub fn network(&self) -> String {
        format!("{}-net", self.prefix)
    }

    /// Creates a mock-app minion through the private API with the old clients' body.
    pub async fn create(&self, name: &str, envs: Value) -> Value {
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
        let response = self
            .client
            .post(format!("{}/deploy", self.api))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
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
        let dashboard = &self
            .env
            .iter()
            .find(|(k, _)| k == "DASHBOARD_PORT")
            .unwrap()
            .1;
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

    pub fn cookie(name: &str) -> String {
        format!("instance={name}")
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.public));
        if let Some(name) = cookie {
            request = request.header("Cookie", Self::cookie(name));
        }
        request.send().await.unwrap()
    }

    pub fn state(&self, name: &str) -> String {
        docker(&["inspect", "-f", "{{.State.Status}}", name])
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
