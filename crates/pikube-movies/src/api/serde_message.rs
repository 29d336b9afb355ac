//! serde's error messages, reworded for API clients: which field, and what was expected in
//! JSON terms rather than Rust ones (`a whole number`, not `i64`; `a JSON object`, not
//! `struct RegistrationRequest`).

/// The field a serde error is about (`seats[2]`, `halls[0].rows`), if it names one, and the
/// message without the field prefix, reworded.
pub fn explain(detail: &str) -> (Option<String>, String) {
    let (path, rest) = match detail.split_once(": ") {
        Some((path, rest)) if !path.is_empty() && !path.contains(' ') => (Some(path), rest),
        _ => (None, detail),
    };
    let named = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| rest.strip_prefix(prefix))
        .and_then(|tail| tail.split_once('`'))
        .map(|(name, _)| name);
    let field = match (path, named) {
        (Some(path), Some(name)) if path == name || path.ends_with(&format!(".{name}")) => {
            Some(path.to_owned())
        }
        (Some(path), Some(name)) => Some(format!("{path}.{name}")),
        (Some(path), None) => Some(path.to_owned()),
        (None, Some(name)) => Some(name.to_owned()),
        (None, None) => None,
    };
    (field, reword(rest))
}

fn reword(message: &str) -> String {
    let mut message = message
        .replace("expected i64", "expected a whole number")
        .replace("invalid type: map", "invalid type: object")
        .replace("invalid type: sequence", "invalid type: array")
        .replace("expected a sequence", "expected a JSON array");
    // `expected struct Hall` or `expected struct Hall with 3 elements`: the Rust type's name
    // means nothing to a client.
    while let Some(start) = message.find("expected struct ") {
        let after = &message[start + "expected struct ".len()..];
        let name_end = after.find([' ', ',']).unwrap_or(after.len());
        let mut end = start + "expected struct ".len() + name_end;
        if let Some(elements) = message[end..].strip_prefix(" with ") {
            if let Some(words) = elements.find(" elements") {
                end += " with ".len() + words + " elements".len();
            }
        }
        message.replace_range(start..end, "expected a JSON object");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::explain;

    #[test]
    fn fields_are_found_wherever_serde_puts_them() {
        let cases = [
            (
                "missing field `name` at line 1 column 18",
                Some("name"),
                "missing field `name` at line 1 column 18",
            ),
            (
                "halls[0]: missing field `rows` at line 1 column 9",
                Some("halls[0].rows"),
                "missing field `rows` at line 1 column 9",
            ),
            (
                "x: unknown field `x`, expected one of `email`",
                Some("x"),
                "unknown field `x`, expected one of `email`",
            ),
            (
                "duplicate field `city`",
                Some("city"),
                "duplicate field `city`",
            ),
            (
                "price_cents: invalid type: floating point `1.5`, expected i64 at line 1",
                Some("price_cents"),
                "invalid type: floating point `1.5`, expected a whole number at line 1",
            ),
            (
                "invalid type: null, expected struct RegistrationRequest at line 1 column 4",
                None,
                "invalid type: null, expected a JSON object at line 1 column 4",
            ),
            (
                "halls[1]: invalid type: sequence, expected struct Hall with 3 elements at line 1",
                Some("halls[1]"),
                "invalid type: array, expected a JSON object at line 1",
            ),
        ];
        for (detail, field, message) in cases {
            let (found, reworded) = explain(detail);
            assert_eq!(found.as_deref(), field, "{detail}");
            assert_eq!(reworded, message, "{detail}");
        }
    }
}
