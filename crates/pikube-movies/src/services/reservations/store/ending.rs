//! How holds end: confirmed by a payment, cancelled by their buyer, or expired. Each locks
//! the reservation, then its seat claims one by one in seat order, the order `hold` claims
//! them in, so that no two transactions ever wait for each other in a cycle (which
//! PostgreSQL would break by failing one of them).

use sqlx::Row;

use super::{by_id, Cancelled, Confirmed};
use crate::database::Database;
use crate::seat::Seat;

/// Turns a live hold into a sale for `payment_id`: the reservation and every one of its seat
/// claims, or nothing. Repeating it with the same payment is a no-op that answers yes.
pub async fn confirm(
    db: &Database,
    id: &str,
    payment_id: &str,
    now: i64,
) -> Result<Confirmed, sqlx::Error> {
    let mut transaction = db.pool().begin().await?;
    // One statement decides on the row's latest version: a live hold becomes confirmed, a
    // hold past its time becomes expired. Writing the expiry down, rather than only refusing,
    // matters: a slower request for the same payment, with an older clock reading, must not
    // confirm what this one refused, or the payment would be voided while its seats are sold.
    let decided = sqlx::query(
        "UPDATE reservations SET \
         status = CASE WHEN expires_at > $3 THEN 'confirmed' ELSE 'expired' END, \
         payment_id = CASE WHEN expires_at > $3 THEN $2 ELSE payment_id END, updated_at = $3 \
         WHERE id = $1 AND status = 'held' RETURNING status, screening_id, seats",
    )
    .bind(id)
    .bind(payment_id)
    .bind(now)
    .fetch_optional(&mut *transaction)
    .await?;
    let Some(decided) = decided else {
        transaction.rollback().await?;
        return decided_before(db, id, payment_id).await;
    };
    let status: String = decided.try_get("status")?;
    let screening_id: String = decided.try_get("screening_id")?;
    let seats = in_seat_order(&decided.try_get::<String, _>("seats")?);
    if status == "expired" {
        release_seats(&mut transaction, id, &screening_id, &seats).await?;
        transaction.commit().await?;
        return lapsed(db, id).await;
    }
    let mut sold = 0;
    // Seat by seat, in seat order (see the top of this file).
    for seat in &seats {
        sold += sqlx::query(
            "UPDATE seat_claims SET state = 'sold' \
             WHERE screening_id = $1 AND seat = $2 AND reservation_id = $3 AND state = 'held'",
        )
        .bind(&screening_id)
        .bind(seat)
        .bind(id)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
    }
    if sold as usize == seats.len() {
        transaction.commit().await?;
        let reservation = by_id(db, id).await?.ok_or(sqlx::Error::RowNotFound)?;
        return Ok(Confirmed::Yes(reservation, true));
    }
    // A seat was taken over after this hold expired on another replica's clock: the hold is
    // over, whatever this clock says.
    transaction.rollback().await?;
    let mut transaction = db.pool().begin().await?;
    let ended = sqlx::query(
        "UPDATE reservations SET status = 'expired', updated_at = $2 WHERE id = $1 AND status = 'held'",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *transaction)
    .await?
    .rows_affected();
    if ended == 1 {
        release_seats(&mut transaction, id, &screening_id, &seats).await?;
    }
    transaction.commit().await?;
    if ended == 1 {
        return lapsed(db, id).await;
    }
    decided_before(db, id, payment_id).await
}

/// The answer to a confirmation that found the reservation no longer held: yes if this very
/// payment confirmed it (a repeat), else why not.
async fn decided_before(
    db: &Database,
    id: &str,
    payment_id: &str,
) -> Result<Confirmed, sqlx::Error> {
    Ok(match by_id(db, id).await? {
        None => Confirmed::Missing,
        Some(reservation)
            if reservation.status == "confirmed"
                && reservation.payment_id.as_deref() == Some(payment_id) =>
        {
            Confirmed::Yes(reservation, false)
        }
        Some(reservation) => Confirmed::No(reservation),
    })
}

async fn lapsed(db: &Database, id: &str) -> Result<Confirmed, sqlx::Error> {
    let reservation = by_id(db, id).await?.ok_or(sqlx::Error::RowNotFound)?;
    Ok(Confirmed::Lapsed(reservation))
}

/// Cancels `user_id`'s unpaid hold and frees its seats; a hold past its time is written down
/// as expired instead.
pub async fn cancel(
    db: &Database,
    id: &str,
    user_id: &str,
    now: i64,
) -> Result<Cancelled, sqlx::Error> {
    let mut transaction = db.pool().begin().await?;
    let ended = sqlx::query(
        "UPDATE reservations SET \
         status = CASE WHEN expires_at > $3 THEN 'cancelled' ELSE 'expired' END, updated_at = $3 \
         WHERE id = $1 AND user_id = $2 AND status = 'held' RETURNING status, screening_id, seats",
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .fetch_optional(&mut *transaction)
    .await?;
    if let Some(ended) = ended {
        let status: String = ended.try_get("status")?;
        let screening_id: String = ended.try_get("screening_id")?;
        let seats = in_seat_order(&ended.try_get::<String, _>("seats")?);
        release_seats(&mut transaction, id, &screening_id, &seats).await?;
        transaction.commit().await?;
        return Ok(if status == "expired" {
            Cancelled::Lapsed
        } else {
            Cancelled::Yes
        });
    }
    transaction.rollback().await?;
    Ok(match by_id(db, id).await? {
        Some(reservation) if reservation.user_id == user_id => match reservation.status.as_str() {
            "confirmed" => Cancelled::Paid,
            _ => Cancelled::Already,
        },
        _ => Cancelled::Missing,
    })
}

/// Marks holds past their time expired and frees their seats. Returns how many expired.
///
/// One hold per transaction, each locking its reservation then its seats in seat order like
/// `confirm` and `cancel` do: one statement over every expired claim would lock them in the
/// table's order, and could deadlock with a buyer taking those very seats over.
pub async fn expire_holds(db: &Database, now: i64) -> Result<u64, sqlx::Error> {
    let lapsed = sqlx::query(
        "SELECT id FROM reservations WHERE status = 'held' AND expires_at <= $1 \
         ORDER BY expires_at LIMIT 500",
    )
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    let mut expired = 0;
    for row in &lapsed {
        let id: String = row.try_get("id")?;
        let mut transaction = db.pool().begin().await?;
        let ended = sqlx::query(
            "UPDATE reservations SET status = 'expired', updated_at = $2 \
             WHERE id = $1 AND status = 'held' AND expires_at <= $2 RETURNING screening_id, seats",
        )
        .bind(&id)
        .bind(now)
        .fetch_optional(&mut *transaction)
        .await?;
        if let Some(ended) = ended {
            let screening_id: String = ended.try_get("screening_id")?;
            let seats = in_seat_order(&ended.try_get::<String, _>("seats")?);
            release_seats(&mut transaction, &id, &screening_id, &seats).await?;
            expired += 1;
        }
        transaction.commit().await?;
    }
    Ok(expired)
}

/// A reservation's seat labels in seat order (row by row, seat by seat), the order every
/// transaction locks seat claims in.
fn in_seat_order(seats: &str) -> Vec<String> {
    let mut parsed: Vec<Seat> = seats.split(',').filter_map(|s| s.parse().ok()).collect();
    parsed.sort();
    parsed.dedup();
    parsed.iter().map(Seat::to_string).collect()
}

/// Frees the seats reservation `id` still holds (not those another buyer has taken over).
async fn release_seats(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    screening_id: &str,
    seats: &[String],
) -> Result<(), sqlx::Error> {
    for seat in seats {
        sqlx::query(
            "DELETE FROM seat_claims \
             WHERE screening_id = $1 AND seat = $2 AND reservation_id = $3 AND state = 'held'",
        )
        .bind(screening_id)
        .bind(seat)
        .bind(id)
        .execute(&mut **transaction)
        .await?;
    }
    Ok(())
}
