//! The OpenAPI documents, generated from the code: each service's from the handlers its router
//! serves (their `#[utoipa::path]` and the types they read and answer), merged for a process
//! serving several, on top of what every process shares (the error shape and answers, the
//! probes, `/metrics`, this document).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, Ref, RefOr};
use utoipa::{IntoResponses, Modify, OpenApi as _, ToResponse, ToSchema};

use crate::api::{method_not_allowed, ErrorBody};
use crate::services;
use crate::ServiceName;

/// The security scheme of the operations that need a user's token.
pub const BEARER: &str = "bearer";

/// An answer with the error shape.
fn error_answer(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(ErrorBody::name())))
            .build(),
    )
}

/// `Retry-After`, in seconds.
fn retry_after() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        )
        .description(Some("Seconds to wait before trying again"))
        .build()
}

/// Declares an error answer shared by several operations, in `#/components/responses`.
macro_rules! error_answers {
    ($($(#[$doc:meta])* $name:ident: $description:literal $(, $header:literal => $value:expr)*;)*) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    let answer = error_answer($description);
                    $(let answer = answer.header($header, $value);)*
                    (stringify!($name), answer.build().into())
                }
            }
        )*
    };
}

error_answers! {
    /// 400 from a request that cannot be read.
    BadRequest: "The request cannot be read: not JSON, a malformed query parameter or header";
    /// 401 from a missing or bad token.
    Unauthorized: "No valid bearer token: missing, malformed, expired or signed with another key",
        "WWW-Authenticate" => HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["Bearer"])))
            .build();
    /// 403 from a token without the right.
    Forbidden: "Signed in, but not allowed (only an administrator may do this)";
    /// 404.
    NotFound: "No such resource (or not yours: other users' resources are not found either)";
    /// 409.
    Conflict: "The request contradicts the current state";
    /// 413 from a body over the limit.
    PayloadTooLarge: "The request body is larger than this API accepts";
    /// 415 from a body not sent as JSON.
    UnsupportedMediaType: "The body was not sent as `Content-Type: application/json`";
    /// 422 from a body read but wrong.
    Invalid: "The JSON was read, but a field is wrong: `error.field` names it";
    /// 503 when a peer did not answer.
    Unavailable: "A service this one needs did not answer; try again";
    /// 429 from the sign-in throttles.
    TooManyRequests: "Too many sign-in or registration attempts from this client address, or too many failed sign-ins for this account; `Retry-After` says how many seconds to wait",
        "Retry-After" => retry_after();
    /// 503 when the password hashing is saturated (or a peer did not answer).
    Busy: "Too many passwords are being checked at once, or a service this one needs did not answer; try again (after `Retry-After` seconds when given)",
        "Retry-After" => retry_after();
}

/// A reference to a shared answer.
fn answer<'r, R: ToResponse<'r>>() -> RefOr<Response> {
    RefOr::Ref(Ref::from_response_name(R::response().0))
}

/// What a [`crate::api::JsonBody`] refuses: 400, 413, 415 and 422.
pub struct BodyRejections;

impl IntoResponses for BodyRejections {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            ("400".to_owned(), answer::<BadRequest>()),
            ("413".to_owned(), answer::<PayloadTooLarge>()),
            ("415".to_owned(), answer::<UnsupportedMediaType>()),
            ("422".to_owned(), answer::<Invalid>()),
        ])
    }
}

/// What a [`crate::api::QueryParams`] refuses: 400.
pub struct QueryRejections;

impl IntoResponses for QueryRejections {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([("400".to_owned(), answer::<BadRequest>())])
    }
}

/// What [`crate::auth::Caller`] and [`crate::auth::Admin`] refuse: 401 and 403.
pub struct TokenRejections;

impl IntoResponses for TokenRejections {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            ("401".to_owned(), answer::<Unauthorized>()),
            ("403".to_owned(), answer::<Forbidden>()),
        ])
    }
}

/// The bearer scheme, and the routes [`pikube_http::Ops`] adds to every process.
struct Common;

impl Modify for Common {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("From POST /api/auth/token; valid for an hour"))
                    .build(),
            ),
        );
        let text = |description: &str, media: &str, value: Option<&str>| {
            let mut schema = ObjectBuilder::new().schema_type(Type::String);
            if let Some(value) = value {
                schema = schema.enum_values(Some([value]));
            }
            ResponseBuilder::new()
                .description(description)
                .content(media, ContentBuilder::new().schema(Some(schema)).build())
        };
        let probes = [
            (
                "/healthz",
                "healthz",
                "Liveness: 200 while the process serves",
                vec![("200", text("Alive", "text/plain", Some("ok\n")))],
            ),
            (
                "/readyz",
                "readyz",
                "Readiness: 200, or 503 while draining before shutdown",
                vec![
                    ("200", text("Ready", "text/plain", None)),
                    ("503", text("Shutting down", "text/plain", None)),
                ],
            ),
            (
                "/metrics",
                "metrics",
                "Prometheus metrics: requests by route and status, and each service's own counters",
                vec![(
                    "200",
                    text("OpenMetrics text", "application/openmetrics-text", None),
                )],
            ),
        ];
        for (path, id, summary, answers) in probes {
            let mut operation = OperationBuilder::new()
                .operation_id(Some(id))
                .summary(Some(summary));
            for (status, answer) in answers {
                operation = operation.response(status, answer);
            }
            doc.paths
                .paths
                .insert(path.to_owned(), PathItem::new(HttpMethod::Get, operation));
        }
    }
}

/// What every process serves besides its services' routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(document),
    components(
        schemas(ErrorBody),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            Invalid,
            Unavailable,
            TooManyRequests,
            Busy
        )
    ),
    modifiers(&Common)
)]
struct CommonApi;

fn service_document(service: ServiceName) -> OpenApi {
    match service {
        ServiceName::Users => services::users::openapi(),
        ServiceName::Movies => services::movies::openapi(),
        ServiceName::Cinemas => services::cinemas::openapi(),
        ServiceName::Screenings => services::screenings::openapi(),
        ServiceName::Reservations => services::reservations::openapi(),
        ServiceName::Payments => services::payments::openapi(),
    }
}

/// The document of `services`: their paths and components, under one title.
pub fn merged(services: &[ServiceName]) -> Value {
    let mut doc = CommonApi::openapi();
    for &service in services {
        doc.merge(service_document(service));
    }
    let title = match services {
        [one] => format!("Movies {one} service"),
        _ => "Movies ticketing services".to_owned(),
    };
    doc.info = InfoBuilder::new()
        .title(title)
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Tickets for a movie at a date and place. Sign in with POST /api/auth/token and send \
             `Authorization: Bearer <token>`. Every error is a JSON `Error`: a message naming \
             the problem and, where one is to blame, the field.",
        ))
        .build();
    // The document is plain data; a failure here would be a bug in utoipa's serialisation.
    serde_json::to_value(&doc).unwrap_or_default()
}

/// This document, for the services this process serves.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
async fn document(State(doc): State<Arc<Value>>) -> Json<Value> {
    Json(Value::clone(&doc))
}

/// `GET /api/openapi.json`.
pub fn route(services: &[ServiceName]) -> Router {
    Router::new()
        .route("/api/openapi.json", get(document))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(Arc::new(merged(services)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in `value`, with where it was found.
    fn refs<'a>(value: &'a Value, at: &str, found: &mut Vec<(String, &'a str)>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    match (key.as_str(), child) {
                        ("$ref", Value::String(target)) => found.push((at.to_owned(), target)),
                        _ => refs(child, &format!("{at}/{key}"), found),
                    }
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    refs(child, &format!("{at}/{index}"), found);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_in_each_process() {
        let alone = ServiceName::ALL.map(|service| vec![service]);
        let all = vec![ServiceName::ALL.to_vec()];
        for services in alone.iter().chain(&all) {
            let doc = merged(services);
            let mut found = Vec::new();
            refs(&doc, "", &mut found);
            assert!(!found.is_empty());
            for (at, target) in found {
                let resolved = target
                    .strip_prefix('#')
                    .and_then(|pointer| doc.pointer(pointer));
                assert!(
                    resolved.is_some(),
                    "{services:?}: {at} refers to {target}, which is not there"
                );
            }
        }
    }

    #[test]
    fn a_single_service_documents_its_own_routes_and_the_common_ones() {
        let doc = merged(&[ServiceName::Movies]);
        assert_eq!(doc["info"]["title"], "Movies movies service");
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/api/movies",
            "/api/movies/{id}",
            "/healthz",
            "/api/openapi.json",
        ] {
            assert!(paths.contains_key(path), "{path}");
        }
        assert!(!paths.contains_key("/api/users"));
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
}
