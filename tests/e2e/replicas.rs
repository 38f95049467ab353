//! Two spawner replicas behind real traefik (`scripts/up.sh --replicas 2`): one killed with
//! SIGKILL under steady load, then both restarted one at a time (SIGTERM), while requests are also
//! held for a waking instance. The client sees no failed request (the counts are printed). And
//! a replica that sees none of an instance's requests never stops it while it is in use.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::stack::{docker, eventually, Stack};

/// Load clients, as in the report (4 clients, a valid session each).
const CLIENTS: usize = 4;
/// Requests held for the waking instance at each disruption.
const HELD: usize = 12;

/// The phases the load's requests are counted in (by when they were sent).
pub const KILL: u8 = 0;
pub const ROLLING: u8 = 1;

/// How many processes listen on the stack's ForwardAuth port.
fn listening(stack: &Stack) -> usize {
    let filter = format!("sport = :{}", stack.var("AUTH_PORT"));
    let out = std::process::Command::new("ss")
        .args(["-Hltn", &filter])
        .output()
        .expect("ss (iproute2) counts the listening replicas");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

async fn all_listening(stack: &Stack, replicas: usize) {
    let back = eventually(Duration::from_secs(30), || async {
        listening(stack) == replicas
    });
    assert!(back.await, "{replicas} replicas do not listen again");
}

/// Steady load on a running instance from `CLIENTS` clients, each answer counted in the phase
/// its request was sent in.
pub struct Load {
    phase: Arc<AtomicU8>,
    done: Arc<AtomicBool>,
    answers: Arc<Mutex<Vec<(u8, u16, String)>>>,
    clients: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    pub fn start(stack: &Stack, name: &str) -> Self {
        let phase = Arc::new(AtomicU8::new(KILL));
        let done = Arc::new(AtomicBool::new(false));
        let answers: Arc<Mutex<Vec<(u8, u16, String)>>> = Arc::default();
        let clients = (0..CLIENTS)
            .map(|_| {
                let (phase, done, answers) = (phase.clone(), done.clone(), answers.clone());
                let (url, cookie) = (format!("{}/", stack.public), stack.cookie(name));
                let client = stack.client.clone();
                tokio::spawn(async move {
                    while !done.load(Ordering::Relaxed) {
                        let sent_in = phase.load(Ordering::Relaxed);
                        let answer = client.get(&url).header("Cookie", &cookie).send().await;
                        let (status, detail) = match answer {
                            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
                            Err(e) => (0, e.to_string()),
                        };
                        answers.lock().unwrap().push((sent_in, status, detail));
                    }
                })
            })
            .collect();
        Self {
            phase,
            done,
            answers,
            clients,
        }
    }

    /// Requests sent from now on count in `phase`.
    pub fn phase(&self, phase: u8) {
        self.phase.store(phase, Ordering::Relaxed);
    }

    /// Stops the load (on the first call) and counts the requests sent in `phase`: how many,
    /// how many failed (not a 200 from `name`'s app), and the first failure.
    pub async fn count(&mut self, phase: u8, name: &str) -> (usize, usize, Option<(u16, String)>) {
        self.done.store(true, Ordering::Relaxed);
        for client in self.clients.drain(..) {
            client.await.unwrap();
        }
        let answers = self.answers.lock().unwrap();
        let hostname = format!("\"hostname\":\"{name}\"");
        let sent: Vec<_> = answers.iter().filter(|a| a.0 == phase).collect();
        let failed: Vec<_> = sent
            .iter()
            .filter(|(_, status, body)| *status != 200 || !body.contains(&hostname))
            .collect();
        (
            sent.len(),
            failed.len(),
            failed.first().map(|f| (f.1, f.2.clone())),
        )
    }
}

/// Sends `HELD` requests for `name` (not ready yet), to be awaited after a disruption.
pub fn hold(stack: &Stack, name: &str) -> Vec<tokio::task::JoinHandle<(u16, String)>> {
    (0..HELD)
        .map(|_| {
            let request = stack.client.get(format!("{}/", stack.public));
            let request = request.header("Cookie", stack.cookie(name));
            tokio::spawn(async move {
                match request.send().await {
                    Ok(response) => (
                        response.status().as_u16(),
                        response.text().await.unwrap_or_default(),
                    ),
                    Err(e) => (0, e.to_string()),
                }
            })
        })
        .collect()
}

pub async fn served(held: Vec<tokio::task::JoinHandle<(u16, String)>>, name: &str, when: &str) {
    let hostname = format!("\"hostname\":\"{name}\"");
    for request in held {
        let (status, body) = request.await.unwrap();
        assert_eq!(status, 200, "a request held at the {when} failed: {body}");
        assert!(body.contains(&hostname), "{body}");
    }
}

#[tokio::test]
async fn replica_killed_under_load_then_a_rolling_restart_fail_no_request() {
    let stack = Stack::up_with_env(&[("REPLICAS", "2"), ("HOLD_TIMEOUT", "15s")]).await;
    assert_eq!(
        listening(&stack),
        2,
        "up.sh --replicas 2 runs two listeners"
    );
    let hot = stack.name("hot");
    stack.create(&hot, json!({})).await;
    stack.wait_routed(&hot).await;
    let cold = stack.name("cold");
    stack.create_slow(&cold, "3s").await;

    let mut load = Load::start(&stack, &hot);
    tokio::time::sleep(Duration::from_secs(1)).await;

    // 1. SIGKILL one replica while requests are held for the waking instance.
    let held = hold(&stack, &cold);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let ids: Vec<String> = stack
        .containers_of("spawner")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    docker(&["kill", "-s", "KILL", &ids[0]]);
    served(held, &cold, "kill").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    docker(&["start", &ids[0]]);
    all_listening(&stack, 2).await;

    // 2. A rolling restart (SIGTERM, one replica at a time), again with requests held.
    load.phase(ROLLING);
    docker(&["stop", &cold]);
    let stopped = eventually(Duration::from_secs(10), || async {
        stack.state(&cold) == "exited"
    });
    assert!(stopped.await);
    for (i, id) in ids.iter().enumerate() {
        let held = (i == 0).then(|| hold(&stack, &cold));
        tokio::time::sleep(Duration::from_millis(800)).await;
        let id = id.clone();
        tokio::task::spawn_blocking(move || docker(&["restart", &id]))
            .await
            .unwrap();
        if let Some(held) = held {
            served(held, &cold, "rolling restart").await;
        }
        all_listening(&stack, 2).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (killed, killed_failed, first) = load.count(KILL, &hot).await;
    let (rolled, rolled_failed, first_rolled) = load.count(ROLLING, &hot).await;
    eprintln!(
        "replica kill -9 under load: {killed} requests, {killed_failed} failed; \
         rolling restart: {rolled} requests, {rolled_failed} failed \
         ({HELD} held requests at each, all answered 200)"
    );
    assert!(killed > 100 && rolled > 100, "too little load to tell");
    assert_eq!(killed_failed, 0, "failed during the kill, first: {first:?}");
    assert_eq!(
        rolled_failed, 0,
        "failed during the restart, first: {first_rolled:?}"
    );
}

/// Requests through traefik every 700 ms for 9 s, then a WebSocket through traefik that carries
/// a message a second for 9 s (traefik asks `/auth` once, at the upgrade); returns it open.
pub async fn use_through_traefik(
    stack: &Stack,
    name: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

    let until = std::time::Instant::now() + Duration::from_secs(9);
    while std::time::Instant::now() < until {
        let response = stack.get("/", Some(name)).await;
        assert_eq!(response.status(), 200);
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let url = format!("{}/ws", stack.public.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    let cookie = stack.cookie(name).parse().unwrap();
    request.headers_mut().insert("Cookie", cookie);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    for i in 0..9 {
        let text = format!("cell output {i}");
        socket.send(Message::text(text.clone())).await.unwrap();
        let echo = tokio::time::timeout(Duration::from_secs(5), socket.next()).await;
        assert!(
            matches!(echo, Ok(Some(Ok(Message::Text(ref got)))) if got.as_str() == text),
            "message {i}: {echo:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    socket
}

/// A second spawner for the stack, run beside it as `docker run` would (host network, the
/// Docker socket, the stack's network, secret and token) on ports of its own: traefik never asks
/// it anything, so every request of the test goes through the stack's replica only.
pub struct Bystander(String);

impl Bystander {
    /// `extra`: more of its environment (the Swarm test's engine and node).
    pub async fn start(stack: &Stack, extra: &[&str]) -> Self {
        let name = format!("{}-replica-b", stack.prefix);
        let api = crate::stack::free_port();
        let image = std::env::var("SPAWNER_IMAGE").unwrap_or_else(|_| "spawner:latest".into());
        let env = [
            format!("SPAWNER_NETWORK={}", stack.network()),
            format!("SPAWNER_NETWORK_SUBNET={}", stack.var("SUBNET")),
            format!("SPAWNER_API_ADDR=127.0.0.1:{api}"),
            format!("SPAWNER_AUTH_ADDR=127.0.0.1:{}", crate::stack::free_port()),
            format!("SPAWNER_API_TOKEN={}", stack.token),
            format!("SPAWNER_COOKIE_SECRET={}", stack.cookie_secret),
            "SPAWNER_IDLE_CHECK_INTERVAL=500ms".to_string(),
            format!(
                "SPAWNER_TRAEFIK_BASE_URL=http://127.0.0.1:{}",
                stack.var("DASHBOARD_PORT")
            ),
        ];
        let mut args = vec!["run", "-d", "--name", &name, "--network", "host"];
        args.extend(["-v", "/var/run/docker.sock:/var/run/docker.sock"]);
        for e in env.iter().map(String::as_str).chain(extra.iter().copied()) {
            args.extend(["-e", e]);
        }
        args.push(&image);
        docker(&args);
        let bystander = Self(name);
        let client = reqwest::Client::new();
        let healthz = format!("http://127.0.0.1:{api}/healthz");
        let up = eventually(Duration::from_secs(20), || async {
            let answer = client.get(&healthz).bearer_auth(&stack.token).send().await;
            answer.is_ok_and(|r| r.status() == 200)
        });
        assert!(up.await, "the second replica does not answer");
        bystander
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", &self.0])
            .output();
    }
}

/// Requests through replica A only, each well inside the idle timeout, then a WebSocket that
/// carries messages (A hears of it once, at the upgrade): replica B, which sees none of it but
/// the counters, never stops the instance. Silent, it sleeps.
#[tokio::test]
async fn replica_b_never_stops_an_instance_in_use_through_replica_a() {
    let stack = Stack::up_with_env(&[("IDLE_CHECK_INTERVAL", "500ms")]).await;
    let b = Bystander::start(&stack, &[]).await;
    let name = stack.name("used");
    let idle = json!({"idle_timeout": "3s"});
    stack.create_with(&name, json!({"IDLE": "0"}), idle).await;
    stack.wait_routed(&name).await;
    let started_at = || docker(&["inspect", "-f", "{{.State.StartedAt}}", &name]);
    let run = started_at();

    // Requests, then a talking WebSocket, through A for three times the timeout each.
    let socket = use_through_traefik(&stack, &name).await;
    assert_eq!(stack.state(&name), "running");
    assert_eq!(
        started_at(),
        run,
        "stopped while in use through A (requests, then a WebSocket)"
    );

    // Silent, the instance sleeps: the replicas do cull.
    let slept = eventually(Duration::from_secs(12), || async {
        stack.state(&name) == "exited"
    });
    assert!(slept.await, "a silent instance was never put to sleep");
    drop(socket);
    drop(b);
}
