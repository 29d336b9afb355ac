//! The cinemas service: cinemas, their cities, and their halls' seat layouts.

mod input;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use self::input::{Hall, NewCinema};
use super::{Context, StartError, Started};
use crate::api::{
    method_not_allowed, one_line, one_line_filter_schema, ApiError, Id, JsonBody, PathId,
    QueryParams,
};
use crate::auth::{Admin, TokenKeys};
use crate::clock::now_millis;
use crate::database::{is_unique_violation, Database};
use crate::openapi::{BodyRejections, Conflict, NotFound, QueryRejections, TokenRejections};
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cinema {
    #[schema(value_type = Id)]
    pub id: String,
    pub name: String,
    pub city: String,
    /// By name.
    pub halls: Vec<Hall>,
}

/// The cinemas.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CinemaList {
    /// By city, then name.
    cinemas: Vec<Cinema>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct CityFilter {
    /// Only this city, in any letter case; empty means all.
    #[param(schema_with = one_line_filter_schema::<100>, nullable = false)]
    city: Option<String>,
}

/// The routes, each with its document entry.
fn routes() -> OpenApiRouter<CinemasState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(one))
}

/// This service's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

pub async fn start(context: &Context<'_>) -> Result<Started, StartError> {
    let service = ServiceName::Cinemas;
    let db = context.database(service, &MIGRATIONS).await?;
    let state = CinemasState {
        db: db.clone(),
        keys: context.keys.clone(),
    };
    let (router, _): (Router, _) = routes().with_state(state).split_for_parts();
    let router = router.method_not_allowed_fallback(method_not_allowed);
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

/// Cinemas, in one city or all
#[utoipa::path(
    get,
    path = "/api/cinemas",
    operation_id = "listCinemas",
    params(CityFilter),
    responses((status = 200, description = "The cinemas", body = CinemaList), QueryRejections)
)]
async fn list(
    State(state): State<CinemasState>,
    QueryParams(filter): QueryParams<CityFilter>,
) -> Result<Json<CinemaList>, ApiError> {
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
    Ok(Json(CinemaList { cinemas }))
}

/// One cinema, with its halls
#[utoipa::path(
    get,
    path = "/api/cinemas/{id}",
    operation_id = "getCinema",
    params(PathId),
    responses((status = 200, description = "The cinema", body = Cinema), (status = 404, response = NotFound))
)]
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

/// Add a cinema and its halls (administrators)
///
/// A city has one cinema of a name (409, field `name`).
#[utoipa::path(
    post,
    path = "/api/cinemas",
    operation_id = "addCinema",
    security(("bearer" = [])),
    request_body(content = NewCinema, description = "The cinema"),
    responses(
        (status = 201, description = "Added", body = Cinema),
        (status = 409, response = Conflict),
        TokenRejections,
        BodyRejections
    )
)]
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
            .field("name"));
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
