//! A reservation request, parsed: a screening and 1 to 10 distinct seats.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::api::{id_field, ApiError, Id};
use crate::seat::Seat;

pub const MAX_SEATS: usize = 10;

/// The screening and the seats to hold.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewReservation)]
pub struct ReservationRequest {
    #[schema(value_type = Id)]
    screening_id: String,
    /// 1 to 10 distinct seats of the screening's hall.
    #[schema(schema_with = seats_schema)]
    seats: Vec<String>,
}

/// The seats of a request: 1 to [`MAX_SEATS`] seat labels, no label twice (`uniqueItems`).
///
/// The server compares seats, not labels: `A1`, `a1` and ` A1 ` are one seat, and a request
/// naming it twice in any of these spellings is refused. JSON Schema's `uniqueItems` compares
/// strings exactly, so it can only say the part of this that is about identical labels. The
/// seat pattern nevertheless keeps the lower-case letters and the surrounding spaces the
/// server accepts rather than allowing only the canonical `A1`: a schema narrower than the
/// server would call requests the server serves invalid (and schemathesis's negative-data
/// check would rightly flag the server for accepting them), whereas the gap that is left,
/// `["A1", "a1"]`, is one JSON Schema has no way to close.
fn seats_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(<Seat as utoipa::PartialSchema>::schema())
        .min_items(Some(1))
        .max_items(Some(MAX_SEATS))
        .unique_items(true)
        .description(Some(
            "1 to 10 distinct seats of the screening's hall; seats are compared regardless of \
             letter case and surrounding spaces, so `A1` and `a1` are the same seat",
        ))
        .build()
}

pub struct NewReservation {
    pub screening_id: Id,
    /// Sorted, distinct.
    pub seats: Vec<Seat>,
}

impl ReservationRequest {
    pub fn parse(self) -> Result<NewReservation, ApiError> {
        if self.screening_id.trim().is_empty() {
            return Err(ApiError::invalid(
                "screening_id",
                "screening_id must not be empty",
            ));
        }
        let screening_id = id_field("screening_id", "screening", &self.screening_id)?;
        if self.seats.is_empty() || self.seats.len() > MAX_SEATS {
            return Err(ApiError::invalid(
                "seats",
                format!("reserve 1 to {MAX_SEATS} seats at a time"),
            ));
        }
        let mut seats = BTreeSet::new();
        for (index, label) in self.seats.iter().enumerate() {
            let seat: Seat = label.parse().map_err(|error: crate::seat::NotASeat| {
                ApiError::invalid(&format!("seats[{index}]"), error.to_string())
            })?;
            if !seats.insert(seat) {
                return Err(ApiError::invalid(
                    &format!("seats[{index}]"),
                    format!("seat {seat} is listed twice"),
                ));
            }
        }
        Ok(NewReservation {
            screening_id,
            seats: seats.into_iter().collect(),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    pub payment_id: String,
}
