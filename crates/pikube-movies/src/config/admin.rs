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
        let email = Email::parse(email).map_err(|message| ConfigError::Invalid {
            variable: "MOVIES_ADMIN_EMAIL",
            message,
        })?;
        check_password(password).map_err(|message| ConfigError::Invalid {
            variable: "MOVIES_ADMIN_PASSWORD",
            message,
        })?;
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
