//! `GET /api/v1/render`.

use std::sync::Arc;

use axum::{
    extract::{RawQuery, State},
    http::{header, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde::Serialize;

use super::{
    admission::{Admission, Refused},
    metrics::{FormatLabels, ReasonLabels, RenderMetrics, RequestLabels},
    ServiceConfig,
};
use crate::{
    cancel::{Cancel, CancelOnDrop},
    render::render_cancellable,
    request::{Format, RenderRequest},
};

#[derive(Clone)]
pub(super) struct ApiState {
    config: Arc<ServiceConfig>,
    served_by: HeaderValue,
    metrics: RenderMetrics,
    admission: Admission,
}

impl ApiState {
    pub fn new(config: ServiceConfig, metrics: RenderMetrics) -> ApiState {
        let served_by = HeaderValue::from_str(&config.served_by)
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        ApiState {
            admission: Admission::new(&config.capacity, metrics.waiting.clone()),
            config: Arc::new(config),
            served_by,
            metrics,
        }
    }
}

pub(super) fn routes(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/render", get(render_handler))
        .with_state(state)
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter: Option<String>,
}

/// Seconds a refused client is asked to wait before it tries again.
const RETRY_AFTER_SECONDS: u32 = 1;

static X_SERVED_BY: HeaderName = HeaderName::from_static("x-served-by");
static X_KERNEL: HeaderName = HeaderName::from_static("x-kernel");
static X_ITERATIONS: HeaderName = HeaderName::from_static("x-iterations");
static SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

async fn render_handler(State(state): State<ApiState>, RawQuery(query): RawQuery) -> Response {
    let request =
        match RenderRequest::parse_with(query.as_deref().unwrap_or(""), &state.config.limits) {
            Ok(request) => request,
            Err(error) => {
                tracing::debug!(%error, "rejected render request");
                state
                    .metrics
                    .requests
                    .get_or_create(&RequestLabels {
                        format: "invalid",
                        status: 400,
                    })
                    .inc();
                let body = ErrorBody {
                    error: error.to_string(),
                    parameter: Some(error.parameter),
                };
                let mut response = (StatusCode::BAD_REQUEST, Json(body)).into_response();
                response
                    .headers_mut()
                    .insert(X_SERVED_BY.clone(), state.served_by.clone());
                return response;
            }
        };
    let format = request.format();
    let permit = match state.admission.admit().await {
        Ok(permit) => permit,
        Err(refused) => {
            let error = match refused {
                Refused::QueueFull => "busy: every render slot is taken and the queue is full",
                Refused::WaitedTooLong => "busy: no render slot came free in time",
            };
            return state.unavailable(format, refused.reason(), error);
        }
    };
    let kernel = state.config.kernel;
    let cancel = Cancel::new();
    // Dropped with this future when the client disconnects: the render stops.
    let cancel_on_drop = CancelOnDrop::new(cancel.clone());
    let metrics = state.metrics.clone();
    // The computation blocks: on the blocking pool, from where rayon uses every core. The
    // slot goes with it, so it is freed when the computation really ends.
    let task_cancel = cancel.clone();
    let task = tokio::task::spawn_blocking(move || {
        let _slot = permit;
        metrics.in_progress.inc();
        let started = std::time::Instant::now();
        let rendered = render_cancellable(&request, kernel, &task_cancel);
        metrics.in_progress.dec();
        match rendered {
            Ok(rendered) => {
                let body = rendered.encode(format);
                Some((rendered, body, started.elapsed()))
            }
            Err(_) => {
                metrics.cancelled.inc();
                None
            }
        }
    });
    let computed = tokio::time::timeout(state.config.capacity.deadline, task).await;
    cancel_on_drop.disarm();
    let (rendered, body, total) = match computed {
        Ok(Ok(Some(done))) => done,
        Ok(Ok(None)) | Err(_) => {
            cancel.cancel();
            let error = format!(
                "the render took longer than {} s: ask for fewer pixels or a lower max_iter",
                state.config.capacity.deadline.as_secs_f64()
            );
            return state.unavailable(format, "deadline", &error);
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "render task failed");
            state
                .metrics
                .requests
                .get_or_create(&RequestLabels {
                    format: format.name(),
                    status: 500,
                })
                .inc();
            return (StatusCode::INTERNAL_SERVER_ERROR, "render failed\n").into_response();
        }
    };
    let iterations = rendered.iterations();
    let metrics = &state.metrics;
    metrics
        .requests
        .get_or_create(&RequestLabels {
            format: format.name(),
            status: 200,
        })
        .inc();
    metrics
        .duration
        .get_or_create(&FormatLabels {
            format: format.name(),
        })
        .observe(total.as_secs_f64());
    metrics.pixels.inc_by(request.pixels());
    metrics.iterations.inc_by(iterations);
    let compute_ms = rendered.elapsed.as_secs_f64() * 1e3;
    let encode_ms = (total.saturating_sub(rendered.elapsed)).as_secs_f64() * 1e3;
    tracing::info!(
        request = %request,
        kernel = %rendered.kernel,
        iterations,
        compute_ms,
        encode_ms,
        "rendered"
    );
    let content_type = match format {
        Format::Png => "image/png",
        Format::Counts | Format::Smooth => "application/octet-stream",
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_SERVED_BY.clone(), state.served_by.clone());
    headers.insert(
        X_KERNEL.clone(),
        HeaderValue::from_static(rendered.kernel.name()),
    );
    headers.insert(X_ITERATIONS.clone(), HeaderValue::from(iterations));
    if let Ok(timing) = HeaderValue::from_str(&format!(
        "compute;dur={compute_ms:.3}, encode;dur={encode_ms:.3}"
    )) {
        headers.insert(SERVER_TIMING.clone(), timing);
    }
    response
}

impl ApiState {
    /// 503 with `Retry-After`, counted by `reason`.
    fn unavailable(&self, format: Format, reason: &'static str, error: &str) -> Response {
        self.metrics
            .requests
            .get_or_create(&RequestLabels {
                format: format.name(),
                status: 503,
            })
            .inc();
        self.metrics
            .refused
            .get_or_create(&ReasonLabels { reason })
            .inc();
        tracing::info!(reason, "render refused");
        let body = ErrorBody {
            error: error.to_owned(),
            parameter: None,
        };
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        headers.insert(X_SERVED_BY.clone(), self.served_by.clone());
        response
    }
}
