//! What an account's credentials must be: a real-looking email and a long enough password.
//! Registration checks them, and so does the administrator account read from the
//! environment at start, so both live here rather than in the users service or config.

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password accepted.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A lower-cased email address of a plausible shape (`local@domain.tld`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// What [`Email::parse`] accepts, but for its length (at most 254 bytes once trimmed and
/// lower-cased), which a pattern cannot count.
impl utoipa::PartialSchema for Email {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use crate::api::{CONTROL, SPACE};
        let part = format!("[^@{SPACE}{CONTROL}]");
        let edge = format!("[^@.{SPACE}{CONTROL}]");
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(format!(
                "^[{SPACE}]*{part}+@{edge}{part}*\\.{part}*{edge}[{SPACE}]*$"
            )))
            .description(Some(
                "An email address (at most 254 bytes), stored lower-cased: one address is one \
                 account however it is typed",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Email {}

/// Text that is not an email address (shown trimmed, as it was written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an email address")]
pub struct InvalidEmail(pub String);

/// A password shorter or longer than accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordLength {
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("the password must have at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Email, InvalidEmail> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && match email.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if valid {
            Ok(Email(email))
        } else {
            Err(InvalidEmail(raw.trim().to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Whether `password`'s length, in characters, is within the bounds.
pub fn check_password(password: &str) -> Result<(), PasswordLength> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err(PasswordLength::TooShort)
    } else if chars > MAX_PASSWORD_CHARS {
        Err(PasswordLength::TooLong)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_must_look_like_addresses() {
        assert_eq!(
            Email::parse(" Ada@Example.ORG ").unwrap().as_str(),
            "ada@example.org"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.org",
            "ada@example",
            "a b@example.org",
            "a@b@c.org",
            "ada@.org",
        ] {
            assert_eq!(
                Email::parse(bad),
                Err(InvalidEmail(bad.to_owned())),
                "{bad}"
            );
        }
        assert_eq!(
            Email::parse(" ada ").unwrap_err().to_string(),
            "`ada` is not an email address"
        );
    }

    #[test]
    fn passwords_need_eight_characters() {
        assert_eq!(check_password("1234567"), Err(PasswordLength::TooShort));
        assert!(check_password("12345678").is_ok());
        assert!(check_password("äöüäöüäö").is_ok());
        assert_eq!(
            check_password(&"x".repeat(MAX_PASSWORD_CHARS + 1)),
            Err(PasswordLength::TooLong)
        );
        assert_eq!(
            PasswordLength::TooShort.to_string(),
            "the password must have at least 8 characters"
        );
    }
}
