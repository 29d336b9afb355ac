//! A payment request, parsed: the `Idempotency-Key` header and the body.

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::Required;

use crate::api::{shown, ApiError, Id, SPACE};

pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The client's key for one payment attempt: retries with the same key get the same answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn from_headers(headers: &HeaderMap) -> Result<IdempotencyKey, ApiError> {
        let value = headers.get(IDEMPOTENCY_KEY).ok_or_else(|| {
            ApiError::bad_request(
                "the Idempotency-Key header is required: send a unique value (such as a UUID) \
                 per payment, and the same value when retrying it",
            )
            .field(IDEMPOTENCY_KEY)
        })?;
        let key = value.to_str().unwrap_or_default().trim();
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::bad_request(
                "the Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            .field(IDEMPOTENCY_KEY));
        }
        Ok(IdempotencyKey(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The `Idempotency-Key` header, as [`IdempotencyKey::from_headers`] reads it.
impl utoipa::IntoParams for IdempotencyKey {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![ParameterBuilder::new()
            .name(IDEMPOTENCY_KEY)
            .parameter_in(ParameterIn::Header)
            .required(Required::True)
            .description(Some(
                "A unique value per payment (such as a UUID), the same when retrying it: 1 to \
                 255 visible ASCII characters",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(255))
                    .pattern(Some("^[!-~]+$")),
            ))
            .build()]
    }
}

/// The reservation to pay for, its amount and a card token.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewPayment)]
pub struct PaymentRequest {
    #[schema(value_type = Id)]
    reservation_id: String,
    /// Exactly the reservation's amount_cents.
    #[serde(deserialize_with = "crate::api::whole_number")]
    #[schema(minimum = 1)]
    amount_cents: i64,
    /// A card token, never a card number; tok_declined* is declined.
    #[schema(schema_with = card_token_schema)]
    card_token: String,
}

/// What [`PaymentRequest::parse`] accepts as a card token.
fn card_token_schema() -> utoipa::openapi::schema::Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!(
            "^[{SPACE}]*tok_[A-Za-z0-9_]{{1,64}}[{SPACE}]*$"
        )))
        .build()
}

/// What the card processor says to a token. A stand-in processor: `tok_declined` (and any
/// token starting with it) is refused, every other well-formed token is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardVerdict {
    Approved,
    Declined,
}

#[derive(Debug, Clone, Serialize)]
pub struct Payment {
    pub reservation_id: Id,
    pub amount_cents: i64,
    pub card_token: String,
}

impl PaymentRequest {
    pub fn parse(self) -> Result<Payment, ApiError> {
        if self.reservation_id.trim().is_empty() {
            return Err(ApiError::invalid(
                "reservation_id",
                "reservation_id must not be empty",
            ));
        }
        // Text that is not an id is a reservation the caller does not have, as for any id.
        let reservation_id = Id::parse(&self.reservation_id).ok_or_else(|| {
            ApiError::not_found(format!(
                "you have no reservation with id `{}`",
                shown(&self.reservation_id)
            ))
        })?;
        if self.amount_cents <= 0 {
            return Err(ApiError::invalid(
                "amount_cents",
                "the amount must be a positive number of cents",
            ));
        }
        let token = self.card_token.trim();
        let well_formed = token.strip_prefix("tok_").is_some_and(|rest| {
            (1..=64).contains(&rest.len())
                && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        if !well_formed {
            return Err(ApiError::invalid(
                "card_token",
                "card_token must be a card token such as tok_visa (never a card number)",
            ));
        }
        Ok(Payment {
            reservation_id,
            amount_cents: self.amount_cents,
            card_token: token.to_owned(),
        })
    }
}

impl Payment {
    /// A fingerprint of the request, to tell a retry from a different request under the
    /// same key.
    pub fn fingerprint(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(&canonical))
    }

    pub fn verdict(&self) -> CardVerdict {
        if self.card_token.starts_with("tok_declined") {
            CardVerdict::Declined
        } else {
            CardVerdict::Approved
        }
    }
}
