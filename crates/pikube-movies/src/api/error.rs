//! Errors as clients see them: a status and `{"error": {"message", "field"?, ...}}`.
//!
//! A client error names what is wrong and where (the field, the seats). A server error is
//! logged with its cause and answered with a plain "internal error": no SQL, no stack.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// Every error answer: `{"error": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// What is wrong: a message, and where there is one to name, what to blame.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// What is wrong, for a person to read.
    #[schema(min_length = 1)]
    message: String,
    /// The request field, query parameter or header to blame: `email`, `seats[2]`,
    /// `halls[0].rows`, `Idempotency-Key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    field: Option<String>,
    /// The seats taken, or not in the hall.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    seats: Option<Vec<String>>,
    /// The reservation's or payment's status that prevents the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    status: Option<String>,
    /// The payment this answer is about (declined, voided).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Option<super::Id>)]
    payment_id: Option<String>,
    /// The screening already in the hall at that time.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Option<super::Id>)]
    screening_id: Option<String>,
    /// The limit the request would exceed (unpaid holds, held seats).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1)]
    limit: Option<i64>,
}

/// An error answer: a status and an [`ErrorBody`].
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    /// Boxed: an error is rare, and a small `Result` keeps the common path cheap.
    detail: Box<ErrorDetail>,
    /// Seconds for a `Retry-After` header (429 and 503 that will pass).
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: Box::new(ErrorDetail {
                message: message.into(),
                field: None,
                seats: None,
                status: None,
                payment_id: None,
                screening_id: None,
                limit: None,
            }),
            retry_after: None,
        }
    }

    /// 429: this client or account tried too often; it may try again after `retry_after`.
    pub fn too_many_requests(message: impl Into<String>, retry_after: std::time::Duration) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, message);
        error.retry_after = Some(retry_after.as_secs().max(1));
        error
    }

    /// 503 with `Retry-After: 1`: this service is at capacity for the moment.
    pub fn busy(message: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::SERVICE_UNAVAILABLE, message);
        error.retry_after = Some(1);
        error
    }

    /// 400: the request cannot be read at all (not JSON, a missing header).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 422: the request was read, but `field` is not acceptable.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message).field(field)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 503: another service this one needs did not answer.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// 500. `cause` is logged, never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// The same complaint about a query parameter instead of a body field: 400, as for
    /// any other query this API cannot read.
    pub fn in_query(self) -> Self {
        let message = format!("query parameter {}", self.detail.message);
        ApiError {
            status: StatusCode::BAD_REQUEST,
            detail: Box::new(ErrorDetail {
                message,
                ..*self.detail
            }),
            retry_after: None,
        }
    }

    /// Names the field to blame, when there is one.
    pub fn with_field(self, field: Option<String>) -> Self {
        match field {
            Some(field) => self.field(field),
            None => self,
        }
    }

    /// Names the field to blame.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.detail.field = Some(field.into());
        self
    }

    /// The seats to blame (taken, or not in the hall).
    pub fn seats(mut self, seats: Vec<String>) -> Self {
        self.detail.seats = Some(seats);
        self
    }

    /// The status of the reservation or payment that prevents the request.
    pub fn status(mut self, status: impl Into<String>) -> Self {
        self.detail.status = Some(status.into());
        self
    }

    /// The payment this answer is about.
    pub fn payment_id(mut self, id: impl Into<String>) -> Self {
        self.detail.payment_id = Some(id.into());
        self
    }

    /// The screening in the way.
    pub fn screening_id(mut self, id: impl Into<String>) -> Self {
        self.detail.screening_id = Some(id.into());
        self
    }

    /// The limit the request would exceed.
    pub fn limit(mut self, limit: i64) -> Self {
        self.detail.limit = Some(limit);
        self
    }

    pub fn message(&self) -> &str {
        &self.detail.message
    }

    /// The body as JSON text, for an answer stored to be replayed.
    pub fn body_text(&self) -> String {
        serde_json::to_string(&ErrorBodyRef {
            error: &self.detail,
        })
        .unwrap_or_default()
    }
}

/// [`ErrorBody`] borrowing its detail.
#[derive(Serialize)]
struct ErrorBodyRef<'a> {
    error: &'a ErrorDetail,
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut => {
                tracing::warn!("database pool timed out");
                ApiError::unavailable("the database is busy; try again")
            }
            other => ApiError::internal(format_args!("database: {other}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(ErrorBody {
            error: *self.detail,
        });
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}
