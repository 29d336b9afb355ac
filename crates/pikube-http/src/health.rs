//! Liveness (`/healthz`) and readiness (`/readyz`).

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use axum::{http::StatusCode, routing::get, Router};

/// Whether this instance should receive traffic. Cloneable; all clones share one flag.
///
/// Starts ready. Set it to false while shutting down (see [`crate::drain_on`]) so that load
/// balancers stop sending new requests before the listener closes.
#[derive(Clone, Debug)]
pub struct Readiness(Arc<AtomicBool>);

impl Default for Readiness {
    fn default() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }
}

impl Readiness {
    /// A ready flag.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `/readyz` currently answers 200.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Switches readiness on or off.
    pub fn set_ready(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }
}

/// `GET /healthz` (always 200 while the process serves) and `GET /readyz` (200 when ready,
/// 503 otherwise).
pub fn health_routes(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { (StatusCode::OK, "ok\n") }))
        .route(
            "/readyz",
            get(move || {
                let ready = readiness.is_ready();
                async move {
                    if ready {
                        (StatusCode::OK, "ready\n")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
                    }
                }
            }),
        )
}
