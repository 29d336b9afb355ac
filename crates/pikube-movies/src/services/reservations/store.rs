//! Reservations and seat claims. Every rule that keeps a seat from being sold twice is a
//! constraint or a conditional write inside a transaction; nothing here depends on timing.
//! Whether a hold has expired is judged on the database's clock (`Database::now_millis`),
//! the one clock every replica shares.

mod ending;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::input::NewReservation;
use crate::clock::format_rfc3339;
use crate::database::Database;
use crate::seat::Seat;

pub use self::ending::{cancel, confirm, expire_holds};

/// A reservation as the API shows it (and as payments reads it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reservation {
    #[schema(value_type = crate::api::Id)]
    pub id: String,
    #[schema(value_type = crate::api::Id)]
    pub user_id: String,
    #[schema(value_type = crate::api::Id)]
    pub screening_id: String,
    /// Row by row.
    #[schema(value_type = Vec<crate::seat::Seat>, min_items = 1)]
    pub seats: Vec<String>,
    /// `held`, `confirmed`, `cancelled` or `expired`.
    #[schema(schema_with = status_schema)]
    pub status: String,
    /// What paying it costs.
    #[schema(minimum = 1)]
    pub amount_cents: i64,
    /// RFC 3339, UTC: when an unpaid hold ends.
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// The payment that confirmed it.
    #[schema(value_type = Option<crate::api::Id>)]
    pub payment_id: Option<String>,
}

fn status_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["held", "confirmed", "cancelled", "expired"]))
        .build()
}

pub enum Held {
    Created(Reservation),
    /// Someone else holds or bought these seats.
    Taken(Vec<Seat>),
    /// The buyer already has `live` holds, the most [`HoldLimits::per_user`] allows.
    TooManyHolds {
        live: i64,
    },
    /// With these seats the buyer would hold more of this screening than
    /// [`HoldLimits::seats_per_screening`] allows; `held` are held already.
    TooManySeats {
        held: i64,
    },
}

/// How much one buyer may hold at once, so that one account cannot hold a whole hall
/// unpaid, hold after hold (security review M4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldLimits {
    /// Live (unpaid, unexpired) reservations per buyer.
    pub per_user: i64,
    /// Seats one buyer holds in one screening, over all live reservations.
    pub seats_per_screening: i64,
}

pub enum Confirmed {
    /// Confirmed by this payment: now (`true`), or earlier (`false`, a repeat).
    Yes(Reservation, bool),
    /// Not confirmable: expired, cancelled, paid by another payment. Says which.
    No(Reservation),
    /// Not confirmable: the hold ran out, and this call wrote down its expiry.
    Lapsed(Reservation),
    Missing,
}

pub enum Cancelled {
    Yes,
    /// The hold had run out: this call wrote down its expiry instead.
    Lapsed,
    /// Already cancelled or expired: nothing to do.
    Already,
    Paid,
    Missing,
}

const COLUMNS: &str =
    "id, user_id, screening_id, seats, status, amount_cents, expires_at, payment_id";

fn reservation_of(row: &sqlx::any::AnyRow, now: i64) -> Result<Reservation, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    let seats: String = row.try_get("seats")?;
    Ok(Reservation {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        screening_id: row.try_get("screening_id")?,
        seats: seats.split(',').map(str::to_owned).collect(),
        // A hold past its time is expired even before the sweeper has written it down.
        status: if status == "held" && expires_at <= now {
            "expired".to_owned()
        } else {
            status
        },
        amount_cents: row.try_get("amount_cents")?,
        expires_at: format_rfc3339(expires_at),
        payment_id: row.try_get("payment_id")?,
    })
}

pub async fn by_id(db: &Database, id: &str) -> Result<Option<Reservation>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM reservations WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    let now = db.now_millis().await?;
    row.as_ref().map(|row| reservation_of(row, now)).transpose()
}

/// Holds `new.seats` for `user_id` until `now + hold_millis`, all or none. A seat is free if
/// nobody claims it or its hold has expired; the claim takes it over in one statement.
///
/// Under PostgreSQL's READ COMMITTED the upsert is still exact: a buyer racing another for a
/// seat waits on the other's uncommitted claim, then either inserts (the other rolled back)
/// or takes the conflict path, where the `WHERE` is evaluated on the locked, latest committed
/// version of the claim, never on a stale snapshot. So a claim changes hands only when it is,
/// at that moment, an expired hold.
pub async fn hold(
    db: &Database,
    user_id: &str,
    new: &NewReservation,
    price_cents: i64,
    now: i64,
    hold_millis: i64,
    limits: HoldLimits,
) -> Result<Held, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let expires_at = now + hold_millis;
    let labels: Vec<String> = new.seats.iter().map(Seat::to_string).collect();
    let amount_cents = price_cents * new.seats.len() as i64;
    let mut transaction = db.pool().begin().await?;
    // The buyer's row first: their other holds wait here until this one is decided.
    sqlx::query(
        "INSERT INTO hold_owners (user_id, touched_at) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE SET touched_at = excluded.touched_at",
    )
    .bind(user_id)
    .bind(now)
    .execute(&mut *transaction)
    .await?;
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM reservations WHERE user_id = $1 AND status = 'held' AND expires_at > $2",
    )
    .bind(user_id)
    .bind(now)
    .fetch_one(&mut *transaction)
    .await?;
    if live >= limits.per_user {
        transaction.rollback().await?;
        return Ok(Held::TooManyHolds { live });
    }
    let held: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(seat_count), 0) AS BIGINT) FROM reservations \
         WHERE user_id = $1 AND screening_id = $2 AND status = 'held' AND expires_at > $3",
    )
    .bind(user_id)
    .bind(new.screening_id.as_str())
    .bind(now)
    .fetch_one(&mut *transaction)
    .await?;
    if held + new.seats.len() as i64 > limits.seats_per_screening {
        transaction.rollback().await?;
        return Ok(Held::TooManySeats { held });
    }
    sqlx::query(
        "INSERT INTO reservations (id, user_id, screening_id, seats, seat_count, amount_cents, status, \
         expires_at, payment_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'held', $7, NULL, $8, $8)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(new.screening_id.as_str())
    .bind(labels.join(","))
    .bind(new.seats.len() as i64)
    .bind(amount_cents)
    .bind(expires_at)
    .bind(now)
    .execute(&mut *transaction)
    .await?;
    let mut taken = Vec::new();
    // In seat order, so that two buyers of overlapping seats lock them in the same order.
    for (seat, label) in new.seats.iter().zip(&labels) {
        let claimed = sqlx::query(
            "INSERT INTO seat_claims (screening_id, seat, reservation_id, state, expires_at) \
             VALUES ($1, $2, $3, 'held', $4) \
             ON CONFLICT (screening_id, seat) DO UPDATE \
             SET reservation_id = excluded.reservation_id, state = 'held', expires_at = excluded.expires_at \
             WHERE seat_claims.state = 'held' AND seat_claims.expires_at <= $5 \
             RETURNING seat",
        )
        .bind(new.screening_id.as_str())
        .bind(label)
        .bind(&id)
        .bind(expires_at)
        .bind(now)
        .fetch_optional(&mut *transaction)
        .await?;
        if claimed.is_none() {
            taken.push(*seat);
        }
    }
    if !taken.is_empty() {
        transaction.rollback().await?;
        return Ok(Held::Taken(taken));
    }
    transaction.commit().await?;
    Ok(Held::Created(Reservation {
        id,
        user_id: user_id.to_owned(),
        screening_id: new.screening_id.to_string(),
        seats: labels,
        status: "held".to_owned(),
        amount_cents,
        expires_at: format_rfc3339(expires_at),
        payment_id: None,
    }))
}

/// The seats of a screening that are sold or held by a live hold.
pub async fn claims(
    db: &Database,
    screening_id: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seat, state FROM seat_claims WHERE screening_id = $1 AND (state = 'sold' OR expires_at > $2)",
    )
    .bind(screening_id)
    .bind(db.now_millis().await?)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("seat")?, row.try_get("state")?)))
        .collect()
}

/// The user's reservations, newest first.
pub async fn of_user(db: &Database, user_id: &str) -> Result<Vec<Reservation>, sqlx::Error> {
    let now = db.now_millis().await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM reservations WHERE user_id = $1 ORDER BY created_at DESC LIMIT 100"
    ))
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(|row| reservation_of(row, now)).collect()
}
