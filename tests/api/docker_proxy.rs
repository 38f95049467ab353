//! A TCP proxy in front of the Docker socket, so a test can break spawner's connection to the
//! daemon the way a restarted or unreachable daemon would, or hold its container lists back the
//! way a slow daemon would.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A TCP proxy to the Docker socket that a test can cut, as a broken connection would.
pub struct DockerProxy {
    pub url: String,
    cut: Arc<AtomicBool>,
    hold_lists: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl DockerProxy {
    pub async fn start() -> Self {
        let socket = std::env::var("DOCKER_HOST")
            .ok()
            .and_then(|h| h.strip_prefix("unix://").map(String::from))
            .unwrap_or_else(|| "/var/run/docker.sock".into());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("tcp://{}", listener.local_addr().unwrap());
        let cut = Arc::new(AtomicBool::new(false));
        let hold_lists = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (cut2, hold2, conns2) = (cut.clone(), hold_lists.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if cut2.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let (socket, hold) = (socket.clone(), hold2.clone());
                conns2.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(daemon) = tokio::net::UnixStream::connect(&socket).await {
                        relay(client, daemon, hold).await;
                    }
                }));
            }
        });
        Self {
            url,
            cut,
            hold_lists,
            connections,
            accept,
        }
    }

    /// Holds every container list (`GET …/containers/json`) until [`DockerProxy::release_lists`].
    pub fn hold_lists(&self) {
        self.hold_lists.store(true, Ordering::SeqCst);
    }

    pub fn release_lists(&self) {
        self.hold_lists.store(false, Ordering::SeqCst);
    }

    /// Breaks every open connection and refuses new ones until [`DockerProxy::restore`].
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for DockerProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Copies both ways; a request that lists containers waits while `hold` is set.
async fn relay(
    client: tokio::net::TcpStream,
    daemon: tokio::net::UnixStream,
    hold: Arc<AtomicBool>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut daemon_read, mut daemon_write) = daemon.into_split();
    let upstream = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(read) = client_read.read(&mut buffer).await {
            if read == 0 {
                break;
            }
            let chunk = &buffer[..read];
            let lists = chunk.windows(16).any(|w| w == b"/containers/json");
            while lists && hold.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if daemon_write.write_all(chunk).await.is_err() {
                break;
            }
        }
        let _ = daemon_write.shutdown().await;
    };
    let downstream = async move {
        let _ = tokio::io::copy(&mut daemon_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}
