//! A JSON request body whose rejections say what is wrong, in the API's error shape.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::ApiError;

/// `Json<T>` with errors as [`ApiError`]: 400 for a body that is not JSON (or not sent as
/// `application/json`), 422 for JSON of the wrong shape, naming the field serde stopped at.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(explain(rejection)),
        }
    }
}

fn explain(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(error) => {
            // "Failed to deserialize the JSON body into the target type: seats[0]: invalid
            // type: …": keep the part after the prefix, and the path as the field.
            let text = error.body_text();
            let detail = text
                .split_once("target type: ")
                .map_or(text.as_str(), |(_, rest)| rest)
                .to_owned();
            let field = detail
                .split_once(": ")
                .map(|(path, _)| path)
                .filter(|path| !path.contains(' '))
                .map(str::to_owned);
            let error = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("request body: {detail}"),
            );
            match field {
                Some(field) => error.with("field", field),
                None => error,
            }
        }
        JsonRejection::JsonSyntaxError(error) => {
            let text = error.body_text();
            let detail = text
                .split_once("JSON body: ")
                .map_or(text.as_str(), |(_, rest)| rest);
            ApiError::bad_request(format!("request body is not valid JSON: {detail}"))
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request body as JSON with `Content-Type: application/json`",
        ),
        other => ApiError::bad_request(format!("request body: {}", other.body_text())),
    }
}
