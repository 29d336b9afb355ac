//! The web page in headless Chromium: loads, fetches the strips in parallel, draws them.
//!
//! Needs `/usr/bin/chromium` (Debian packages `chromium`; no driver needed). Without it the
//! test says so and passes, unless `PIKUBE_REQUIRE_BROWSER=1`.

use std::{net::SocketAddr, path::Path, process::Command};

use pikube_mandelbrot::ServiceConfig;
use tokio::{net::TcpListener, sync::oneshot};

const CHROMIUM: &str = "/usr/bin/chromium";

fn chromium(args: &[&str]) -> std::process::Output {
    Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--virtual-time-budget=15000",
            "--window-size=1400,1000",
        ])
        .args(args)
        .output()
        .expect("run chromium")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_renders_all_parts() {
    if !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var("PIKUBE_REQUIRE_BROWSER").is_err(),
            "{CHROMIUM} missing and PIKUBE_REQUIRE_BROWSER is set"
        );
        eprintln!("skipped: {CHROMIUM} is not installed");
        return;
    }
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let config = ServiceConfig {
        served_by: "browser-pod".into(),
        ..ServiceConfig::default()
    };
    let server = tokio::spawn(pikube_mandelbrot::serve(listener, config, async {
        let _ = stopped.await;
    }));
    let url = format!(
        "{base}/#x_min=-2.5&x_max=1&y_min=-1.25&y_max=1.25&width=420&height=300&max_iter=200&parts=5"
    );
    let dir = std::env::temp_dir().join(format!("pikube-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("page.png");
    let (dom, screenshot) = tokio::task::spawn_blocking({
        let url = url.clone();
        let shot = shot.clone();
        move || {
            let dom = chromium(&["--dump-dom", &url]);
            let screenshot = chromium(&[&format!("--screenshot={}", shot.display()), &url]);
            (dom, screenshot)
        }
    })
    .await
    .unwrap();
    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    assert!(
        html.contains(r#"data-state="done""#),
        "page did not finish:\n{html}"
    );
    assert!(html.contains("5/5 parts"), "{html}");
    assert!(html.matches("browser-pod").count() >= 5, "{html}");
    assert!(!html.contains("failed"), "{html}");

    assert!(screenshot.status.success());
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    // The set is black, the page background is not: a large black area and many bright,
    // saturated palette pixels mean the strips were drawn.
    let (mut black, mut bright) = (0usize, 0usize);
    for px in pixels.chunks_exact(channels) {
        let (r, g, b) = (px[0], px[1], px[2]);
        if r == 0 && g == 0 && b == 0 {
            black += 1;
        }
        if r.max(g).max(b) > 150 && r.max(g).max(b) - r.min(g).min(b) > 60 {
            bright += 1;
        }
    }
    assert!(black > 10_000, "black {black}");
    assert!(bright > 5_000, "bright {bright}");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
