//! Requests to the screenings service, parsed.

use serde::Deserialize;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type};
use utoipa::{IntoParams, ToSchema};

use crate::api::{
    id_field, id_filter_schema, one_line, one_line_filter_schema, one_line_schema, shown, ApiError,
    Id, SPACE,
};
use crate::clock::{parse_rfc3339, utc_day};

/// A screening to schedule.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewScreening)]
pub struct NewScreeningRequest {
    #[schema(value_type = Id)]
    movie_id: String,
    #[schema(value_type = Id)]
    cinema_id: String,
    /// A hall of the cinema, in any letter case.
    #[schema(schema_with = one_line_schema::<50>)]
    hall: String,
    /// RFC 3339, any offset, such as 2026-12-24T19:30:00Z.
    #[schema(format = DateTime)]
    starts_at: String,
    /// Per seat.
    #[serde(deserialize_with = "crate::api::whole_number")]
    #[schema(minimum = 1, maximum = 100000)]
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

/// The filters of the screenings list: they combine, and an empty one filters nothing.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScreeningFilterRequest {
    /// Only this movie.
    #[param(schema_with = id_filter_schema, nullable = false)]
    movie_id: Option<String>,
    /// Only in this city, in any letter case.
    #[param(schema_with = one_line_filter_schema::<100>, nullable = false)]
    city: Option<String>,
    /// Only those starting on this UTC day.
    #[param(schema_with = date_filter_schema, nullable = false)]
    date: Option<String>,
}

/// A date such as 2026-12-24, or nothing.
fn date_filter_schema() -> Schema {
    Schema::OneOf(
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::Custom("date".to_owned()))),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(format!("^[{SPACE}]*$"))),
            )
            .build(),
    )
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
                .field("movie_id")
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
                .field("date")
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
