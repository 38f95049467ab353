//! A real Docker registry (Debian's `docker-registry`, the distribution project's registry) on
//! 127.0.0.1, with htpasswd credentials, for the pull tests; killed and removed on drop.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::TempDir;
use crate::helpers::*;

pub const USER: &str = "spawner-test";
pub const PASSWORD: &str = "a-registry-password";

pub struct Registry {
    process: Option<Child>,
    pub address: String,
    /// A Docker config folder whose `config.json` holds the login (`docker --config`).
    pub docker_config: TempDir,
    _dir: TempDir,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Registry {
    /// Starts a registry that asks for [`USER`] and [`PASSWORD`], and logs in to it.
    pub fn start() -> Self {
        let dir = TempDir::new("registry");
        let port = free_port();
        let hash = bcrypt::hash(PASSWORD, 5).unwrap();
        std::fs::write(dir.path.join("htpasswd"), format!("{USER}:{hash}\n")).unwrap();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root}\n\
             http:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: test\n    path: {root}/htpasswd\n",
            root = dir.path.display()
        );
        std::fs::write(dir.path.join("config.yml"), config).unwrap();
        let process = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry is missing: scripts/test.sh installs it (Debian package docker-registry)");
        let address = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&address).is_err() {
            assert!(
                Instant::now() < deadline,
                "the registry did not listen within 10s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let docker_config = TempDir::new("docker-config");
        let login = Command::new("docker")
            .arg("--config")
            .arg(&docker_config.path)
            .args(["login", "-u", USER, "--password-stdin", &address])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(PASSWORD.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        assert!(
            login.status.success(),
            "docker login: {}",
            String::from_utf8_lossy(&login.stderr)
        );
        Self {
            process: Some(process),
            address,
            docker_config,
            _dir: dir,
        }
    }

    /// The `config.json` that `docker login` wrote.
    pub fn auth_file(&self) -> std::path::PathBuf {
        self.docker_config.path.join("config.json")
    }

    /// Pushes local `image` as `<registry>/<repository>` and removes the local tag, so the
    /// daemon has to pull it back. Returns the full reference.
    pub fn push(&self, image: &str, repository: &str) -> String {
        let reference = format!("{}/{repository}", self.address);
        docker(&["tag", image, &reference]);
        let push = Command::new("docker")
            .arg("--config")
            .arg(&self.docker_config.path)
            .args(["push", &reference])
            .output()
            .unwrap();
        assert!(
            push.status.success(),
            "docker push {reference}: {}",
            String::from_utf8_lossy(&push.stderr)
        );
        docker(&["rmi", &reference]);
        reference
    }

    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}
