//! The Pi health exporter (`pikube serve pi-exporter`): what takes Raspberry Pi clusters
//! down — a weak power supply, heat, a worn SD card, a clock adrift — read from the host at
//! every scrape and served as Prometheus metrics.
//!
//! Everything is read below a host root (`--host-root`, like node-exporter's
//! `--path.rootfs`): `/` on a node, the host mounted into a pod, or a fake tree in tests. A
//! file that is missing or holds garbage makes its metric absent (never zero, never a
//! guess) and is logged; nothing here can panic on what the host holds.

#![warn(missing_docs)]

mod certificates;
mod host;
mod render;
mod storage;
mod vcgencmd;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

pub use render::{render, Scrape};

/// The exporter's routes: `/metrics` (read from `host_root` at each scrape), `/healthz`,
/// `/readyz`.
pub fn app(host_root: PathBuf) -> Router {
    let readiness = pikube_http::Readiness::new();
    readiness.set_ready(true);
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let root = host_root.clone();
                async move {
                    // A scrape reads a dozen small files: off the async threads all the same.
                    let scrape = tokio::task::spawn_blocking(move || render(&root))
                        .await
                        .unwrap_or_else(|_| Scrape::default());
                    for problem in &scrape.problems {
                        tracing::warn!(%problem, "metric left out");
                    }
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        scrape.text,
                    )
                        .into_response()
                }
            }),
        )
        .merge(pikube_http::health_routes(readiness))
}

/// Serves the exporter on `listen` until SIGTERM or SIGINT.
pub async fn run(listen: SocketAddr, host_root: &Path) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(
        url = %format!("http://{}/metrics", listener.local_addr()?),
        host_root = %host_root.display(),
        "pi-exporter listening"
    );
    pikube_http::serve(
        listener,
        app(host_root.to_owned()),
        pikube_http::shutdown_signal(),
    )
    .await
}
