//! A new user, parsed from the request: a real-looking email, a name, a long enough password.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::{one_line, one_line_schema, ApiError};
use crate::credentials::{check_password, Email};

/// An email, a name and a password of at least 8 characters.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewUser)]
pub struct RegistrationRequest {
    #[schema(value_type = Email)]
    email: String,
    #[schema(schema_with = one_line_schema::<100>)]
    name: String,
    #[schema(min_length = 8, max_length = 1024)]
    password: String,
}

pub struct Registration {
    pub email: Email,
    pub name: String,
    pub password: String,
}

impl RegistrationRequest {
    pub fn parse(self) -> Result<Registration, ApiError> {
        let email = Email::parse(&self.email)
            .map_err(|invalid| ApiError::invalid("email", invalid.to_string()))?;
        let name = one_line("name", &self.name, 100)?;
        check_password(&self.password)
            .map_err(|length| ApiError::invalid("password", length.to_string()))?;
        Ok(Registration {
            email,
            name,
            password: self.password,
        })
    }
}

/// The email and password of a user.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub email: String,
    pub password: String,
}
