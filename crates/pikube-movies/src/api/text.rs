//! Text fields as clients send them: trimmed, of bounded length, and free of control
//! characters. A NUL byte above all: PostgreSQL cannot store it in TEXT and fails the whole
//! statement, so it is refused here as the client's mistake it is, on SQLite too.

use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use super::ApiError;

/// What [`str::trim`] removes: the Unicode `White_Space` characters, as a regex class body.
pub const SPACE: &str =
    r"\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// What [`char::is_control`] matches (the Unicode `Cc` category), as a regex class body.
pub const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";

/// The control characters free text refuses: all but tab, line feed and carriage return.
const CONTROL_BUT_BREAKS: &str = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F";

/// A regex for text that, once trimmed, has `min` (0 or 1) to `max` characters, none of them
/// in `refused`: what [`one_line`] and [`free_text`] accept, spelt for a schema.
fn trimmed_pattern(min: usize, max: usize, refused: &str) -> String {
    let edge = format!("[^{SPACE}{refused}]");
    let core = match max {
        0 => String::new(),
        1 => edge.clone(),
        _ => format!("{edge}(?:[^{refused}]{{0,{}}}{edge})?", max - 2),
    };
    let core = if min == 0 && max > 0 {
        format!("(?:{core})?")
    } else {
        core
    };
    format!("^[{SPACE}]*{core}[{SPACE}]*$")
}

/// The schema of a [`one_line`] field of at most `MAX` characters: the length and the
/// characters are in the pattern, which allows the spaces the server trims.
pub fn one_line_schema<const MAX: usize>() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .pattern(Some(trimmed_pattern(1, MAX, CONTROL)))
        .description(Some(format!(
            "One line of text: 1 to {MAX} characters once trimmed, no control characters"
        )))
        .build()
}

/// The schema of a filter by a [`one_line`] value, where nothing (or only spaces) filters
/// nothing.
pub fn one_line_filter_schema<const MAX: usize>() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(trimmed_pattern(0, MAX, CONTROL)))
        .description(Some(format!(
            "Empty, or one line of text: at most {MAX} characters once trimmed, no control \
             characters"
        )))
        .build()
}

/// The schema of a [`free_text`] field of at most `MAX` characters.
pub fn free_text_schema<const MAX: usize>() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(trimmed_pattern(0, MAX, CONTROL_BUT_BREAKS)))
        .description(Some(format!(
            "At most {MAX} characters once trimmed; line breaks and tabs allowed, no other \
             control characters"
        )))
        .build()
}

/// One line of text (a name, a title, a city): trimmed, 1 to `max` characters, no control
/// characters (line breaks included).
pub fn one_line(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("{field} must have 1 to {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            format!("{field} must be one line of text, without control characters"),
        ));
    }
    Ok(value.to_owned())
}

/// Free text (a description): at most `max` characters, possibly none; line breaks and tabs
/// are fine, other control characters are not.
pub fn free_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("{field} must have at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::invalid(
            field,
            format!("{field} must not contain control characters other than line breaks and tabs"),
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_is_trimmed_bounded_and_printable() {
        assert_eq!(one_line("name", "  Ada  ", 10).unwrap(), "Ada");
        assert_eq!(one_line("name", "Ädä", 3).unwrap(), "Ädä");
        for bad in ["", "   ", "abcdefghijk", "a\0b", "a\nb", "\u{7f}"] {
            let error = one_line("name", bad, 10).unwrap_err();
            assert!(error.message().starts_with("name must"), "{bad:?}");
        }
    }

    #[test]
    fn free_text_keeps_line_breaks_but_not_nul() {
        assert_eq!(free_text("d", "", 5).unwrap(), "");
        assert_eq!(free_text("d", "a\nb\tc", 5).unwrap(), "a\nb\tc");
        assert!(free_text("d", "a\0", 5).is_err());
        assert!(free_text("d", "abcdef", 5).is_err());
    }
}
