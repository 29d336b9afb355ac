//! Requests to the screenings service, parsed.

use serde::Deserialize;

use crate::api::ApiError;
use crate::clock::{parse_rfc3339, utc_day};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewScreeningRequest {
    movie_id: String,
    cinema_id: String,
    hall: String,
    starts_at: String,
    price_cents: i64,
}

pub struct NewScreening {
    pub movie_id: String,
    pub cinema_id: String,
    pub hall: String,
    pub starts_at: i64,
    pub price_cents: i64,
}

/// The most a ticket may cost, so that a reservation's total stays far from overflow.
const MAX_PRICE_CENTS: i64 = 100_000;

impl NewScreeningRequest {
    pub fn parse(self) -> Result<NewScreening, ApiError> {
        let required = |field: &str, value: String| {
            let value = value.trim().to_owned();
            if value.is_empty() {
                Err(ApiError::invalid(
                    field,
                    format!("{field} must not be empty"),
                ))
            } else {
                Ok(value)
            }
        };
        let starts_at = parse_rfc3339(&self.starts_at).ok_or_else(|| {
            ApiError::invalid(
                "starts_at",
                format!(
                    "`{}` is not an RFC 3339 time such as 2026-12-24T19:30:00Z",
                    self.starts_at
                ),
            )
        })?;
        if !(1..=MAX_PRICE_CENTS).contains(&self.price_cents) {
            return Err(ApiError::invalid(
                "price_cents",
                format!("the price must be 1 to {MAX_PRICE_CENTS} cents"),
            ));
        }
        Ok(NewScreening {
            movie_id: required("movie_id", self.movie_id)?,
            cinema_id: required("cinema_id", self.cinema_id)?,
            hall: required("hall", self.hall)?,
            starts_at,
            price_cents: self.price_cents,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreeningFilterRequest {
    movie_id: Option<String>,
    city: Option<String>,
    date: Option<String>,
}

#[derive(Default)]
pub struct ScreeningFilter {
    pub movie_id: Option<String>,
    pub city: Option<String>,
    /// `[start, end)` in milliseconds.
    pub day: Option<(i64, i64)>,
}

impl ScreeningFilterRequest {
    pub fn parse(self) -> Result<ScreeningFilter, ApiError> {
        let present =
            |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let day = match present(self.date) {
            Some(date) => Some(utc_day(&date).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "query parameter date: `{date}` is not a date such as 2026-12-24"
                ))
                .with("field", "date")
            })?),
            None => None,
        };
        Ok(ScreeningFilter {
            movie_id: present(self.movie_id),
            city: present(self.city),
            day,
        })
    }
}
