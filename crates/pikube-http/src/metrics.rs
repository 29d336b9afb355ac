//! A Prometheus registry shared by everything in one process, and the `/metrics` route.

use std::sync::{Arc, Mutex, PoisonError};

use axum::{http::header, response::IntoResponse, routing::get, Router};
use prometheus_client::{
    encoding::text::encode,
    registry::{Metric, Registry},
};

/// A cheaply cloneable handle on one Prometheus registry.
#[derive(Clone, Default)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `metric` as `name` (counters get `_total` appended by the encoder).
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .register(name, help, metric);
    }

    /// The registry in the Prometheus / OpenMetrics text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        // Writing into a String cannot fail.
        encode(&mut text, &registry).expect("encoding metrics into a String");
        text
    }
}

/// `GET /metrics`, serving `metrics` in the text exposition format.
pub fn metrics_route(metrics: Metrics) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.render(),
                )
                    .into_response()
            }
        }),
    )
}
