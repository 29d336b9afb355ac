//! Who is calling: bearer tokens (HS256 JWTs) signed by the users service and checked by
//! every service with the shared key; passwords hashed with Argon2id.

mod caller;
mod client;
mod password;
mod throttle;
mod token;

pub use caller::{Admin, Caller, ServiceCaller};
pub use client::ClientAddress;
pub use password::{hash_password, verify_password, Busy, HashError};
pub use throttle::{Rate, Throttle};
pub use token::{Role, TokenKeys, TOKEN_LIFETIME};
