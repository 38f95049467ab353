//! The driver's hands on instances: session cookies, deploys, states, addresses, requests.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use spawner::domain::session::{Keys, Secret};
use spawner::domain::InstanceName;

use crate::measure::*;
use crate::Bench;

impl Bench {
    /// A session cookie for `name`, signed with spawner's secret and the instance's session epoch
    /// (read from Docker), valid for a day.
    pub(crate) fn cookie(&self, name: &str) -> String {
        let mut cookies = self.cookies.lock().unwrap();
        cookies
            .entry(name.to_string())
            .or_insert_with(|| self.sign(name))
            .clone()
    }

    /// The headers of `/auth` as the router of `name` sends them: its session, the routed
    /// instance, the original URI.
    pub(crate) fn auth_headers<'a>(name: &'a str, cookie: &'a str) -> [(&'static str, &'a str); 3] {
        [
            ("Cookie", cookie),
            ("X-Spawner-Instance", name),
            ("X-Forwarded-Uri", "/"),
        ]
    }

    pub(crate) fn sign(&self, name: &str) -> String {
        let secret = Secret::parse(&self.args.cookie_secret).expect("a valid cookie secret");
        let keys = Keys::new(vec![secret]).expect("one secret");
        let epoch = std::process::Command::new("docker")
            .args([
                "inspect",
                "-f",
                "{{index .Config.Labels \"spawner.session-epoch\"}}",
                name,
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .expect("the docker CLI");
        let name = InstanceName::parse(name).expect("a valid instance name");
        let expires = std::time::SystemTime::now() + Duration::from_secs(86_400);
        format!("instance={}", keys.sign(&name, &epoch, expires))
    }

    pub(crate) async fn deploy(
        &self,
        name: &str,
        image: &str,
        labels: Value,
        port: Option<u16>,
        start: bool,
    ) {
        let mut body = json!({"name": name, "image": image, "network": self.args.network,
                              "labels": labels, "envs": {"IDLE": "30m"}, "start": start});
        if let Some(port) = port {
            body["port"] = port.into();
        }
        let r = self
            .client
            .post(format!("{}/deploy", self.args.api))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "deploy {name}: {:?}", r.text().await);
    }

    pub(crate) async fn state(&self, name: &str) -> String {
        let r = self
            .client
            .get(format!("{}/deploy/{name}", self.args.api))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        v["state"].as_str().unwrap_or("").to_string()
    }

    pub(crate) async fn stop_and_wait(&self, name: &str) {
        docker(&["stop", "-t", "2", name]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.state(name).await != "exited" {
            assert!(Instant::now() < deadline, "spawner did not see {name} stop");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(crate) fn ip(&self, name: &str) -> String {
        docker(&[
            "inspect",
            "-f",
            &format!(
                "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
                self.args.network
            ),
            name,
        ])
    }

    pub(crate) fn started_at(&self, name: &str) -> SystemTime {
        let raw = docker(&["inspect", "-f", "{{.State.StartedAt}}", name]);
        humantime::parse_rfc3339_weak(raw.trim_end_matches('Z')).expect("StartedAt")
    }

    pub(crate) fn start_events(&self, name: &str, since: SystemTime) -> usize {
        let ts = |t: SystemTime| {
            let d = t.duration_since(UNIX_EPOCH).unwrap();
            format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
        };
        let until = SystemTime::now() + Duration::from_secs(1);
        docker(&[
            "events",
            "--since",
            &ts(since),
            "--until",
            &ts(until),
            "--filter",
            &format!("container={name}"),
            "--filter",
            "event=start",
            "--format",
            "{{.ID}}",
        ])
        .lines()
        .count()
    }

    /// Until traefik has loaded the instance's own router (a request through it answers 200).
    pub(crate) async fn wait_routed(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = self
                .request(name, true)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok();
            if status == Some(200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "traefik did not route {name}: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A request as a user's browser makes it: through traefik with the cookie, or `/auth` alone.
    pub(crate) fn request(&self, name: &str, via_traefik: bool) -> reqwest::RequestBuilder {
        let cookie = self.cookie(name);
        if via_traefik {
            self.client
                .get(format!("{}/", self.args.public))
                .header("Cookie", cookie)
        } else {
            self.client
                .get(format!("{}/auth", self.args.auth))
                .header("Cookie", cookie)
                .header("X-Spawner-Instance", name)
                .header("X-Forwarded-Uri", "/")
        }
    }
}
