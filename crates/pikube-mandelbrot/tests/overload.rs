//! The service under more work than it can do (security review H1): a cap on renders at
//! once with a bounded queue and 503 + Retry-After beyond it, a work budget per request,
//! renders stopped when the client goes away or the deadline passes. Over real HTTP.

use std::{net::SocketAddr, time::Duration};

use pikube_mandelbrot::{Capacity, Limits, ServiceConfig};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

struct Server {
    base: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(config: ServiceConfig) -> Server {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(pikube_mandelbrot::serve(listener, config, async {
        let _ = stopped.await;
    }));
    Server { base, stop, task }
}

impl Server {
    fn render_url(&self, query: &str) -> String {
        format!("{}/api/v1/render?{query}", self.base)
    }

    /// The value of one unlabelled or fully labelled sample of /metrics (0 when absent).
    async fn metric(&self, sample: &str) -> f64 {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
            .map_or(0.0, |value| value.parse().unwrap())
    }

    /// Polls /metrics until `sample` reads `want` (within 10 s).
    async fn wait_for_metric(&self, sample: &str, want: f64) {
        for _ in 0..200 {
            if self.metric(sample).await == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{sample} never reached {want}");
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }
}

/// Inside the period-3 bulb, where no point escapes and the interior shortcut does not
/// apply: every pixel costs max_iter. 10^6 pixels × 10^5 = 10^11 iterations, minutes here.
const ENDLESS: &str = "x_min=-0.1325&x_max=-0.1125&y_min=0.735&y_max=0.755&width=1000&height=1000&max_iter=100000&format=counts";
const QUICK: &str =
    "x_min=-2&x_max=1&y_min=-1&y_max=1&width=16&height=16&max_iter=50&format=counts";

/// `capacity`, with limits that let [`ENDLESS`] through so that the capacity is what is
/// tested.
fn with_capacity(capacity: Capacity) -> ServiceConfig {
    ServiceConfig {
        limits: Limits {
            max_work: u64::MAX,
            ..Limits::default()
        },
        capacity,
        ..ServiceConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reviews_maximal_request_is_refused_by_the_work_budget() {
    let server = start(ServiceConfig::default()).await;
    // H1's trigger: 2^36 worst-case iterations in the period-3 bulb.
    let response = reqwest::get(server.render_url(
        "x_min=-0.22&x_max=-0.02&y_min=0.66&y_max=0.86&width=2048&height=2048&max_iter=16384&format=png",
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("exceeds the limit"),
        "{body}"
    );
    // The same pixels at a budget-sized max_iter are still served: the budget is
    // width × height × max_iter ≤ 2^30, not a cap on either alone.
    let response = reqwest::get(server.render_url(
        "x_min=-2&x_max=1&y_min=-1&y_max=1&width=1920&height=1080&max_iter=500&format=counts",
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().len(), 1920 * 1080 * 4);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_slots_and_the_queue_requests_get_503_and_a_gone_client_frees_its_slot() {
    let server = start(with_capacity(Capacity {
        renders: 1,
        queue: 1,
        queue_wait: Duration::from_secs(20),
        deadline: Duration::from_secs(600),
    }))
    .await;
    // One endless render takes the only slot.
    let endless = tokio::spawn(reqwest::get(server.render_url(ENDLESS)));
    server
        .wait_for_metric("mandelbrot_renders_in_progress", 1.0)
        .await;
    // One quick request waits in the queue.
    let queued = tokio::spawn(reqwest::get(server.render_url(QUICK)));
    server
        .wait_for_metric("mandelbrot_renders_waiting", 1.0)
        .await;
    // The next is refused at once, and told when to come back.
    let refused = reqwest::get(server.render_url(QUICK)).await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = serde_json::from_str(&refused.text().await.unwrap()).unwrap();
    assert!(body["error"].as_str().unwrap().contains("busy"), "{body}");
    assert_eq!(
        server
            .metric(r#"mandelbrot_renders_refused_total{reason="queue_full"}"#)
            .await,
        1.0
    );

    // The endless render's client goes away: its render stops, and the queued request gets
    // the slot long before its 20 s wait is over (the endless render alone takes minutes).
    endless.abort();
    let queued = queued.await.unwrap().unwrap();
    assert_eq!(queued.status(), 200);
    assert_eq!(queued.bytes().await.unwrap().len(), 16 * 16 * 4);
    assert_eq!(
        server.metric("mandelbrot_renders_cancelled_total").await,
        1.0
    );
    server
        .wait_for_metric("mandelbrot_renders_in_progress", 0.0)
        .await;
    assert_eq!(server.metric("mandelbrot_renders_waiting").await, 0.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_waits_too_long_for_a_slot_gets_503() {
    let server = start(with_capacity(Capacity {
        renders: 1,
        queue: 4,
        queue_wait: Duration::from_millis(300),
        deadline: Duration::from_secs(600),
    }))
    .await;
    let endless = tokio::spawn(reqwest::get(server.render_url(ENDLESS)));
    server
        .wait_for_metric("mandelbrot_renders_in_progress", 1.0)
        .await;
    let response = reqwest::get(server.render_url(QUICK)).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(
        server
            .metric(r#"mandelbrot_renders_refused_total{reason="queue_timeout"}"#)
            .await,
        1.0
    );
    endless.abort();
    server
        .wait_for_metric("mandelbrot_renders_in_progress", 0.0)
        .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_render_past_its_deadline_is_stopped_and_answered_503() {
    let server = start(with_capacity(Capacity {
        renders: 1,
        queue: 0,
        queue_wait: Duration::ZERO,
        deadline: Duration::from_millis(500),
    }))
    .await;
    let response = reqwest::get(server.render_url(ENDLESS)).await.unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("took longer"),
        "{body}"
    );
    // The render itself stopped (it would run for minutes), so the slot is free again.
    server
        .wait_for_metric("mandelbrot_renders_in_progress", 0.0)
        .await;
    assert_eq!(
        server.metric("mandelbrot_renders_cancelled_total").await,
        1.0
    );
    assert_eq!(
        server
            .metric(r#"mandelbrot_renders_refused_total{reason="deadline"}"#)
            .await,
        1.0
    );
    let response = reqwest::get(server.render_url(QUICK)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().len(), 16 * 16 * 4);
    server.stop().await;
}
