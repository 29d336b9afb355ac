//! `pikube serve mandelbrot` and `pikube demo` through the real binary, over real HTTP on
//! loopback.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.1 GET; returns the status line, the headers and the body.
fn get(port: u16, path: &str) -> Option<(String, String, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let (status, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    Some((
        status.to_owned(),
        headers.to_lowercase(),
        raw[split + 4..].to_vec(),
    ))
}

fn wait_healthy(child: &mut Child, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some((status, _, _)) = get(port, "/healthz") {
            if status.contains(" 200 ") {
                return;
            }
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

    let (status, headers, body) = get(
        port,
        "/api/v1/render?x_min=-2&x_max=1&y_min=-1.5&y_max=1.5&width=64&height=48&max_iter=100&format=counts",
    )
    .expect("render");
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(body.len(), 64 * 48 * 4);
    assert!(
        headers.contains("x-served-by: mandelbrot-test-pod"),
        "{headers}"
    );
    assert!(headers.contains("server-timing:"), "{headers}");
    // The centre column of the middle row, c = -0.5 + 0i, is in the set: max_iter.
    let middle = (24 * 64 + 32) * 4;
    let count = u32::from_le_bytes(body[middle..middle + 4].try_into().unwrap());
    assert_eq!(count, 100);

    let (status, _, body) = get(
        port,
        "/api/v1/render?x_min=1&x_max=-1&y_min=0&y_max=1&width=4&height=4",
    )
    .unwrap();
    assert!(status.contains(" 400 "), "{status}");
    assert!(String::from_utf8_lossy(&body).contains("x_min"));

    let (_, _, metrics) = get(port, "/metrics").unwrap();
    assert!(String::from_utf8_lossy(&metrics).contains("mandelbrot_pixels_total"));

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
    let (status, headers, page) = get(port, "/").unwrap();
    assert!(status.contains(" 200 "), "{status}");
    assert!(headers.contains("text/html"), "{headers}");
    assert!(String::from_utf8_lossy(&page).contains("<canvas"));
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
