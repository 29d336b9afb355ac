//! Who may do what, on SQLite and on PostgreSQL: no token or a bad one is a 401 asking for a
//! bearer token; a user on an administrator's route or a service's is a 403; another user's
//! reservation or payment does not exist for you (404), and asking changes nothing.

use crate::contract;
use crate::support;

use contract::Api;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pikube_movies::{ServiceName, SigningKey};
use reqwest::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{Backend, Reply, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token with `claims` signed with the HMAC key `key`.
fn signed(claims: &Value, algorithm: Algorithm, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(key),
    )
    .unwrap()
}

/// A token with `claims` signed with the Ed25519 key `key`, as the users service signs.
fn signed_by(claims: &Value, key: &SigningKey) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::EdDSA),
        claims,
        &EncodingKey::from_ed_der(key.expose_der()),
    )
    .unwrap()
}

/// A token `caller` sends to `callee`'s internal routes, made with `caller`'s own key.
fn service_token(app: &TestApp, caller: ServiceName, callee: ServiceName) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(caller.to_string());
    let mut claims = claims(caller.as_str(), "service");
    claims["aud"] = json!(callee.as_str());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(app.config.internal_keys[&caller].expose()),
    )
    .unwrap()
}

/// Claims as the users service issues them, for `sub` with `role`, valid for an hour.
fn claims(sub: &str, role: &str) -> Value {
    json!({ "sub": sub, "email": "x@example.org", "role": role, "iss": "pikube-movies",
            "iat": now(), "exp": now() + 3600 })
}

fn assert_unauthorized(reply: &Reply, context: &str, message: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{context}: {:?}",
        reply.body
    );
    assert_eq!(
        reply
            .headers
            .get(WWW_AUTHENTICATE)
            .map(HeaderValue::as_bytes),
        Some(&b"Bearer"[..]),
        "{context}"
    );
    assert!(
        reply.message().contains(message),
        "{context}: `{}` should say `{message}`",
        reply.message()
    );
}

/// Every route that needs a signed-in caller, with a body it would otherwise accept.
fn protected(
    reservation: &str,
    payment: &str,
    screening: &str,
) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/api/users/me".into(), None),
        (
            Method::POST,
            "/api/movies".into(),
            Some(json!({ "title": "T", "duration_minutes": 90 })),
        ),
        (
            Method::POST,
            "/api/cinemas".into(),
            Some(
                json!({ "name": "N", "city": "C", "halls": [{ "name": "H", "rows": 1, "seats_per_row": 1 }] }),
            ),
        ),
        (Method::POST, "/api/screenings".into(), Some(json!({}))),
        (Method::GET, "/api/reservations".into(), None),
        (
            Method::POST,
            "/api/reservations".into(),
            Some(json!({ "screening_id": screening, "seats": ["C4"] })),
        ),
        (
            Method::GET,
            format!("/api/reservations/{reservation}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/reservations/{reservation}"),
            None,
        ),
        (Method::POST, "/api/payments".into(), Some(json!({}))),
        (Method::GET, format!("/api/payments/{payment}"), None),
    ]
}

async fn bad_or_missing_tokens_are_401_asking_for_a_bearer_token(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let screening = app.screening(3, 4, 500).await;
    let sid = screening["id"].as_str().unwrap().to_owned();
    let ada = app.buyer("ada@example.org").await;
    let held = app
        .post(
            "/api/reservations",
            Some(&ada),
            json!({ "screening_id": sid, "seats": ["A1"] }),
        )
        .await;
    let reservation = held.body["id"].as_str().unwrap().to_owned();
    let payment = "67e55044-10b1-426f-9247-bb680e5fe0c8";
    let ada_id = app.get("/api/users/me", Some(&ada)).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = app
        .config
        .signing_key
        .clone()
        .expect("all six in one process sign");
    let public = key.verifying_key().as_bytes().to_vec();
    let internal = app.config.internal_keys[&ServiceName::Payments]
        .expose()
        .to_vec();

    let mut expired = claims(&ada_id, "user");
    expired["iat"] = json!(now() - 7200);
    expired["exp"] = json!(now() - 3600);
    let mut foreign_issuer = claims(&ada_id, "user");
    foreign_issuer["iss"] = json!("someone-else");
    let mut no_expiry = claims(&ada_id, "user");
    no_expiry.as_object_mut().unwrap().remove("exp");
    let mut unknown_role = claims(&ada_id, "user");
    unknown_role["role"] = json!("superuser");
    let unsigned = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        base64_url(&claims(&ada_id, "admin").to_string())
    );
    let forged = {
        // Ada's real token with the payload swapped for an administrator's.
        let parts: Vec<&str> = ada.split('.').collect();
        format!(
            "{}.{}.{}",
            parts[0],
            base64_url(&claims(&ada_id, "admin").to_string()),
            parts[2]
        )
    };

    let headers: Vec<(&str, HeaderValue, &str)> = vec![
        ("no header", HeaderValue::from_static(""), "Bearer <token>"),
        (
            "basic auth",
            HeaderValue::from_static("Basic YWRhOnB3"),
            "must be `Bearer <token>`",
        ),
        (
            "scheme only",
            HeaderValue::from_static("Bearer"),
            "must be `Bearer <token>`",
        ),
        (
            "empty token",
            HeaderValue::from_static("Bearer   "),
            "must be `Bearer <token>`",
        ),
        (
            "token without scheme",
            HeaderValue::from_str(&ada).unwrap(),
            "must be `Bearer <token>`",
        ),
        (
            "garbage",
            HeaderValue::from_static("Bearer garbage"),
            "malformed",
        ),
        (
            "three dots",
            HeaderValue::from_static("Bearer a.b.c"),
            "malformed",
        ),
        (
            "two tokens",
            HeaderValue::from_str(&format!("Bearer {ada} {ada}")).unwrap(),
            "malformed",
        ),
        (
            "not text",
            HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
            "not readable text",
        ),
        (
            "another key",
            HeaderValue::from_str(&format!(
                "Bearer {}",
                signed_by(&claims(&ada_id, "user"), &SigningKey::random())
            ))
            .unwrap(),
            "signature is not valid",
        ),
        (
            "expired",
            HeaderValue::from_str(&format!("Bearer {}", signed_by(&expired, &key))).unwrap(),
            "expired",
        ),
        (
            "another issuer",
            HeaderValue::from_str(&format!("Bearer {}", signed_by(&foreign_issuer, &key))).unwrap(),
            "not issued by this API",
        ),
        (
            // The public key every service holds, used as an HMAC secret (review M9).
            "HS256 with the public key",
            HeaderValue::from_str(&format!(
                "Bearer {}",
                signed(&claims(&ada_id, "admin"), Algorithm::HS256, &public)
            ))
            .unwrap(),
            "not issued by this API",
        ),
        (
            "HS512 with a service's internal key",
            HeaderValue::from_str(&format!(
                "Bearer {}",
                signed(&claims(&ada_id, "admin"), Algorithm::HS512, &internal)
            ))
            .unwrap(),
            "not issued by this API",
        ),
        (
            "alg none",
            HeaderValue::from_str(&format!("Bearer {unsigned}")).unwrap(),
            "malformed",
        ),
        (
            "forged payload",
            HeaderValue::from_str(&format!("Bearer {forged}")).unwrap(),
            "signature is not valid",
        ),
        (
            "no expiry",
            HeaderValue::from_str(&format!("Bearer {}", signed_by(&no_expiry, &key))).unwrap(),
            "malformed",
        ),
        (
            "unknown role",
            HeaderValue::from_str(&format!("Bearer {}", signed_by(&unknown_role, &key))).unwrap(),
            "malformed",
        ),
    ];
    for (method, path, body) in protected(&reservation, payment, &sid) {
        for (name, header, message) in &headers {
            let mut request = app
                .client
                .request(method.clone(), format!("{}{path}", app.base));
            if !header.is_empty() {
                request = request.header(AUTHORIZATION, header.clone());
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            let reply = Reply {
                status: response.status(),
                headers: response.headers().clone(),
                body: response.json().await.unwrap_or(Value::Null),
            };
            assert_unauthorized(&reply, &format!("{method} {path} with {name}"), message);
        }
    }

    // Nothing was done on the strength of a bad token.
    let still = app
        .get(&format!("/api/reservations/{reservation}"), Some(&ada))
        .await;
    assert_eq!(still.body["status"], "held");
    assert_eq!(
        app.get("/api/movies", None).await.body["movies"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A well-signed token is honoured as long as it is valid: one made here works.
    let fresh = signed_by(&claims(&ada_id, "user"), &key);
    assert_eq!(
        app.get("/api/users/me", Some(&fresh)).await.status,
        StatusCode::OK
    );
}

both_backends!(
    bad_or_missing_tokens_are_401_asking_for_a_bearer_token,
    bad_or_missing_tokens_are_401_asking_for_a_bearer_token
);

/// Unpadded base64url, as JWTs encode their parts.
fn base64_url(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

async fn users_are_refused_administrators_and_services_routes(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let screening = app.screening(2, 2, 500).await;
    let sid = screening["id"].as_str().unwrap().to_owned();
    let ada = app.buyer("ada@example.org").await;
    let admin = app.admin().await;
    let api = Api::new(&app).await;
    let held = api
        .post(
            "/api/reservations",
            Some(&ada),
            json!({ "screening_id": sid, "seats": ["A1"] }),
        )
        .await;
    let reservation = held.body["id"].as_str().unwrap().to_owned();

    let movies_before = api.get("/api/movies", None).await.body;
    let cinemas_before = api.get("/api/cinemas", None).await.body;
    for (path, body) in [
        (
            "/api/movies",
            json!({ "title": "Mine", "duration_minutes": 90 }),
        ),
        (
            "/api/cinemas",
            json!({ "name": "Mine", "city": "Here", "halls": [{ "name": "H", "rows": 1, "seats_per_row": 1 }] }),
        ),
        (
            "/api/screenings",
            json!({ "movie_id": screening["movie_id"], "cinema_id": screening["cinema_id"], "hall": "Hall 1",
                    "starts_at": "2040-01-01T10:00:00Z", "price_cents": 1 }),
        ),
    ] {
        let refused = api.post(path, Some(&ada), body).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{path}: {:?}",
            refused.body
        );
        assert_eq!(
            refused.message(),
            "only an administrator may do this",
            "{path}"
        );
    }
    assert_eq!(api.get("/api/movies", None).await.body, movies_before);
    assert_eq!(api.get("/api/cinemas", None).await.body, cinemas_before);
    assert_eq!(
        api.get("/api/screenings", None).await.body["screenings"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The internal routes are for the services: not for users, nor administrators.
    let service = service_token(&app, ServiceName::Payments, ServiceName::Reservations);
    let screenings = service_token(&app, ServiceName::Screenings, ServiceName::Reservations);
    let internal = [
        (
            Method::GET,
            format!("/internal/reservations/{reservation}"),
            None,
        ),
        (
            Method::POST,
            format!("/internal/reservations/{reservation}/confirm"),
            Some(json!({ "payment_id": "67e55044-10b1-426f-9247-bb680e5fe0c8" })),
        ),
        (
            Method::GET,
            format!("/internal/screenings/{sid}/claims"),
            None,
        ),
    ];
    for (method, path, body) in &internal {
        let anonymous = app.request(method.clone(), path, None, body.clone()).await;
        assert_unauthorized(&anonymous, &format!("{method} {path}"), "Bearer <token>");
        for (who, token) in [("a user", &ada), ("an administrator", &admin)] {
            let refused = app
                .request(method.clone(), path, Some(token), body.clone())
                .await;
            assert_eq!(
                refused.status,
                StatusCode::FORBIDDEN,
                "{method} {path} as {who}"
            );
            assert_eq!(
                refused.message(),
                "internal routes are for the Movies services only"
            );
        }
    }
    // Nothing was confirmed by those attempts; a service may read what users may not.
    let read = app
        .get(
            &format!("/internal/reservations/{reservation}"),
            Some(&service),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
    assert_eq!(read.body["status"], "held");
    let claims_read = app
        .get(
            &format!("/internal/screenings/{sid}/claims"),
            Some(&screenings),
        )
        .await;
    assert_eq!(
        claims_read.body,
        json!({ "claims": [{ "seat": "A1", "state": "held" }] })
    );

    // Each service's token opens its own routes only: the screenings service, which counts
    // claimed seats, cannot mark a reservation paid, nor read one (review M9).
    let confirm = format!("/internal/reservations/{reservation}/confirm");
    for (method, path, token, who) in [
        (Method::POST, confirm.as_str(), &screenings, "screenings"),
        (
            Method::GET,
            &format!("/internal/reservations/{reservation}"),
            &screenings,
            "screenings",
        ),
        (
            Method::GET,
            &format!("/internal/screenings/{sid}/claims"),
            &service,
            "payments",
        ),
    ] {
        let body = (method == Method::POST)
            .then(|| json!({ "payment_id": "67e55044-10b1-426f-9247-bb680e5fe0c8" }));
        let refused = app.request(method.clone(), path, Some(token), body).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{method} {path} as {who}"
        );
        assert!(
            refused.message().starts_with(&format!(
                "the {who} service may not call {method} /internal/"
            )),
            "{}",
            refused.message()
        );
    }
    // A token for another service, or made with another caller's key, is no token at all.
    let for_payments = service_token(&app, ServiceName::Payments, ServiceName::Payments);
    let mut as_payments = claims("payments", "service");
    as_payments["aud"] = json!("reservations");
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("payments".into());
    let stolen_name = jsonwebtoken::encode(
        &header,
        &as_payments,
        &EncodingKey::from_secret(app.config.internal_keys[&ServiceName::Screenings].expose()),
    )
    .unwrap();
    for (token, message) in [
        (&for_payments, "not issued by this API"),
        (&stolen_name, "signature is not valid"),
    ] {
        let refused = app
            .get(
                &format!("/internal/reservations/{reservation}"),
                Some(token),
            )
            .await;
        assert_unauthorized(&refused, "a foreign service token", message);
    }
    assert_eq!(
        app.get(&format!("/api/reservations/{reservation}"), Some(&ada))
            .await
            .body["status"],
        "held"
    );

    // And a service token is no user's token: made with another kind of key, it is not
    // even read as one.
    let as_user = app.get("/api/users/me", Some(&service)).await;
    assert_unauthorized(
        &as_user,
        "a service token as a user",
        "not issued by this API",
    );
    let as_buyer = app
        .post(
            "/api/reservations",
            Some(&service),
            json!({ "screening_id": sid, "seats": ["B1"] }),
        )
        .await;
    assert_unauthorized(
        &as_buyer,
        "a service token as a buyer",
        "not issued by this API",
    );
}

both_backends!(
    users_are_refused_administrators_and_services_routes,
    users_are_refused_administrators_and_services_routes
);

async fn another_users_reservation_and_payment_do_not_exist_for_you(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let screening = app.screening(2, 3, 700).await;
    let sid = screening["id"].as_str().unwrap().to_owned();
    let ada = app.buyer("ada@example.org").await;
    let bob = app.buyer("bob@example.org").await;
    let api = Api::new(&app).await;

    let ada_me = api.get("/api/users/me", Some(&ada)).await.body;
    let bob_me = api.get("/api/users/me", Some(&bob)).await.body;
    assert_eq!(ada_me["email"], "ada@example.org");
    assert_eq!(bob_me["email"], "bob@example.org");
    assert_ne!(ada_me["id"], bob_me["id"]);

    let held = api
        .post(
            "/api/reservations",
            Some(&ada),
            json!({ "screening_id": sid, "seats": ["A1", "A2"] }),
        )
        .await;
    assert_eq!(held.status, StatusCode::CREATED);
    let id = held.body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/reservations/{id}");
    let not_yours = format!("you have no reservation with id `{id}`");

    let seen = api.get(&path, Some(&bob)).await;
    assert_eq!(
        (seen.status, seen.message()),
        (StatusCode::NOT_FOUND, not_yours.as_str())
    );
    let cancelled = api.delete(&path, Some(&bob)).await;
    assert_eq!(
        (cancelled.status, cancelled.message()),
        (StatusCode::NOT_FOUND, not_yours.as_str())
    );
    let paid = api
        .pay(
            &bob,
            "bob-pays-for-ada",
            json!({ "reservation_id": id, "amount_cents": 1400, "card_token": "tok_visa" }),
        )
        .await;
    assert_eq!(
        (paid.status, paid.message()),
        (StatusCode::NOT_FOUND, not_yours.as_str())
    );
    assert_eq!(
        api.get("/api/reservations", Some(&bob)).await.body,
        json!({ "reservations": [] })
    );

    // Nothing changed: still Ada's, still held, its seats still held, and hers to pay.
    assert_eq!(api.get(&path, Some(&ada)).await.body, held.body);
    let map = api
        .get(&format!("/api/screenings/{sid}/seats"), None)
        .await
        .body;
    assert_eq!(map["free"], 4);
    assert_eq!(map["seats"][0], json!({ "seat": "A1", "state": "held" }));
    let payment = api
        .pay(
            &ada,
            "ada-pays",
            json!({ "reservation_id": id, "amount_cents": 1400, "card_token": "tok_visa" }),
        )
        .await;
    assert_eq!(payment.status, StatusCode::CREATED, "{:?}", payment.body);
    let payment_id = payment.body["id"].as_str().unwrap().to_owned();

    // Her payment is hers alone; her paid reservation is no more Bob's to cancel.
    let peek = api
        .get(&format!("/api/payments/{payment_id}"), Some(&bob))
        .await;
    assert_eq!(peek.status, StatusCode::NOT_FOUND);
    assert_eq!(
        peek.message(),
        format!("you have no payment with id `{payment_id}`")
    );
    let cancelled = api.delete(&path, Some(&bob)).await;
    assert_eq!(cancelled.status, StatusCode::NOT_FOUND);
    // Bob's own key, reused on Ada's paid reservation, is still a 404, not a replay of hers.
    let again = api
        .pay(
            &bob,
            "ada-pays",
            json!({ "reservation_id": id, "amount_cents": 1400, "card_token": "tok_visa" }),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get(&path, Some(&ada)).await.body["status"], "confirmed");
    assert_eq!(
        api.get(&format!("/api/payments/{payment_id}"), Some(&ada))
            .await
            .body,
        payment.body
    );
}

both_backends!(
    another_users_reservation_and_payment_do_not_exist_for_you,
    another_users_reservation_and_payment_do_not_exist_for_you
);

async fn sign_in_failures_say_nothing_about_which_part_was_wrong(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    app.buyer("ada@example.org").await;

    let mut messages = Vec::new();
    for (case, email, password) in [
        ("wrong password", "ada@example.org", "not-her-password"),
        ("unknown email", "nobody@example.org", PASSWORD),
        ("not an email", "ada", PASSWORD),
        (
            "the administrator's email with a user's password",
            ADMIN_EMAIL,
            PASSWORD,
        ),
        ("an empty password", "ada@example.org", ""),
    ] {
        let reply = api
            .post(
                "/api/auth/token",
                None,
                json!({ "email": email, "password": password }),
            )
            .await;
        assert_unauthorized(&reply, case, "wrong email or password");
        messages.push(reply.body);
    }
    assert!(
        messages.windows(2).all(|pair| pair[0] == pair[1]),
        "{messages:?}"
    );
    app.sign_in("ADA@EXAMPLE.ORG", PASSWORD).await;
    app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    // One address, one account, however it is typed.
    for email in ["ada@example.org", "Ada@Example.Org", " ADA@EXAMPLE.ORG "] {
        let again = api
            .post(
                "/api/users",
                None,
                json!({ "email": email, "name": "Ada", "password": "another-password" }),
            )
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{email}");
        assert_eq!(again.body["error"]["field"], "email");
        assert_eq!(
            again.message(),
            "ada@example.org is already registered; sign in with POST /api/auth/token"
        );
    }
    // And the first password still holds.
    app.sign_in("ada@example.org", PASSWORD).await;
    let admin_again = api
        .post(
            "/api/users",
            None,
            json!({ "email": ADMIN_EMAIL, "name": "Me", "password": "12345678" }),
        )
        .await;
    assert_eq!(admin_again.status, StatusCode::CONFLICT);
    app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
}

both_backends!(
    sign_in_failures_say_nothing_about_which_part_was_wrong,
    sign_in_failures_say_nothing_about_which_part_was_wrong
);
