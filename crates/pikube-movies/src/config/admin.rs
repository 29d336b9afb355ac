//! The administrator account, bootstrapped from the environment: never a built-in password.

use std::fmt;

use super::ConfigError;
use crate::credentials::{check_password, Email};

/// The administrator the users service creates (or updates) at start
/// (`MOVIES_ADMIN_EMAIL`, `MOVIES_ADMIN_PASSWORD`). Not `Debug`: it holds a password.
#[derive(Clone)]
pub struct AdminAccount {
    /// The administrator's e-mail address, checked as the users service checks one.
    pub email: String,
    password: String,
}

impl AdminAccount {
    /// Both variables or neither: one without the other is a mistake worth stopping for.
    pub(super) fn from_pair(
        email: Option<String>,
        password: Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        match (email, password) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(ConfigError::Invalid {
                variable: "MOVIES_ADMIN_PASSWORD",
                message: "is not set, but MOVIES_ADMIN_EMAIL is: set both or neither".into(),
            }),
            (None, Some(_)) => Err(ConfigError::Invalid {
                variable: "MOVIES_ADMIN_EMAIL",
                message: "is not set, but MOVIES_ADMIN_PASSWORD is: set both or neither".into(),
            }),
            (Some(email), Some(password)) => Self::new(&email, &password).map(Some),
        }
    }

    /// Both checked as registration checks them.
    pub fn new(email: &str, password: &str) -> Result<Self, ConfigError> {
        let email = Email::parse(email).map_err(ConfigError::AdminEmail)?;
        check_password(password).map_err(ConfigError::AdminPassword)?;
        Ok(AdminAccount {
            email: email.into_string(),
            password: password.to_owned(),
        })
    }

    /// The password, for the one place that hashes it.
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for AdminAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminAccount")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::{InvalidEmail, PasswordLength};

    #[test]
    fn a_bad_administrator_is_refused_naming_the_variable_and_what_is_wrong() {
        let err = AdminAccount::new(" ada ", "correct horse").unwrap_err();
        assert!(
            matches!(&err, ConfigError::AdminEmail(InvalidEmail(email)) if email == "ada"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "MOVIES_ADMIN_EMAIL: `ada` is not an email address"
        );
        let err = AdminAccount::new("ada@example.org", "s3cr3t").unwrap_err();
        assert!(
            matches!(err, ConfigError::AdminPassword(PasswordLength::TooShort)),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "MOVIES_ADMIN_PASSWORD: the password must have at least 8 characters"
        );
        // The error says what is wrong, never the password itself.
        assert!(!format!("{err:?}").contains("s3cr3t"), "{err:?}");
    }
}
