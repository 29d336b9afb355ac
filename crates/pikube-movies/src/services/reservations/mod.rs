//! The reservations service: holds seats for a buyer, confirms them when paid, cancels and
//! expires unpaid holds. It owns the seat claims, so it alone decides who gets a seat.

mod input;
mod store;

use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use prometheus_client::metrics::counter::Counter;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::input::{ConfirmRequest, ReservationRequest};
pub use self::store::Reservation;
use self::store::{Cancelled, Confirmed, Held, HoldLimits};
use super::screenings::{Screening, SeatClaim, SeatClaims};
use super::{Context, StartError, Started};
use crate::api::{method_not_allowed, ApiError, JsonBody, PathId};
use crate::auth::{Caller, ServiceCaller, TokenKeys};
use crate::clock::{millis, parse_rfc3339};
use crate::database::Database;
use crate::openapi::{BodyRejections, Conflict, NotFound, TokenRejections, Unavailable};
use crate::peers::Peers;
use crate::ServiceName;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/reservations");

#[derive(Clone)]
struct Counters {
    created: Counter,
    conflicts: Counter,
    refused_limits: Counter,
    confirmed: Counter,
    cancelled: Counter,
    expired: Counter,
}

impl Counters {
    fn register(metrics: &pikube_http::Metrics) -> Counters {
        let counters = Counters {
            created: Counter::default(),
            conflicts: Counter::default(),
            refused_limits: Counter::default(),
            confirmed: Counter::default(),
            cancelled: Counter::default(),
            expired: Counter::default(),
        };
        metrics.register(
            "movies_reservations_created",
            "Reservations that held their seats",
            counters.created.clone(),
        );
        metrics.register(
            "movies_reservations_conflicts",
            "Reservations refused because a seat was already held or sold",
            counters.conflicts.clone(),
        );
        metrics.register(
            "movies_reservations_refused_limits",
            "Reservations refused because their buyer already holds the most allowed",
            counters.refused_limits.clone(),
        );
        metrics.register(
            "movies_reservations_confirmed",
            "Reservations confirmed by a payment",
            counters.confirmed.clone(),
        );
        metrics.register(
            "movies_reservations_cancelled",
            "Holds cancelled by their buyer",
            counters.cancelled.clone(),
        );
        metrics.register(
            "movies_reservations_expired",
            "Holds released unpaid when their time ran out",
            counters.expired.clone(),
        );
        counters
    }
}

#[derive(Clone)]
struct ReservationsState {
    db: Database,
    keys: TokenKeys,
    peers: Peers,
    hold: Duration,
    limits: HoldLimits,
    counters: Counters,
}

impl FromRef<ReservationsState> for TokenKeys {
    fn from_ref(state: &ReservationsState) -> TokenKeys {
        state.keys.clone()
    }
}

/// The caller's reservations.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReservationList {
    /// Newest first, at most 100.
    #[schema(max_items = 100)]
    reservations: Vec<Reservation>,
}

/// The public routes, each with its document entry.
fn routes() -> OpenApiRouter<ReservationsState> {
    OpenApiRouter::new()
        .routes(routes!(create, mine))
        .routes(routes!(one, cancel))
}

/// This service's part of the OpenAPI document (without the internal routes).
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

pub async fn start(context: &Context<'_>) -> Result<Started, StartError> {
    let service = ServiceName::Reservations;
    let db = context.database(service, &MIGRATIONS).await?;
    let counters = Counters::register(context.metrics);
    let state = ReservationsState {
        db: db.clone(),
        keys: context.keys.clone(),
        peers: context.peers.clone(),
        hold: context.config.hold_ttl,
        limits: HoldLimits {
            per_user: i64::from(context.config.max_holds_per_user),
            seats_per_screening: i64::from(context.config.max_held_seats_per_screening),
        },
        counters: counters.clone(),
    };
    let sweeper = tokio::spawn(expire_holds_every(
        context.config.sweep_interval,
        db.clone(),
        counters,
    ));
    // The internal routes are for the other services only, and not published.
    let (router, _): (Router, _) = routes()
        .route("/internal/reservations/{id}", get(internal_one))
        .route("/internal/reservations/{id}/confirm", post(confirm))
        .route("/internal/screenings/{id}/claims", get(claims))
        .with_state(state)
        .split_for_parts();
    let router = router.method_not_allowed_fallback(method_not_allowed);
    Ok(Started {
        service,
        router,
        database: db,
        background: vec![sweeper],
    })
}

/// Releases expired holds. Correctness does not depend on it (an expired hold is free to
/// take the moment it expires); it keeps statuses and the seat map tidy.
async fn expire_holds_every(every: Duration, db: Database, counters: Counters) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let expired = async { store::expire_holds(&db, db.now_millis().await?).await };
        match expired.await {
            Ok(0) => {}
            Ok(count) => {
                counters.expired.inc_by(count);
                tracing::info!(count, "released expired holds");
            }
            Err(error) => tracing::warn!(%error, "releasing expired holds"),
        }
    }
}

/// Hold seats of a screening
///
/// All the seats or none: a seat someone else holds or bought is a 409 whose `seats` lists
/// them. A seat outside the hall is a 422 whose `seats` lists them. A buyer holds at most a
/// few unpaid reservations at once (default 4) and a few seats of one screening (default
/// 10): beyond, a 409 whose `limit` gives the limit; paying for or cancelling a hold frees
/// room.
#[utoipa::path(
    post,
    path = "/api/reservations",
    operation_id = "reserve",
    security(("bearer" = [])),
    request_body(content = ReservationRequest, description = "The screening and the seats"),
    responses(
        (status = 201, description = "Held until `expires_at`", body = Reservation),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
        TokenRejections,
        BodyRejections
    )
)]
async fn create(
    State(state): State<ReservationsState>,
    caller: Caller,
    JsonBody(request): JsonBody<ReservationRequest>,
) -> Result<(StatusCode, Json<Reservation>), ApiError> {
    let new = request.parse()?;
    let screening: Screening = state
        .peers
        .referenced(
            ServiceName::Screenings,
            "screening_id",
            "screening",
            &new.screening_id,
        )
        .await?;
    let now = state.db.now_millis().await?;
    if parse_rfc3339(&screening.starts_at).is_some_and(|starts| starts <= now) {
        return Err(ApiError::conflict(format!(
            "the screening started at {}; it is too late to book",
            screening.starts_at
        )));
    }
    let outside: Vec<String> = new
        .seats
        .iter()
        .filter(|seat| !seat.is_in(screening.rows, screening.seats_per_row))
        .map(ToString::to_string)
        .collect();
    if !outside.is_empty() {
        return Err(ApiError::invalid(
            "seats",
            format!(
                "hall {} has rows A to {} of {} seats: there is no {}",
                screening.hall,
                (b'A' + (screening.rows.clamp(1, 26) - 1) as u8) as char,
                screening.seats_per_row,
                outside.join(", ")
            ),
        )
        .seats(outside));
    }
    match store::hold(
        &state.db,
        &caller.user_id,
        &new,
        screening.price_cents,
        now,
        millis(state.hold),
        state.limits,
    )
    .await?
    {
        Held::Created(reservation) => {
            state.counters.created.inc();
            Ok((StatusCode::CREATED, Json(reservation)))
        }
        Held::Taken(seats) => {
            state.counters.conflicts.inc();
            let seats: Vec<String> = seats.iter().map(ToString::to_string).collect();
            Err(ApiError::conflict(format!("already taken: {}", seats.join(", "))).seats(seats))
        }
        Held::TooManyHolds { live } => {
            state.counters.refused_limits.inc();
            Err(ApiError::conflict(format!(
                "you already hold {live} unpaid reservations, the most allowed at once; \
                 pay for or cancel one first"
            ))
            .limit(state.limits.per_user))
        }
        Held::TooManySeats { held } => {
            state.counters.refused_limits.inc();
            Err(ApiError::conflict(format!(
                "you already hold {held} seats of this screening; at most {} may be held \
                 at once, so pay for or cancel a reservation first",
                state.limits.seats_per_screening
            ))
            .field("seats")
            .limit(state.limits.seats_per_screening))
        }
    }
}

/// The caller's own reservation; anyone else's is "not found", not "forbidden", so that ids
/// reveal nothing.
async fn owned(
    state: &ReservationsState,
    caller: &Caller,
    id: &str,
) -> Result<Reservation, ApiError> {
    match store::by_id(&state.db, id).await? {
        Some(reservation) if reservation.user_id == caller.user_id => Ok(reservation),
        _ => Err(ApiError::not_found(format!(
            "you have no reservation with id `{id}`"
        ))),
    }
}

/// One of your reservations
#[utoipa::path(
    get,
    path = "/api/reservations/{id}",
    operation_id = "getReservation",
    security(("bearer" = [])),
    params(PathId),
    responses(
        (status = 200, description = "The reservation", body = Reservation),
        (status = 404, response = NotFound),
        TokenRejections
    )
)]
async fn one(
    State(state): State<ReservationsState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Json<Reservation>, ApiError> {
    Ok(Json(owned(&state, &caller, &id).await?))
}

/// Your reservations
#[utoipa::path(
    get,
    path = "/api/reservations",
    operation_id = "listReservations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Yours, newest first", body = ReservationList),
        TokenRejections
    )
)]
async fn mine(
    State(state): State<ReservationsState>,
    caller: Caller,
) -> Result<Json<ReservationList>, ApiError> {
    let reservations = store::of_user(&state.db, &caller.user_id).await?;
    Ok(Json(ReservationList { reservations }))
}

/// Cancel an unpaid reservation: its seats are free again
///
/// Cancelling twice is fine; a paid reservation cannot be cancelled (409).
#[utoipa::path(
    delete,
    path = "/api/reservations/{id}",
    operation_id = "cancelReservation",
    security(("bearer" = [])),
    params(PathId),
    responses(
        (status = 204, description = "Cancelled (or already cancelled or expired)"),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        TokenRejections
    )
)]
async fn cancel(
    State(state): State<ReservationsState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let now = state.db.now_millis().await?;
    match store::cancel(&state.db, &id, &caller.user_id, now).await? {
        Cancelled::Yes => {
            state.counters.cancelled.inc();
            Ok(StatusCode::NO_CONTENT)
        }
        Cancelled::Lapsed => {
            state.counters.expired.inc();
            Ok(StatusCode::NO_CONTENT)
        }
        Cancelled::Already => Ok(StatusCode::NO_CONTENT),
        Cancelled::Paid => Err(ApiError::conflict(
            "this reservation is paid for; it cannot be cancelled",
        )),
        Cancelled::Missing => Err(ApiError::not_found(format!(
            "you have no reservation with id `{id}`"
        ))),
    }
}

async fn internal_one(
    State(state): State<ReservationsState>,
    _service: ServiceCaller,
    PathId(id): PathId,
) -> Result<Json<Reservation>, ApiError> {
    store::by_id(&state.db, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no reservation with id `{id}`")))
}

async fn confirm(
    State(state): State<ReservationsState>,
    _service: ServiceCaller,
    PathId(id): PathId,
    JsonBody(request): JsonBody<ConfirmRequest>,
) -> Result<Json<Reservation>, ApiError> {
    let refused = |reservation: Reservation| {
        ApiError::conflict(format!(
            "reservation {id} is {}; it cannot be confirmed",
            reservation.status
        ))
        .status(reservation.status)
    };
    let now = state.db.now_millis().await?;
    match store::confirm(&state.db, &id, &request.payment_id, now).await? {
        Confirmed::Yes(reservation, now) => {
            if now {
                state.counters.confirmed.inc();
            }
            Ok(Json(reservation))
        }
        Confirmed::No(reservation) => Err(refused(reservation)),
        Confirmed::Lapsed(reservation) => {
            state.counters.expired.inc();
            Err(refused(reservation))
        }
        Confirmed::Missing => Err(ApiError::not_found(format!(
            "no reservation with id `{id}`"
        ))),
    }
}

async fn claims(
    State(state): State<ReservationsState>,
    _service: ServiceCaller,
    PathId(screening_id): PathId,
) -> Result<Json<SeatClaims>, ApiError> {
    let claims = store::claims(&state.db, &screening_id)
        .await?
        .into_iter()
        .filter_map(|(seat, state)| {
            Some(SeatClaim {
                seat: seat.parse().ok()?,
                state,
            })
        })
        .collect();
    Ok(Json(SeatClaims { claims }))
}
