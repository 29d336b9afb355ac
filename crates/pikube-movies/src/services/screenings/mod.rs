//! The screenings service: which movie plays where and when, at what price, and which of its
//! seats are free, held or sold (asked of the reservations service, which owns that).

mod input;
mod store;

use std::collections::BTreeMap;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use self::input::{NewScreeningRequest, ScreeningFilterRequest};
use super::cinemas::Cinema;
use super::movies::Movie;
use super::{Context, StartError, Started};
use crate::api::{method_not_allowed, ApiError, JsonBody, PathId, QueryParams};
use crate::auth::{Admin, TokenKeys};
use crate::database::Database;
use crate::peers::Peers;
use crate::seat::Seat;
use crate::ServiceName;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/screenings");

#[derive(Clone)]
struct ScreeningsState {
    db: Database,
    keys: TokenKeys,
    peers: Peers,
}

impl FromRef<ScreeningsState> for TokenKeys {
    fn from_ref(state: &ScreeningsState) -> TokenKeys {
        state.keys.clone()
    }
}

/// A screening as the API shows it (and as reservations reads it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Screening {
    pub id: String,
    pub movie_id: String,
    pub movie_title: String,
    pub cinema_id: String,
    pub cinema_name: String,
    pub city: String,
    pub hall: String,
    pub rows: i64,
    pub seats_per_row: i64,
    /// RFC 3339, UTC.
    pub starts_at: String,
    pub ends_at: String,
    pub price_cents: i64,
}

/// A seat someone holds or has bought, as the reservations service reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SeatClaim {
    pub seat: Seat,
    /// `held` or `sold`.
    pub state: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeatClaims {
    pub claims: Vec<SeatClaim>,
}

pub async fn start(context: &Context<'_>) -> Result<Started, StartError> {
    let service = ServiceName::Screenings;
    let db = context.database(service, &MIGRATIONS).await?;
    let state = ScreeningsState {
        db: db.clone(),
        keys: context.keys.clone(),
        peers: context.peers.clone(),
    };
    let router = Router::new()
        .route("/api/screenings", get(list).post(create))
        .route("/api/screenings/{id}", get(one))
        .route("/api/screenings/{id}/seats", get(seats))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    Ok(Started {
        service,
        router,
        database: db,
        background: Vec::new(),
    })
}

async fn list(
    State(state): State<ScreeningsState>,
    QueryParams(filter): QueryParams<ScreeningFilterRequest>,
) -> Result<Json<Value>, ApiError> {
    let screenings = store::list(&state.db, &filter.parse()?).await?;
    Ok(Json(json!({ "screenings": screenings })))
}

async fn find(state: &ScreeningsState, id: &str) -> Result<Screening, ApiError> {
    store::by_id(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no screening with id `{id}`")))
}

async fn one(
    State(state): State<ScreeningsState>,
    PathId(id): PathId,
) -> Result<Json<Screening>, ApiError> {
    Ok(Json(find(&state, &id).await?))
}

async fn create(
    State(state): State<ScreeningsState>,
    _admin: Admin,
    JsonBody(request): JsonBody<NewScreeningRequest>,
) -> Result<(StatusCode, Json<Screening>), ApiError> {
    let new = request.parse()?;
    let movie: Movie = state
        .peers
        .referenced(ServiceName::Movies, "movie_id", "movie", &new.movie_id)
        .await?;
    let cinema: Cinema = state
        .peers
        .referenced(ServiceName::Cinemas, "cinema_id", "cinema", &new.cinema_id)
        .await?;
    let hall = cinema
        .halls
        .iter()
        .find(|hall| hall.name.eq_ignore_ascii_case(&new.hall))
        .ok_or_else(|| {
            let names: Vec<&str> = cinema.halls.iter().map(|h| h.name.as_str()).collect();
            ApiError::invalid(
                "hall",
                format!(
                    "{} has no hall `{}` (it has: {})",
                    cinema.name,
                    new.hall,
                    names.join(", ")
                ),
            )
        })?;
    match store::insert(&state.db, &new, &movie, &cinema, hall).await? {
        store::Inserted::Created(screening) => Ok((StatusCode::CREATED, Json(screening))),
        store::Inserted::Overlaps(other) => Err(ApiError::conflict(format!(
            "hall {} of {} is busy then: {} plays from {} to {}",
            other.hall, other.cinema_name, other.movie_title, other.starts_at, other.ends_at
        ))
        .with("field", "starts_at")
        .with("screening_id", other.id)),
    }
}

async fn seats(
    State(state): State<ScreeningsState>,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    let screening = find(&state, &id).await?;
    let claims: SeatClaims = state
        .peers
        .get(
            ServiceName::Reservations,
            &format!("/internal/screenings/{id}/claims"),
        )
        .await?
        .unwrap_or(SeatClaims { claims: Vec::new() });
    let claimed: BTreeMap<Seat, String> = claims
        .claims
        .into_iter()
        .map(|c| (c.seat, c.state))
        .collect();
    let mut free = 0;
    let seats: Vec<Value> = Seat::all(screening.rows, screening.seats_per_row)
        .map(|seat| {
            let state = claimed.get(&seat).map_or("free", String::as_str);
            if state == "free" {
                free += 1;
            }
            json!({ "seat": seat, "state": state })
        })
        .collect();
    Ok(Json(json!({
        "screening_id": screening.id,
        "rows": screening.rows,
        "seats_per_row": screening.seats_per_row,
        "free": free,
        "seats": seats,
    })))
}
