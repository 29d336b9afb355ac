//! One server: a selection of the services on a loopback port, in a Tokio runtime of its own,
//! so that it can be killed abruptly, as a crashed pod is: its runtime dropped with every
//! task in it (requests half-done, transactions open, sweepers, the outbox, the pools).

use std::net::SocketAddr;
use std::time::Duration;

use pikube_movies::{MoviesConfig, MoviesError, Selection};
use reqwest::StatusCode;
use tokio::sync::oneshot;

pub struct Server {
    /// `http://127.0.0.1:<port>`; the same port across restarts, unless it was taken meanwhile.
    pub base: String,
    pub selection: Selection,
    pub config: MoviesConfig,
    port: u16,
    running: Option<Running>,
}

struct Running {
    runtime: tokio::runtime::Runtime,
    stop: oneshot::Sender<()>,
    done: oneshot::Receiver<Result<(), MoviesError>>,
}

impl Server {
    /// Starts `selection` with `config` and waits until it is ready.
    pub async fn start(selection: Selection, config: MoviesConfig) -> Server {
        let mut server = Server {
            base: String::new(),
            selection,
            config,
            port: 0,
            running: None,
        };
        server.run().await;
        server
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    async fn run(&mut self) {
        assert!(self.running.is_none(), "the server is already running");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("movies-server")
            .enable_all()
            .build()
            .expect("a runtime for the server");
        let (bound, address) = oneshot::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let (finished, done) = oneshot::channel();
        let (selection, config, port) = (self.selection.clone(), self.config.clone(), self.port);
        runtime.spawn(async move {
            let listener = match listen(port) {
                Ok(listener) => listener,
                Err(error) => {
                    let _ = bound.send(Err(error));
                    return;
                }
            };
            let _ = bound.send(listener.local_addr());
            let served = pikube_movies::serve(listener, &selection, config, async {
                let _ = stopped.await;
            })
            .await;
            let _ = finished.send(served);
        });
        let address = address
            .await
            .expect("the server task")
            .expect("a loopback port");
        self.port = address.port();
        self.base = format!("http://{address}");
        self.running = Some(Running {
            runtime,
            stop,
            done,
        });
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = client.get(format!("{}/readyz", self.base)).send().await {
                if response.status() == StatusCode::OK {
                    return;
                }
            }
            if let Some(running) = self.running.as_mut() {
                if let Ok(served) = running.done.try_recv() {
                    panic!("the Movies services stopped while starting: {served:?}");
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the Movies services did not become ready at {}",
                self.base
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops gracefully: unready, drain, close the databases.
    pub async fn stop(&mut self) {
        if let Some(Running {
            runtime,
            stop,
            done,
        }) = self.running.take()
        {
            let _ = stop.send(());
            let served = done.await;
            runtime.shutdown_background();
            served
                .expect("the server task")
                .expect("the server stopped cleanly");
        }
    }

    /// Kills the server abruptly: every task of its runtime is dropped where it stands, with
    /// no drain and no goodbye, and its connections (to clients and databases) are cut.
    pub async fn kill(&mut self) {
        if let Some(Running { runtime, stop, .. }) = self.running.take() {
            // Off the test's runtime: shutting one down waits for its worker threads.
            tokio::task::spawn_blocking(move || runtime.shutdown_timeout(Duration::from_secs(10)))
                .await
                .expect("killing the server");
            // Only now: dropped earlier, it would have asked for a graceful stop.
            drop(stop);
        }
    }

    /// Starts again (after `stop` or `kill`; stops gracefully first if running), on the same
    /// databases, token key and, if still free, port.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.run().await;
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.base))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("the metrics text")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.runtime.shutdown_background();
        }
    }
}

/// A listener on loopback `port` (0 for any). Address reuse lets a restarted server take its
/// port back at once; another port is taken if someone else has it.
fn listen(port: u16) -> std::io::Result<tokio::net::TcpListener> {
    let bind = |port: u16| {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
        socket.listen(1024)
    };
    bind(port).or_else(|_| bind(0))
}
