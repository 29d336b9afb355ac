//! Calls to the other Movies services: HTTP only, with timeouts, and retries where a repeat
//! is safe (reads, and writes the callee makes idempotent).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::{ApiError, Id};
use crate::auth::TokenKeys;
use crate::ServiceName;

const ATTEMPTS: u32 = 3;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Where the other services are, and a client to reach them.
#[derive(Clone)]
pub struct Peers {
    client: reqwest::Client,
    urls: Arc<BTreeMap<ServiceName, String>>,
    keys: TokenKeys,
}

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("the {service} service did not answer ({detail})")]
    Unavailable {
        service: ServiceName,
        detail: String,
    },
    #[error("the {service} service answered {status}: {message}")]
    Refused {
        service: ServiceName,
        status: StatusCode,
        message: String,
    },
}

impl From<PeerError> for ApiError {
    fn from(error: PeerError) -> Self {
        tracing::warn!(%error, "call to another service failed");
        match error {
            PeerError::Unavailable { service, .. } => {
                ApiError::unavailable(format!("the {service} service is unavailable; try again"))
            }
            PeerError::Refused { service, .. } => {
                ApiError::unavailable(format!("the {service} service refused an internal request"))
            }
        }
    }
}

impl Peers {
    /// `urls`: the base URL of every service this one calls (no trailing slash).
    pub fn new(urls: BTreeMap<ServiceName, String>, keys: TokenKeys) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(ATTEMPT_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            // Only TLS back-end initialisation can fail, and this client has none.
            .expect("building an HTTP client");
        Peers {
            client,
            urls: Arc::new(urls),
            keys,
        }
    }

    fn url(&self, service: ServiceName, path: &str) -> String {
        let base = self
            .urls
            .get(&service)
            .cloned()
            .unwrap_or_else(|| service.default_url());
        format!("{base}{path}")
    }

    /// GET `path` on `service`: `Ok(None)` for 404, retried on timeouts, connection errors
    /// and 5xx.
    pub async fn get<T: DeserializeOwned>(
        &self,
        service: ServiceName,
        path: &str,
    ) -> Result<Option<T>, PeerError> {
        self.send::<(), T>(service, reqwest::Method::GET, path, None)
            .await
    }

    /// The record a request refers to by id, from the service that owns it
    /// (`GET /api/<service>/<id>`). An id that names nothing is the request's mistake: 422
    /// on `field`, "no `kind` with id ...".
    pub async fn referenced<T: DeserializeOwned>(
        &self,
        service: ServiceName,
        field: &str,
        kind: &str,
        id: &Id,
    ) -> Result<T, ApiError> {
        self.get(service, &format!("/api/{service}/{id}"))
            .await?
            .ok_or_else(|| ApiError::invalid(field, format!("no {kind} with id `{id}`")))
    }

    /// POST `body` to a route of `service` that is idempotent (repeating it changes nothing
    /// more), so it is retried like a read.
    pub async fn post_idempotent<B: Serialize, T: DeserializeOwned>(
        &self,
        service: ServiceName,
        path: &str,
        body: &B,
    ) -> Result<Option<T>, PeerError> {
        self.send(service, reqwest::Method::POST, path, Some(body))
            .await
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        service: ServiceName,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Option<T>, PeerError> {
        let url = self.url(service, path);
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 * 3u64.pow(attempt - 1))).await;
            }
            let mut request = self.client.request(method.clone(), &url);
            // Only an internal route takes a service's token, one for that callee alone;
            // public routes get none (review M9).
            if path.starts_with("/internal/") {
                if let Some(token) = self.keys.internal_token(service) {
                    request = request.bearer_auth(token);
                }
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => {
                    last = describe(&error);
                    continue;
                }
            };
            let status = response.status();
            if status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                // The peer refused our own service token, not the request: its clock may be
                // far from ours (Pis have no real-time clock) or its key differ. Never a
                // final answer that would void a payment: retried with a fresh token, then
                // the work waits as if the peer were down (review M8).
                let skew = clock_skew(response.headers());
                tracing::warn!(
                    peer = %service,
                    %status,
                    skew_seconds = skew,
                    "a peer refused this service's token; are the clocks apart or the keys different?"
                );
                last = format!(
                    "refused this service's token (HTTP {}){}: are the services' clocks apart \
                     (`pikube status` shows each node's offset) or this service's \
                     MOVIES_INTERNAL_KEY_<SERVICE> different from the peer's?",
                    status.as_u16(),
                    skew.map_or(String::new(), |s| format!(", its clock {s:+} s from ours"))
                );
                continue;
            }
            if status.is_server_error() {
                last = format!("status {status}");
                continue;
            }
            if !status.is_success() {
                let message = response
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|body| body["error"]["message"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                return Err(PeerError::Refused {
                    service,
                    status,
                    message,
                });
            }
            return match response.json::<T>().await {
                Ok(value) => Ok(Some(value)),
                Err(error) => Err(PeerError::Unavailable {
                    service,
                    detail: format!("unreadable answer: {error}"),
                }),
            };
        }
        Err(PeerError::Unavailable {
            service,
            detail: last,
        })
    }
}

/// How far the peer's clock is from ours, by its `Date` header (whole seconds).
fn clock_skew(headers: &reqwest::header::HeaderMap) -> Option<i64> {
    let date = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    let theirs = httpdate::parse_http_date(date).ok()?;
    let theirs = theirs.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(theirs - crate::clock::now_millis() / 1000)
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        error.to_string()
    }
}
