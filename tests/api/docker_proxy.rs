//! A TCP proxy in front of the Docker socket, so a test can break spawner's connection to the
//! daemon the way a restarted or unreachable daemon would.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A TCP proxy to the Docker socket that a test can cut, as a broken connection would.
pub struct DockerProxy {
    pub url: String,
    cut: Arc<AtomicBool>,
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
        let connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (cut2, conns2) = (cut.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if cut2.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let socket = socket.clone();
                conns2.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut daemon) = tokio::net::UnixStream::connect(&socket).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut daemon).await;
                    }
                }));
            }
        });
        Self {
            url,
            cut,
            connections,
            accept,
        }
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
