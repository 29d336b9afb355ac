//! Serving a router until a shutdown future completes, with the timeouts that keep slow or
//! stalled clients from holding connections and memory forever (security review M1).

use std::{future::Future, io, time::Duration};

use axum::{
    body::Body,
    extract::{ConnectInfo, DefaultBodyLimit, Request},
    http::StatusCode,
    Router,
};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use tokio::net::TcpListener;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_service::Service;

/// How long a client may take, and how much it may send. Every server gets these; a
/// service tightens the body limit per route with [`DefaultBodyLimit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// From the moment the server waits for a request (a new connection, or an idle
    /// keep-alive one) until its headers are complete; then the connection is closed.
    /// Slow-header clients (slowloris) are dropped after this.
    pub header_read: Duration,
    /// The longest a request body may stall between two pieces before the request fails.
    pub body_read: Duration,
    /// The longest from the headers to the response: then 503, and the handler is dropped.
    pub request: Duration,
    /// The largest request body a handler reads unless its route says otherwise.
    pub body_bytes: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(10),
            request: Duration::from_secs(60),
            body_bytes: 64 * 1024,
        }
    }
}

/// [`serve_with`] and the default [`ServerLimits`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, app, shutdown, ServerLimits::default()).await
}

/// Serves `app` on `listener` (HTTP/1.1) under `limits` until `shutdown` completes, then
/// stops accepting connections, closes idle ones, and waits for the requests in flight to
/// finish. Handlers see the client's address as `ConnectInfo<SocketAddr>`.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: ServerLimits,
) -> io::Result<()> {
    let app = app
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(RequestBodyTimeoutLayer::new(limits.body_read))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            limits.request,
        ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, mostly: wait for some to close.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().call(request.map(Body::new))
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    tracing::info!("server stopped");
    Ok(())
}
