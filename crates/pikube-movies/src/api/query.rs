//! Query parameters whose rejections use the API's error shape.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::serde_message::explain;
use super::ApiError;

/// `Query<T>` answering 400 with the parameter serde could not read. Routes that take
/// parameters deny unknown ones, so that a misspelt filter is an error, not ignored.
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(QueryParams(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let detail = text
                    .split_once("query string: ")
                    .map_or(text.as_str(), |(_, rest)| rest);
                let (field, message) = explain(detail);
                let error = ApiError::bad_request(format!("query parameters: {message}"));
                Err(error.with_field(field))
            }
        }
    }
}
