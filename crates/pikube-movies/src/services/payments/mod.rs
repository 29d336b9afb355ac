//! The payments service: takes a payment for a held reservation exactly once per
//! `Idempotency-Key`, and never takes money for a seat it could not confirm.

mod input;
mod settle;
mod store;

use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::input::{CardVerdict, IdempotencyKey, PaymentRequest};
use self::settle::{settle, view, PaymentView, Settled};
use self::store::{Inserted, NewPayment, PaymentRow};
use super::reservations::Reservation;
use super::{Context, StartError, Started};
use crate::api::{method_not_allowed, ApiError, JsonBody, PathId};
use crate::auth::{Caller, TokenKeys};
use crate::database::Database;
use crate::openapi::{BodyRejections, Conflict, NotFound, TokenRejections, Unavailable};
use crate::peers::Peers;
use crate::ServiceName;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/payments");

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

type Outcomes = Family<OutcomeLabel, Counter>;

#[derive(Clone)]
struct PaymentsState {
    db: Database,
    keys: TokenKeys,
    peers: Peers,
    outcomes: Outcomes,
}

impl FromRef<PaymentsState> for TokenKeys {
    fn from_ref(state: &PaymentsState) -> TokenKeys {
        state.keys.clone()
    }
}

impl PaymentsState {
    fn count(&self, outcome: &'static str) {
        self.outcomes.get_or_create(&OutcomeLabel { outcome }).inc();
    }
}

/// The routes, each with its document entry.
fn routes() -> OpenApiRouter<PaymentsState> {
    OpenApiRouter::new()
        .routes(routes!(pay))
        .routes(routes!(one))
}

/// This service's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

pub async fn start(context: &Context<'_>) -> Result<Started, StartError> {
    let service = ServiceName::Payments;
    let db = context.database(service, &MIGRATIONS).await?;
    let outcomes = Outcomes::default();
    context.metrics.register(
        "movies_payments",
        "Payments by outcome: succeeded or voided (once each, when settled by a request or \
         the outbox), declined; and requests answered pending or replayed",
        outcomes.clone(),
    );
    let state = PaymentsState {
        db: db.clone(),
        keys: context.keys.clone(),
        peers: context.peers.clone(),
        outcomes,
    };
    let outbox = tokio::spawn(settle_pending_every(
        context.config.sweep_interval,
        state.clone(),
    ));
    let (router, _): (Router, _) = routes().with_state(state).split_for_parts();
    let router = router.method_not_allowed_fallback(method_not_allowed);
    Ok(Started {
        service,
        router,
        database: db,
        background: vec![outbox],
    })
}

/// The outbox: settles payments left authorised by a failed confirmation.
async fn settle_pending_every(every: Duration, state: PaymentsState) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let pending = match store::unsettled(&state.db, 100).await {
            Ok(pending) => pending,
            Err(error) => {
                tracing::warn!(%error, "reading unsettled payments");
                continue;
            }
        };
        for payment in pending {
            match settle(&state.db, &state.peers, &payment).await {
                Ok(Settled::Final { status, by_us, .. }) => {
                    if by_us {
                        state.count(settled_outcome(status));
                    }
                }
                Ok(Settled::Pending) => break,
                Err(error) => {
                    tracing::warn!(payment = %payment.id, error = error.message(), "settling a payment")
                }
            }
        }
    }
}

/// The outcome a settled payment counts as.
fn settled_outcome(status: u16) -> &'static str {
    if status == StatusCode::CREATED.as_u16() {
        "succeeded"
    } else {
        "voided"
    }
}

fn stored(status: u16, body: String, replayed: bool) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    if replayed {
        response
            .headers_mut()
            .insert("Idempotent-Replayed", HeaderValue::from_static("true"));
    }
    response
}

/// Pay for a held reservation
///
/// Exactly once per `Idempotency-Key`: a retry with the same key and request gets the same
/// answer; the same key with another request is a 422.
#[utoipa::path(
    post,
    path = "/api/payments",
    operation_id = "pay",
    security(("bearer" = [])),
    params(IdempotencyKey),
    request_body(content = PaymentRequest, description = "The reservation, its amount and a card token"),
    responses(
        (status = 201, description = "Paid: the seats are sold", body = PaymentView,
         headers(("Idempotent-Replayed" = String, description = "`true` on the stored answer to a retry"))),
        (status = 202, description = "Authorised, being confirmed: poll GET /api/payments/{id}", body = PaymentView),
        (status = 402, description = "The card was declined; nothing was charged (`payment_id`, `status`)",
         body = crate::api::ErrorBody,
         headers(("Idempotent-Replayed" = String, description = "`true` on the stored answer to a retry"))),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
        TokenRejections,
        BodyRejections
    )
)]
async fn pay(
    State(state): State<PaymentsState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(request): JsonBody<PaymentRequest>,
) -> Result<Response, ApiError> {
    let key = IdempotencyKey::from_headers(&headers)?;
    let payment = request.parse()?;
    let fingerprint = payment.fingerprint();
    if let Some(existing) = store::by_key(&state.db, &caller.user_id, key.as_str()).await? {
        return replay(&state, existing, &fingerprint).await;
    }
    let reservation: Reservation = state
        .peers
        .get(
            ServiceName::Reservations,
            &format!("/internal/reservations/{}", payment.reservation_id),
        )
        .await?
        .filter(|reservation: &Reservation| reservation.user_id == caller.user_id)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "you have no reservation with id `{}`",
                payment.reservation_id
            ))
        })?;
    if reservation.status != "held" {
        // A request with this same key, racing this one, may have just paid it: then its
        // answer is this request's answer too, not "already paid".
        if let Some(existing) = store::by_key(&state.db, &caller.user_id, key.as_str()).await? {
            return replay(&state, existing, &fingerprint).await;
        }
        return Err(ApiError::conflict(format!(
            "reservation {} is {}; only a held reservation can be paid",
            reservation.id, reservation.status
        ))
        .status(reservation.status));
    }
    if payment.amount_cents != reservation.amount_cents {
        return Err(ApiError::invalid(
            "amount_cents",
            format!(
                "reservation {} costs {} cents, not {}",
                reservation.id, reservation.amount_cents, payment.amount_cents
            ),
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let verdict = payment.verdict();
    let declined = ApiError::new(
        StatusCode::PAYMENT_REQUIRED,
        "the card was declined; nothing was charged",
    )
    .payment_id(&id)
    .status("declined")
    .body_text();
    let (status, response) = match verdict {
        CardVerdict::Approved => ("authorized", None),
        CardVerdict::Declined => ("declined", Some((402, declined.as_str()))),
    };
    let new = NewPayment {
        id: &id,
        user_id: &caller.user_id,
        key: key.as_str(),
        request_hash: &fingerprint,
        reservation_id: &reservation.id,
        amount_cents: payment.amount_cents,
        status,
        response,
    };
    let row = match store::insert(&state.db, &new).await? {
        Inserted::Yes(row) => row,
        Inserted::KeyUsed => {
            let existing = store::by_key(&state.db, &caller.user_id, key.as_str())
                .await?
                .ok_or_else(|| ApiError::internal("a payment key vanished"))?;
            return replay(&state, existing, &fingerprint).await;
        }
        Inserted::AlreadyPaid => {
            return Err(ApiError::conflict(format!(
                "reservation {} is already paid, or a payment for it is in progress",
                reservation.id
            )));
        }
    };
    if let Some((status, body)) = row.response {
        state.count("declined");
        return Ok(stored(status, body, false));
    }
    finish(&state, &row).await
}

/// Settles an authorised payment now, or answers 202 while the outbox takes over.
async fn finish(state: &PaymentsState, row: &PaymentRow) -> Result<Response, ApiError> {
    match settle(&state.db, &state.peers, row).await? {
        Settled::Final {
            status,
            body,
            by_us,
        } => {
            if by_us {
                state.count(settled_outcome(status));
            }
            Ok(stored(status, body, false))
        }
        Settled::Pending => {
            state.count("pending");
            Ok((StatusCode::ACCEPTED, Json(view(row))).into_response())
        }
    }
}

/// A request with a key this user already used: the same request gets the same answer
/// (finishing it first if it is still pending); a different request is refused.
async fn replay(
    state: &PaymentsState,
    existing: PaymentRow,
    fingerprint: &str,
) -> Result<Response, ApiError> {
    if existing.request_hash != fingerprint {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "this Idempotency-Key was used for a different payment request; use a new key for a new payment",
        ));
    }
    state.count("replayed");
    match existing.response {
        Some((status, body)) => Ok(stored(status, body, true)),
        None if existing.status == "authorized" => finish(state, &existing).await,
        // Declined payments are stored with their answer, settled ones get it as they settle.
        None => Err(ApiError::internal(format_args!(
            "payment {} is {} but has no answer",
            existing.id, existing.status
        ))),
    }
}

/// One of your payments
#[utoipa::path(
    get,
    path = "/api/payments/{id}",
    operation_id = "getPayment",
    security(("bearer" = [])),
    params(PathId),
    responses(
        (status = 200, description = "The payment", body = PaymentView),
        (status = 404, response = NotFound),
        TokenRejections
    )
)]
async fn one(
    State(state): State<PaymentsState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    match store::by_id(&state.db, &id).await? {
        Some(row) if row.user_id == caller.user_id => Ok(Json(view(&row)).into_response()),
        _ => Err(ApiError::not_found(format!(
            "you have no payment with id `{id}`"
        ))),
    }
}
