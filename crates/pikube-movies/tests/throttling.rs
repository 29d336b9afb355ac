//! Sign-in and registration under a flood (security review M3): per client address, per
//! account, and `X-Forwarded-For` trusted only when told to. Over real HTTP.

use crate::support;

use std::time::Duration;

use pikube_movies::Rate;
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::{Backend, TestApp, PASSWORD};

async fn sign_in(
    app: &TestApp,
    email: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> support::Reply {
    app.request_with(
        Method::POST,
        "/api/auth/token",
        None,
        Some(json!({ "email": email, "password": password })),
        headers,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_account_is_throttled_after_its_failed_sign_ins_and_only_that_account() {
    let app = TestApp::start_with(Backend::Sqlite, |config| {
        config.auth_limits.per_client = None;
        config.auth_limits.failures_per_account = Some(Rate::per(3, Duration::from_secs(600)));
    })
    .await;
    app.buyer("ada@example.org").await;
    app.buyer("bob@example.org").await;
    for _ in 0..3 {
        let reply = sign_in(&app, "ada@example.org", "not-her-password", &[]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", reply.body);
    }
    // Even the right password waits now: a guesser cannot tell which try was right.
    let reply = sign_in(&app, "Ada@Example.org", PASSWORD, &[]).await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:?}",
        reply.body
    );
    assert!(
        reply.message().contains("failed sign-ins"),
        "{:?}",
        reply.body
    );
    let wait: u64 = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=200).contains(&wait), "Retry-After {wait}");
    // Another account is not affected, and unknown accounts are throttled alike.
    assert_eq!(
        sign_in(&app, "bob@example.org", PASSWORD, &[]).await.status,
        StatusCode::OK
    );
    for _ in 0..3 {
        let reply = sign_in(&app, "nobody@example.org", "guess-1234", &[]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let reply = sign_in(&app, "nobody@example.org", "guess-1234", &[]).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"movies_sign_ins_total{outcome="throttled"} 2"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_address_is_throttled_across_accounts_and_registration() {
    let app = TestApp::start_with(Backend::Sqlite, |config| {
        config.auth_limits.per_client = Some(Rate::per(4, Duration::from_secs(600)));
        config.auth_limits.failures_per_account = None;
    })
    .await;
    // register + sign in = 2 tries; twice = the 4 allowed.
    app.buyer("ada@example.org").await;
    app.buyer("bob@example.org").await;
    let reply = sign_in(&app, "ada@example.org", PASSWORD, &[]).await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:?}",
        reply.body
    );
    assert!(
        reply.message().contains("from this address"),
        "{:?}",
        reply.body
    );
    assert!(reply.headers.contains_key("retry-after"));
    let reply = app
        .post(
            "/api/users",
            None,
            json!({ "email": "cy@example.org", "name": "Cy", "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:?}",
        reply.body
    );
    // A made-up X-Forwarded-For is not believed by default: still the same client.
    let reply = sign_in(
        &app,
        "ada@example.org",
        PASSWORD,
        &[("x-forwarded-for", "203.0.113.7")],
    )
    .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn behind_a_trusted_ingress_the_last_forwarded_address_is_the_client() {
    let app = TestApp::start_with(Backend::Sqlite, |config| {
        config.auth_limits.per_client = Some(Rate::per(2, Duration::from_secs(600)));
        config.auth_limits.failures_per_account = None;
        config.auth_limits.trust_forwarded_for = true;
    })
    .await;
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    app.buyer("ada@example.org").await; // 2 tries from the peer address itself
                                        // Two clients behind the Ingress, each with its own allowance; what a client writes
                                        // before the Ingress's entry does not change who it is.
    for _ in 0..2 {
        let reply = sign_in(
            &app,
            "ada@example.org",
            PASSWORD,
            &from("198.51.100.1, 10.0.0.5"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }
    let reply = sign_in(
        &app,
        "ada@example.org",
        PASSWORD,
        &from("203.0.113.9, 10.0.0.5"),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:?}",
        reply.body
    );
    let reply = sign_in(&app, "ada@example.org", PASSWORD, &from("10.0.0.6")).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
}
