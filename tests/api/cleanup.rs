//! What a test made on the daemon, removed when it ends (even when it fails): containers named
//! with its prefix, their volumes, its network and its images.

use std::process::Command;
use std::sync::Mutex;

/// The lines a docker command prints (none when it fails).
pub fn docker_lines(args: &[&str]) -> Vec<String> {
    Command::new("docker")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

/// The volumes spawner made for instances whose names start with `prefix`
/// (`spawner-<instance>-<volume>`).
pub fn instance_volumes(prefix: &str) -> Vec<String> {
    let filter = format!("name=spawner-{prefix}");
    docker_lines(&["volume", "ls", "-q", "--filter", &filter])
}

/// Whether the image is on the Docker host.
pub fn image_present(image: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Removes, on drop, every container whose name starts with the prefix, their volumes, the
/// network and the images the test made.
pub struct Cleanup {
    pub prefix: String,
    pub network: String,
    pub images: Mutex<Vec<String>>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let ids = docker_lines(&["ps", "-aq", "--filter", &format!("name=^/{}", self.prefix)]);
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .arg("rm")
                .arg("-f")
                .args(&ids)
                .output();
        }
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
        // Instances' volumes: spawner-<instance>-<volume>, and every instance is <prefix>-….
        let volumes = instance_volumes(&format!("{}-", self.prefix));
        if !volumes.is_empty() {
            let mut args = vec!["volume", "rm", "-f"];
            args.extend(volumes.iter().map(String::as_str));
            let _ = Command::new("docker").args(&args).output();
        }
        for image in self.images.lock().unwrap().iter() {
            let _ = Command::new("docker").args(["rmi", "-f", image]).output();
        }
    }
}
