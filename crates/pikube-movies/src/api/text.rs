//! Text fields as clients send them: trimmed, of bounded length, and free of control
//! characters. A NUL byte above all: PostgreSQL cannot store it in TEXT and fails the whole
//! statement, so it is refused here as the client's mistake it is, on SQLite too.

use super::ApiError;

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
