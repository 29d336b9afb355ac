//! Settling an authorised payment: confirm its reservation with the reservations service,
//! then capture (the seats are sold) or void (they could not be: nothing is charged).
//!
//! The same step runs in the request and in the outbox worker, so a payment whose
//! confirmation failed half-way (reservations down, a timeout, this process killed) is
//! finished later, and ends either paid with its seats sold or voided with nothing taken.

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;

use super::store::{self, PaymentRow};
use crate::api::ApiError;
use crate::clock::format_rfc3339;
use crate::database::Database;
use crate::peers::{PeerError, Peers};
use crate::services::reservations::Reservation;
use crate::ServiceName;

/// The payment as clients see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Payment)]
pub struct PaymentView {
    #[schema(value_type = crate::api::Id)]
    pub id: String,
    #[schema(value_type = crate::api::Id)]
    pub reservation_id: String,
    #[schema(minimum = 1)]
    pub amount_cents: i64,
    /// `succeeded`, `pending` (being confirmed), `voided` or `declined`.
    #[schema(schema_with = status_schema)]
    pub status: &'static str,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
}

fn status_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["succeeded", "pending", "voided", "declined"]))
        .build()
}

pub fn view(row: &PaymentRow) -> PaymentView {
    PaymentView {
        id: row.id.clone(),
        reservation_id: row.reservation_id.clone(),
        amount_cents: row.amount_cents,
        status: match row.status.as_str() {
            "captured" => "succeeded",
            "authorized" => "pending",
            "voided" => "voided",
            _ => "declined",
        },
        created_at: format_rfc3339(row.created_at),
    }
}

/// How a settlement attempt ended.
pub enum Settled {
    /// Captured or voided: the answer retries will get. `by_us`: this attempt settled it,
    /// not a concurrent one (the request, a retry, the outbox), so it alone counts it.
    Final {
        status: u16,
        body: String,
        by_us: bool,
    },
    /// Reservations could not be reached: still authorised, the outbox will retry.
    Pending,
}

/// Tries once to settle `payment` (which must be authorised).
pub async fn settle(
    db: &Database,
    peers: &Peers,
    payment: &PaymentRow,
) -> Result<Settled, ApiError> {
    store::count_attempt(db, &payment.id).await?;
    // The id was parsed as a UUID when the payment was made: safe in a path as it is.
    let path = format!("/internal/reservations/{}/confirm", payment.reservation_id);
    let outcome = peers
        .post_idempotent::<_, Reservation>(
            ServiceName::Reservations,
            &path,
            &json!({ "payment_id": payment.id }),
        )
        .await;
    let (status, response) = match outcome {
        Ok(Some(_confirmed)) => {
            let mut paid = payment.clone();
            paid.status = "captured".into();
            (
                "captured",
                (StatusCode::CREATED.as_u16(), json!(view(&paid)).to_string()),
            )
        }
        Ok(None) | Err(PeerError::Refused { .. }) => {
            let reason = match &outcome {
                Err(PeerError::Refused { message, .. }) if !message.is_empty() => message.clone(),
                _ => format!("reservation {} no longer exists", payment.reservation_id),
            };
            let body = ApiError::new(
                StatusCode::CONFLICT,
                format!("{reason}; the payment was voided and nothing was charged"),
            )
            .payment_id(&payment.id)
            .status("voided")
            .body_text();
            ("voided", (StatusCode::CONFLICT.as_u16(), body))
        }
        Err(PeerError::Unavailable { .. }) => {
            tracing::warn!(payment = %payment.id, "reservations unreachable; the payment stays pending");
            return Ok(Settled::Pending);
        }
    };
    if store::settle(db, &payment.id, status, (response.0, &response.1)).await? {
        tracing::info!(payment = %payment.id, status, "payment settled");
        return Ok(Settled::Final {
            status: response.0,
            body: response.1,
            by_us: true,
        });
    }
    // Someone else settled it first: their answer is the answer.
    match store::by_id(db, &payment.id)
        .await?
        .and_then(|row| row.response)
    {
        Some((status, body)) => Ok(Settled::Final {
            status,
            body,
            by_us: false,
        }),
        None => Ok(Settled::Pending),
    }
}
