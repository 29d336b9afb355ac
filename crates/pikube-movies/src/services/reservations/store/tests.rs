//! The store under injected clock readings, on SQLite and on PostgreSQL.
//!
//! Each service reads its own clock, and a request may act on a reading taken a while ago;
//! these tests give the store such readings directly, which no HTTP test can arrange.

use std::collections::BTreeSet;

use sqlx::{Connection, Executor, Row};

use super::*;
use crate::clock::now_millis;
use crate::scratch_database::Scratch;
use crate::services::reservations::input::NewReservation;
use crate::ServiceName;

const TTL: i64 = 1_000;
/// For the tests about seats, not about how much one buyer may hold.
const NO_LIMITS: HoldLimits = HoldLimits {
    per_user: i64::MAX,
    seats_per_screening: i64::MAX,
};

async fn sqlite() -> Scratch {
    Scratch::sqlite(ServiceName::Reservations, &super::super::MIGRATIONS).await
}

async fn postgres() -> Scratch {
    Scratch::postgres(ServiceName::Reservations, &super::super::MIGRATIONS).await
}

fn new(seats: &[&str]) -> NewReservation {
    let mut seats: Vec<Seat> = seats.iter().map(|s| s.parse().unwrap()).collect();
    seats.sort();
    NewReservation {
        screening_id: crate::api::Id::parse("00000000-0000-4000-8000-000000000001").unwrap(),
        seats,
    }
}

async fn held(db: &Database, user: &str, seats: &[&str], now: i64) -> Reservation {
    match hold(db, user, &new(seats), 500, now, TTL, NO_LIMITS)
        .await
        .unwrap()
    {
        Held::Created(reservation) => reservation,
        Held::Taken(taken) => panic!("{seats:?} taken: {taken:?}"),
        Held::TooManyHolds { .. } | Held::TooManySeats { .. } => panic!("no limits here"),
    }
}

async fn claim_rows(db: &Database) -> Vec<(String, String, String)> {
    sqlx::query("SELECT seat, reservation_id, state FROM seat_claims ORDER BY seat")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.get::<String, _>("seat"),
                row.get::<String, _>("reservation_id"),
                row.get::<String, _>("state"),
            )
        })
        .collect()
}

async fn stored_status(db: &Database, id: &str) -> String {
    sqlx::query("SELECT status FROM reservations WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("status")
}

/// Runs an async test on both backends.
macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name(super::sqlite().await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name(super::postgres().await).await
            }
        }
    };
}

on_both!(one_buyer_holds_at_most_the_limits_even_all_at_once);
/// One account cannot hold a hall hold after hold (review M4): with 12 holds sent at once,
/// exactly the allowed number is created, on either database; a paid, cancelled or expired
/// hold no longer counts.
async fn one_buyer_holds_at_most_the_limits_even_all_at_once(scratch: Scratch) {
    let db = &scratch.db;
    let limits = HoldLimits {
        per_user: 3,
        seats_per_screening: 5,
    };
    let now = now_millis();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let db = db.clone();
        tasks.spawn(async move {
            let seat = format!("B{}", i + 1);
            hold(&db, "hoarder", &new(&[&seat]), 500, now, 60_000, limits).await
        });
    }
    let (mut created, mut refused) = (Vec::new(), 0);
    while let Some(done) = tasks.join_next().await {
        match done.unwrap().unwrap() {
            Held::Created(r) => created.push(r),
            Held::TooManyHolds { live } => {
                assert_eq!(live, 3);
                refused += 1;
            }
            Held::Taken(_) | Held::TooManySeats { .. } => panic!("distinct seats, 1 each"),
        }
    }
    assert_eq!((created.len(), refused), (3, 9));
    // Another buyer is not affected.
    assert!(matches!(
        hold(db, "ada", &new(&["C1"]), 500, now, 60_000, limits)
            .await
            .unwrap(),
        Held::Created(_)
    ));
    // Seats per screening: 3 held; 3 more would make 6 > 5, even as the 4th hold.
    let roomy = HoldLimits {
        per_user: 10,
        ..limits
    };
    assert!(matches!(
        hold(
            db,
            "hoarder",
            &new(&["D1", "D2", "D3"]),
            500,
            now,
            60_000,
            roomy
        )
        .await
        .unwrap(),
        Held::TooManySeats { held: 3 }
    ));
    // A paid one and a cancelled one stop counting; so do expired ones.
    confirm(db, &created[0].id, "pay-1", now).await.unwrap();
    cancel(db, &created[1].id, "hoarder", now).await.unwrap();
    assert!(matches!(
        hold(
            db,
            "hoarder",
            &new(&["D1", "D2", "D3"]),
            500,
            now,
            60_000,
            roomy
        )
        .await
        .unwrap(),
        Held::Created(_)
    ));
    let later = now + 61_000;
    assert!(matches!(
        hold(
            db,
            "hoarder",
            &new(&["E1", "E2", "E3", "E4", "E5"]),
            500,
            later,
            60_000,
            limits
        )
        .await
        .unwrap(),
        Held::Created(_)
    ));
}

/// A confirmation refused for lateness is final: a slower request for the same payment, with
/// an older clock reading from before the expiry, must not confirm the hold afterwards (the
/// payment was voided on the first answer).
async fn a_late_refusal_is_final(scratch: Scratch) {
    let db = &scratch.db;
    let start = now_millis() - 10_000;
    let reservation = held(db, "ada", &["A1", "A2"], start).await;
    let late = start + TTL + 1;
    assert!(matches!(
        confirm(db, &reservation.id, "pay-1", late).await.unwrap(),
        Confirmed::Lapsed(r) if r.status == "expired"
    ));
    assert_eq!(stored_status(db, &reservation.id).await, "expired");
    assert!(claim_rows(db).await.is_empty(), "its seats are free");
    let stale = start + TTL / 2;
    assert!(matches!(
        confirm(db, &reservation.id, "pay-1", stale).await.unwrap(),
        Confirmed::No(r) if r.status == "expired"
    ));
    assert_eq!(stored_status(db, &reservation.id).await, "expired");
}
on_both!(a_late_refusal_is_final);

/// A buyer whose clock says a hold is over takes one of its seats; the hold's confirmation,
/// on a clock that says it is still live, then sells nothing and ends the hold.
async fn a_confirmation_loses_to_a_takeover(scratch: Scratch) {
    let db = &scratch.db;
    let start = now_millis() - 10_000;
    let first = held(db, "ada", &["A1", "A2"], start).await;
    let second = held(db, "bob", &["A2", "A3"], start + TTL).await;
    let stale = start + TTL / 2;
    assert!(matches!(
        confirm(db, &first.id, "pay-1", stale).await.unwrap(),
        Confirmed::Lapsed(_)
    ));
    assert_eq!(stored_status(db, &first.id).await, "expired");
    let claims = claim_rows(db).await;
    assert_eq!(
        claims,
        [
            ("A2".to_owned(), second.id.clone(), "held".to_owned()),
            ("A3".to_owned(), second.id.clone(), "held".to_owned()),
        ],
        "A1 is released, A2 stays with the buyer who took it over"
    );
    assert!(matches!(
        confirm(db, &second.id, "pay-2", start + TTL + 1).await.unwrap(),
        Confirmed::Yes(r, true) if r.status == "confirmed"
    ));
    assert!(matches!(
        confirm(db, &second.id, "pay-2", start + TTL + 2)
            .await
            .unwrap(),
        Confirmed::Yes(_, false)
    ));
    assert!(matches!(
        confirm(db, &second.id, "pay-3", start + TTL + 2).await.unwrap(),
        Confirmed::No(r) if r.payment_id.as_deref() == Some("pay-2")
    ));
}
on_both!(a_confirmation_loses_to_a_takeover);

/// Expiry and cancellation free only what the hold still claims, and a cancellation that
/// comes too late is written down as the expiry it is.
async fn releases_free_only_their_own_seats(scratch: Scratch) {
    let db = &scratch.db;
    let start = now_millis() - 10_000;
    let lapsed = held(db, "ada", &["B1", "B2"], start).await;
    let taker = held(db, "bob", &["B2"], start + TTL).await;
    let late = held(db, "cy", &["C1"], start).await;
    let live = held(db, "dee", &["D1"], now_millis()).await;
    assert!(matches!(
        cancel(db, &late.id, "cy", start + TTL).await.unwrap(),
        Cancelled::Lapsed
    ));
    assert_eq!(stored_status(db, &late.id).await, "expired");
    assert!(matches!(
        cancel(db, &live.id, "someone else", now_millis())
            .await
            .unwrap(),
        Cancelled::Missing
    ));
    assert_eq!(expire_holds(db, start + TTL + 1).await.unwrap(), 1);
    assert_eq!(stored_status(db, &lapsed.id).await, "expired");
    assert_eq!(stored_status(db, &taker.id).await, "held");
    let seats: Vec<String> = claim_rows(db).await.into_iter().map(|c| c.0).collect();
    assert_eq!(seats, ["B2", "D1"]);
    assert!(matches!(
        cancel(db, &live.id, "dee", now_millis()).await.unwrap(),
        Cancelled::Yes
    ));
    assert!(matches!(
        cancel(db, &live.id, "dee", now_millis()).await.unwrap(),
        Cancelled::Already
    ));
}
on_both!(releases_free_only_their_own_seats);

/// Everything at once on overlapping seats: buyers taking over lapsed holds, confirmations
/// (some with stale clock readings), cancellations and the sweeper. Every transaction takes
/// its seats in seat order, so none may fail (PostgreSQL would report a deadlock), and the
/// claims must end consistent with the reservations.
async fn overlapping_work_never_deadlocks(scratch: Scratch) {
    let db = &scratch.db;
    let start = now_millis() - 10_000;
    let rows = ["A", "B", "C"];
    let span = |i: usize, width: usize| -> Vec<String> {
        let row = rows[i % rows.len()];
        (0..width)
            .map(|k| format!("{row}{}", 1 + (i / rows.len() + k * 3) % 12))
            .collect()
    };
    // Lapsed holds on disjoint seats, to be fought over.
    let mut lapsed = Vec::new();
    for i in 0..12 {
        let seats = span(i, 3);
        let seats: Vec<&str> = seats.iter().map(String::as_str).collect();
        if let Held::Created(r) = hold(
            db,
            &format!("old{i}"),
            &new(&seats),
            500,
            start,
            TTL,
            NO_LIMITS,
        )
        .await
        .unwrap()
        {
            lapsed.push(r);
        }
    }
    assert!(!lapsed.is_empty());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..60 {
        let db = db.clone();
        let seats = span(i * 7 + 1, 1 + i % 4);
        tasks.spawn(async move {
            let seats: Vec<&str> = seats.iter().map(String::as_str).collect();
            let now = now_millis();
            match hold(
                &db,
                &format!("new{i}"),
                &new(&seats),
                500,
                now,
                60_000,
                NO_LIMITS,
            )
            .await?
            {
                Held::Created(r) if i % 2 == 0 => {
                    confirm(&db, &r.id, &format!("pay-new{i}"), now).await?;
                }
                Held::Created(r) if i % 5 == 1 => {
                    cancel(&db, &r.id, &format!("new{i}"), now).await?;
                }
                _ => {}
            }
            Ok::<_, sqlx::Error>(())
        });
    }
    for (i, reservation) in lapsed.iter().enumerate() {
        let db = db.clone();
        let id = reservation.id.clone();
        tasks.spawn(async move {
            // Half of them with a reading from before the hold ran out.
            let now = if i % 2 == 0 {
                start + TTL / 2
            } else {
                now_millis()
            };
            confirm(&db, &id, &format!("pay-old{i}"), now).await?;
            Ok(())
        });
    }
    for _ in 0..4 {
        let db = db.clone();
        tasks.spawn(async move {
            expire_holds(&db, now_millis()).await?;
            Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    let reservations: Vec<(String, String, String)> =
        sqlx::query("SELECT id, status, seats FROM reservations")
            .fetch_all(db.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get("id"), row.get("status"), row.get("seats")))
            .collect();
    let mut sold = BTreeSet::new();
    for (id, status, seats) in &reservations {
        if status == "confirmed" {
            for seat in seats.split(',') {
                assert!(sold.insert(seat.to_owned()), "{seat} sold twice");
                let claims = claim_rows(db).await;
                assert!(
                    claims.contains(&(seat.to_owned(), id.clone(), "sold".to_owned())),
                    "{seat} of confirmed {id} is not sold to it: {claims:?}"
                );
            }
        }
    }
    for (seat, owner, state) in claim_rows(db).await {
        let (_, status, seats) = reservations.iter().find(|r| r.0 == owner).unwrap();
        assert!(
            seats.split(',').any(|s| s == seat),
            "{seat} claimed by {owner}"
        );
        match state.as_str() {
            "sold" => assert_eq!(status, "confirmed"),
            _ => assert_eq!(status, "held", "{seat} held for a {status} reservation"),
        }
    }
}
on_both!(overlapping_work_never_deadlocks);

/// The sweeper and a buyer taking over lapsed seats, staged so that the buyer holds one seat
/// while the sweeper runs: a sweeper freeing every lapsed claim in one statement (in table
/// order, here A10 before A2) would take A10 and wait for A2 while the buyer, holding A2,
/// waits for A10, and PostgreSQL would fail one of them as a deadlock. Releasing one hold at a
/// time, in seat order, the buyer's way, there is no cycle. (SQLite has a single writer: no
/// row locks to wait on.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweeper_and_a_buyer_never_deadlock() {
    let scratch = postgres().await;
    let db = &scratch.db;
    let start = now_millis() - 10_000;
    let first = held(db, "ada", &["A10"], start).await;
    let second = held(db, "bob", &["A2"], start).await;
    // The buyer: what `hold` does for A2 and A10, one statement at a time.
    let mut buyer = sqlx::PgConnection::connect(&scratch.url).await.unwrap();
    let now = now_millis();
    let take = |seat: &'static str| {
        sqlx::query(
            "INSERT INTO seat_claims (screening_id, seat, reservation_id, state, expires_at) \
             VALUES ('00000000-0000-4000-8000-000000000001', $1, 'buyer', 'held', $2) \
             ON CONFLICT (screening_id, seat) DO UPDATE \
             SET reservation_id = excluded.reservation_id, state = 'held', expires_at = excluded.expires_at \
             WHERE seat_claims.state = 'held' AND seat_claims.expires_at <= $3 RETURNING seat",
        )
        .bind(seat)
        .bind(now + 60_000)
        .bind(now)
    };
    buyer.execute("BEGIN").await.unwrap();
    sqlx::query(
        "INSERT INTO reservations (id, user_id, screening_id, seats, seat_count, amount_cents, \
         status, expires_at, payment_id, created_at, updated_at) \
         VALUES ('buyer', 'cy', '00000000-0000-4000-8000-000000000001', 'A2,A10', 2, 1000, 'held', $1, NULL, $2, $2)",
    )
    .bind(now + 60_000)
    .bind(now)
    .execute(&mut buyer)
    .await
    .unwrap();
    take("A2").fetch_one(&mut buyer).await.unwrap();
    let sweeper = tokio::spawn({
        let db = db.clone();
        async move { expire_holds(&db, now_millis()).await }
    });
    // Until the sweeper waits for the buyer's A2.
    let mut watcher = sqlx::PgConnection::connect(&scratch.url).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(
            !sweeper.is_finished(),
            "the sweeper did not wait for the buyer's seat"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the sweeper never blocked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    take("A10")
        .fetch_one(&mut buyer)
        .await
        .expect("the buyer takes A10 over");
    buyer.execute("COMMIT").await.unwrap();
    assert_eq!(sweeper.await.unwrap().expect("the sweeper succeeds"), 2);
    assert_eq!(stored_status(db, &first.id).await, "expired");
    assert_eq!(stored_status(db, &second.id).await, "expired");
    let claims = claim_rows(db).await;
    assert_eq!(
        claims,
        [
            ("A10".to_owned(), "buyer".to_owned(), "held".to_owned()),
            ("A2".to_owned(), "buyer".to_owned(), "held".to_owned()),
        ]
    );
}

on_both!(the_database_clock_is_in_unix_milliseconds);
/// Holds are judged on the database's clock: on either database it reads Unix time in
/// milliseconds (this process shares the machine's clock with the test database, so the
/// two agree to within a second), and it moves.
async fn the_database_clock_is_in_unix_milliseconds(scratch: Scratch) {
    let db = &scratch.db;
    let first = db.now_millis().await.unwrap();
    let here = now_millis();
    assert!(
        (first - here).abs() < 1_000,
        "database {first}, here {here}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let later = db.now_millis().await.unwrap();
    assert!(later - first >= 40, "{first} then {later}");
}
