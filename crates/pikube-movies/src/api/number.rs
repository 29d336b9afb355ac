//! Whole numbers as clients send them. JSON has one number type, and JSON Schema calls
//! `548.0` an integer just as it does `548` (and `5e2`): a client or a library that writes
//! every number with a decimal point sends a valid request, which serde reading an `i64`
//! would refuse. Every integer field of a request body is read by [`whole_number`] instead:
//! a number without a fractional part, written either way, within `i64`.

use std::fmt;

use serde::de::{self, Deserializer, Unexpected, Visitor};

/// How a number outside `i64` is refused.
const IN_RANGE: &str = "a whole number from -9223372036854775808 to 9223372036854775807";

/// For `#[serde(deserialize_with = "crate::api::whole_number")]` on an `i64` field: `548`,
/// `548.0` and `5.48e2` are 548; `1.5`, `"548"` and `1e30` are refused with a message saying
/// a whole number was expected (which the field's own range check then narrows).
pub fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    deserializer.deserialize_any(WholeNumber)
}

struct WholeNumber;

impl Visitor<'_> for WholeNumber {
    type Value = i64;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a whole number")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<i64, E> {
        Ok(value)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<i64, E> {
        i64::try_from(value).map_err(|_| E::invalid_value(Unexpected::Unsigned(value), &IN_RANGE))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<i64, E> {
        if value.fract() != 0.0 || !value.is_finite() {
            return Err(E::invalid_type(Unexpected::Float(value), &self));
        }
        // -2^63 is exactly an f64 and an i64; 2^63 is the first f64 past i64::MAX.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if !(-LIMIT..LIMIT).contains(&value) {
            return Err(E::invalid_value(Unexpected::Float(value), &IN_RANGE));
        }
        Ok(value as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Body {
        #[serde(deserialize_with = "whole_number")]
        n: i64,
    }

    fn read(json: &str) -> Result<i64, String> {
        serde_json::from_str::<Body>(&format!(r#"{{"n": {json}}}"#))
            .map(|body| body.n)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn whole_numbers_are_read_however_written() {
        for (json, n) in [
            ("548", 548),
            ("548.0", 548),
            ("5.48e2", 548),
            ("-0.0", 0),
            ("-7", -7),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
            ("-9223372036854775808.0", i64::MIN),
        ] {
            assert_eq!(read(json), Ok(n), "{json}");
        }
    }

    #[test]
    fn anything_else_is_refused_as_not_a_whole_number() {
        for json in [
            "1.5",
            "-0.25",
            r#""548""#,
            "null",
            "true",
            "[1]",
            "1e30",
            "9223372036854775808",
            "9223372036854775808.0",
            "99999999999999999999999",
        ] {
            let error = read(json).unwrap_err();
            assert!(error.contains("expected a whole number"), "{json}: {error}");
        }
        assert!(read("1.5")
            .unwrap_err()
            .starts_with("invalid type: floating point `1.5`"));
        assert!(read("1e30")
            .unwrap_err()
            .contains("expected a whole number from -9223372036854775808"));
    }
}
