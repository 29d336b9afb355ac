//! Scheduling straight against the store, on SQLite and on PostgreSQL: concurrency that the
//! HTTP tests can hardly line up, since each request first asks two other services.

use futures::future::join_all;

use super::*;
use crate::api::Id;
use crate::scratch_database::Scratch;
use crate::ServiceName;

const HOUR: i64 = 3_600_000;

fn film() -> Movie {
    Movie {
        id: "00000000-0000-4000-8000-00000000000f".into(),
        title: "The Raspberry Heist".into(),
        description: String::new(),
        duration_minutes: 100,
    }
}

fn cinema() -> Cinema {
    Cinema {
        id: "00000000-0000-4000-8000-00000000000c".into(),
        name: "Roxy".into(),
        city: "Testville".into(),
        halls: vec![Hall {
            name: "Main".into(),
            rows: 3,
            seats_per_row: 4,
        }],
    }
}

fn at(starts_at: i64) -> NewScreening {
    NewScreening {
        movie_id: Id::parse(&film().id).unwrap(),
        cinema_id: Id::parse(&cinema().id).unwrap(),
        hall: "Main".into(),
        starts_at,
        price_cents: 900,
    }
}

async fn stored(db: &Database) -> Vec<(i64, i64)> {
    sqlx::query("SELECT starts_at, ends_at FROM screenings ORDER BY starts_at")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get("starts_at"), row.get("ends_at")))
        .collect()
}

/// Forty schedulers at once, a minute apart, each overlapping all the others: one wins,
/// the rest are told which screening is in the way, and the table holds one screening.
async fn overlapping_schedulers_get_one_screening(scratch: Scratch) {
    let (movie, cinema) = (film(), cinema());
    let start = 30 * 24 * HOUR;
    let attempts = join_all((0..40).map(|n| {
        let (db, movie, cinema) = (&scratch.db, &movie, &cinema);
        async move { insert(db, &at(start + n * 60_000), movie, cinema, &cinema.halls[0]).await }
    }))
    .await;
    let mut created = Vec::new();
    let mut refused = 0;
    for attempt in attempts {
        match attempt.unwrap() {
            Inserted::Created(screening) => created.push(screening),
            Inserted::Overlaps(_) => refused += 1,
        }
    }
    assert_eq!(created.len(), 1, "{:?}", stored(&scratch.db).await);
    assert_eq!(refused, 39);
    assert_eq!(stored(&scratch.db).await.len(), 1);

    // Back to back is not an overlap; a minute earlier is.
    let ends = stored(&scratch.db).await[0].1;
    assert!(matches!(
        insert(&scratch.db, &at(ends), &movie, &cinema, &cinema.halls[0])
            .await
            .unwrap(),
        Inserted::Created(_)
    ));
    assert!(matches!(
        insert(
            &scratch.db,
            &at(ends + 100 * 60_000 - 60_000),
            &movie,
            &cinema,
            &cinema.halls[0]
        )
        .await
        .unwrap(),
        Inserted::Overlaps(_)
    ));
    let rows = stored(&scratch.db).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[0].1 <= rows[1].0, "{rows:?}");
}

mod overlapping_schedulers_get_one_screening {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        let scratch = super::Scratch::sqlite(
            super::ServiceName::Screenings,
            &crate::services::screenings::MIGRATIONS,
        )
        .await;
        super::overlapping_schedulers_get_one_screening(scratch).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        let scratch = super::Scratch::postgres(
            super::ServiceName::Screenings,
            &crate::services::screenings::MIGRATIONS,
        )
        .await;
        super::overlapping_schedulers_get_one_screening(scratch).await
    }
}
