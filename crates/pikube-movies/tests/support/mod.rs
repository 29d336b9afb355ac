//! The Movies services under test: all six in this process on a loopback port, on fresh
//! SQLite files or fresh PostgreSQL databases, spoken to over real HTTP.
#![allow(dead_code)]

mod postgres;

use std::time::Duration;

use pikube_movies::{AdminAccount, MoviesConfig, Selection};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use postgres::PostgresDatabases;

pub const ADMIN_EMAIL: &str = "admin@example.org";
pub const ADMIN_PASSWORD: &str = "admin-password-1";
pub const PASSWORD: &str = "buyer-password-1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body once per backend: `both_backends!(name, body_fn)` defines
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$body($crate::support::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$body($crate::support::Backend::Postgres).await
            }
        }
    };
}

/// A running set of services. Dropping it stops the server and removes its databases.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub config: MoviesConfig,
    pub backend: Backend,
    admin_token: Option<String>,
    server: Option<Server>,
    _dir: tempfile::TempDir,
    _postgres: Option<PostgresDatabases>,
}

struct Server {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), pikube_movies::MoviesError>>,
}

/// A response: its status and its JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The error message of an error reply.
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub async fn start(backend: Backend) -> TestApp {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts with the test defaults (an administrator, one-second sweeps), changed by `edit`.
    pub async fn start_with(backend: Backend, edit: impl FnOnce(&mut MoviesConfig)) -> TestApp {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = MoviesConfig::embedded(dir.path());
        config.admin =
            Some(AdminAccount::new(ADMIN_EMAIL, ADMIN_PASSWORD).expect("a valid administrator"));
        config.sweep_interval = Duration::from_secs(1);
        config.drain_grace = Duration::ZERO;
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let databases = PostgresDatabases::create().await;
                config.database = databases.template();
                Some(databases)
            }
        };
        edit(&mut config);
        let mut app = TestApp {
            base: String::new(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(512)
                .build()
                .expect("an HTTP client"),
            config,
            backend,
            admin_token: None,
            server: None,
            _dir: dir,
            _postgres: postgres,
        };
        app.serve().await;
        app
    }

    async fn serve(&mut self) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        self.base = format!("http://{}", listener.local_addr().expect("its address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let config = self.config.clone();
        let task = tokio::spawn(async move {
            pikube_movies::serve(listener, &Selection::all(), config, async {
                let _ = stopped.await;
            })
            .await
        });
        self.server = Some(Server { stop, task });
        self.wait_ready().await;
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(response) = self
                .client
                .get(format!("{}/readyz", self.base))
                .send()
                .await
            {
                if response.status() == StatusCode::OK {
                    return;
                }
            }
            if self.server.as_ref().is_some_and(|s| s.task.is_finished()) {
                panic!("the Movies services stopped while starting");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the Movies services did not become ready at {}", self.base);
    }

    /// Stops the server (gracefully) and starts it again on the same databases and token key.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.serve().await;
    }

    /// Stops the server; its databases stay until the app is dropped.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.stop.send(());
            server
                .task
                .await
                .expect("the server task")
                .expect("the server stopped cleanly");
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.request_with(method, path, token, body, &[]).await
    }

    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.request(Method::POST, path, token, Some(body)).await
    }

    /// A bearer token for `email` and `password`; panics unless issued.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let reply = self
            .post(
                "/api/auth/token",
                None,
                json!({ "email": email, "password": password }),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "sign-in of {email}: {:?}",
            reply.body
        );
        reply.body["access_token"]
            .as_str()
            .expect("a token")
            .to_owned()
    }

    pub async fn admin(&mut self) -> String {
        if self.admin_token.is_none() {
            self.admin_token = Some(self.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await);
        }
        self.admin_token.clone().expect("just set")
    }

    /// Registers `email` (password [`PASSWORD`]) and signs in: the user's token.
    pub async fn buyer(&self, email: &str) -> String {
        let reply = self
            .post(
                "/api/users",
                None,
                json!({ "email": email, "name": "Buyer", "password": PASSWORD }),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "registering {email}: {:?}",
            reply.body
        );
        self.sign_in(email, PASSWORD).await
    }

    /// A movie, a cinema with a hall of `rows` × `seats_per_row`, and a screening there
    /// tomorrow at `price_cents`: the screening.
    pub async fn screening(&mut self, rows: i64, seats_per_row: i64, price_cents: i64) -> Value {
        let admin = self.admin().await;
        let unique = uuid_like();
        let movie = self
            .post(
                "/api/movies",
                Some(&admin),
                json!({ "title": format!("Film {unique}"), "duration_minutes": 100 }),
            )
            .await;
        assert_eq!(movie.status, StatusCode::CREATED, "{:?}", movie.body);
        let cinema = self
            .post(
                "/api/cinemas",
                Some(&admin),
                json!({ "name": format!("Cinema {unique}"), "city": "Testville",
                        "halls": [{ "name": "Hall 1", "rows": rows, "seats_per_row": seats_per_row }] }),
            )
            .await;
        assert_eq!(cinema.status, StatusCode::CREATED, "{:?}", cinema.body);
        let tomorrow = time_in(Duration::from_secs(86_400));
        let screening = self
            .post(
                "/api/screenings",
                Some(&admin),
                json!({ "movie_id": movie.body["id"], "cinema_id": cinema.body["id"], "hall": "Hall 1",
                        "starts_at": tomorrow, "price_cents": price_cents }),
            )
            .await;
        assert_eq!(
            screening.status,
            StatusCode::CREATED,
            "{:?}",
            screening.body
        );
        screening.body
    }

    /// The Prometheus exposition text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("the metrics text")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.stop.send(());
            server.task.abort();
        }
    }
}

/// A short random-enough label for names that must not collide between tests.
pub fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{:x}{:x}{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An RFC 3339 UTC time `after` from now, on a whole minute.
pub fn time_in(after: Duration) -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        + after.as_secs();
    let seconds = seconds - seconds % 60;
    let days = seconds / 86_400;
    let (h, m) = ((seconds % 86_400) / 3600, (seconds % 3600) / 60);
    let (y, mo, d) = civil_from_days(days as i64);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:00Z")
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}
