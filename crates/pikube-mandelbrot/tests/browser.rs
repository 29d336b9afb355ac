//! The web page in headless Chromium: loads, fetches the strips in parallel, draws them.
//!
//! Driven over the DevTools protocol (see `chromium`), waiting in real time for the page to
//! say it is done: `--dump-dom` with a virtual time budget gave up under load in CI.
//! Needs `/usr/bin/chromium`; see `chromium::available` for when the test is skipped.

use crate::chromium;

use std::time::Duration;

use chromium::{Browser, PageServer};

#[test]
fn page_renders_all_parts() {
    if !chromium::available() {
        return;
    }
    let server = PageServer::start("browser-pod");
    let base = &server.base;

    let mut browser = Browser::launch(1400, 1000);
    browser.navigate(&format!(
        "{base}/#x_min=-2.5&x_max=1&y_min=-1.25&y_max=1.25&width=420&height=300&max_iter=200&parts=5"
    ));
    browser.wait_for(
        "document.body.dataset.state === 'done' && \
         document.getElementById('status').textContent.startsWith('5/5 parts')",
        "document.body.dataset.state + ' ' + document.getElementById('status').textContent",
        Duration::from_secs(60),
    );
    let html = browser.eval("document.documentElement.outerHTML");
    let html = html.as_str().unwrap_or_default();
    assert!(html.matches("browser-pod").count() >= 5, "{html}");
    assert!(!html.contains("failed"), "{html}");

    let shot = browser.screenshot(0.0, 0.0, 1400.0, 1000.0);
    let decoder = png::Decoder::new(std::io::Cursor::new(shot));
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
    drop(browser);
    server.stop();
}
