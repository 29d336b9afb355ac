//! The workload's own Prometheus metrics.

use pikube_http::{
    prometheus_client::{
        encoding::EncodeLabelSet,
        metrics::{
            counter::Counter,
            family::Family,
            histogram::{exponential_buckets, Histogram},
        },
    },
    Metrics,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RequestLabels {
    /// `counts`, `smooth`, `png`, or `invalid` when the request was rejected.
    pub format: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct FormatLabels {
    pub format: &'static str,
}

type DurationFamily = Family<FormatLabels, Histogram, fn() -> Histogram>;

/// `mandelbrot_requests_total{format,status}`, `mandelbrot_render_duration_seconds{format}`,
/// `mandelbrot_pixels_total`, `mandelbrot_iterations_total`.
#[derive(Clone)]
pub(super) struct RenderMetrics {
    pub requests: Family<RequestLabels, Counter>,
    pub duration: DurationFamily,
    pub pixels: Counter,
    pub iterations: Counter,
}

fn render_histogram() -> Histogram {
    // 1 ms .. ~33 s, doubling.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl RenderMetrics {
    pub fn new(registry: &Metrics) -> RenderMetrics {
        let metrics = RenderMetrics {
            requests: Family::default(),
            duration: DurationFamily::new_with_constructor(render_histogram),
            pixels: Counter::default(),
            iterations: Counter::default(),
        };
        registry.register(
            "mandelbrot_requests",
            "Render requests, by format and HTTP status",
            metrics.requests.clone(),
        );
        registry.register(
            "mandelbrot_render_duration_seconds",
            "Time to compute and encode one render, by format",
            metrics.duration.clone(),
        );
        registry.register(
            "mandelbrot_pixels",
            "Pixels rendered",
            metrics.pixels.clone(),
        );
        registry.register(
            "mandelbrot_iterations",
            "Escape-time iterations rendered (the sum of the counts)",
            metrics.iterations.clone(),
        );
        metrics
    }
}
