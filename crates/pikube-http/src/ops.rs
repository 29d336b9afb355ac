//! The operational surface of a service, wrapped around its routes in one call.

use axum::Router;

use crate::{health_routes, metrics_route, HttpMetrics, Metrics, Readiness};

/// Metrics registry, request histogram and readiness of one service.
#[derive(Clone)]
pub struct Ops {
    metrics: Metrics,
    http: HttpMetrics,
    readiness: Readiness,
}

impl Default for Ops {
    fn default() -> Self {
        Self::new()
    }
}

impl Ops {
    /// A fresh registry (with `http_request_duration_seconds` registered) and a ready flag.
    pub fn new() -> Self {
        let metrics = Metrics::new();
        let http = HttpMetrics::new(&metrics);
        Self {
            metrics,
            http,
            readiness: Readiness::new(),
        }
    }

    /// The registry: register the workload's own metrics here.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The readiness flag that `/readyz` reports.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// `routes` plus `/metrics`, `/healthz` and `/readyz`, all timed by the request histogram.
    pub fn wrap(&self, routes: Router) -> Router {
        let app = routes
            .merge(metrics_route(self.metrics.clone()))
            .merge(health_routes(self.readiness.clone()));
        self.http.layer(app)
    }
}
