//! Seat labels: a row letter and a seat number, `A1` to `Z60`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One seat of a hall. Orders row by row, seat by seat, so that transactions claiming several
/// seats always lock them in the same order (and so never deadlock each other).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seat {
    /// 0 for row A.
    row: u8,
    /// From 1.
    number: u16,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a seat: write a row letter and a seat number, such as A1 or C12")]
pub struct NotASeat(String);

impl Seat {
    /// Every seat of a hall with `rows` rows of `per_row` seats.
    pub fn all(rows: i64, per_row: i64) -> impl Iterator<Item = Seat> {
        let rows = rows.clamp(0, 26) as u8;
        let per_row = per_row.clamp(0, i64::from(u16::MAX)) as u16;
        (0..rows).flat_map(move |row| (1..=per_row).map(move |number| Seat { row, number }))
    }

    /// Whether the seat exists in a hall of `rows` rows of `per_row` seats.
    pub fn is_in(self, rows: i64, per_row: i64) -> bool {
        i64::from(self.row) < rows && i64::from(self.number) <= per_row
    }
}

impl FromStr for Seat {
    type Err = NotASeat;

    fn from_str(text: &str) -> Result<Seat, NotASeat> {
        let not_a_seat = || NotASeat(text.to_owned());
        let trimmed = text.trim();
        let mut chars = trimmed.chars();
        let letter = chars
            .next()
            .filter(char::is_ascii_alphabetic)
            .ok_or_else(not_a_seat)?;
        let digits = chars.as_str();
        if digits.is_empty()
            || digits.len() > 3
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            return Err(not_a_seat());
        }
        Ok(Seat {
            row: letter.to_ascii_uppercase() as u8 - b'A',
            number: digits.parse().map_err(|_| not_a_seat())?,
        })
    }
}

impl fmt::Display for Seat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", (b'A' + self.row) as char, self.number)
    }
}

/// A seat label as [`Seat::from_str`] reads it: a row letter (any case) and a number without
/// a leading zero, spaces around trimmed.
impl utoipa::PartialSchema for Seat {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use crate::api::SPACE;
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(format!(
                "^[{SPACE}]*[A-Za-z][1-9][0-9]{{0,2}}[{SPACE}]*$"
            )))
            .description(Some("Row letter and seat number, such as A1"))
            .into()
    }
}

impl utoipa::ToSchema for Seat {}

impl Serialize for Seat {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Seat {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Seat, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_and_sort_row_by_row() {
        let mut seats: Vec<Seat> = ["B2", "a10", "A2"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        seats.sort();
        let labels: Vec<String> = seats.iter().map(Seat::to_string).collect();
        assert_eq!(labels, ["A2", "A10", "B2"]);
    }

    #[test]
    fn nonsense_is_named() {
        for bad in ["", "A", "1A", "A0", "A01", "AA1", "A1000", "Ä1", "A-1"] {
            assert_eq!(bad.parse::<Seat>(), Err(NotASeat(bad.to_owned())), "{bad}");
        }
    }

    #[test]
    fn a_hall_knows_its_seats() {
        let all: Vec<String> = Seat::all(2, 3).map(|s| s.to_string()).collect();
        assert_eq!(all, ["A1", "A2", "A3", "B1", "B2", "B3"]);
        assert!("B3".parse::<Seat>().unwrap().is_in(2, 3));
        assert!(!"C1".parse::<Seat>().unwrap().is_in(2, 3));
        assert!(!"A4".parse::<Seat>().unwrap().is_in(2, 3));
    }
}
