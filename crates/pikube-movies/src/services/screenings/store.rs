//! The screenings table.

use sqlx::Row;

use super::input::{NewScreening, ScreeningFilter};
use super::Screening;
use crate::clock::{format_rfc3339, now_millis};
use crate::database::Database;
use crate::services::cinemas::{Cinema, Hall};
use crate::services::movies::Movie;

pub enum Inserted {
    Created(Screening),
    /// The hall shows another screening in that time.
    Overlaps(Screening),
}

const COLUMNS: &str = "id, movie_id, movie_title, cinema_id, cinema_name, city, hall, seat_rows, \
                       seats_per_row, starts_at, ends_at, price_cents";

fn screening_of(row: &sqlx::any::AnyRow) -> Result<Screening, sqlx::Error> {
    Ok(Screening {
        id: row.try_get("id")?,
        movie_id: row.try_get("movie_id")?,
        movie_title: row.try_get("movie_title")?,
        cinema_id: row.try_get("cinema_id")?,
        cinema_name: row.try_get("cinema_name")?,
        city: row.try_get("city")?,
        hall: row.try_get("hall")?,
        rows: row.try_get("seat_rows")?,
        seats_per_row: row.try_get("seats_per_row")?,
        starts_at: format_rfc3339(row.try_get("starts_at")?),
        ends_at: format_rfc3339(row.try_get("ends_at")?),
        price_cents: row.try_get("price_cents")?,
    })
}

pub async fn by_id(db: &Database, id: &str) -> Result<Option<Screening>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM screenings WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(screening_of).transpose()
}

pub async fn list(db: &Database, filter: &ScreeningFilter) -> Result<Vec<Screening>, sqlx::Error> {
    let mut conditions = Vec::new();
    let mut texts = Vec::new();
    if let Some(movie_id) = &filter.movie_id {
        texts.push(movie_id.to_string());
        conditions.push(format!("movie_id = ${}", texts.len()));
    }
    if let Some(city) = &filter.city {
        texts.push(city.clone());
        conditions.push(format!("lower(city) = lower(${})", texts.len()));
    }
    let mut numbers = Vec::new();
    if let Some((start, end)) = filter.day {
        numbers.extend([start, end]);
        conditions.push(format!(
            "starts_at >= ${} AND starts_at < ${}",
            texts.len() + 1,
            texts.len() + 2
        ));
    }
    let mut sql = format!("SELECT {COLUMNS} FROM screenings");
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(" ORDER BY starts_at, cinema_name, hall LIMIT 500");
    let mut query = sqlx::query(&sql);
    for text in &texts {
        query = query.bind(text);
    }
    for number in numbers {
        query = query.bind(number);
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter().map(screening_of).collect()
}

pub async fn insert(
    db: &Database,
    new: &NewScreening,
    movie: &Movie,
    cinema: &Cinema,
    hall: &Hall,
) -> Result<Inserted, sqlx::Error> {
    let ends_at = new.starts_at + movie.duration_minutes * 60_000;
    let mut transaction = db.pool().begin().await?;
    // Serialises scheduling per hall: see migrations/screenings/0002_hall_schedules.sql.
    sqlx::query(
        "INSERT INTO hall_schedules (cinema_id, hall, changes) VALUES ($1, $2, 1) \
         ON CONFLICT (cinema_id, hall) DO UPDATE SET changes = hall_schedules.changes + 1",
    )
    .bind(&cinema.id)
    .bind(&hall.name)
    .execute(&mut *transaction)
    .await?;
    let overlapping = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM screenings WHERE cinema_id = $1 AND hall = $2 AND starts_at < $3 AND ends_at > $4 LIMIT 1"
    ))
    .bind(&cinema.id)
    .bind(&hall.name)
    .bind(ends_at)
    .bind(new.starts_at)
    .fetch_optional(&mut *transaction)
    .await?;
    if let Some(row) = overlapping {
        return Ok(Inserted::Overlaps(screening_of(&row)?));
    }
    let screening = Screening {
        id: uuid::Uuid::new_v4().to_string(),
        movie_id: movie.id.clone(),
        movie_title: movie.title.clone(),
        cinema_id: cinema.id.clone(),
        cinema_name: cinema.name.clone(),
        city: cinema.city.clone(),
        hall: hall.name.clone(),
        rows: hall.rows,
        seats_per_row: hall.seats_per_row,
        starts_at: format_rfc3339(new.starts_at),
        ends_at: format_rfc3339(ends_at),
        price_cents: new.price_cents,
    };
    sqlx::query(&format!(
        "INSERT INTO screenings ({COLUMNS}, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(&screening.id)
    .bind(&screening.movie_id)
    .bind(&screening.movie_title)
    .bind(&screening.cinema_id)
    .bind(&screening.cinema_name)
    .bind(&screening.city)
    .bind(&screening.hall)
    .bind(screening.rows)
    .bind(screening.seats_per_row)
    .bind(new.starts_at)
    .bind(ends_at)
    .bind(screening.price_cents)
    .bind(now_millis())
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(Inserted::Created(screening))
}

#[cfg(test)]
mod tests;
