//! Shutdown signals, and draining: unready first, then stop.

use std::{future::Future, time::Duration};

use crate::Readiness;

/// Completes on the first SIGTERM (what Kubernetes sends) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!(signal = "SIGINT", "shutting down"),
        () = terminate => tracing::info!(signal = "SIGTERM", "shutting down"),
    }
}

/// Waits for `signal`, marks `readiness` false, waits `grace` (so that endpoints and load
/// balancers notice), then completes: pass the result to [`crate::serve`] as its shutdown.
///
/// In-flight requests still finish after that: `serve` stops accepting, then drains.
pub async fn drain_on(signal: impl Future<Output = ()>, readiness: Readiness, grace: Duration) {
    signal.await;
    readiness.set_ready(false);
    tracing::info!(grace_ms = grace.as_millis() as u64, "not ready; draining");
    tokio::time::sleep(grace).await;
}
