//! Shared HTTP plumbing for the pikube workloads.
//!
//! Everything a workload service needs around its own routes, and nothing else:
//!
//! - [`init_logging`]: `tracing` to stderr, JSON when `PIKUBE_LOG_FORMAT=json`, level from
//!   `RUST_LOG` (default `info`).
//! - [`Metrics`]: a Prometheus registry rendered as text exposition at `/metrics`.
//! - [`HttpMetrics`]: `http_request_duration_seconds{method,route,status}` for every request.
//! - [`Readiness`] and the `/healthz` and `/readyz` routes.
//! - [`Ops`]: the three above, wrapped around a workload's router in one call.
//! - [`shutdown_signal`], [`drain_on`] and [`serve`]: graceful shutdown on SIGTERM or SIGINT.
//! - [`instance_name`]: which pod or host answers (for `X-Served-By`).

#![warn(missing_docs)]

mod health;
mod instance;
mod logging;
mod metrics;
mod ops;
mod request_metrics;
mod serve;
mod shutdown;

pub use health::{health_routes, Readiness};
pub use instance::instance_name;
pub use logging::{init_logging, LoggingError};
pub use metrics::{metrics_route, Metrics};
pub use ops::Ops;
pub use request_metrics::HttpMetrics;
pub use serve::{serve, serve_with, ServerLimits};
pub use shutdown::{drain_on, shutdown_signal};

/// The `prometheus-client` crate this library registers metrics with, so that users register
/// theirs with the same version.
pub use prometheus_client;
