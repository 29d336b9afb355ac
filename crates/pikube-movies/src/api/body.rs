//! A JSON request body whose rejections say what is wrong, in the API's error shape.

use axum::body::{Body, Bytes};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use futures::StreamExt;
use serde::de::DeserializeOwned;

use super::serde_message::explain;
use super::ApiError;

/// `Json<T>` with errors as [`ApiError`]: 415 unless sent as `application/json`, 413 when
/// too large, 400 for a body that is not JSON, 422 for JSON of the wrong shape (naming the
/// field serde stopped at).
///
/// The whole body is checked to be JSON before its shape is: serde reading `{"nme": ` stops
/// at the unknown field and would blame it, when the real trouble is the truncated body.
/// And it must be a JSON object: serde would otherwise also read a struct from an array of
/// its fields in order, which no client means.
pub struct JsonBody<T>(pub T);

/// The largest request body the API reads: every request is a small JSON document
/// (app.rs sets it as the default body limit; security review M1).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A body announced larger than [`MAX_BODY_BYTES`] is read and dropped, up to this much,
/// before the 413: a client still sending would otherwise see its connection reset instead
/// of the answer. Beyond this the connection is simply cut.
const DRAIN_AT_MOST: u64 = 8 << 20;

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "the request body is larger than this API accepts",
    )
}

async fn drain(body: Body) {
    let mut stream = body.into_data_stream();
    while let Some(Ok(_)) = stream.next().await {}
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the request body as JSON with `Content-Type: application/json`",
            ));
        }
        let announced = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
        if let Some(length) = announced.filter(|&n| n > MAX_BODY_BYTES as u64) {
            if length <= DRAIN_AT_MOST {
                drain(request.into_body()).await;
            }
            return Err(too_large());
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    ApiError::bad_request(format!(
                        "the request body could not be read: {}",
                        rejection.body_text()
                    ))
                }
            })?;
        not_json(&bytes)?;
        not_an_object(&bytes)?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(rejected(rejection)),
        }
    }
}

/// `application/json`, or a `+json` type, with or without parameters (`; charset=utf-8`):
/// what axum's `Json` accepts, checked here because the body is read as bytes first.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Refuses an empty body, or one that is not JSON (not UTF-8 text, truncated, trailing
/// garbage), without building anything from it.
fn not_json(bytes: &[u8]) -> Result<(), ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "the request body is empty: send a JSON object",
        ));
    }
    // JSON is UTF-8 (RFC 8259), and serde skips the strings it ignores unchecked.
    if let Err(error) = std::str::from_utf8(bytes) {
        return Err(ApiError::bad_request(format!(
            "the request body is not valid JSON: it is not UTF-8 text (from byte {})",
            error.valid_up_to()
        )));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map(|_| ())
        .map_err(|error| {
            ApiError::bad_request(format!("the request body is not valid JSON: {error}"))
        })
}

/// Refuses JSON (known to be valid) that is not an object, saying what it is instead: its
/// first character tells.
fn not_an_object(bytes: &[u8]) -> Result<(), ApiError> {
    let kind = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => return Ok(()),
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    };
    Err(ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("the request body must be a JSON object, not {kind}"),
    ))
}

fn rejected(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(error) => {
            // "Failed to deserialize the JSON body into the target type: seats[0]: invalid
            // type: …": keep the part after the prefix, and the path as the field.
            let text = error.body_text();
            let detail = text
                .split_once("target type: ")
                .map_or(text.as_str(), |(_, rest)| rest);
            let (field, message) = explain(detail);
            let error = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("request body: {message}"),
            );
            error.with_field(field)
        }
        // Only what the syntax check cannot see: text JSON allows but Rust strings do not
        // (a lone surrogate `\ud800`), in a field this route reads.
        JsonRejection::JsonSyntaxError(error) => {
            let text = error.body_text();
            let detail = text
                .split_once("as JSON: ")
                .map_or(text.as_str(), |(_, rest)| rest);
            let (field, message) = explain(detail);
            let error =
                ApiError::bad_request(format!("the request body is not valid JSON: {message}"));
            error.with_field(field)
        }
        other => ApiError::new(
            other.status(),
            format!("request body: {}", other.body_text()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_are_recognised() {
        for (value, json) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/problem+json", true),
            ("text/plain", false),
            ("application/jsonx", false),
            ("json", false),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_json(&headers), json, "{value}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn only_json_objects_are_read() {
        assert!(not_json(b" {\"a\": 1} ").is_ok());
        assert!(not_an_object(b" {").is_ok());
        assert_eq!(
            not_an_object(b"[1]").unwrap_err().message(),
            "the request body must be a JSON object, not an array"
        );
        assert!(not_json(b"   ").unwrap_err().message().contains("empty"));
        assert!(not_json(b"{\"a\": \"\xff\"}")
            .unwrap_err()
            .message()
            .contains("not UTF-8"));
        for garbage in [&b"nope"[..], b"{\"a\": ", b"{} {}"] {
            assert!(
                not_json(garbage)
                    .unwrap_err()
                    .message()
                    .starts_with("the request body is not valid JSON"),
                "{garbage:?}"
            );
        }
    }
}
