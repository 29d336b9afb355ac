//! The Mandelbrot dashboard against a real Prometheus: two services in this process stand
//! for two pods (each labelled as the monitoring add-on's `pods` job labels them), a few
//! renders go to each, and every panel query and variable of
//! deploy/monitoring/dashboards/mandelbrot.json is asked of Prometheus: each parses and
//! returns data, and the pod variable finds both pods.

use std::net::SocketAddr;

use pikube_mandelbrot::ServiceConfig;
use pikube_test_support::{ask_dashboard, prometheus_or_skip, Prometheus};
use serde_json::json;
use tokio::net::TcpListener;

const PODS: [&str; 2] = ["mandelbrot-6d9f-a", "mandelbrot-6d9f-b"];

async fn start(pod: &str) -> String {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let config = ServiceConfig {
        served_by: pod.into(),
        ..ServiceConfig::default()
    };
    tokio::spawn(pikube_mandelbrot::serve(
        listener,
        config,
        std::future::pending(),
    ));
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_answers_every_query_of_the_mandelbrot_dashboard_per_pod() {
    let Some(binary) = prometheus_or_skip() else {
        return;
    };
    let mut targets = Vec::new();
    for pod in PODS {
        let address = start(pod).await;
        targets.push((pod, address));
    }
    let static_configs: Vec<_> = targets
        .iter()
        .map(|(pod, address)| {
            json!({ "targets": [address], "labels": { "namespace": "mandelbrot", "pod": pod } })
        })
        .collect();
    let config = json!({
        "global": { "scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s" },
        "scrape_configs": [{ "job_name": "pods", "static_configs": static_configs }],
    });
    let prometheus = Prometheus::start(&binary, &config).await;
    let client = reqwest::Client::new();
    let up: Vec<(&str, f64)> = PODS.iter().map(|pod| (*pod, 1.0)).collect();
    prometheus
        .wait_for(&client, "up{job=\"pods\"}", "pod", &up)
        .await;

    // Renders on both pods, more on the second, over a few scrapes so rates have two
    // samples.
    for round in 0..6 {
        for (index, (_, address)) in targets.iter().enumerate() {
            for _ in 0..=index {
                let url = format!(
                    "http://{address}/api/v1/render?x_min=-2&x_max=1&y_min=-1&y_max=1\
                     &width=64&height=48&max_iter={}&format=counts",
                    200 + round * 50
                );
                let response = client.get(url).send().await.unwrap();
                assert_eq!(response.status(), 200);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let expected: Vec<(&str, f64)> = vec![(PODS[0], 6.0), (PODS[1], 12.0)];
    prometheus
        .wait_for(
            &client,
            "sum by (pod) (mandelbrot_requests_total)",
            "pod",
            &expected,
        )
        .await;

    let dashboard = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/monitoring/dashboards/mandelbrot.json");
    let answers = ask_dashboard(&prometheus, &client, &dashboard).await;
    answers.assert_every_query_answered();
    assert!(answers.asked >= 14, "{} queries", answers.asked);
    assert_eq!(answers.variables["namespace"], ["mandelbrot"]);
    assert_eq!(answers.variables["pod"], PODS);
}
