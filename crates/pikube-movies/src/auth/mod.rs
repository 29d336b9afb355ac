//! Who is calling: users' bearer tokens (EdDSA JWTs) signed by the users service and
//! checked by every service with its public key; services' tokens for each other's
//! `/internal` routes, one key per caller, scoped to its routes; passwords hashed with
//! Argon2id.

mod caller;
mod client;
pub mod internal_routes;
mod password;
mod throttle;
mod token;

pub use caller::{Admin, Caller, ServiceCaller};
pub use client::ClientAddress;
pub use password::{hash_password, verify_password, Busy, HashError};
pub use throttle::{Rate, Throttle};
pub use token::{Role, TokenKeys, TokenSigner, TOKEN_LIFETIME};
