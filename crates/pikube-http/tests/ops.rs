//! The plumbing over real HTTP on 127.0.0.1:0.

use std::{net::SocketAddr, time::Duration};

use axum::{routing::get, Router};
use pikube_http::{drain_on, init_logging, instance_name, serve, LoggingError, Ops};
use prometheus_client::metrics::counter::Counter;
use tokio::{net::TcpListener, sync::oneshot};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_metrics_readiness_and_graceful_shutdown() {
    let ops = Ops::new();
    let hits = Counter::<u64>::default();
    ops.metrics()
        .register("demo_hits", "Hits of /hello", hits.clone());
    let app = ops.wrap(Router::new().route(
        "/hello/{name}",
        get(
            move |axum::extract::Path(name): axum::extract::Path<String>| {
                hits.inc();
                async move { format!("hello {name}") }
            },
        ),
    ));
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = drain_on(
        async {
            let _ = stopped.await;
        },
        ops.readiness().clone(),
        Duration::from_millis(500),
    );
    let server = tokio::spawn(serve(listener, app, shutdown));

    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{base}{path}")).send();
    assert_eq!(
        get("/hello/a").await.unwrap().text().await.unwrap(),
        "hello a"
    );
    assert_eq!(get("/hello/b").await.unwrap().status(), 200);
    assert_eq!(get("/missing").await.unwrap().status(), 404);
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);

    let response = get("/metrics").await.unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();
    for line in [
        "demo_hits_total 2",
        "# TYPE http_request_duration_seconds histogram",
        r#"http_request_duration_seconds_count{method="GET",route="/hello/{name}",status="200"} 2"#,
        r#"http_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 1"#,
        r#"http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/readyz",status="200"} 1"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }

    ops.readiness().set_ready(false);
    assert_eq!(get("/readyz").await.unwrap().status(), 503);
    ops.readiness().set_ready(true);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);

    // Shutdown: unready during the grace period (existing connection), then the server exits.
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(get("/readyz").await.unwrap().status(), 503);
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    drop(client);
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server exits")
        .unwrap()
        .unwrap();
}

#[test]
fn logging_installs_once() {
    init_logging().unwrap();
    tracing::info!(answer = 42, "logging works");
    assert!(matches!(
        init_logging(),
        Err(LoggingError::AlreadyInstalled(_))
    ));
}

#[test]
fn instance_name_is_never_empty() {
    assert!(!instance_name().is_empty());
}
