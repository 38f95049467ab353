//! What the seam speaks in, besides [`ContainerInfo`](crate::domain::ContainerInfo): events,
//! what to create, exec output and resource counters.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::SystemTime;

use crate::domain::limits::Limits;
pub use crate::domain::registry::RegistryAuth;
use crate::domain::Health;

/// A change to a managed container, from the engine's events stream.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub kind: EventKind,
    /// When the engine saw it, by the engine's clock; `None` when it did not say.
    pub time: Option<SystemTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Created,
    Started,
    /// The run ended, with its exit code when the engine gave one.
    Died {
        exit_code: Option<i64>,
    },
    Stopped,
    Paused,
    Unpaused,
    Renamed,
    Updated,
    Destroyed,
    Health(Health),
    /// Anything else (exec, attach, …): it changes nothing spawner keeps.
    Other(String),
}

/// What to create: already validated by the caller.
#[derive(Debug, Clone)]
pub struct CreateSpec {
    pub name: String,
    pub image: String,
    pub network: String,
    pub labels: BTreeMap<String, String>,
    pub envs: BTreeMap<String, String>,
    pub limits: Limits,
    /// Capabilities it runs without; it never gains privileges (`no-new-privileges`).
    pub cap_drop: Vec<String>,
    /// Its fixed address on `network` (`None`: the engine picks one at each start).
    pub address: Option<Ipv4Addr>,
    /// Named volumes (already created) and where each is mounted; never a host path.
    pub volumes: Vec<VolumeMount>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// The engine's name of the volume.
    pub volume: String,
    /// An absolute path in the container.
    pub target: String,
}

/// A command run inside a container and what it printed (stdout and stderr, interleaved), up
/// to [`EXEC_OUTPUT_LIMIT`] bytes.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub exit_code: Option<i64>,
    pub output: String,
}

/// The most of a command's output spawner keeps. The image decides what its `HEALTHCHECK`
/// command prints; spawner only needs the exit code (and a line for the log), so an instance
/// cannot make it hold more than this.
pub const EXEC_OUTPUT_LIMIT: usize = 4096;

/// A command's output as it streams in: the first [`EXEC_OUTPUT_LIMIT`] bytes are kept, the rest
/// is read (the command runs to its end) and only counted.
#[derive(Debug, Default)]
pub struct CappedOutput {
    kept: Vec<u8>,
    dropped: u64,
}

impl CappedOutput {
    pub fn push(&mut self, chunk: &[u8]) {
        let room = EXEC_OUTPUT_LIMIT.saturating_sub(self.kept.len());
        let (kept, dropped) = chunk.split_at(room.min(chunk.len()));
        self.kept.extend_from_slice(kept);
        self.dropped += dropped.len() as u64;
    }

    /// The text kept (invalid UTF-8 replaced), and how much was left out.
    pub fn into_string(self) -> String {
        let mut text = String::from_utf8_lossy(&self.kept).into_owned();
        if self.dropped > 0 {
            text.push_str(&format!("… ({} more bytes not kept)", self.dropped));
        }
        text
    }
}

/// One sample of a container's resource counters (cumulative since it started).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub cpu_total_ns: u64,
    pub memory_bytes: u64,
    /// Summed over every network interface.
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_output_beyond_the_limit_is_counted_not_kept() {
        let mut output = CappedOutput::default();
        output.push(b"ok\n");
        for _ in 0..10_000 {
            output.push(&[b'x'; 1000]);
        }
        assert_eq!(output.kept.len(), EXEC_OUTPUT_LIMIT);
        assert_eq!(output.dropped, 10_000_003 - EXEC_OUTPUT_LIMIT as u64);
        let text = output.into_string();
        assert!(text.starts_with("ok\nxxx"), "{}", &text[..10]);
        assert!(text.ends_with(&format!("… ({} more bytes not kept)", 10_000_003 - 4096)));
        let mut small = CappedOutput::default();
        small.push("héllo".as_bytes());
        assert_eq!(small.into_string(), "héllo");
    }
}
