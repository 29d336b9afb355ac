//! A new cinema, parsed: a name, a city, and 1 to 20 halls with distinct names and seat
//! layouts a seat label can name (rows A to Z, up to 60 seats a row).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::{one_line, one_line_schema, ApiError};

pub const MAX_ROWS: i64 = 26;
pub const MAX_SEATS_PER_ROW: i64 = 60;

/// A hall and its seat layout.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Hall {
    /// Unique within the cinema, in any letter case.
    #[schema(schema_with = one_line_schema::<50>)]
    pub name: String,
    /// Rows A to Z.
    #[serde(deserialize_with = "crate::api::whole_number")]
    #[schema(minimum = 1, maximum = 26)]
    pub rows: i64,
    #[serde(deserialize_with = "crate::api::whole_number")]
    #[schema(minimum = 1, maximum = 60)]
    pub seats_per_row: i64,
}

/// A cinema to add, with its halls.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCinema {
    #[schema(schema_with = one_line_schema::<100>)]
    pub name: String,
    #[schema(schema_with = one_line_schema::<100>)]
    pub city: String,
    /// Distinct names, in any letter case.
    #[schema(min_items = 1, max_items = 20)]
    pub halls: Vec<Hall>,
}

impl NewCinema {
    pub fn parse(self) -> Result<NewCinema, ApiError> {
        let name = one_line("name", &self.name, 100)?;
        let city = one_line("city", &self.city, 100)?;
        if self.halls.is_empty() || self.halls.len() > 20 {
            return Err(ApiError::invalid("halls", "a cinema has 1 to 20 halls"));
        }
        let mut names = BTreeSet::new();
        let mut halls = Vec::with_capacity(self.halls.len());
        for (index, hall) in self.halls.into_iter().enumerate() {
            let field = |name: &str| format!("halls[{index}].{name}");
            let name = one_line(&field("name"), &hall.name, 50)?;
            if !names.insert(name.to_lowercase()) {
                return Err(ApiError::invalid(
                    &field("name"),
                    format!("two halls are called {name}"),
                ));
            }
            if !(1..=MAX_ROWS).contains(&hall.rows) {
                return Err(ApiError::invalid(
                    &field("rows"),
                    format!("a hall has 1 to {MAX_ROWS} rows (A to Z)"),
                ));
            }
            if !(1..=MAX_SEATS_PER_ROW).contains(&hall.seats_per_row) {
                return Err(ApiError::invalid(
                    &field("seats_per_row"),
                    format!("a row has 1 to {MAX_SEATS_PER_ROW} seats"),
                ));
            }
            halls.push(Hall { name, ..hall });
        }
        Ok(NewCinema { name, city, halls })
    }
}
