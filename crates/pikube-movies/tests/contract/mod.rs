//! The API's contract: the OpenAPI document the services serve, checked against what they
//! really do. Every call made through [`Api`] must hit a documented operation, answer a
//! documented status, and (for JSON) match the documented schema; requests with a JSON body
//! must match the documented request schema too.
//!
//! The schema checker covers the JSON Schema the documents use: `$ref`, `type`, `const`,
//! `enum`, `properties`, `required`, `additionalProperties: false`, `items`, lengths, bounds
//! and the `uuid`, `date-time`, `date` and `email` formats.
#![allow(dead_code)]

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{Reply, TestApp};

/// The served document.
#[derive(Clone)]
pub struct Contract {
    pub doc: Value,
}

/// One documented operation: its path template and its OpenAPI object.
pub struct Operation<'a> {
    pub template: &'a str,
    pub spec: &'a Value,
}

impl Contract {
    pub async fn fetch(app: &TestApp) -> Contract {
        let reply = app.get("/api/openapi.json", None).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        Contract { doc: reply.body }
    }

    /// Every documented (method, path template), upper-case methods.
    pub fn operations(&self) -> Vec<(Method, String)> {
        let mut all = Vec::new();
        for (template, item) in self.doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("a path item").keys() {
                let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                    .expect("an HTTP method");
                all.push((method, template.clone()));
            }
        }
        all
    }

    /// The operation serving `method` on `path` (query string ignored), preferring literal
    /// segments over `{parameters}`.
    pub fn operation(&self, method: &Method, path: &str) -> Option<Operation<'_>> {
        let path = path.split('?').next().unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        let mut best: Option<(usize, Operation<'_>)> = None;
        for (template, item) in self.doc["paths"].as_object()? {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                continue;
            }
            let mut literal = 0;
            let fits = parts.iter().zip(&segments).all(|(part, segment)| {
                if part.starts_with('{') && part.ends_with('}') {
                    !segment.is_empty()
                } else {
                    literal += 1;
                    part == segment
                }
            });
            let Some(spec) = item.get(method.as_str().to_ascii_lowercase()) else {
                continue;
            };
            if fits && best.as_ref().is_none_or(|(score, _)| literal > *score) {
                best = Some((literal, Operation { template, spec }));
            }
        }
        best.map(|(_, operation)| operation)
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(target) => self
                .doc
                .pointer(target.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("unresolved $ref {target}")),
            None => value,
        }
    }

    /// What is wrong with `reply` to `method path`, as the document has it: nothing if empty.
    pub fn check_reply(&self, method: &Method, path: &str, reply: &Reply) -> Vec<String> {
        let Some(operation) = self.operation(method, path) else {
            return vec![format!("{method} {path} is not documented")];
        };
        let code = reply.status.as_u16().to_string();
        let responses = &operation.spec["responses"];
        let Some(response) = responses.get(&code).or_else(|| responses.get("default")) else {
            return vec![format!(
                "{method} {}: status {code} is not documented (body {})",
                operation.template, reply.body
            )];
        };
        let response = self.resolve(response);
        let mut errors = Vec::new();
        if let Some(schema) = response.pointer("/content/application~1json/schema") {
            self.validate(schema, &reply.body, "body", &mut errors);
        }
        errors
            .into_iter()
            .map(|error| format!("{method} {} → {code}: {error}", operation.template))
            .collect()
    }

    /// What is wrong with a request body for `method path`, as documented.
    pub fn check_request(&self, method: &Method, path: &str, body: &Value) -> Vec<String> {
        let Some(operation) = self.operation(method, path) else {
            return vec![format!("{method} {path} is not documented")];
        };
        let Some(schema) = operation
            .spec
            .pointer("/requestBody/content/application~1json/schema")
        else {
            return vec![format!(
                "{method} {}: takes no documented JSON body",
                operation.template
            )];
        };
        let mut errors = Vec::new();
        self.validate(schema, body, "request", &mut errors);
        errors
    }

    /// Checks `value` against `schema`, adding what does not fit to `errors`.
    pub fn validate(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        let mut fail = |what: String| errors.push(format!("{at}: {what} (value {value})"));
        if let Some(types) = schema.get("type") {
            let allowed: Vec<&str> = match types {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            let fits = allowed.iter().any(|kind| match *kind {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "null" => value.is_null(),
                _ => false,
            });
            if !fits {
                fail(format!("is not of type {types}"));
                return;
            }
        }
        if let Some(constant) = schema.get("const") {
            if value != constant {
                fail(format!("is not {constant}"));
            }
        }
        if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
            if !choices.contains(value) {
                fail(format!("is not one of {choices:?}"));
            }
        }
        if let Some(text) = value.as_str() {
            let length = text.chars().count() as u64;
            if schema["minLength"].as_u64().is_some_and(|min| length < min) {
                fail(format!("is shorter than {}", schema["minLength"]));
            }
            if schema["maxLength"].as_u64().is_some_and(|max| length > max) {
                fail(format!("is longer than {}", schema["maxLength"]));
            }
            if let Some(format) = schema["format"].as_str() {
                if !fits_format(format, text) {
                    fail(format!("is not a {format}"));
                }
            }
        }
        if let Some(number) = value.as_f64() {
            if schema["minimum"].as_f64().is_some_and(|min| number < min) {
                fail(format!("is below {}", schema["minimum"]));
            }
            if schema["maximum"].as_f64().is_some_and(|max| number > max) {
                fail(format!("is above {}", schema["maximum"]));
            }
        }
        if let Some(items) = value.as_array() {
            let count = items.len() as u64;
            if schema["minItems"].as_u64().is_some_and(|min| count < min) {
                fail(format!("has fewer than {} items", schema["minItems"]));
            }
            if schema["maxItems"].as_u64().is_some_and(|max| count > max) {
                fail(format!("has more than {} items", schema["maxItems"]));
            }
            if schema["uniqueItems"] == Value::Bool(true)
                && items
                    .iter()
                    .enumerate()
                    .any(|(i, item)| items[..i].contains(item))
            {
                fail("has duplicate items".to_owned());
            }
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    self.validate(item_schema, item, &format!("{at}[{index}]"), errors);
                }
            }
        }
        if let Some(object) = value.as_object() {
            let properties = schema.get("properties").and_then(Value::as_object);
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or_default();
                if !object.contains_key(name) {
                    errors.push(format!("{at}: lacks the required `{name}` (value {value})"));
                }
            }
            for (name, child) in object {
                match properties.and_then(|p| p.get(name)) {
                    Some(child_schema) => {
                        self.validate(child_schema, child, &format!("{at}.{name}"), errors)
                    }
                    None if schema["additionalProperties"] == Value::Bool(false) => errors.push(
                        format!("{at}: has `{name}`, which the schema does not allow"),
                    ),
                    None => {}
                }
            }
        }
    }
}

fn fits_format(format: &str, text: &str) -> bool {
    match format {
        "uuid" => uuid::Uuid::try_parse(text).is_ok(),
        "date-time" => {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .is_ok()
        }
        "date" => time::Date::parse(
            text,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .is_ok(),
        "email" => text
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.')),
        _ => true,
    }
}

/// The services, spoken to through their contract: every call is checked as it is made,
/// and a mismatch fails the test at that call.
pub struct Api<'a> {
    pub app: &'a TestApp,
    pub contract: Contract,
}

impl<'a> Api<'a> {
    pub async fn new(app: &'a TestApp) -> Api<'a> {
        Api {
            app,
            contract: Contract::fetch(app).await,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        if let Some(body) = &body {
            let errors = self.contract.check_request(&method, path, body);
            assert!(errors.is_empty(), "request not as documented: {errors:#?}");
        }
        let reply = self
            .app
            .request_with(method.clone(), path, token, body, headers)
            .await;
        let errors = self.contract.check_reply(&method, path, &reply);
        assert!(errors.is_empty(), "reply not as documented: {errors:#?}");
        reply
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None, &[]).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::DELETE, path, token, None, &[]).await
    }

    pub async fn pay(&self, token: &str, key: &str, body: Value) -> Reply {
        self.call(
            Method::POST,
            "/api/payments",
            Some(token),
            Some(body),
            &[("Idempotency-Key", key)],
        )
        .await
    }
}
