//! `http_request_duration_seconds{method, route, status}`, observed by a middleware.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::Method,
    middleware::{self, Next},
    response::Response,
    Router,
};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{family::Family, histogram::Histogram},
};

use crate::Metrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// One of a fixed set ([`method_label`]), so a client cannot add series at will.
    method: &'static str,
    /// The route template (`/api/v1/render`), never the raw path, so cardinality stays bounded.
    route: String,
    status: u16,
}

type DurationFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// The request duration histogram. Cloneable; clones share the series.
#[derive(Clone)]
pub struct HttpMetrics {
    durations: DurationFamily,
}

fn duration_histogram() -> Histogram {
    // 0.5 ms .. ~16 s, doubling.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0005, 2.0, 16,
    ))
}

impl HttpMetrics {
    /// Creates the histogram and registers it in `metrics` as `http_request_duration_seconds`.
    pub fn new(metrics: &Metrics) -> Self {
        let durations = DurationFamily::new_with_constructor(duration_histogram);
        metrics.register(
            "http_request_duration_seconds",
            "HTTP request duration, by method, route template and status",
            durations.clone(),
        );
        Self { durations }
    }

    /// Wraps every route of `router` (add it after the routes) so that each request is timed.
    /// Requests that match no route are labelled `route="unmatched"`.
    pub fn layer(&self, router: Router) -> Router {
        router.layer(middleware::from_fn_with_state(self.clone(), observe))
    }
}

async fn observe(State(metrics): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let labels = RequestLabels {
        method,
        route,
        status: response.status().as_u16(),
    };
    metrics
        .durations
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}

/// The standard methods by name, every other token (hyper accepts any) as `other`: each
/// distinct label value is a histogram kept forever (security review M2).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
