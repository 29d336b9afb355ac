//! What every service's API shares: the error shape and the request extractors.

mod body;
mod error;
mod query;

pub use body::JsonBody;
pub use error::ApiError;
pub use query::QueryParams;
