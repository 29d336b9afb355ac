//! Unpaid holds run out, on SQLite and on PostgreSQL: their seats are free to take at once,
//! the reservation reads expired, paying for it charges nothing, and the sweeper writes it
//! down (and counts it).

use crate::support;

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use support::{eventually, metric, uuid_like, Backend, TestApp};

const HOLD: Duration = Duration::from_secs(2);
const WITHIN: Duration = Duration::from_secs(20);

async fn unpaid_hold_expires(backend: Backend) {
    let mut app = TestApp::start_with(backend, |config| config.hold_ttl = HOLD).await;
    let screening = app.screening(2, 4, 800).await;
    let screening_id = screening["id"].as_str().unwrap();
    let late = app.buyer(&format!("late{}@example.org", uuid_like())).await;
    let held = app.hold(&late, screening_id, &["A1", "A2"]).await;
    assert_eq!(held.status, StatusCode::CREATED, "{:?}", held.body);
    assert_eq!(held.body["status"], "held");
    let id = held.body["id"].as_str().unwrap();
    let expired_total = "movies_reservations_expired_total";
    assert_eq!(metric(&app.metrics().await, expired_total), 0.0);

    eventually("A1 is free again", WITHIN, || async {
        (app.seat_map(screening_id).await["A1"] == "free").then_some(())
    })
    .await;
    let next = app.buyer(&format!("next{}@example.org", uuid_like())).await;
    let taken = app.hold(&next, screening_id, &["A1"]).await;
    assert_eq!(taken.status, StatusCode::CREATED, "{:?}", taken.body);
    assert_eq!(app.reservation(&late, id).await["status"], "expired");

    let refused = app.pay(&late, &held.body, "tok_visa", "too-late").await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(refused.body["error"]["status"], "expired");
    let ledger = app.ledger().await;
    assert!(ledger.payments_for(id).is_empty(), "nothing charged");
    ledger.assert_consistent(true);

    eventually("the sweeper writes the expiry down", WITHIN, || async {
        let swept = app.ledger().await.reservation(id).status == "expired";
        let counted = metric(&app.metrics().await, expired_total) == 1.0;
        (swept && counted).then_some(())
    })
    .await;
    let cancelled = app
        .request(
            reqwest::Method::DELETE,
            &format!("/api/reservations/{id}"),
            Some(&late),
            None,
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::NO_CONTENT);
    assert_eq!(app.reservation(&late, id).await["status"], "expired");

    let paid = app.pay(&next, &taken.body, "tok_visa", "in-time").await;
    assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);
    let seats = app.seat_map(screening_id).await;
    assert_eq!(
        (seats["A1"].as_str(), seats["A2"].as_str()),
        ("sold", "free")
    );
    let ledger = app.ledger().await;
    ledger.assert_consistent(true);
    assert!(ledger.claims.iter().all(|c| c.reservation_id != id));
    let metrics = app.metrics().await;
    assert_eq!(metric(&metrics, expired_total), 1.0);
    assert_eq!(
        metric(&metrics, "movies_payments_total{outcome=\"succeeded\"}"),
        1.0
    );
}

both_backends!(
    an_unpaid_hold_expires_and_its_seats_are_sold_again,
    unpaid_hold_expires
);

/// Lapsed holds fought over all at once: new buyers take overlapping seats (and pay at once),
/// while the first buyers try to pay for their lapsed holds. However that interleaves, no
/// seat is sold twice and nobody pays for a seat they did not get.
async fn lapsed_holds_fought_over(backend: Backend) {
    let mut app = TestApp::start_with(backend, |config| config.hold_ttl = HOLD).await;
    let screening = app.screening(2, 8, 500).await;
    let screening_id = screening["id"].as_str().unwrap().to_owned();
    let buyers = app.buyers(&format!("fight{}-", uuid_like()), 40).await;
    let pair = |n: usize| {
        let row = [b'A', b'B'][n % 2] as char;
        let first = 1 + 2 * ((n / 2) % 4);
        vec![format!("{row}{first}"), format!("{row}{}", first + 1)]
    };
    let mut lapsed = Vec::new();
    for (n, buyer) in buyers.iter().take(8).enumerate() {
        let seats = pair(n);
        let seats: Vec<&str> = seats.iter().map(String::as_str).collect();
        let held = app.hold(buyer, &screening_id, &seats).await;
        assert_eq!(held.status, StatusCode::CREATED, "{:?}", held.body);
        lapsed.push((buyer.clone(), held.body));
    }
    eventually("every first hold lapses", WITHIN, || async {
        let seats = app.seat_map(&screening_id).await;
        seats.values().all(|s| s == "free").then_some(())
    })
    .await;

    // Windows of three seats, shifted by one: each overlaps two lapsed pairs.
    let window = |n: usize| {
        let row = [b'A', b'B'][n % 2] as char;
        let first = 1 + (n / 2) % 6;
        (first..first + 3)
            .map(|s| format!("{row}{s}"))
            .collect::<Vec<_>>()
    };
    let app = &app;
    let screening_id = screening_id.as_str();
    let fresh = join_all(buyers.iter().enumerate().map(|(n, buyer)| async move {
        let seats = window(n);
        let seats: Vec<&str> = seats.iter().map(String::as_str).collect();
        let held = app.hold(buyer, screening_id, &seats).await;
        match held.status {
            StatusCode::CREATED => {
                let paid = app
                    .pay(buyer, &held.body, "tok_visa", &format!("new-{n}"))
                    .await;
                Some((held.body, paid))
            }
            StatusCode::CONFLICT => None,
            other => panic!("holding {seats:?}: {other} {:?}", held.body),
        }
    }));
    let late = join_all(
        lapsed
            .iter()
            .enumerate()
            .map(|(n, (buyer, held))| async move {
                app.pay(buyer, held, "tok_visa", &format!("old-{n}")).await
            }),
    );
    let (fresh, late) = futures::join!(fresh, late);

    for answer in &late {
        assert_eq!(answer.status, StatusCode::CONFLICT, "{:?}", answer.body);
    }
    let mut won = 0;
    for (held, paid) in fresh.iter().flatten() {
        // Paid in time (the usual case), or refused and voided if the hold ran out first.
        match paid.status {
            StatusCode::CREATED => won += 1,
            StatusCode::CONFLICT => {}
            other => panic!("paying {held:?}: {other} {:?}", paid.body),
        }
    }
    assert!(won > 0, "someone got seats");
    let ledger = app.ledger().await;
    ledger.assert_consistent(true);
    for (_, held) in &lapsed {
        let id = held["id"].as_str().unwrap();
        assert_ne!(ledger.reservation(id).status, "confirmed");
        assert!(
            ledger
                .payments_for(id)
                .iter()
                .all(|p| p.status != "captured"),
            "money for a lapsed hold"
        );
    }
    let sold = ledger.sold(screening_id);
    let seats = app.seat_map(screening_id).await;
    for (seat, state) in seats {
        assert_eq!(state == "sold", sold.contains_key(&seat), "{seat} {state}");
    }
}

both_backends!(
    lapsed_holds_fought_over_sell_each_seat_once,
    lapsed_holds_fought_over
);
