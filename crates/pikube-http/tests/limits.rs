//! Slow, stalled, oversized and odd clients against a real server on 127.0.0.1:0 (security
//! review M1 and M2): each is cut off within its limit instead of holding a connection.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use axum::{
    body::Bytes,
    extract::ConnectInfo,
    routing::{get, post},
    Router,
};
use pikube_http::{serve_with, Ops, ServerLimits};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::oneshot,
};

const LIMITS: ServerLimits = ServerLimits {
    header_read: Duration::from_millis(500),
    body_read: Duration::from_millis(500),
    request: Duration::from_millis(800),
    body_bytes: 1024,
};

struct Server {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    ops: Ops,
}

async fn start() -> Server {
    let ops = Ops::new();
    let app =
        ops.wrap(
            Router::new()
                .route("/echo", post(|body: Bytes| async move { body }))
                .route(
                    "/slow",
                    get(|| async {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        "too late"
                    }),
                )
                .route(
                    "/peer",
                    get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                        peer.ip().to_string()
                    }),
                ),
        );
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve_with(
        listener,
        app,
        async {
            let _ = stopped.await;
        },
        LIMITS,
    ));
    Server { address, stop, ops }
}

/// Writes `sent`, then reads until the server closes the connection (at most 10 s): what
/// it answered, and how long it kept the connection.
async fn exchange(address: SocketAddr, sent: &[u8]) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(sent).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the server kept the connection open for 10 s after {:?}",
        String::from_utf8_lossy(sent)
    );
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

fn status(answer: &str) -> &str {
    answer.split(' ').nth(1).unwrap_or("none")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_or_absent_headers_are_cut_off() {
    let server = start().await;
    // Slowloris: a request line and one header, then nothing.
    let (answer, _) = exchange(server.address, b"GET /peer HTTP/1.1\r\nHost: x\r\n").await;
    assert!(!answer.contains("127.0.0.1"), "{answer}");
    // A connection that never says anything.
    let (answer, _) = exchange(server.address, b"").await;
    assert!(!answer.contains("200"), "{answer}");
    // A complete request is served, and the client's address reaches the handler.
    let (answer, _) = exchange(
        server.address,
        b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&answer), "200", "{answer}");
    assert!(answer.ends_with("127.0.0.1"), "{answer}");
    let _ = server.stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_an_oversized_body_and_a_slow_handler_get_an_answer() {
    let server = start().await;
    // 10 of 100 announced bytes, then a stall.
    let (answer, _) = exchange(
        server.address,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789",
    )
    .await;
    assert!(
        status(&answer).starts_with('4') || status(&answer).starts_with('5'),
        "{answer}"
    );
    // More than the body limit.
    let mut big =
        b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4096\r\n\r\n"
            .to_vec();
    big.extend([b'a'; 4096]);
    let (answer, _) = exchange(server.address, &big).await;
    assert_eq!(status(&answer), "413", "{answer}");
    // Within the limit it is echoed.
    let (answer, _) = exchange(
        server.address,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
    )
    .await;
    assert_eq!(status(&answer), "200", "{answer}");
    assert!(answer.ends_with("hello"), "{answer}");
    // A handler that would take 30 s.
    let (answer, _) = exchange(
        server.address,
        b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&answer), "503", "{answer}");
    let _ = server.stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invented_methods_share_one_metric_label() {
    let server = start().await;
    for method in ["AAAA1", "AAAA2", "BREW"] {
        let request = format!("{method} /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        exchange(server.address, request.as_bytes()).await;
    }
    let text = server.ops.metrics().render();
    assert!(
        text.contains(
            r#"http_request_duration_seconds_count{method="other",route="/peer",status="405"} 3"#
        ),
        "{text}"
    );
    assert!(!text.contains("AAAA"), "{text}");
    let _ = server.stop.send(());
}
