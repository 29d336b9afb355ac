//! A k3s release host on loopback: serves whatever the test puts at a path, counts and logs
//! every request by its raw (still percent-encoded) path, and can redirect like GitHub does
//! to its download host.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

#[derive(Clone)]
enum Route {
    Body(Vec<u8>),
    Redirect(String),
}

#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<String, Route>>,
    log: Mutex<Vec<String>>,
}

pub struct FakeRelease {
    shared: Arc<Shared>,
    pub base_url: String,
}

impl FakeRelease {
    /// Starts the server on an ephemeral loopback port; it lives as long as the test's
    /// runtime.
    pub async fn start() -> FakeRelease {
        let shared = Arc::new(Shared::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let app = Router::new().fallback(serve).with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeRelease {
            shared,
            base_url: format!("http://{address}/k3s-io/k3s/releases"),
        }
    }

    /// Serves `body` at `path` (relative to the base URL, as sent on the wire).
    pub fn put(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.route(path, Route::Body(body.into()));
    }

    /// Answers `path` with a 302 to `/objects/<n>`, which serves `body`: a second host in all
    /// but port, like GitHub's object storage.
    pub fn put_redirected(&self, path: &str, body: impl Into<Vec<u8>>) {
        let object = format!("/objects/{}", self.shared.routes.lock().unwrap().len());
        self.shared
            .routes
            .lock()
            .unwrap()
            .insert(object.clone(), Route::Body(body.into()));
        self.route(path, Route::Redirect(object));
    }

    fn route(&self, path: &str, route: Route) {
        let full = format!("/k3s-io/k3s/releases/{path}");
        self.shared.routes.lock().unwrap().insert(full, route);
    }

    /// Every request path so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().clone()
    }

    pub fn forget_requests(&self) {
        self.shared.log.lock().unwrap().clear();
    }
}

async fn serve(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let path = uri.path().to_owned();
    shared.log.lock().unwrap().push(path.clone());
    let route = shared.routes.lock().unwrap().get(&path).cloned();
    match route {
        Some(Route::Body(body)) => body.into_response(),
        Some(Route::Redirect(to)) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
