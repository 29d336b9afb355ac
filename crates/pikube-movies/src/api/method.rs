//! The answer to a known path asked with a method it does not have.

use axum::http::{Method, StatusCode, Uri};

use super::ApiError;

/// 405 in the API's error shape (axum's own has no body); axum still adds `Allow`.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{method} is not allowed on {}; see the Allow header and /api/openapi.json",
            uri.path()
        ),
    )
}
