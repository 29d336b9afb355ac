//! Ids. Every id this API hands out is a UUID it generated, so text of any other shape
//! names nothing: it is answered here, at the edge, and never reaches a database (where a
//! NUL byte, for one, is an error in PostgreSQL rather than a row that does not exist).

use std::fmt;
use std::ops::Deref;

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Required};

use super::ApiError;

/// An id of this API, in its canonical form (lower-case, hyphenated). Being a UUID, it is
/// safe as it is in a URL path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Id(String);

impl Id {
    /// `None` for anything that is not a UUID. Other spellings of a UUID (upper case,
    /// braces) are accepted and canonicalised, so they find what the canonical one does.
    pub fn parse(text: &str) -> Option<Id> {
        uuid::Uuid::try_parse(text.trim())
            .ok()
            .map(|id| Id(id.hyphenated().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A UUID: what [`Id::parse`] reads (any spelling), and what the API writes (the canonical one).
impl utoipa::PartialSchema for Id {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom("uuid".to_owned())))
            .into()
    }
}

impl utoipa::ToSchema for Id {}

/// A filter by an id, where nothing (or only spaces) filters nothing.
pub fn id_filter_schema() -> Schema {
    Schema::OneOf(
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(<Id as utoipa::PartialSchema>::schema())
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(format!("^[{}]*$", super::SPACE))),
            )
            .build(),
    )
}

/// So that an `Id` goes wherever the `&str` id it replaces went.
impl Deref for Id {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How much of a client's text an error message repeats: enough to recognise it, not a
/// megabyte of it.
const SHOWN_CHARS: usize = 80;

/// `text` as quoted in an error message.
pub fn shown(text: &str) -> String {
    if text.chars().count() <= SHOWN_CHARS {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(SHOWN_CHARS).collect();
        short.push('…');
        short
    }
}

/// `raw`, a request field naming a `kind` (`movie`), as an id: text that is not an id names
/// no movie, just as an id nobody has does (422 on `field`).
pub fn id_field(field: &str, kind: &str, raw: &str) -> Result<Id, ApiError> {
    Id::parse(raw)
        .ok_or_else(|| ApiError::invalid(field, format!("no {kind} with id `{}`", shown(raw))))
}

/// The 404 for a path segment that cannot be an id.
fn not_an_id(raw: &str) -> ApiError {
    ApiError::not_found(format!(
        "nothing has the id `{}`: ids are UUIDs such as 67e55044-10b1-426f-9247-bb680e5fe0c8",
        shown(raw)
    ))
}

/// The `{id}` segment of a route, parsed: anything but an id is a 404 (in the API's error
/// shape, as is a segment that does not even decode to UTF-8).
pub struct PathId(pub Id);

/// The `{id}` path parameter of every route that has one.
impl utoipa::IntoParams for PathId {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![ParameterBuilder::new()
            .name("id")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some("An id this API gave out; anything else is a 404"))
            .schema(Some(<Id as utoipa::PartialSchema>::schema()))
            .build()]
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(raw)) => Id::parse(&raw).map(PathId).ok_or_else(|| not_an_id(&raw)),
            Err(PathRejection::FailedToDeserializePathParams(_)) => Err(ApiError::not_found(
                "nothing has this id: the path is not valid percent-encoded UTF-8",
            )),
            // Only a route without an `{id}` can get here: a mistake in this program.
            Err(other) => Err(ApiError::internal(other.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_uuids_are_ids_and_they_are_canonicalised() {
        let id = Id::parse(" 67E55044-10B1-426F-9247-BB680E5FE0C8 ").unwrap();
        assert_eq!(id.as_str(), "67e55044-10b1-426f-9247-bb680e5fe0c8");
        for bad in ["", "42", "a/b", "\0", "67e55044-10b1-426f-9247", "é"] {
            assert_eq!(Id::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn long_text_is_shortened_in_messages() {
        assert_eq!(shown("abc"), "abc");
        let long = "x".repeat(1000);
        assert_eq!(shown(&long).chars().count(), SHOWN_CHARS + 1);
    }
}
