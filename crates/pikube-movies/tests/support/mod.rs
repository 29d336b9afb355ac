//! The Movies services under test: all six (or a chosen few) in this process on a loopback
//! port, on fresh SQLite files or fresh PostgreSQL databases, spoken to over real HTTP. More
//! servers can share those databases (replicas, or a service on its own behind a
//! [`proxy::FaultProxy`]), and any of them can be stopped, killed and restarted.
//!
//! `MOVIES_TEST_LOG=1` shows the services' logs (`RUST_LOG` filters them).
#![allow(dead_code)]

pub mod ledger;
mod postgres;
pub mod proxy;
pub mod server;

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use pikube_movies::{AdminAccount, MoviesConfig, Selection};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub use postgres::PostgresDatabases;
use server::Server;

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
    /// The main server's base URL (it may change when the server restarts).
    pub base: String,
    pub client: reqwest::Client,
    /// The configuration every server of this app starts from: same databases, same keys.
    pub config: MoviesConfig,
    pub backend: Backend,
    admin_token: Option<String>,
    server: Server,
    _dir: tempfile::TempDir,
    _postgres: Option<PostgresDatabases>,
}

/// A response: its status and its JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Fails the test, showing the body, unless the reply is 201 Created.
    #[track_caller]
    pub fn expect_created(&self) {
        assert_eq!(self.status, StatusCode::CREATED, "{:?}", self.body);
    }

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
        Self::start_services(backend, Selection::all(), edit).await
    }

    /// Starts `selection` on the main server; the others can be started with [`TestApp::server`].
    pub async fn start_services(
        backend: Backend,
        selection: Selection,
        edit: impl FnOnce(&mut MoviesConfig),
    ) -> TestApp {
        if std::env::var_os("MOVIES_TEST_LOG").is_some() {
            let _ = pikube_http::init_logging();
        }
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = MoviesConfig::embedded(dir.path());
        config.admin =
            Some(AdminAccount::new(ADMIN_EMAIL, ADMIN_PASSWORD).expect("a valid administrator"));
        config.sweep_interval = Duration::from_secs(1);
        config.drain_grace = Duration::ZERO;
        // Every test client signs in from 127.0.0.1, hundreds of times, with wrong
        // passwords on purpose: the sign-in limits have their own tests (throttling.rs).
        config.auth_limits.per_client = None;
        config.auth_limits.failures_per_account = None;
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let databases = PostgresDatabases::create().await;
                config.database = databases.template();
                Some(databases)
            }
        };
        edit(&mut config);
        let server = Server::start(selection, config.clone()).await;
        TestApp {
            base: server.base.clone(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(512)
                .build()
                .expect("an HTTP client"),
            config,
            backend,
            admin_token: None,
            server,
            _dir: dir,
            _postgres: postgres,
        }
    }

    /// Stops the server gracefully (if it runs: it may have been killed) and starts it again
    /// on the same databases and token key.
    pub async fn restart(&mut self) {
        self.server.restart().await;
        self.base = self.server.base.clone();
    }

    /// Stops the server; its databases stay until the app is dropped.
    pub async fn stop(&mut self) {
        self.server.stop().await;
    }

    /// Kills the server abruptly (see [`Server::kill`]); [`TestApp::restart`] brings it back.
    pub async fn kill(&mut self) {
        self.server.kill().await;
    }

    /// Another server of all six services on the same databases and token key: a replica.
    pub async fn replica(&self) -> Server {
        self.server(Selection::all(), |_| {}).await
    }

    /// Another server of `selection` on the same databases and token key, its configuration
    /// changed by `edit` (say, a peer's URL pointing at a [`proxy::FaultProxy`]).
    pub async fn server(
        &self,
        selection: Selection,
        edit: impl FnOnce(&mut MoviesConfig),
    ) -> Server {
        let mut config = self.config.clone();
        edit(&mut config);
        Server::start(selection, config).await
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
        self.request_at(&self.base, method, path, token, body, headers)
            .await
    }

    /// A request to the server at `base` (a replica, a service on its own).
    pub async fn request_at(
        &self,
        base: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method.clone(), format!("{base}{path}"));
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
            .unwrap_or_else(|e| panic!("{method} {base}{path}: {e}"));
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
        screening.expect_created();
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

    /// `count` buyers registered, their tokens in order: emails `<prefix><n>@example.org`.
    /// Registered through the API, concurrently but a few at a time (each hashes a password
    /// with Argon2: 19 MiB and tens of milliseconds of a core). Their tokens are then signed
    /// here with the users service's key, as it signs them, rather than by as many
    /// sign-ins, which would hash as much again (sign-in has tests of its own).
    pub async fn buyers(&self, prefix: &str, count: usize) -> Vec<String> {
        futures::stream::iter(0..count)
            .map(|n| async move {
                let email = format!("{prefix}{n}@example.org");
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
                self.token_for(reply.body["id"].as_str().expect("a user id"), &email)
            })
            .buffered(8)
            .collect()
            .await
    }

    /// A user's bearer token, signed with the users service's key: what
    /// `POST /api/auth/token` issues to that user.
    pub fn token_for(&self, user_id: &str, email: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let claims = json!({ "sub": user_id, "email": email, "role": "user",
                             "iss": "pikube-movies", "iat": now, "exp": now + 3600 });
        let key = self
            .config
            .signing_key
            .as_ref()
            .expect("the users service's key");
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(key.expose_der()),
        )
        .expect("signing a token")
    }

    /// POST /api/reservations at `base` for `seats` of `screening_id`.
    pub async fn hold_at(
        &self,
        base: &str,
        token: &str,
        screening_id: &str,
        seats: &[&str],
    ) -> Reply {
        self.request_at(
            base,
            Method::POST,
            "/api/reservations",
            Some(token),
            Some(json!({ "screening_id": screening_id, "seats": seats })),
            &[],
        )
        .await
    }

    pub async fn hold(&self, token: &str, screening_id: &str, seats: &[&str]) -> Reply {
        self.hold_at(&self.base, token, screening_id, seats).await
    }

    /// POST /api/payments at `base` for `reservation`'s amount with `card`, under `key`.
    pub async fn pay_at(
        &self,
        base: &str,
        token: &str,
        reservation: &Value,
        card: &str,
        key: &str,
    ) -> Reply {
        self.request_at(
            base,
            Method::POST,
            "/api/payments",
            Some(token),
            Some(json!({ "reservation_id": reservation["id"],
                         "amount_cents": reservation["amount_cents"], "card_token": card })),
            &[("Idempotency-Key", key)],
        )
        .await
    }

    pub async fn pay(&self, token: &str, reservation: &Value, card: &str, key: &str) -> Reply {
        self.pay_at(&self.base, token, reservation, card, key).await
    }

    /// The reservation as its buyer sees it.
    pub async fn reservation(&self, token: &str, id: &str) -> Value {
        let reply = self
            .get(&format!("/api/reservations/{id}"), Some(token))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "reservation {id}: {:?}",
            reply.body
        );
        reply.body
    }

    /// Each seat's state (`free`, `held`, `sold`) in the screening's seat map.
    pub async fn seat_map(&self, screening_id: &str) -> std::collections::BTreeMap<String, String> {
        let reply = self
            .get(&format!("/api/screenings/{screening_id}/seats"), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "seat map: {:?}", reply.body);
        reply.body["seats"]
            .as_array()
            .expect("seats")
            .iter()
            .map(|seat| {
                (
                    seat["seat"].as_str().expect("a label").to_owned(),
                    seat["state"].as_str().expect("a state").to_owned(),
                )
            })
            .collect()
    }
}

/// The value of one series in a Prometheus exposition, such as
/// `movies_payments_total{outcome="succeeded"}`; 0 when absent (a counter never touched).
pub fn metric(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix(series)?.strip_prefix(' ')?;
            value.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0.0)
}

/// Polls `probe` until it yields a value, for at most `timeout`: waits for a condition the
/// services reach in their own time (a sweep, the outbox), asserting nothing about when.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
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
