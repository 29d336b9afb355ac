//! The payments table: one row per (user, idempotency key), at most one live payment per
//! reservation.

use sqlx::Row;

use crate::clock::now_millis;
use crate::database::{is_unique_violation, Database};

#[derive(Debug, Clone)]
pub struct PaymentRow {
    pub id: String,
    pub user_id: String,
    pub request_hash: String,
    pub reservation_id: String,
    pub amount_cents: i64,
    pub status: String,
    pub response: Option<(u16, String)>,
    pub created_at: i64,
}

pub enum Inserted {
    /// The row as written (no need to read it back).
    Yes(PaymentRow),
    /// The user already used this key (another request raced this one).
    KeyUsed,
    /// The reservation already has a live payment.
    AlreadyPaid,
}

const COLUMNS: &str = "id, user_id, request_hash, reservation_id, amount_cents, status, response_status, response_body, created_at";

fn payment_of(row: &sqlx::any::AnyRow) -> Result<PaymentRow, sqlx::Error> {
    let status: Option<i64> = row.try_get("response_status")?;
    let body: Option<String> = row.try_get("response_body")?;
    Ok(PaymentRow {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        request_hash: row.try_get("request_hash")?,
        reservation_id: row.try_get("reservation_id")?,
        amount_cents: row.try_get("amount_cents")?,
        status: row.try_get("status")?,
        response: status.zip(body).map(|(status, body)| (status as u16, body)),
        created_at: row.try_get("created_at")?,
    })
}

pub async fn by_key(
    db: &Database,
    user_id: &str,
    key: &str,
) -> Result<Option<PaymentRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payments WHERE user_id = $1 AND idempotency_key = $2"
    ))
    .bind(user_id)
    .bind(key)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(payment_of).transpose()
}

pub async fn by_id(db: &Database, id: &str) -> Result<Option<PaymentRow>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM payments WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(payment_of).transpose()
}

/// A payment to record: authorised (its answer comes when it is settled), or declined (its
/// answer is known at once, and stored with it).
pub struct NewPayment<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub key: &'a str,
    pub request_hash: &'a str,
    pub reservation_id: &'a str,
    pub amount_cents: i64,
    pub status: &'a str,
    pub response: Option<(u16, &'a str)>,
}

/// Records `new`, unless its key is used or its reservation has a live payment. A declined
/// payment's answer goes in the same statement, so that a retry racing it can never find it
/// without one.
pub async fn insert(db: &Database, new: &NewPayment<'_>) -> Result<Inserted, sqlx::Error> {
    let now = now_millis();
    let result = sqlx::query(
        "INSERT INTO payments (id, user_id, idempotency_key, request_hash, reservation_id, amount_cents, \
         status, response_status, response_body, attempts, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10)",
    )
    .bind(new.id)
    .bind(new.user_id)
    .bind(new.key)
    .bind(new.request_hash)
    .bind(new.reservation_id)
    .bind(new.amount_cents)
    .bind(new.status)
    .bind(new.response.map(|(status, _)| i64::from(status)))
    .bind(new.response.map(|(_, body)| body))
    .bind(now)
    .execute(db.pool())
    .await;
    match result {
        Ok(_) => Ok(Inserted::Yes(PaymentRow {
            id: new.id.to_owned(),
            user_id: new.user_id.to_owned(),
            request_hash: new.request_hash.to_owned(),
            reservation_id: new.reservation_id.to_owned(),
            amount_cents: new.amount_cents,
            status: new.status.to_owned(),
            response: new.response.map(|(status, body)| (status, body.to_owned())),
            created_at: now,
        })),
        Err(error) if is_unique_violation(&error) => {
            // Which constraint: the key, or the one-live-payment index? (A retry with the
            // same key may break both; the key decides, so that it gets the same answer.)
            Ok(if by_key(db, new.user_id, new.key).await?.is_some() {
                Inserted::KeyUsed
            } else {
                Inserted::AlreadyPaid
            })
        }
        Err(error) => Err(error),
    }
}

/// Settles an authorised payment as `status` with the answer retries will get. Only an
/// `authorized` payment moves, so two settlers racing agree on the first one's outcome.
pub async fn settle(
    db: &Database,
    id: &str,
    status: &str,
    response: (u16, &str),
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE payments SET status = $2, response_status = $3, response_body = $4, updated_at = $5 \
         WHERE id = $1 AND status = 'authorized'",
    )
    .bind(id)
    .bind(status)
    .bind(i64::from(response.0))
    .bind(response.1)
    .bind(now_millis())
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Authorised payments whose reservation is not confirmed yet, oldest first.
pub async fn unsettled(db: &Database, limit: i64) -> Result<Vec<PaymentRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payments WHERE status = 'authorized' ORDER BY updated_at LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(payment_of).collect()
}

pub async fn count_attempt(db: &Database, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE payments SET attempts = attempts + 1, updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now_millis())
        .execute(db.pool())
        .await?;
    Ok(())
}
