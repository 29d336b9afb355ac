//! `pikube serve mandelbrot` and `pikube demo` through the real binary, over real HTTP on
//! loopback.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pikube_test_support::loopback::{free_port, get};

fn wait_healthy(child: &mut Child, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if get(port, "/healthz").is_some_and(|reply| reply.status == 200) {
            return;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the server exited early"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no /healthz within 20 s");
}

fn stop(child: Child) -> i32 {
    stop_with(child, "TERM").0
}

/// Sends `signal` (`TERM`, `INT`) and waits for the exit: its code, and how long it took.
fn stop_with(mut child: Child, signal: &str) -> (i32, Duration) {
    let sent = Instant::now();
    // The `kill` command rather than libc: the tests stay free of unsafe code.
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), sent.elapsed());
        }
        assert!(
            sent.elapsed() < Duration::from_secs(10),
            "no exit within 10 s of SIG{signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_mandelbrot_renders_counts_and_stops_cleanly_on_sigterm() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pikube"))
        .args(["serve", "mandelbrot"])
        .env("PIKUBE_LISTEN", format!("127.0.0.1:{port}"))
        .env("POD_NAME", "mandelbrot-test-pod")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(&mut child, port);

    let render = get(
        port,
        "/api/v1/render?x_min=-2&x_max=1&y_min=-1.5&y_max=1.5&width=64&height=48&max_iter=100&format=counts",
    )
    .expect("render");
    assert_eq!(render.status, 200, "{}", render.text());
    assert_eq!(render.body.len(), 64 * 48 * 4);
    assert!(
        render.headers.contains("x-served-by: mandelbrot-test-pod"),
        "{}",
        render.headers
    );
    assert!(
        render.headers.contains("server-timing:"),
        "{}",
        render.headers
    );
    // The centre column of the middle row, c = -0.5 + 0i, is in the set: max_iter.
    let middle = (24 * 64 + 32) * 4;
    let count = u32::from_le_bytes(render.body[middle..middle + 4].try_into().unwrap());
    assert_eq!(count, 100);

    let refused = get(
        port,
        "/api/v1/render?x_min=1&x_max=-1&y_min=0&y_max=1&width=4&height=4",
    )
    .unwrap();
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(refused.text().contains("x_min"));

    let metrics = get(port, "/metrics").unwrap();
    assert!(metrics.text().contains("mandelbrot_pixels_total"));

    assert_eq!(stop(child), 0);
}

#[test]
fn demo_serves_the_page_on_localhost() {
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pikube"))
        .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--movies-listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(data.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(&mut child, port);
    let page = get(port, "/").unwrap();
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.headers.contains("text/html"), "{}", page.headers);
    assert!(page.text().contains("<canvas"));
    // Ctrl-C ends a demo at once: there is no load balancer to drain it from.
    let (code, took) = stop_with(child, "INT");
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(2), "{took:?} after Ctrl-C");
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pikube"))
        .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--movies-listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(data.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--listen"), "{stderr}");
}
