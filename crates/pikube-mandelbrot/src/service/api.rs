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
    metrics::{FormatLabels, RenderMetrics, RequestLabels},
    ServiceConfig,
};
use crate::{render::render_with, request::RenderRequest};

#[derive(Clone)]
pub(super) struct ApiState {
    config: Arc<ServiceConfig>,
    served_by: HeaderValue,
    metrics: RenderMetrics,
}

impl ApiState {
    pub fn new(config: ServiceConfig, metrics: RenderMetrics) -> ApiState {
        let served_by = HeaderValue::from_str(&config.served_by)
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        ApiState {
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
    parameter: String,
}

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
                    parameter: error.parameter,
                };
                let mut response = (StatusCode::BAD_REQUEST, Json(body)).into_response();
                response
                    .headers_mut()
                    .insert(X_SERVED_BY.clone(), state.served_by.clone());
                return response;
            }
        };
    let format = request.format();
    let kernel = state.config.kernel;
    // The computation blocks: on the blocking pool, from where rayon uses every core.
    let computed = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let rendered = render_with(&request, kernel);
        let body = rendered.encode(format);
        (rendered, body, started.elapsed())
    })
    .await;
    let (rendered, body, total) = match computed {
        Ok(done) => done,
        Err(error) => {
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
        crate::Format::Png => "image/png",
        crate::Format::Counts | crate::Format::Smooth => "application/octet-stream",
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
