//! A fault-injecting HTTP proxy between two services: it forwards every request to a target
//! server, or fails the way a network or a crashed service does, as the test switches it.
//!
//! Give its `url` to a server as a peer's URL (`MoviesConfig::peer_urls`). It answers with
//! `Connection: close`, so that no kept-alive connection outlives a switch to [`Fault::Refuse`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    None,
    /// Answer 503 to confirmations (`POST …/confirm`) without forwarding them; forward the rest.
    ConfirmUnavailable,
    /// Forward confirmations, then answer 504 as if their answer were lost on the way back:
    /// the callee did the work, the caller cannot know it.
    ConfirmLost,
    /// Hold confirmations unanswered (unforwarded) until the fault changes; then 503.
    ConfirmHang,
    /// Answer 401 to confirmations, as reservations does to a service token from a clock
    /// too far from its own.
    ConfirmUnauthorized,
    /// Refuse connections: nothing listens on the port any more.
    Refuse,
}

pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`, the same for the proxy's whole life.
    pub url: String,
    shared: Arc<Shared>,
    port: u16,
    serving: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

struct Shared {
    target: Mutex<String>,
    fault: watch::Sender<Fault>,
    confirmations: AtomicU64,
    /// Whether the next `GET` is to be held at the gate.
    gate_armed: AtomicBool,
    /// Requests held at the gate so far.
    gated: AtomicU64,
    /// One permit per release.
    gate: Semaphore,
    client: reqwest::Client,
}

impl FaultProxy {
    /// A proxy to `target` (a base URL), forwarding everything.
    pub async fn start(target: &str) -> FaultProxy {
        let shared = Arc::new(Shared {
            target: Mutex::new(target.to_owned()),
            fault: watch::Sender::new(Fault::None),
            confirmations: AtomicU64::new(0),
            gate_armed: AtomicBool::new(false),
            gated: AtomicU64::new(0),
            gate: Semaphore::new(0),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
        });
        let mut proxy = FaultProxy {
            url: String::new(),
            shared,
            port: 0,
            serving: None,
        };
        proxy.serve().expect("a loopback port for the proxy");
        proxy.url = format!("http://127.0.0.1:{}", proxy.port);
        proxy
    }

    /// Forwards to `target` from now on (a restarted server may have a new port).
    pub fn retarget(&self, target: &str) {
        *self
            .shared
            .target
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = target.to_owned();
    }

    /// Switches to `fault`. To [`Fault::Refuse`]: stops listening once the requests in flight
    /// are answered; from it: listens on the same port again.
    pub async fn set(&mut self, fault: Fault) {
        self.shared.fault.send_replace(fault);
        if fault == Fault::Refuse {
            if let Some((stop, task)) = self.serving.take() {
                let _ = stop.send(());
                let _ = task.await;
            }
        } else if self.serving.is_none() {
            self.serve().unwrap_or_else(|error| {
                panic!(
                    "the proxy cannot listen on port {} again: {error}",
                    self.port
                )
            });
        }
    }

    pub fn fault(&self) -> Fault {
        *self.shared.fault.borrow()
    }

    /// How many confirmations reached the proxy (forwarded or failed).
    pub fn confirmations(&self) -> u64 {
        self.shared.confirmations.load(Ordering::SeqCst)
    }

    /// Holds the next `GET` at a gate until [`FaultProxy::release`], so that another request
    /// can overtake it.
    pub fn hold_next_read(&self) {
        self.shared.gate_armed.store(true, Ordering::SeqCst);
    }

    /// How many requests have been held at the gate.
    pub fn gated(&self) -> u64 {
        self.shared.gated.load(Ordering::SeqCst)
    }

    /// Lets one held request through.
    pub fn release(&self) {
        self.shared.gate.add_permits(1);
    }

    fn serve(&mut self) -> std::io::Result<()> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], self.port)))?;
        let listener = socket.listen(1024)?;
        self.port = listener.local_addr()?.port();
        let app = Router::new()
            .fallback(forward)
            .with_state(self.shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        self.serving = Some((stop, task));
        Ok(())
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Wake held requests, then stop.
        self.shared.fault.send_replace(Fault::Refuse);
        self.shared.gate.close();
        if let Some((_, task)) = self.serving.take() {
            task.abort();
        }
    }
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let confirmation =
        request.method() == Method::POST && request.uri().path().ends_with("/confirm");
    let fault = *shared.fault.borrow();
    if confirmation {
        shared.confirmations.fetch_add(1, Ordering::SeqCst);
        match fault {
            Fault::ConfirmUnavailable => return failed(StatusCode::SERVICE_UNAVAILABLE),
            Fault::ConfirmUnauthorized => return failed(StatusCode::UNAUTHORIZED),
            Fault::ConfirmHang => {
                let mut changes = shared.fault.subscribe();
                let _ = changes.wait_for(|fault| *fault != Fault::ConfirmHang).await;
                return failed(StatusCode::SERVICE_UNAVAILABLE);
            }
            _ => {}
        }
    }
    if request.method() == Method::GET && shared.gate_armed.swap(false, Ordering::SeqCst) {
        shared.gated.fetch_add(1, Ordering::SeqCst);
        if let Ok(permit) = shared.gate.acquire().await {
            permit.forget();
        }
    }
    let target = shared
        .target
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 1 << 20).await else {
        return failed(StatusCode::BAD_REQUEST);
    };
    let mut outgoing = shared
        .client
        .request(parts.method, format!("{target}{path}"))
        .body(body);
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE] {
        if let Some(value) = parts.headers.get(&name) {
            outgoing = outgoing.header(name, value);
        }
    }
    let Ok(answer) = outgoing.send().await else {
        return failed(StatusCode::BAD_GATEWAY);
    };
    if confirmation && fault == Fault::ConfirmLost {
        return failed(StatusCode::GATEWAY_TIMEOUT);
    }
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let body = answer.bytes().await.unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn failed(status: StatusCode) -> Response {
    (
        status,
        [(header::CONNECTION, "close")],
        axum::Json(serde_json::json!({ "error": { "message": "injected by the test proxy" } })),
    )
        .into_response()
}
