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
    #[schema(value_type = Vec<Seat>, min_items = 1, max_items = 10)]
    seats: Vec<String>,
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
