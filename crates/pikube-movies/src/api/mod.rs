//! What every service's API shares: the error shape, the request extractors, and the
//! parsing of the ids and text clients send.

mod body;
mod error;
mod id;
mod method;
mod number;
mod query;
mod serde_message;
mod text;

pub use body::{JsonBody, MAX_BODY_BYTES};
pub use error::{ApiError, ErrorBody};
pub use id::{id_field, id_filter_schema, shown, Id, PathId};
pub use method::method_not_allowed;
pub use number::whole_number;
pub use query::QueryParams;
pub use text::{
    free_text, free_text_schema, one_line, one_line_filter_schema, one_line_schema, CONTROL, SPACE,
};
