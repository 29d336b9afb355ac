//! Failures between services, on SQLite and on PostgreSQL: payments runs on its own server
//! and reaches reservations through a fault-injecting proxy. Whatever fails (reservations
//! unreachable, its answers lost, a server killed mid-payment), it ends consistent: paid with
//! the seats sold, or voided with nothing charged. Never money for no seat.

use crate::support;

use std::time::Duration;

use pikube_movies::{Selection, ServiceName};
use reqwest::StatusCode;
use serde_json::Value;
use support::proxy::{Fault, FaultProxy};
use support::server::Server;
use support::{eventually, metric, uuid_like, Backend, Reply, TestApp};

const SETTLED_WITHIN: Duration = Duration::from_secs(30);

/// Five services on the main server; payments on its own, calling reservations through the
/// proxy.
struct Split {
    app: TestApp,
    proxy: FaultProxy,
    payments: Server,
}

async fn split(backend: Backend, hold: Duration) -> Split {
    let app = TestApp::start_services(
        backend,
        Selection::of(
            ServiceName::ALL
                .into_iter()
                .filter(|s| *s != ServiceName::Payments),
        )
        .expect("five services"),
        |config| config.hold_ttl = hold,
    )
    .await;
    let proxy = FaultProxy::start(&app.base).await;
    let payments = app
        .server(Selection::one(ServiceName::Payments), |config| {
            config
                .peer_urls
                .insert(ServiceName::Reservations, proxy.url.clone());
        })
        .await;
    Split {
        app,
        proxy,
        payments,
    }
}

impl Split {
    /// A buyer holding `seats` of a fresh screening: (buyer, screening id, reservation).
    async fn holding(&mut self, seats: &[&str]) -> (String, String, Value) {
        let screening = self.app.screening(2, 4, 1000).await;
        let screening_id = screening["id"].as_str().unwrap().to_owned();
        let buyer = self
            .app
            .buyer(&format!("b{}@example.org", uuid_like()))
            .await;
        let held = self.app.hold(&buyer, &screening_id, seats).await;
        assert_eq!(held.status, StatusCode::CREATED, "{:?}", held.body);
        (buyer, screening_id, held.body)
    }

    async fn pay(&self, buyer: &str, reservation: &Value, key: &str) -> Reply {
        self.app
            .pay_at(&self.payments.base, buyer, reservation, "tok_visa", key)
            .await
    }

    async fn payment(&self, buyer: &str, id: &str) -> Value {
        let reply = self
            .app
            .request_at(
                &self.payments.base,
                reqwest::Method::GET,
                &format!("/api/payments/{id}"),
                Some(buyer),
                None,
                &[],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        reply.body
    }

    /// Waits until payment `id` reads `status`.
    async fn payment_becomes(&self, buyer: &str, id: &str, status: &str) {
        eventually(
            &format!("payment {id} {status}"),
            SETTLED_WITHIN,
            || async { (self.payment(buyer, id).await["status"] == status).then_some(()) },
        )
        .await;
    }

    async fn payments_metric(&self, outcome: &str) -> f64 {
        metric(
            &self.payments.metrics().await,
            &format!("movies_payments_total{{outcome=\"{outcome}\"}}"),
        )
    }
}

fn replayed(reply: &Reply) -> bool {
    reply
        .headers
        .get("Idempotent-Replayed")
        .is_some_and(|v| v == "true")
}

/// (a) Reservations unreachable when the payment confirms it: 202 pending, money authorised
/// only; when it is back, the outbox confirms and captures.
async fn pending_then_settled(backend: Backend) {
    let mut s = split(backend, Duration::from_secs(600)).await;
    let (buyer, screening_id, reservation) = s.holding(&["A1"]).await;
    let reservation_id = reservation["id"].as_str().unwrap();
    s.proxy.set(Fault::ConfirmUnavailable).await;
    let pending = s.pay(&buyer, &reservation, "k").await;
    assert_eq!(pending.status, StatusCode::ACCEPTED, "{:?}", pending.body);
    assert_eq!(pending.body["status"], "pending");
    let payment_id = pending.body["id"].as_str().unwrap().to_owned();

    // Now down altogether: a retry and the outbox fail too, and nothing moves.
    s.proxy.set(Fault::Refuse).await;
    let retry = s.pay(&buyer, &reservation, "k").await;
    assert_eq!(retry.status, StatusCode::ACCEPTED, "{:?}", retry.body);
    assert_eq!(retry.body, pending.body);
    let ledger = s.app.ledger().await;
    ledger.assert_consistent(false);
    assert_eq!(ledger.payments_for(reservation_id)[0].status, "authorized");
    assert_eq!(ledger.reservation(reservation_id).status, "held");
    assert_eq!(s.app.seat_map(&screening_id).await["A1"], "held");

    s.proxy.set(Fault::None).await;
    s.payment_becomes(&buyer, &payment_id, "succeeded").await;
    let confirmed = s.app.reservation(&buyer, reservation_id).await;
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["payment_id"], payment_id.as_str());
    assert_eq!(s.app.seat_map(&screening_id).await["A1"], "sold");
    s.app.ledger().await.assert_consistent(true);
    let settled = s.pay(&buyer, &reservation, "k").await;
    assert_eq!(settled.status, StatusCode::CREATED, "{:?}", settled.body);
    assert_eq!(settled.body["status"], "succeeded");
    assert!(replayed(&settled));
    assert_eq!(s.payments_metric("pending").await, 2.0);
    assert_eq!(s.payments_metric("succeeded").await, 1.0);
    assert_eq!(s.payments_metric("voided").await, 0.0);
}

both_backends!(
    a_pending_payment_settles_when_reservations_is_back,
    pending_then_settled
);

/// Reservations refuses the payments service's token (its clock far ahead, say, after a
/// power cut on a Pi without a real-time clock): the payment waits, authorised, instead of
/// being voided; once the clocks agree, the outbox confirms and captures (review M8).
async fn token_refused(backend: Backend) {
    let mut s = split(backend, Duration::from_secs(600)).await;
    let (buyer, screening_id, reservation) = s.holding(&["A1"]).await;
    let reservation_id = reservation["id"].as_str().unwrap();
    s.proxy.set(Fault::ConfirmUnauthorized).await;
    let pending = s.pay(&buyer, &reservation, "k").await;
    assert_eq!(pending.status, StatusCode::ACCEPTED, "{:?}", pending.body);
    assert_eq!(pending.body["status"], "pending");
    let payment_id = pending.body["id"].as_str().unwrap().to_owned();
    assert_eq!(s.app.seat_map(&screening_id).await["A1"], "held");
    assert_eq!(s.payments_metric("voided").await, 0.0);

    s.proxy.set(Fault::None).await;
    s.payment_becomes(&buyer, &payment_id, "succeeded").await;
    assert_eq!(
        s.app.reservation(&buyer, reservation_id).await["status"],
        "confirmed"
    );
    assert_eq!(s.app.seat_map(&screening_id).await["A1"], "sold");
    s.app.ledger().await.assert_consistent(true);
    assert_eq!(s.payments_metric("voided").await, 0.0);
}

both_backends!(
    a_refused_service_token_leaves_the_payment_pending_never_voided,
    token_refused
);

/// Confirmations that reservations carries out but whose answers are lost: the payment waits,
/// the reservation is confirmed once, and the outbox captures without confirming again.
async fn answers_lost(backend: Backend) {
    let mut s = split(backend, Duration::from_secs(600)).await;
    let (buyer, _, reservation) = s.holding(&["B1", "B2"]).await;
    let reservation_id = reservation["id"].as_str().unwrap();
    s.proxy.set(Fault::ConfirmLost).await;
    let pending = s.pay(&buyer, &reservation, "k").await;
    assert_eq!(pending.status, StatusCode::ACCEPTED, "{:?}", pending.body);
    let payment_id = pending.body["id"].as_str().unwrap().to_owned();
    assert!(s.proxy.confirmations() >= 3, "the confirmation was retried");
    let confirmed = s.app.reservation(&buyer, reservation_id).await;
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["payment_id"], payment_id.as_str());
    s.app.ledger().await.assert_consistent(false);

    s.proxy.set(Fault::None).await;
    s.payment_becomes(&buyer, &payment_id, "succeeded").await;
    s.app.ledger().await.assert_consistent(true);
    let confirmations = metric(
        &s.app.metrics().await,
        "movies_reservations_confirmed_total",
    );
    assert_eq!(confirmations, 1.0, "confirmed once, however often asked");
    assert_eq!(s.payments_metric("succeeded").await, 1.0);
}

both_backends!(lost_confirmations_confirm_once, answers_lost);

/// (b) Reservations down until the hold runs out: the outbox ends with the payment voided,
/// the reservation expired and its seat sold to someone else; a retry of the key says voided.
async fn down_until_expiry(backend: Backend) {
    let mut s = split(backend, Duration::from_secs(3)).await;
    let (buyer, screening_id, reservation) = s.holding(&["A1"]).await;
    let reservation_id = reservation["id"].as_str().unwrap();
    s.proxy.set(Fault::ConfirmUnavailable).await;
    let pending = s.pay(&buyer, &reservation, "k").await;
    assert_eq!(pending.status, StatusCode::ACCEPTED, "{:?}", pending.body);
    let payment_id = pending.body["id"].as_str().unwrap().to_owned();
    s.proxy.set(Fault::Refuse).await;

    eventually("the hold expires", SETTLED_WITHIN, || async {
        let ledger = s.app.ledger().await;
        (ledger.reservation(reservation_id).status == "expired").then_some(())
    })
    .await;
    assert_eq!(s.app.seat_map(&screening_id).await["A1"], "free");
    let other = s.app.buyer(&format!("o{}@example.org", uuid_like())).await;
    let taken = s.app.hold(&other, &screening_id, &["A1"]).await;
    assert_eq!(taken.status, StatusCode::CREATED, "{:?}", taken.body);
    s.app.ledger().await.assert_consistent(false);

    s.proxy.set(Fault::None).await;
    s.payment_becomes(&buyer, &payment_id, "voided").await;
    let retry = s.pay(&buyer, &reservation, "k").await;
    assert_eq!(retry.status, StatusCode::CONFLICT, "{:?}", retry.body);
    assert_eq!(retry.body["error"]["status"], "voided");
    assert_eq!(retry.body["error"]["payment_id"], payment_id.as_str());
    assert!(replayed(&retry));
    assert_eq!(
        s.app.reservation(&buyer, reservation_id).await["status"],
        "expired"
    );
    let ledger = s.app.ledger().await;
    ledger.assert_consistent(true);
    let payments = ledger.payments_for(reservation_id);
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].status, "voided", "nothing charged");

    // The seat went to the other buyer, who pays for it.
    let paid = s.pay(&other, &taken.body, "other").await;
    assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);
    assert_eq!(s.app.seat_map(&screening_id).await["A1"], "sold");
    s.app.ledger().await.assert_consistent(true);
    assert_eq!(s.payments_metric("voided").await, 1.0);
    assert_eq!(s.payments_metric("succeeded").await, 1.0);
    let expired = metric(&s.app.metrics().await, "movies_reservations_expired_total");
    assert_eq!(expired, 1.0);
}

both_backends!(
    reservations_down_until_the_hold_expires_voids_the_payment,
    down_until_expiry
);

/// (c) Servers killed abruptly: a confirmed reservation stays confirmed with its seats sold,
/// a payment left pending and one cut off in mid-confirmation are finished after restart.
async fn kills(backend: Backend) {
    let mut s = split(backend, Duration::from_secs(600)).await;
    let (first_buyer, screening_id, first) = s.holding(&["A1", "A2"]).await;
    let first_paid = s.pay(&first_buyer, &first, "first").await;
    first_paid.expect_created();

    let (buyer, second_screening, second) = s.holding(&["B4"]).await;
    s.proxy.set(Fault::ConfirmUnavailable).await;
    let pending = s.pay(&buyer, &second, "second").await;
    assert_eq!(pending.status, StatusCode::ACCEPTED, "{:?}", pending.body);

    // A payment in flight, its confirmation held at the proxy when payments dies.
    let (third_buyer, _, third) = s.holding(&["B2"]).await;
    s.proxy.set(Fault::ConfirmHang).await;
    let confirmations = s.proxy.confirmations();
    let in_flight = tokio::spawn({
        let request = s
            .app
            .client
            .post(format!("{}/api/payments", s.payments.base))
            .bearer_auth(&third_buyer)
            .header("Idempotency-Key", "third")
            .json(&serde_json::json!({ "reservation_id": third["id"],
                "amount_cents": third["amount_cents"], "card_token": "tok_visa" }));
        async move { request.send().await.map(|r| r.status()) }
    });
    eventually(
        "the payment reaches its confirmation",
        SETTLED_WITHIN,
        || async { (s.proxy.confirmations() > confirmations).then_some(()) },
    )
    .await;
    s.payments.kill().await;
    s.app.kill().await;
    let cut = in_flight.await.expect("the request task");
    assert!(cut.is_err(), "the killed server answered: {cut:?}");
    let ledger = s.app.ledger().await;
    ledger.assert_consistent(false);
    let third_id = third["id"].as_str().unwrap();
    assert_eq!(ledger.payments_for(third_id)[0].status, "authorized");

    s.proxy.set(Fault::None).await;
    s.app.restart().await;
    s.proxy.retarget(&s.app.base);
    s.payments.restart().await;
    let first_id = first["id"].as_str().unwrap();
    assert_eq!(
        s.app.reservation(&first_buyer, first_id).await["status"],
        "confirmed"
    );
    let seats = s.app.seat_map(&screening_id).await;
    assert_eq!(
        (seats["A1"].as_str(), seats["A2"].as_str()),
        ("sold", "sold")
    );
    let first_payment = first_paid.body["id"].as_str().unwrap();
    assert_eq!(
        s.payment(&first_buyer, first_payment).await["status"],
        "succeeded"
    );
    let second_payment = pending.body["id"].as_str().unwrap();
    s.payment_becomes(&buyer, second_payment, "succeeded").await;
    assert_eq!(s.app.seat_map(&second_screening).await["B4"], "sold");
    eventually("the cut-off payment settles", SETTLED_WITHIN, || async {
        let ledger = s.app.ledger().await;
        (ledger.reservation(third_id).status == "confirmed").then_some(())
    })
    .await;
    // The buyer, cut off, retries: the payment made before the crash, not a new one.
    let retried = s
        .app
        .pay_at(&s.payments.base, &third_buyer, &third, "tok_visa", "third")
        .await;
    assert_eq!(retried.status, StatusCode::CREATED, "{:?}", retried.body);
    let ledger = s.app.ledger().await;
    ledger.assert_consistent(true);
    assert_eq!(ledger.payments_for(third_id).len(), 1);
    assert_eq!(
        ledger.reservation(third_id).payment_id.as_deref(),
        retried.body["id"].as_str()
    );
}

both_backends!(confirmed_reservations_and_payments_survive_kills, kills);

/// A retry that overtakes its twin: the first request under a key is slow to read the
/// reservation; the second pays meanwhile. The first then finds the reservation confirmed,
/// and must answer with the payment made under its key, not "already paid".
async fn overtaken(backend: Backend) {
    let mut s = split(backend, Duration::from_secs(600)).await;
    let (buyer, _, reservation) = s.holding(&["A3"]).await;
    s.proxy.hold_next_read();
    let slow = tokio::spawn({
        let request = s
            .app
            .client
            .post(format!("{}/api/payments", s.payments.base))
            .bearer_auth(&buyer)
            .header("Idempotency-Key", "twin")
            .json(&serde_json::json!({ "reservation_id": reservation["id"],
                "amount_cents": reservation["amount_cents"], "card_token": "tok_visa" }));
        async move {
            let response = request.send().await.expect("the slow twin's answer");
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    });
    eventually(
        "the first twin waits at the gate",
        SETTLED_WITHIN,
        || async { (s.proxy.gated() == 1).then_some(()) },
    )
    .await;
    let fast = s.pay(&buyer, &reservation, "twin").await;
    assert_eq!(fast.status, StatusCode::CREATED, "{:?}", fast.body);
    s.proxy.release();
    let (status, body) = slow.await.expect("the slow twin");
    assert_eq!(status, StatusCode::CREATED, "{body:?}");
    assert_eq!(body, fast.body);
    s.app.ledger().await.assert_consistent(true);
}

both_backends!(
    a_retry_overtaken_by_its_twin_gets_the_same_answer,
    overtaken
);
