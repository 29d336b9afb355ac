//! The screenings service: which movie plays where and when, at what price, and which of its
//! seats are free, held or sold (asked of the reservations service, which owns that).

mod input;
mod store;

use std::collections::BTreeMap;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::input::{NewScreeningRequest, ScreeningFilterRequest};
use super::cinemas::Cinema;
use super::movies::Movie;
use super::{Context, StartError, Started};
use crate::api::{method_not_allowed, ApiError, Id, JsonBody, PathId, QueryParams};
use crate::auth::{Admin, TokenKeys};
use crate::database::Database;
use crate::openapi::{
    BodyRejections, Conflict, NotFound, QueryRejections, TokenRejections, Unavailable,
};
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Screening {
    #[schema(value_type = Id)]
    pub id: String,
    #[schema(value_type = Id)]
    pub movie_id: String,
    pub movie_title: String,
    #[schema(value_type = Id)]
    pub cinema_id: String,
    pub cinema_name: String,
    pub city: String,
    pub hall: String,
    #[schema(minimum = 1, maximum = 26)]
    pub rows: i64,
    #[schema(minimum = 1, maximum = 60)]
    pub seats_per_row: i64,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub starts_at: String,
    /// RFC 3339, UTC: the start plus the movie's duration.
    #[schema(format = DateTime)]
    pub ends_at: String,
    /// Per seat.
    #[schema(minimum = 1, maximum = 100000)]
    pub price_cents: i64,
}

/// The screenings.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ScreeningList {
    /// By start time, at most 500.
    #[schema(max_items = 500)]
    screenings: Vec<Screening>,
}

/// Whether a seat is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum SeatStatus {
    Free,
    Held,
    Sold,
}

/// One seat of a screening.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SeatState {
    seat: Seat,
    state: SeatStatus,
}

/// Every seat of a screening.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SeatMap {
    #[schema(value_type = Id)]
    screening_id: String,
    #[schema(minimum = 1, maximum = 26)]
    rows: i64,
    #[schema(minimum = 1, maximum = 60)]
    seats_per_row: i64,
    /// How many seats are free.
    #[schema(minimum = 0)]
    free: usize,
    /// Every seat, row by row.
    seats: Vec<SeatState>,
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

/// The routes, each with its document entry.
fn routes() -> OpenApiRouter<ScreeningsState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(one))
        .routes(routes!(seats))
}

/// This service's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

pub async fn start(context: &Context<'_>) -> Result<Started, StartError> {
    let service = ServiceName::Screenings;
    let db = context.database(service, &MIGRATIONS).await?;
    let state = ScreeningsState {
        db: db.clone(),
        keys: context.keys.clone(),
        peers: context.peers.clone(),
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

/// Screenings, filtered
///
/// Filters combine; an empty one filters nothing; an unknown one is a 400.
#[utoipa::path(
    get,
    path = "/api/screenings",
    operation_id = "listScreenings",
    params(ScreeningFilterRequest),
    responses((status = 200, description = "The screenings", body = ScreeningList), QueryRejections)
)]
async fn list(
    State(state): State<ScreeningsState>,
    QueryParams(filter): QueryParams<ScreeningFilterRequest>,
) -> Result<Json<ScreeningList>, ApiError> {
    let screenings = store::list(&state.db, &filter.parse()?).await?;
    Ok(Json(ScreeningList { screenings }))
}

async fn find(state: &ScreeningsState, id: &str) -> Result<Screening, ApiError> {
    store::by_id(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no screening with id `{id}`")))
}

/// One screening
#[utoipa::path(
    get,
    path = "/api/screenings/{id}",
    operation_id = "getScreening",
    params(PathId),
    responses((status = 200, description = "The screening", body = Screening), (status = 404, response = NotFound))
)]
async fn one(
    State(state): State<ScreeningsState>,
    PathId(id): PathId,
) -> Result<Json<Screening>, ApiError> {
    Ok(Json(find(&state, &id).await?))
}

/// Schedule a screening (administrators)
///
/// An unknown movie, cinema or hall is a 422 naming the field; a hall busy then is a 409
/// with the `screening_id` in the way.
#[utoipa::path(
    post,
    path = "/api/screenings",
    operation_id = "addScreening",
    security(("bearer" = [])),
    request_body(content = NewScreeningRequest, description = "The screening"),
    responses(
        (status = 201, description = "Scheduled", body = Screening),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
        TokenRejections,
        BodyRejections
    )
)]
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
        .field("starts_at")
        .screening_id(other.id)),
    }
}

/// Every seat of a screening: free, held or sold
#[utoipa::path(
    get,
    path = "/api/screenings/{id}/seats",
    operation_id = "getSeats",
    params(PathId),
    responses(
        (status = 200, description = "The seat map", body = SeatMap),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable)
    )
)]
async fn seats(
    State(state): State<ScreeningsState>,
    PathId(id): PathId,
) -> Result<Json<SeatMap>, ApiError> {
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
    let seats: Vec<SeatState> = Seat::all(screening.rows, screening.seats_per_row)
        .map(|seat| SeatState {
            seat,
            state: match claimed.get(&seat).map(String::as_str) {
                None => SeatStatus::Free,
                Some("sold") => SeatStatus::Sold,
                Some(_) => SeatStatus::Held,
            },
        })
        .collect();
    Ok(Json(SeatMap {
        screening_id: screening.id,
        rows: screening.rows,
        seats_per_row: screening.seats_per_row,
        free: seats.iter().filter(|s| s.state == SeatStatus::Free).count(),
        seats,
    }))
}
