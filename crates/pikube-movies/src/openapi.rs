//! The OpenAPI documents: one per service, merged for a process serving several.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::ServiceName;

fn document(service: ServiceName) -> &'static str {
    match service {
        ServiceName::Users => include_str!("../openapi/users.json"),
        ServiceName::Movies => include_str!("../openapi/movies.json"),
        ServiceName::Cinemas => include_str!("../openapi/cinemas.json"),
        ServiceName::Screenings => include_str!("../openapi/screenings.json"),
        ServiceName::Reservations => include_str!("../openapi/reservations.json"),
        ServiceName::Payments => include_str!("../openapi/payments.json"),
    }
}

/// The document of `services`: their paths and components, under one title.
pub fn merged(services: &[ServiceName]) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for &service in services {
        // The documents are checked by tests; an unreadable one contributes nothing.
        let Ok(doc) = serde_json::from_str::<Value>(document(service)) else {
            continue;
        };
        if let Some(service_paths) = doc["paths"].as_object() {
            paths.extend(service_paths.clone());
        }
        if let Some(service_schemas) = doc["components"]["schemas"].as_object() {
            schemas.extend(service_schemas.clone());
        }
    }
    let title = match services {
        [one] => format!("Movies {one} service"),
        _ => "Movies ticketing services".to_owned(),
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Tickets for a movie at a date and place. Sign in with POST /api/auth/token and send `Authorization: Bearer <token>`.",
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
        },
        "paths": paths,
    })
}

/// `GET /api/openapi.json`.
pub fn route(services: &[ServiceName]) -> Router {
    let document = merged(services);
    Router::new().route(
        "/api/openapi.json",
        get(move || std::future::ready(Json(document.clone()))),
    )
}
