//! Requests to the screenings service, parsed.

use serde::Deserialize;

use crate::api::{id_field, one_line, shown, ApiError, Id};
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
    pub movie_id: Id,
    pub cinema_id: Id,
    pub hall: String,
    pub starts_at: i64,
    pub price_cents: i64,
}

/// The most a ticket may cost, so that a reservation's total stays far from overflow.
const MAX_PRICE_CENTS: i64 = 100_000;

impl NewScreeningRequest {
    pub fn parse(self) -> Result<NewScreening, ApiError> {
        let movie_id = id_field("movie_id", "movie", &self.movie_id)?;
        let cinema_id = id_field("cinema_id", "cinema", &self.cinema_id)?;
        let hall = one_line("hall", &self.hall, 50)?;
        let starts_at = parse_rfc3339(&self.starts_at).ok_or_else(|| {
            ApiError::invalid(
                "starts_at",
                format!(
                    "`{}` is not an RFC 3339 time such as 2026-12-24T19:30:00Z",
                    shown(&self.starts_at)
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
            movie_id,
            cinema_id,
            hall,
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
    pub movie_id: Option<Id>,
    pub city: Option<String>,
    /// `[start, end)` in milliseconds.
    pub day: Option<(i64, i64)>,
}

impl ScreeningFilterRequest {
    /// An empty parameter (`?city=`) filters nothing, as forms send them.
    pub fn parse(self) -> Result<ScreeningFilter, ApiError> {
        let present =
            |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let movie_id = match present(self.movie_id) {
            Some(raw) => Some(Id::parse(&raw).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "query parameter movie_id: `{}` is not a movie id (a UUID)",
                    shown(&raw)
                ))
                .with("field", "movie_id")
            })?),
            None => None,
        };
        let city = match present(self.city) {
            Some(city) => Some(one_line("city", &city, 100).map_err(ApiError::in_query)?),
            None => None,
        };
        let day = match present(self.date) {
            Some(date) => Some(utc_day(&date).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "query parameter date: `{}` is not a date such as 2026-12-24",
                    shown(&date)
                ))
                .with("field", "date")
            })?),
            None => None,
        };
        Ok(ScreeningFilter {
            movie_id,
            city,
            day,
        })
    }
}
