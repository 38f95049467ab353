//! Helpers shared by the integration (`tests/api`) and end-to-end (`tests/e2e`) test binaries.
// Each binary uses only some of them.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `docker` and returns its stdout; panics with its stderr when it fails.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI is needed for these tests");
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Polls `check` every 20 ms until it holds or `within` passes; returns whether it held.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `spawner` binary running as a child process, with both listeners on ports the kernel
/// chose (read back from its log, so no port is bound, released and hoped to stay free). Killed
/// when dropped, also when the test panics.
pub struct SpawnerProcess {
    child: std::process::Child,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    pub api: String,
    pub auth: String,
    _dir: TempDir,
}

impl SpawnerProcess {
    /// Runs `command_line` with `sh -c` in a folder where `spawner` and `./spawner` are the
    /// binary under test, so a test can run the exact lines a README shows.
    pub fn start(command_line: &str, env: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let dir = TempDir::new("bin");
        let binary = env!("CARGO_BIN_EXE_spawner");
        std::os::unix::fs::symlink(binary, dir.path.join("spawner")).unwrap();
        let path = format!(
            "{}:{}",
            dir.path.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {command_line}"))
            .current_dir(&dir.path)
            .env("PATH", path)
            .env("SPAWNER_API_ADDR", "127.0.0.1:0")
            .env("SPAWNER_AUTH_ADDR", "127.0.0.1:0")
            // An existing network, so that no test leaves one made by spawner on the daemon.
            .env("SPAWNER_NETWORK", "bridge")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the spawner binary runs");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (stderr, sink) = (child.stderr.take().unwrap(), log.clone());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut process = Self {
            child,
            log,
            api: String::new(),
            auth: String::new(),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let (port, auth) = loop {
            let found = process
                .log()
                .lines()
                .find_map(|l| l.split("API on port ").nth(1).map(String::from));
            if let Some(rest) = found {
                let api = rest.split(',').next().unwrap().trim().to_string();
                let auth = rest
                    .split("ForwardAuth on port ")
                    .nth(1)
                    .unwrap_or("")
                    .trim();
                break (api, auth.to_string());
            }
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!(
                    "spawner exited ({status}) before listening:\n{}",
                    process.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "spawner did not listen within 30s:\n{}",
                process.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        process.api = format!("http://127.0.0.1:{port}");
        process.auth = format!("http://127.0.0.1:{auth}");
        process
    }

    /// Sends SIGTERM (as `docker stop` does).
    pub fn terminate(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
    }

    /// Waits up to `within` for it to exit: its exit status, `None` if it still runs.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for SpawnerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A folder under the system's temporary folder, removed on drop.
pub struct TempDir {
    pub path: std::path::PathBuf,
}

impl TempDir {
    pub fn new(purpose: &str) -> Self {
        let path = std::env::temp_dir().join(format!("spawner-{purpose}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        Self { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// An instance's session epoch, read from Docker (empty when it has none or does not exist).
pub fn session_epoch(name: &str) -> String {
    Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{index .Config.Labels \"spawner.session-epoch\"}}",
            name,
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|e| e != "<no value>")
        .unwrap_or_default()
}

/// Every network's subnets. Other tests create and remove networks all the time: one removed
/// between the list and the inspection fails the inspection, so both are asked again.
fn subnets_in_use() -> Vec<ipnet::IpNet> {
    for _ in 0..20 {
        let ids = docker(&["network", "ls", "-q"]);
        let out = Command::new("docker")
            .args([
                "network",
                "inspect",
                "-f",
                "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
            ])
            .args(ids.split_whitespace())
            .output()
            .expect("the docker CLI is needed for these tests");
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            return text
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect();
        }
    }
    panic!("docker network inspect kept failing: networks changed under every try");
}

/// A /24 in 10.200.0.0/13 that no network on the daemon overlaps now (spawner creates the
/// network with it). Another test may take it first (a stack then tries again with another).
pub fn free_subnet() -> String {
    free_subnet_of(24)
}

/// A free subnet of 10.200.0.0/13 with prefix length `len` (16 to 24); Swarm mode takes a /25
/// of it per instance.
pub fn free_subnet_of(len: u8) -> String {
    let used = subnets_in_use();
    let step = 1u16 << (24 - len.clamp(16, 24));
    loop {
        let random = uuid::Uuid::new_v4().as_bytes()[0..2].to_vec();
        let third = u16::from(random[1]) / step * step;
        let subnet = format!("10.{}.{third}.0/{len}", 200 + random[0] % 8);
        let net: ipnet::IpNet = subnet.parse().unwrap();
        if !used
            .iter()
            .any(|u| u.contains(&net.network()) || net.contains(&u.network()))
        {
            return subnet;
        }
    }
}
