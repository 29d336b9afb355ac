//! What every process serves besides the API (probes, metrics, a JSON 404), and the OpenAPI
//! document as a contract, on SQLite and on PostgreSQL: every documented operation answers
//! a well-formed request as documented, and every route that answered is documented.

use crate::contract;
use crate::support;

use std::collections::BTreeSet;

use contract::{Api, Contract};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{Backend, TestApp};

async fn probes_metrics_and_the_fallback_answer(backend: Backend) {
    let app = TestApp::start(backend).await;
    for (path, text) in [("/healthz", "ok\n"), ("/readyz", "ready\n")] {
        let response = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.text().await.unwrap(), text, "{path}");
    }

    app.buyer("ada@example.org").await;
    let response = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        response.headers()
    );
    let metrics = response.text().await.unwrap();
    for series in [
        "movies_users_registered_total 1",
        "movies_sign_ins_total{outcome=\"issued\"} 1",
        "# TYPE movies_reservations_created counter",
        "http_request_duration_seconds_count{method=\"POST\",route=\"/api/users\",status=\"201\"} 1",
    ] {
        assert!(metrics.contains(series), "no `{series}` in\n{metrics}");
    }
    assert!(metrics.trim_end().ends_with("# EOF"), "{metrics}");

    // Anything else is a JSON 404 pointing at the document, whatever the method.
    for method in [Method::GET, Method::POST, Method::DELETE, Method::PATCH] {
        for path in ["/", "/nope", "/api", "/api/", "/api/v1/render", "/internal"] {
            let reply = app.request(method.clone(), path, None, None).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
            assert_eq!(
                reply.body,
                json!({ "error": { "message": "no such route; see /api/openapi.json" } }),
                "{method} {path}"
            );
        }
    }
    // The unmatched requests are counted under one label, not one per path.
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("route=\"unmatched\",status=\"404\""),
        "{metrics}"
    );
    assert!(!metrics.contains("route=\"/nope\""), "{metrics}");
}

both_backends!(
    probes_metrics_and_the_fallback_answer,
    probes_metrics_and_the_fallback_answer
);

/// A request for a documented operation: method, path template, path, token, body.
type Request<'a> = (Method, &'a str, String, Option<&'a str>, Option<Value>);

async fn the_document_is_complete_and_every_operation_answers_as_documented(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let screening = app.screening(2, 2, 300).await;
    let admin = app.admin().await;
    let ada = app.buyer("ada@example.org").await;
    let api = Api::new(&app).await;
    let doc = &api.contract.doc;

    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Movies ticketing services");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    structure_is_sound(&api.contract);

    let sid = screening["id"].as_str().unwrap().to_owned();
    let movie = screening["movie_id"].as_str().unwrap().to_owned();
    let cinema = screening["cinema_id"].as_str().unwrap().to_owned();
    let held = api
        .post(
            "/api/reservations",
            Some(&ada),
            json!({ "screening_id": sid, "seats": ["A1"] }),
        )
        .await;
    let reservation = held.body["id"].as_str().unwrap().to_owned();
    let paid = api
        .pay(
            &ada,
            "document-tour",
            json!({ "reservation_id": reservation, "amount_cents": 300, "card_token": "tok_visa" }),
        )
        .await;
    let payment = paid.body["id"].as_str().unwrap().to_owned();
    let to_cancel = api
        .post(
            "/api/reservations",
            Some(&ada),
            json!({ "screening_id": sid, "seats": ["B2"] }),
        )
        .await;
    let to_cancel = to_cancel.body["id"].as_str().unwrap().to_owned();

    // One well-formed request per documented operation.
    let requests: Vec<Request<'_>> = vec![
        (Method::GET, "/healthz", "/healthz".into(), None, None),
        (Method::GET, "/readyz", "/readyz".into(), None, None),
        (Method::GET, "/metrics", "/metrics".into(), None, None),
        (
            Method::GET,
            "/api/openapi.json",
            "/api/openapi.json".into(),
            None,
            None,
        ),
        (
            Method::POST,
            "/api/users",
            "/api/users".into(),
            None,
            Some(json!({ "email": "tour@example.org", "name": "Tour", "password": "long enough" })),
        ),
        (
            Method::POST,
            "/api/auth/token",
            "/api/auth/token".into(),
            None,
            Some(json!({ "email": "tour@example.org", "password": "long enough" })),
        ),
        (
            Method::GET,
            "/api/users/me",
            "/api/users/me".into(),
            Some(&ada),
            None,
        ),
        (Method::GET, "/api/movies", "/api/movies".into(), None, None),
        (
            Method::POST,
            "/api/movies",
            "/api/movies".into(),
            Some(&admin),
            Some(json!({ "title": "Tour", "duration_minutes": 60 })),
        ),
        (
            Method::GET,
            "/api/movies/{id}",
            format!("/api/movies/{movie}"),
            None,
            None,
        ),
        (
            Method::GET,
            "/api/cinemas",
            "/api/cinemas?city=testville".into(),
            None,
            None,
        ),
        (
            Method::POST,
            "/api/cinemas",
            "/api/cinemas".into(),
            Some(&admin),
            Some(
                json!({ "name": "Tour", "city": "Tour", "halls": [{ "name": "T", "rows": 1, "seats_per_row": 1 }] }),
            ),
        ),
        (
            Method::GET,
            "/api/cinemas/{id}",
            format!("/api/cinemas/{cinema}"),
            None,
            None,
        ),
        (
            Method::GET,
            "/api/screenings",
            format!("/api/screenings?movie_id={movie}&city=Testville"),
            None,
            None,
        ),
        (
            Method::POST,
            "/api/screenings",
            "/api/screenings".into(),
            Some(&admin),
            Some(
                json!({ "movie_id": movie, "cinema_id": cinema, "hall": "Hall 1",
                         "starts_at": "2040-01-01T20:00:00Z", "price_cents": 300 }),
            ),
        ),
        (
            Method::GET,
            "/api/screenings/{id}",
            format!("/api/screenings/{sid}"),
            None,
            None,
        ),
        (
            Method::GET,
            "/api/screenings/{id}/seats",
            format!("/api/screenings/{sid}/seats"),
            None,
            None,
        ),
        (
            Method::POST,
            "/api/reservations",
            "/api/reservations".into(),
            Some(&ada),
            Some(json!({ "screening_id": sid, "seats": ["A2"] })),
        ),
        (
            Method::GET,
            "/api/reservations",
            "/api/reservations".into(),
            Some(&ada),
            None,
        ),
        (
            Method::GET,
            "/api/reservations/{id}",
            format!("/api/reservations/{reservation}"),
            Some(&ada),
            None,
        ),
        (
            Method::DELETE,
            "/api/reservations/{id}",
            format!("/api/reservations/{to_cancel}"),
            Some(&ada),
            None,
        ),
        (
            Method::POST,
            "/api/payments",
            "/api/payments".into(),
            Some(&ada),
            Some(
                json!({ "reservation_id": reservation, "amount_cents": 300, "card_token": "tok_visa" }),
            ),
        ),
        (
            Method::GET,
            "/api/payments/{id}",
            format!("/api/payments/{payment}"),
            Some(&ada),
            None,
        ),
    ];
    let covered: BTreeSet<(String, String)> = requests
        .iter()
        .map(|(method, template, ..)| (method.to_string(), template.to_string()))
        .collect();
    let documented: BTreeSet<(String, String)> = api
        .contract
        .operations()
        .into_iter()
        .map(|(method, template)| (method.to_string(), template))
        .collect();
    assert_eq!(
        covered, documented,
        "the requests below and the documented operations differ"
    );
    for (method, _, path, token, body) in requests {
        let headers: &[(&str, &str)] = if path == "/api/payments" {
            // The same request as before under the same key: a replay, still documented.
            &[("Idempotency-Key", "document-tour")]
        } else {
            &[]
        };
        let reply = api.call(method.clone(), &path, token, body, headers).await;
        assert!(
            reply.status.is_success(),
            "{method} {path}: {} {:?}",
            reply.status,
            reply.body
        );
    }

    // Every route that answered anything in this test, as the request metrics have it, is
    // documented, but the services' own internal routes (used above, by payments and
    // screenings) are not published.
    let metrics = app.metrics().await;
    let mut answered = BTreeSet::new();
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("http_request_duration_seconds_count{"))
    {
        let label = |name: &str| {
            let start = line.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            line[start..start + line[start..].find('"').unwrap()].to_owned()
        };
        answered.insert((label("method"), label("route")));
    }
    assert!(answered.len() > 20, "{answered:?}");
    let internal: Vec<_> = answered
        .iter()
        .filter(|(_, route)| route.starts_with("/internal/"))
        .collect();
    assert!(!internal.is_empty(), "{answered:?}");
    for (method, route) in &answered {
        if route.starts_with("/internal/") {
            assert!(
                doc["paths"].get(route).is_none(),
                "{route} is internal, yet published"
            );
        } else {
            assert!(
                documented.contains(&(method.clone(), route.clone())),
                "{method} {route} answered but is not documented"
            );
        }
    }
}

both_backends!(
    the_document_is_complete_and_every_operation_answers_as_documented,
    the_document_is_complete_and_every_operation_answers_as_documented
);

/// The document's own consistency: ids, summaries, bodies, errors, security.
fn structure_is_sound(contract: &Contract) {
    let doc = &contract.doc;
    let mut ids = BTreeSet::new();
    for (method, template) in contract.operations() {
        let operation = &doc["paths"][&template][method.as_str().to_ascii_lowercase()];
        let name = format!("{method} {template}");
        let id = operation["operationId"].as_str().unwrap_or_default();
        assert!(
            ids.insert(id.to_owned()),
            "{name}: operationId `{id}` is not unique"
        );
        assert!(
            operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{name}: no summary"
        );
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|code| code.starts_with('2')),
            "{name}: no success documented"
        );
        if template.contains("{id}") {
            assert!(
                responses.contains_key("404"),
                "{name}: an id may name nothing"
            );
        }
        if operation.get("security").is_some() {
            for code in ["401", "403"] {
                assert!(responses.contains_key(code), "{name}: no {code}");
            }
        }
        if let Some(body) = operation.get("requestBody") {
            let schema = &body["content"]["application/json"]["schema"]["$ref"];
            assert!(schema.is_string(), "{name}: the body has no schema");
            for code in ["400", "413", "415", "422"] {
                assert!(responses.contains_key(code), "{name}: no {code}");
            }
        }
        for (code, response) in responses {
            let response = match response.get("$ref").and_then(Value::as_str) {
                Some(target) => doc.pointer(target.trim_start_matches('#')).unwrap(),
                None => response,
            };
            if code.starts_with('4') || code.starts_with('5') {
                if let Some(schema) = response.pointer("/content/application~1json/schema") {
                    assert_eq!(
                        schema["$ref"], "#/components/schemas/Error",
                        "{name} {code}: errors have the one shape"
                    );
                }
            } else if code != "204" && template != "/healthz" && template != "/readyz" {
                assert!(
                    response.get("content").is_some(),
                    "{name} {code}: no content documented"
                );
            }
        }
    }
}

/// The checker itself: what it is given to find, it finds.
#[test]
fn the_contract_checker_finds_what_does_not_fit() {
    let contract = Contract {
        doc: json!({
            "paths": { "/things/{id}": { "get": { "responses": {
                "200": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Thing" } } } }
            } } } },
            "components": { "schemas": { "Thing": {
                "type": "object", "required": ["id", "size", "tags"], "additionalProperties": false,
                "properties": {
                    "id": { "type": "string", "format": "uuid" },
                    "size": { "type": "integer", "minimum": 1, "maximum": 3 },
                    "tags": { "type": "array", "maxItems": 2, "uniqueItems": true,
                              "items": { "type": "string", "enum": ["a", "b"] } },
                    "when": { "type": ["string", "null"], "format": "date-time" },
                }
            } } }
        }),
    };
    let check = |body: Value| {
        let reply = support::Reply {
            status: StatusCode::OK,
            headers: Default::default(),
            body,
        };
        contract.check_reply(&Method::GET, "/things/x", &reply)
    };
    let fine = json!({ "id": "67e55044-10b1-426f-9247-bb680e5fe0c8", "size": 2, "tags": ["a"], "when": null });
    assert_eq!(check(fine.clone()), Vec::<String>::new());
    for (flaw, body) in [
        ("not a uuid", json!({ "id": "x", "size": 2, "tags": [] })),
        (
            "too big",
            json!({ "id": fine["id"], "size": 4, "tags": [] }),
        ),
        (
            "a fraction",
            json!({ "id": fine["id"], "size": 1.5, "tags": [] }),
        ),
        ("missing", json!({ "id": fine["id"], "tags": [] })),
        (
            "extra",
            json!({ "id": fine["id"], "size": 1, "tags": [], "more": 1 }),
        ),
        (
            "not in the enum",
            json!({ "id": fine["id"], "size": 1, "tags": ["c"] }),
        ),
        (
            "duplicates",
            json!({ "id": fine["id"], "size": 1, "tags": ["a", "a"] }),
        ),
        (
            "not a time",
            json!({ "id": fine["id"], "size": 1, "tags": [], "when": "noon" }),
        ),
        ("not an object", json!([])),
    ] {
        assert!(!check(body).is_empty(), "{flaw}");
    }
    let undocumented = support::Reply {
        status: StatusCode::IM_A_TEAPOT,
        headers: Default::default(),
        body: Value::Null,
    };
    assert_eq!(
        contract
            .check_reply(&Method::GET, "/things/x", &undocumented)
            .len(),
        1
    );
    assert!(contract.operation(&Method::POST, "/things/x").is_none());
    assert!(contract.operation(&Method::GET, "/things/x/y").is_none());
}
