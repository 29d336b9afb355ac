//! The workload's own Prometheus metrics.

use pikube_http::{
    prometheus_client::{
        encoding::EncodeLabelSet,
        metrics::{
            counter::Counter,
            family::Family,
            gauge::Gauge,
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReasonLabels {
    /// `queue_full`, `queue_timeout` or `deadline`.
    pub reason: &'static str,
}

type DurationFamily = Family<FormatLabels, Histogram, fn() -> Histogram>;

/// `mandelbrot_requests_total{format,status}`, `mandelbrot_render_duration_seconds{format}`,
/// `mandelbrot_pixels_total`, `mandelbrot_iterations_total`, `mandelbrot_renders_in_progress`,
/// `mandelbrot_renders_waiting`, `mandelbrot_renders_refused_total{reason}`,
/// `mandelbrot_renders_cancelled_total`.
#[derive(Clone)]
pub(super) struct RenderMetrics {
    pub requests: Family<RequestLabels, Counter>,
    pub duration: DurationFamily,
    pub pixels: Counter,
    pub iterations: Counter,
    pub in_progress: Gauge,
    pub waiting: Gauge,
    pub refused: Family<ReasonLabels, Counter>,
    pub cancelled: Counter,
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
            in_progress: Gauge::default(),
            waiting: Gauge::default(),
            refused: Family::default(),
            cancelled: Counter::default(),
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
        registry.register(
            "mandelbrot_renders_in_progress",
            "Renders being computed now",
            metrics.in_progress.clone(),
        );
        registry.register(
            "mandelbrot_renders_waiting",
            "Render requests waiting for a free slot",
            metrics.waiting.clone(),
        );
        registry.register(
            "mandelbrot_renders_refused",
            "Render requests answered 503: no slot free and the queue full, waited too long, or past the deadline",
            metrics.refused.clone(),
        );
        registry.register(
            "mandelbrot_renders_cancelled",
            "Renders stopped part-way because the client went away or the deadline passed",
            metrics.cancelled.clone(),
        );
        metrics
    }
}
