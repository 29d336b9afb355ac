//! The OpenAPI documents: one per service, merged for a process serving several, on top of
//! what every process shares (the error shape, the probes, `/metrics`, this document).

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::api::method_not_allowed;
use crate::ServiceName;

/// The error shape, the common responses and parameters, and the routes of every process.
const COMMON: &str = include_str!("../openapi/common.json");

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

/// Adds `doc`'s paths and every section of its components (schemas, responses, parameters,
/// security schemes) to the merged ones.
fn absorb(doc: &Value, paths: &mut Map<String, Value>, components: &mut Map<String, Value>) {
    if let Some(doc_paths) = doc["paths"].as_object() {
        paths.extend(doc_paths.clone());
    }
    if let Some(sections) = doc["components"].as_object() {
        for (section, entries) in sections {
            if let (Some(entries), Some(merged)) = (
                entries.as_object(),
                components
                    .entry(section.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut(),
            ) {
                merged.extend(entries.clone());
            }
        }
    }
}

/// The document of `services`: their paths and components, under one title.
pub fn merged(services: &[ServiceName]) -> Value {
    let mut paths = Map::new();
    let mut components = Map::new();
    let sources = std::iter::once(COMMON).chain(services.iter().map(|&s| document(s)));
    for source in sources {
        // The documents are checked by tests; an unreadable one contributes nothing.
        if let Ok(doc) = serde_json::from_str::<Value>(source) {
            absorb(&doc, &mut paths, &mut components);
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
            "description": "Tickets for a movie at a date and place. Sign in with POST /api/auth/token and send `Authorization: Bearer <token>`. Every error is a JSON `Error`: a message naming the problem and, where one is to blame, the field.",
        },
        "components": components,
        "paths": paths,
    })
}

/// `GET /api/openapi.json`.
pub fn route(services: &[ServiceName]) -> Router {
    let document = merged(services);
    Router::new()
        .route(
            "/api/openapi.json",
            get(move || std::future::ready(Json(document.clone()))),
        )
        .method_not_allowed_fallback(method_not_allowed)
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

    fn resolve<'a>(doc: &'a Value, target: &str) -> Option<&'a Value> {
        doc.pointer(target.strip_prefix('#')?)
    }

    #[test]
    fn every_document_is_json_and_every_reference_resolves_in_each_process() {
        serde_json::from_str::<Value>(COMMON).expect("common.json is JSON");
        for service in ServiceName::ALL {
            serde_json::from_str::<Value>(document(service))
                .unwrap_or_else(|e| panic!("{service}.json is not JSON: {e}"));
        }
        let alone = ServiceName::ALL.map(|service| vec![service]);
        let all = vec![ServiceName::ALL.to_vec()];
        for services in alone.iter().chain(&all) {
            let doc = merged(services);
            let mut found = Vec::new();
            refs(&doc, "", &mut found);
            assert!(!found.is_empty());
            for (at, target) in found {
                assert!(
                    resolve(&doc, target).is_some(),
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
