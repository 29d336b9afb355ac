//! Hundreds of buyers at once, on SQLite and on PostgreSQL (there across three replicas of
//! every service on the same databases): a seat is sold once, a reservation paid once, and
//! the databases say so too, not only the API.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;
use support::server::Server;
use support::{metric, uuid_like, Backend, TestApp};

const BUYERS: usize = 200;

/// The app, and on PostgreSQL two more replicas of all six services on its databases: the
/// base URLs to spread the buyers over, and the replicas (kept running).
async fn replicated(backend: Backend) -> (TestApp, Vec<Server>, Vec<String>) {
    let app = TestApp::start(backend).await;
    let mut replicas = Vec::new();
    if backend == Backend::Postgres {
        replicas.push(app.replica().await);
        replicas.push(app.replica().await);
    }
    let bases = std::iter::once(app.base.clone())
        .chain(replicas.iter().map(|r| r.base.clone()))
        .collect();
    (app, replicas, bases)
}

/// The sum of one series over every server.
async fn total(app: &TestApp, replicas: &[Server], series: &str) -> f64 {
    let mut sum = metric(&app.metrics().await, series);
    for replica in replicas {
        sum += metric(&replica.metrics().await, series);
    }
    sum
}

fn labels(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list of seats: {value}"))
        .iter()
        .map(|s| s.as_str().expect("a seat label").to_owned())
        .collect()
}

async fn buyers_race(backend: Backend) {
    let (mut app, replicas, bases) = replicated(backend).await;
    let buyers = app.buyers(&format!("race{}-", uuid_like()), BUYERS).await;

    // 1. Everyone wants B3.
    let screening = app.screening(2, 5, 1200).await;
    let screening_id = screening["id"].as_str().unwrap();
    let replies = join_all(
        buyers
            .iter()
            .enumerate()
            .map(|(n, token)| app.hold_at(&bases[n % bases.len()], token, screening_id, &["B3"])),
    )
    .await;
    let winners: Vec<&Value> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .map(|r| &r.body)
        .collect();
    assert_eq!(winners.len(), 1, "B3 held by {winners:?}");
    for reply in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(reply.status, StatusCode::CONFLICT, "{:?}", reply.body);
        assert_eq!(
            labels(&reply.body["error"]["seats"]),
            ["B3"],
            "{:?}",
            reply.body
        );
    }
    let seats = app.seat_map(screening_id).await;
    for (seat, state) in &seats {
        let expected = if seat == "B3" { "held" } else { "free" };
        assert_eq!(state, expected, "{seat} in {seats:?}");
    }
    let ledger = app.ledger().await;
    let held: Vec<_> = ledger
        .claims
        .iter()
        .filter(|c| c.screening_id == screening_id)
        .collect();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].reservation_id, winners[0]["id"].as_str().unwrap());
    let stored = ledger
        .reservations
        .iter()
        .filter(|r| r.screening_id == screening_id)
        .count();
    assert_eq!(stored, 1, "the losers' reservations were rolled back");
    let conflicts = "movies_reservations_conflicts_total";
    assert_eq!(total(&app, &replicas, conflicts).await, (BUYERS - 1) as f64);
    assert_eq!(
        total(&app, &replicas, "movies_reservations_created_total").await,
        1.0
    );

    // 2. Overlapping windows of two or three seats in a 4 × 6 hall: every seat wanted by
    //    several buyers.
    let screening = app.screening(4, 6, 700).await;
    let screening_id = screening["id"].as_str().unwrap();
    let window = |n: usize| -> Vec<String> {
        let row = (b'A' + (n % 4) as u8) as char;
        let first = 1 + (n / 4) % 5;
        let width = if n % 3 == 1 && first <= 4 { 3 } else { 2 };
        (first..first + width)
            .map(|s| format!("{row}{s}"))
            .collect()
    };
    let replies = join_all(buyers.iter().enumerate().map(|(n, token)| {
        let seats = window(n);
        let base = &bases[n % bases.len()];
        let app = &app;
        async move {
            let seats: Vec<&str> = seats.iter().map(String::as_str).collect();
            app.hold_at(base, token, screening_id, &seats).await
        }
    }))
    .await;
    let mut held: BTreeMap<String, usize> = BTreeMap::new();
    let mut reservations = Vec::new();
    for (n, reply) in replies.iter().enumerate() {
        let wanted = window(n);
        match reply.status {
            StatusCode::CREATED => {
                assert_eq!(labels(&reply.body["seats"]), wanted);
                for seat in wanted {
                    assert!(held.insert(seat.clone(), n).is_none(), "{seat} held twice");
                }
                reservations.push((n, reply.body.clone()));
            }
            StatusCode::CONFLICT => {
                let taken = labels(&reply.body["error"]["seats"]);
                assert!(!taken.is_empty());
                assert!(
                    taken.iter().all(|s| wanted.contains(s)),
                    "{taken:?} ⊄ {wanted:?}"
                );
            }
            other => panic!("holding {wanted:?}: {other} {:?}", reply.body),
        }
    }
    assert!(
        reservations.len() >= 6,
        "{} reservations",
        reservations.len()
    );
    let refused = BUYERS - reservations.len();
    assert_eq!(
        total(&app, &replicas, conflicts).await,
        (BUYERS - 1 + refused) as f64
    );

    // 3. At least 200 payment attempts at once: each buyer pays twice under one key (a
    //    double click) and several times under new keys (several tabs), spread over the
    //    servers; and a stranger tries to pay each reservation.
    let per_reservation = BUYERS.div_ceil(reservations.len()).max(4);
    let mut attempts = Vec::new();
    for (r, (n, reservation)) in reservations.iter().enumerate() {
        for attempt in 0..per_reservation {
            let key = if attempt < 2 {
                format!("double-{r}")
            } else {
                format!("tab-{r}-{attempt}")
            };
            attempts.push((r, buyers[*n].clone(), reservation, key));
        }
        let stranger = (n + 1) % BUYERS;
        attempts.push((
            r,
            buyers[stranger].clone(),
            reservation,
            format!("stranger-{r}"),
        ));
    }
    assert!(attempts.len() >= 200);
    let answers = join_all(
        attempts
            .iter()
            .enumerate()
            .map(|(i, (_, token, reservation, key))| {
                app.pay_at(&bases[i % bases.len()], token, reservation, "tok_visa", key)
            }),
    )
    .await;
    let mut paid: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    let mut doubles: BTreeMap<usize, Vec<(StatusCode, Value)>> = BTreeMap::new();
    for ((r, _, _, key), answer) in attempts.iter().zip(&answers) {
        if key.starts_with("stranger") {
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{:?}", answer.body);
            continue;
        }
        if key.starts_with("double") {
            doubles
                .entry(*r)
                .or_default()
                .push((answer.status, answer.body.clone()));
        }
        match answer.status {
            StatusCode::CREATED => {
                assert_eq!(answer.body["status"], "succeeded");
                paid.entry(*r).or_default().insert(key.clone());
            }
            StatusCode::CONFLICT => {}
            other => panic!("paying with {key}: {other} {:?}", answer.body),
        }
    }
    // One key, one outcome. (Two refusals may word it differently: a refusal records
    // nothing, so each is decided afresh.)
    for (r, answers) in &doubles {
        assert_eq!(answers.len(), 2, "reservation {r}");
        assert_eq!(
            answers[0].0, answers[1].0,
            "one key, two outcomes: {answers:?}"
        );
        if answers[0].0 == StatusCode::CREATED {
            assert_eq!(answers[0].1, answers[1].1, "one payment, two answers");
        }
    }
    for r in 0..reservations.len() {
        let keys = paid.get(&r).cloned().unwrap_or_default();
        assert_eq!(keys.len(), 1, "reservation {r} paid under {keys:?}");
    }

    // 4. Everything is sold once, and the databases agree.
    let seats = app.seat_map(screening_id).await;
    for (seat, state) in &seats {
        let expected = if held.contains_key(seat) {
            "sold"
        } else {
            "free"
        };
        assert_eq!(state, expected, "{seat}");
    }
    let ledger = app.ledger().await;
    ledger.assert_consistent(true);
    let sold = ledger.sold(screening_id);
    assert_eq!(
        sold.keys().cloned().collect::<BTreeSet<_>>(),
        held.keys().cloned().collect::<BTreeSet<_>>()
    );
    for (_, reservation) in &reservations {
        let id = reservation["id"].as_str().unwrap();
        assert_eq!(ledger.reservation(id).status, "confirmed");
        let payments = ledger.payments_for(id);
        assert_eq!(payments.len(), 1, "one charge for {id}: {payments:?}");
        assert_eq!(payments[0].status, "captured");
    }
    assert_eq!(
        total(
            &app,
            &replicas,
            "movies_payments_total{outcome=\"succeeded\"}"
        )
        .await,
        reservations.len() as f64
    );
    assert_eq!(
        total(&app, &replicas, "movies_reservations_confirmed_total").await,
        reservations.len() as f64
    );
}

both_backends!(buyers_race_for_seats_and_payments, buyers_race);

/// Admins racing to schedule one hall: every request overlaps every other (starts a minute
/// apart, 100-minute film), so exactly one may win, whichever replica each one reaches. A
/// hall showing two films at once would sell each physical seat twice.
async fn schedulers_race(backend: Backend) {
    const SCHEDULERS: usize = 40;
    let (mut app, _replicas, bases) = replicated(backend).await;
    let first = app.screening(3, 4, 900).await;
    let admin = app.admin().await;
    let day_after = support::time_in(std::time::Duration::from_secs(2 * 86_400));
    let base_minute: i64 = day_after[14..16].parse().unwrap();
    let replies = join_all((0..SCHEDULERS).map(|n| {
        // Same hour, minutes base..base+39 (mod 60 within the hour is fine: at most 59 off).
        let minute = (base_minute + n as i64) % 60;
        let starts_at = format!("{}{minute:02}:00Z", &day_after[..14]);
        let body = serde_json::json!({
            "movie_id": first["movie_id"], "cinema_id": first["cinema_id"],
            "hall": "Hall 1", "starts_at": starts_at, "price_cents": 900,
        });
        let base = bases[n % bases.len()].clone();
        let (app, admin) = (&app, &admin);
        async move {
            app.request_at(
                &base,
                reqwest::Method::POST,
                "/api/screenings",
                Some(admin),
                Some(body),
                &[],
            )
            .await
        }
    }))
    .await;
    let created: Vec<&Value> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .map(|r| &r.body)
        .collect();
    assert_eq!(created.len(), 1, "the hall was booked by {created:?}");
    for reply in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(reply.status, StatusCode::CONFLICT, "{:?}", reply.body);
        assert_eq!(
            reply.body["error"]["field"], "starts_at",
            "{:?}",
            reply.body
        );
    }

    // The screenings database agrees: two screenings in that hall, the first one (tomorrow)
    // and the winner, and they do not overlap.
    let db = app.database(pikube_movies::ServiceName::Screenings).await;
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT starts_at, ends_at FROM screenings WHERE cinema_id = $1 ORDER BY starts_at",
    )
    .bind(first["cinema_id"].as_str().unwrap())
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows[0].1 <= rows[1].0,
        "overlapping screenings stored: {rows:?}"
    );
}

both_backends!(schedulers_race_for_one_hall_and_one_wins, schedulers_race);
