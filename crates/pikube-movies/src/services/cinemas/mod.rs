//! The cinemas service: cinemas, their cities, and their halls' seat layouts.

mod input;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::Row;

pub use self::input::{Hall, NewCinema};
use super::{Context, StartError, Started};
use crate::api::{method_not_allowed, one_line, ApiError, JsonBody, PathId, QueryParams};
use crate::auth::{Admin, TokenKeys};
use crate::clock::now_millis;
use crate::database::{is_unique_violation, Database};
use crate::ServiceName;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/cinemas");

#[derive(Clone)]
struct CinemasState {
    db: Database,
    keys: TokenKeys,
}

impl FromRef<CinemasState> for TokenKeys {
    fn from_ref(state: &CinemasState) -> TokenKeys {
        state.keys.clone()
    }
}

/// A cinema as the API shows it (and as screenings reads it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Cinema {
    pub id: String,
    pub name: String,
    pub city: String,
    pub halls: Vec<Hall>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CityFilter {
    city: Option<String>,
}

pub async fn start(context: &Context<'_>) -> Result<Started, StartError> {
    let service = ServiceName::Cinemas;
    let db = context.database(service, &MIGRATIONS).await?;
    let state = CinemasState {
        db: db.clone(),
        keys: context.keys.clone(),
    };
    let router = Router::new()
        .route("/api/cinemas", get(list).post(create))
        .route("/api/cinemas/{id}", get(one))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    Ok(Started {
        service,
        router,
        database: db,
        background: Vec::new(),
    })
}

/// A cinema's halls by name, in byte order: the databases' collations differ, and a hall
/// list should not depend on which one is in use.
async fn halls_of(db: &Database, cinema_id: &str) -> Result<Vec<Hall>, sqlx::Error> {
    let rows = sqlx::query("SELECT name, seat_rows, seats_per_row FROM halls WHERE cinema_id = $1")
        .bind(cinema_id)
        .fetch_all(db.pool())
        .await?;
    let mut halls = rows
        .iter()
        .map(|row| {
            Ok(Hall {
                name: row.try_get("name")?,
                rows: row.try_get("seat_rows")?,
                seats_per_row: row.try_get("seats_per_row")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    halls.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(halls)
}

async fn cinema_of(db: &Database, row: &sqlx::any::AnyRow) -> Result<Cinema, sqlx::Error> {
    let id: String = row.try_get("id")?;
    Ok(Cinema {
        halls: halls_of(db, &id).await?,
        name: row.try_get("name")?,
        city: row.try_get("city")?,
        id,
    })
}

async fn list(
    State(state): State<CinemasState>,
    QueryParams(filter): QueryParams<CityFilter>,
) -> Result<Json<Value>, ApiError> {
    let city = match filter.city.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(city) => Some(one_line("city", city, 100).map_err(ApiError::in_query)?),
    };
    let rows = match city {
        Some(city) => sqlx::query(
            "SELECT id, name, city FROM cinemas WHERE lower(city) = lower($1) ORDER BY city, name",
        )
        .bind(city)
        .fetch_all(state.db.pool())
        .await?,
        None => {
            sqlx::query("SELECT id, name, city FROM cinemas ORDER BY city, name")
                .fetch_all(state.db.pool())
                .await?
        }
    };
    let mut cinemas = Vec::with_capacity(rows.len());
    for row in &rows {
        cinemas.push(cinema_of(&state.db, row).await?);
    }
    Ok(Json(json!({ "cinemas": cinemas })))
}

async fn one(
    State(state): State<CinemasState>,
    PathId(id): PathId,
) -> Result<Json<Cinema>, ApiError> {
    let row = sqlx::query("SELECT id, name, city FROM cinemas WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(state.db.pool())
        .await?;
    match row {
        Some(row) => Ok(Json(cinema_of(&state.db, &row).await?)),
        None => Err(ApiError::not_found(format!("no cinema with id `{id}`"))),
    }
}

async fn create(
    State(state): State<CinemasState>,
    _admin: Admin,
    JsonBody(cinema): JsonBody<NewCinema>,
) -> Result<(StatusCode, Json<Cinema>), ApiError> {
    let cinema = cinema.parse()?;
    let id = uuid::Uuid::new_v4().to_string();
    let mut transaction = state.db.pool().begin().await?;
    let inserted =
        sqlx::query("INSERT INTO cinemas (id, name, city, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&id)
            .bind(&cinema.name)
            .bind(&cinema.city)
            .bind(now_millis())
            .execute(&mut *transaction)
            .await;
    match inserted {
        Err(error) if is_unique_violation(&error) => {
            return Err(ApiError::conflict(format!(
                "{} already has a cinema called {}",
                cinema.city, cinema.name
            ))
            .with("field", "name"));
        }
        other => {
            other?;
        }
    }
    for hall in &cinema.halls {
        sqlx::query(
            "INSERT INTO halls (cinema_id, name, seat_rows, seats_per_row) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(&hall.name)
        .bind(hall.rows)
        .bind(hall.seats_per_row)
        .execute(&mut *transaction)
        .await?;
    }
    transaction.commit().await?;
    // In the order every later read lists them (see `halls_of`).
    let mut halls = cinema.halls;
    halls.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((
        StatusCode::CREATED,
        Json(Cinema {
            id,
            name: cinema.name,
            city: cinema.city,
            halls,
        }),
    ))
}
