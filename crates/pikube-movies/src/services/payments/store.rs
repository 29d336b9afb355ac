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
    Yes,
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

#[allow(clippy::too_many_arguments)]
pub async fn insert(
    db: &Database,
    id: &str,
    user_id: &str,
    key: &str,
    request_hash: &str,
    reservation_id: &str,
    amount_cents: i64,
    status: &str,
) -> Result<Inserted, sqlx::Error> {
    let now = now_millis();
    let result = sqlx::query(
        "INSERT INTO payments (id, user_id, idempotency_key, request_hash, reservation_id, amount_cents, \
         status, response_status, response_body, attempts, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, 0, $8, $8)",
    )
    .bind(id)
    .bind(user_id)
    .bind(key)
    .bind(request_hash)
    .bind(reservation_id)
    .bind(amount_cents)
    .bind(status)
    .bind(now)
    .execute(db.pool())
    .await;
    match result {
        Ok(_) => Ok(Inserted::Yes),
        Err(error) if is_unique_violation(&error) => {
            // Which constraint: the key, or the one-live-payment index?
            Ok(if by_key(db, user_id, key).await?.is_some() {
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

/// Records the final answer of a payment that was never authorised (declined).
pub async fn record_response(
    db: &Database,
    id: &str,
    response: (u16, &str),
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE payments SET response_status = $2, response_body = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(i64::from(response.0))
        .bind(response.1)
        .bind(now_millis())
        .execute(db.pool())
        .await?;
    Ok(())
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
