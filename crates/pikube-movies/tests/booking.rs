//! A buyer's whole journey, on SQLite and on PostgreSQL: register, sign in, find a
//! screening, hold seats, pay, and see the seats sold.

use crate::support;

use reqwest::StatusCode;
use serde_json::json;
use support::{Backend, TestApp};

async fn book_and_pay(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let screening = app.screening(3, 4, 950).await;
    let id = screening["id"].as_str().unwrap();
    let buyer = app.buyer("ada@example.org").await;

    let listed = app
        .get(
            &format!(
                "/api/screenings?city=testville&movie_id={}",
                screening["movie_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["screenings"][0]["id"], screening["id"]);

    let held = app
        .post(
            "/api/reservations",
            Some(&buyer),
            json!({ "screening_id": id, "seats": ["B2", "A1"] }),
        )
        .await;
    assert_eq!(held.status, StatusCode::CREATED, "{:?}", held.body);
    assert_eq!(held.body["status"], "held");
    assert_eq!(held.body["seats"], json!(["A1", "B2"]));
    assert_eq!(held.body["amount_cents"], 1900);

    let seats = app.get(&format!("/api/screenings/{id}/seats"), None).await;
    assert_eq!(seats.status, StatusCode::OK, "{:?}", seats.body);
    assert_eq!(seats.body["free"], 10);
    assert_eq!(
        seats.body["seats"][0],
        json!({ "seat": "A1", "state": "held" })
    );

    let paid = app
        .request_with(
            reqwest::Method::POST,
            "/api/payments",
            Some(&buyer),
            Some(json!({ "reservation_id": held.body["id"], "amount_cents": 1900, "card_token": "tok_visa" })),
            &[("Idempotency-Key", "first-try")],
        )
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);
    assert_eq!(paid.body["status"], "succeeded");

    let reservation = app
        .get(
            &format!("/api/reservations/{}", held.body["id"].as_str().unwrap()),
            Some(&buyer),
        )
        .await;
    assert_eq!(reservation.body["status"], "confirmed");
    assert_eq!(reservation.body["payment_id"], paid.body["id"]);
    let seats = app.get(&format!("/api/screenings/{id}/seats"), None).await;
    assert_eq!(
        seats.body["seats"][0],
        json!({ "seat": "A1", "state": "sold" })
    );
    assert_eq!(
        seats.body["seats"][5],
        json!({ "seat": "B2", "state": "sold" })
    );
}

both_backends!(a_buyer_books_and_pays, book_and_pay);
