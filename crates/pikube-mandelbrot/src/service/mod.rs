//! The HTTP service.

mod admission;
mod api;
mod config;
mod metrics;
mod page;

use std::net::SocketAddr;

use axum::Router;
use pikube_http::Ops;

pub use config::{Capacity, ServiceConfig, QUEUE_PER_SLOT};

use self::{api::ApiState, metrics::RenderMetrics};

/// The whole application: `GET /` (the page), `GET /api/v1/render`, `/metrics`, `/healthz`,
/// `/readyz`, every request timed in `http_request_duration_seconds`.
///
/// Readiness of this router never turns off; [`run`] wires it to the shutdown signal.
pub fn router(config: ServiceConfig) -> Router {
    app(config, &Ops::new())
}

fn app(config: ServiceConfig, ops: &Ops) -> Router {
    let state = ApiState::new(config, RenderMetrics::new(ops.metrics()));
    ops.wrap(api::routes(state).merge(page::routes()))
}

/// Binds `listen`, logs the URL, and serves until SIGTERM or SIGINT; then `/readyz` answers
/// 503 for `config.drain_grace`, the listener closes, and requests in flight finish.
pub async fn run(listen: SocketAddr, config: ServiceConfig) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let address = listener.local_addr()?;
    let ops = Ops::new();
    let grace = config.drain_grace;
    tracing::info!(
        url = %format!("http://{address}/"),
        kernel = %config.kernel,
        served_by = %config.served_by,
        threads = rayon::current_num_threads(),
        "mandelbrot listening"
    );
    let shutdown = pikube_http::drain_on(
        pikube_http::shutdown_signal(),
        ops.readiness().clone(),
        grace,
    );
    pikube_http::serve(listener, app(config, &ops), shutdown).await
}

/// [`run`] on an already bound listener, until `signal` completes (then the same drain).
/// Handy for tests (port 0) and for callers with their own shutdown logic.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServiceConfig,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let ops = Ops::new();
    let shutdown = pikube_http::drain_on(signal, ops.readiness().clone(), config.drain_grace);
    pikube_http::serve(listener, app(config, &ops), shutdown).await
}
