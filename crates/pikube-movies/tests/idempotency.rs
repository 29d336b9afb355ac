//! Payments exactly once per `Idempotency-Key`, on SQLite and on PostgreSQL: retries get the
//! first answer, a reused key with another request is refused, a paid reservation is never
//! charged again, and a declined card is declined for good under its key.

use crate::support;

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::server::Server;
use support::{metric, uuid_like, Backend, Reply, TestApp};

const REPLAYED: &str = "Idempotent-Replayed";

/// A screening, a buyer and the buyer's held reservation of A1 and A2.
async fn held(app: &mut TestApp) -> (String, Value) {
    let screening = app.screening(3, 4, 900).await;
    let buyer = app.buyer(&format!("pay{}@example.org", uuid_like())).await;
    let reservation = app
        .hold(&buyer, screening["id"].as_str().unwrap(), &["A1", "A2"])
        .await;
    reservation.expect_created();
    (buyer, reservation.body)
}

async fn pay_with(app: &TestApp, token: &str, body: Value, headers: &[(&str, &str)]) -> Reply {
    app.request_with(
        Method::POST,
        "/api/payments",
        Some(token),
        Some(body),
        headers,
    )
    .await
}

fn counted(exposition: &str, outcome: &str) -> f64 {
    metric(
        exposition,
        &format!("movies_payments_total{{outcome=\"{outcome}\"}}"),
    )
}

async fn retries_get_the_first_answer(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let (buyer, reservation) = held(&mut app).await;
    let id = reservation["id"].as_str().unwrap();
    let body = json!({ "reservation_id": id, "amount_cents": 1800, "card_token": "tok_visa" });

    let unkeyed = pay_with(&app, &buyer, body.clone(), &[]).await;
    assert_eq!(
        unkeyed.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        unkeyed.body
    );
    assert_eq!(unkeyed.body["error"]["field"], "Idempotency-Key");

    let mut cheap = body.clone();
    cheap["amount_cents"] = json!(900);
    let wrong = pay_with(&app, &buyer, cheap, &[("Idempotency-Key", "k-1")]).await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        wrong.body
    );
    assert_eq!(wrong.body["error"]["field"], "amount_cents");
    assert!(
        app.ledger().await.payments_for(id).is_empty(),
        "nothing recorded"
    );

    // A refused request used nothing up: the same key now pays.
    let paid = pay_with(&app, &buyer, body.clone(), &[("Idempotency-Key", "k-1")]).await;
    assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);
    assert_eq!(paid.body["status"], "succeeded");
    assert!(paid.headers.get(REPLAYED).is_none());

    let again = pay_with(&app, &buyer, body.clone(), &[("Idempotency-Key", "k-1")]).await;
    assert_eq!(again.status, paid.status);
    assert_eq!(again.body, paid.body);
    assert_eq!(
        again
            .headers
            .get(REPLAYED)
            .map(axum::http::HeaderValue::as_bytes),
        Some(&b"true"[..])
    );

    let mut other_card = body.clone();
    other_card["card_token"] = json!("tok_mastercard");
    let reused = pay_with(&app, &buyer, other_card, &[("Idempotency-Key", "k-1")]).await;
    assert_eq!(
        reused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        reused.body
    );
    assert_eq!(reused.body["error"]["field"], "Idempotency-Key");

    let second = pay_with(&app, &buyer, body.clone(), &[("Idempotency-Key", "k-2")]).await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{:?}", second.body);

    let payment = app
        .get(
            &format!("/api/payments/{}", paid.body["id"].as_str().unwrap()),
            Some(&buyer),
        )
        .await;
    assert_eq!(payment.body["status"], "succeeded");
    let ledger = app.ledger().await;
    ledger.assert_consistent(true);
    let payments = ledger.payments_for(id);
    assert_eq!(payments.len(), 1, "one charge: {payments:?}");
    assert_eq!(ledger.reservation(id).status, "confirmed");
    let metrics = app.metrics().await;
    assert_eq!(counted(&metrics, "succeeded"), 1.0);
    assert_eq!(
        counted(&metrics, "replayed"),
        1.0,
        "the refused reuse is no replay"
    );
}

both_backends!(
    retries_get_the_first_answer_and_pay_once,
    retries_get_the_first_answer
);

/// Sixty requests under one key at once (a client retrying hard; on PostgreSQL spread over
/// three replicas): one payment, and every answer the same.
async fn one_key_at_once(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let mut replicas: Vec<Server> = Vec::new();
    if backend == Backend::Postgres {
        replicas.push(app.replica().await);
        replicas.push(app.replica().await);
    }
    let bases: Vec<String> = std::iter::once(app.base.clone())
        .chain(replicas.iter().map(|r| r.base.clone()))
        .collect();
    let (buyer, reservation) = held(&mut app).await;
    let id = reservation["id"].as_str().unwrap();
    let answers = join_all((0..60).map(|n| {
        app.pay_at(
            &bases[n % bases.len()],
            &buyer,
            &reservation,
            "tok_visa",
            "the-key",
        )
    }))
    .await;
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
        assert_eq!(answer.body, answers[0].body);
    }
    let ledger = app.ledger().await;
    ledger.assert_consistent(true);
    assert_eq!(ledger.payments_for(id).len(), 1);
    assert_eq!(ledger.reservation(id).status, "confirmed");
    let mut succeeded = counted(&app.metrics().await, "succeeded");
    for replica in &replicas {
        succeeded += counted(&replica.metrics().await, "succeeded");
    }
    assert_eq!(succeeded, 1.0, "one payment counted once");

    // A declined card, under one key at once: declined every time, nothing charged.
    let (buyer, reservation) = held(&mut app).await;
    let id = reservation["id"].as_str().unwrap();
    let answers = join_all((0..30).map(|n| {
        app.pay_at(
            &bases[n % bases.len()],
            &buyer,
            &reservation,
            "tok_declined",
            "no",
        )
    }))
    .await;
    for answer in &answers {
        assert_eq!(
            answer.status,
            StatusCode::PAYMENT_REQUIRED,
            "{:?}",
            answer.body
        );
        assert_eq!(answer.body, answers[0].body);
    }
    let ledger = app.ledger().await;
    assert_eq!(ledger.payments_for(id).len(), 1);
    assert_eq!(ledger.reservation(id).status, "held");
}

both_backends!(one_key_at_once_pays_once, one_key_at_once);

async fn declined_then_paid(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let (buyer, reservation) = held(&mut app).await;
    let id = reservation["id"].as_str().unwrap();

    let declined = app.pay(&buyer, &reservation, "tok_declined", "first").await;
    assert_eq!(
        declined.status,
        StatusCode::PAYMENT_REQUIRED,
        "{:?}",
        declined.body
    );
    assert_eq!(declined.body["error"]["status"], "declined");
    let again = app.pay(&buyer, &reservation, "tok_declined", "first").await;
    assert_eq!(again.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(again.body, declined.body);
    assert_eq!(
        again
            .headers
            .get(REPLAYED)
            .map(axum::http::HeaderValue::as_bytes),
        Some(&b"true"[..])
    );
    let payment_id = declined.body["error"]["payment_id"].as_str().unwrap();
    let payment = app
        .get(&format!("/api/payments/{payment_id}"), Some(&buyer))
        .await;
    assert_eq!(payment.body["status"], "declined");
    assert_eq!(app.reservation(&buyer, id).await["status"], "held");

    let paid = app.pay(&buyer, &reservation, "tok_visa", "second").await;
    assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);
    assert_eq!(app.reservation(&buyer, id).await["status"], "confirmed");
    let ledger = app.ledger().await;
    ledger.assert_consistent(true);
    let mut statuses: Vec<&str> = ledger
        .payments_for(id)
        .iter()
        .map(|p| p.status.as_str())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, ["captured", "declined"]);
    let metrics = app.metrics().await;
    assert_eq!(counted(&metrics, "declined"), 1.0);
    assert_eq!(counted(&metrics, "succeeded"), 1.0);
}

both_backends!(
    a_declined_card_stays_declined_and_a_new_key_pays,
    declined_then_paid
);
