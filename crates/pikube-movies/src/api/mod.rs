//! What every service's API shares: the error shape, the request extractors, and the
//! parsing of the ids and text clients send.

mod body;
mod error;
mod id;
mod method;
mod query;
mod serde_message;
mod text;

pub use body::{JsonBody, MAX_BODY_BYTES};
pub use error::ApiError;
pub use id::{id_field, shown, Id, PathId};
pub use method::method_not_allowed;
pub use query::QueryParams;
pub use text::{free_text, one_line};
