//! One account cannot hold a hall unpaid (security review M4): the limits on live holds
//! per buyer and seats per screening, as a client meets them over HTTP.

use crate::support;

use reqwest::StatusCode;
use serde_json::json;
use support::{Backend, TestApp};

async fn holds_are_limited_per_buyer_and_per_screening(backend: Backend) {
    let mut app = TestApp::start_with(backend, |config| {
        config.max_holds_per_user = 2;
        config.max_held_seats_per_screening = 3;
    })
    .await;
    let screening = app.screening(3, 10, 500).await;
    let id = screening["id"].as_str().unwrap().to_owned();
    let hoarder = app.buyer("hoarder@example.org").await;
    let hold = |seats: &'static [&'static str]| {
        app.post(
            "/api/reservations",
            Some(&hoarder),
            json!({ "screening_id": id, "seats": seats }),
        )
    };
    assert_eq!(hold(&["A1", "A2"]).await.status, StatusCode::CREATED);
    let too_many_seats = hold(&["B1", "B2"]).await;
    assert_eq!(
        too_many_seats.status,
        StatusCode::CONFLICT,
        "{:?}",
        too_many_seats.body
    );
    assert!(
        too_many_seats
            .message()
            .contains("already hold 2 seats of this screening"),
        "{:?}",
        too_many_seats.body
    );
    assert_eq!(too_many_seats.body["error"]["limit"], 3);
    assert_eq!(hold(&["B1"]).await.status, StatusCode::CREATED);
    let other = app.screening(3, 10, 500).await;
    let too_many_holds = app
        .post(
            "/api/reservations",
            Some(&hoarder),
            json!({ "screening_id": other["id"], "seats": ["A1"] }),
        )
        .await;
    assert_eq!(
        too_many_holds.status,
        StatusCode::CONFLICT,
        "{:?}",
        too_many_holds.body
    );
    assert!(
        too_many_holds
            .message()
            .contains("already hold 2 unpaid reservations"),
        "{:?}",
        too_many_holds.body
    );
    // Everyone else still books.
    let ada = app.buyer("ada@example.org").await;
    let booked = app
        .post(
            "/api/reservations",
            Some(&ada),
            json!({ "screening_id": id, "seats": ["C1", "C2", "C3"] }),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{:?}", booked.body);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("movies_reservations_refused_limits_total 2"),
        "{metrics}"
    );
}

both_backends!(
    holds_are_limited,
    holds_are_limited_per_buyer_and_per_screening
);
