//! Zooming the web page with real mouse events in headless Chromium: a click zooms in ×4
//! around the clicked point, a dragged rectangle becomes the new view, Back returns to the
//! previous one, and every view is re-rendered and checked pixel by pixel in a screenshot.
//!
//! Needs `/usr/bin/chromium`; see `chromium::available` for when the test is skipped.

use crate::chromium;

use std::{collections::HashMap, time::Duration};

use chromium::{Browser, PageServer};
use pikube_mandelbrot::{colour, render, Format, Limits, Region, RenderRequest};
use serde_json::Value;

/// What the page shows, as written in its URL hash.
#[derive(Clone, Copy, Debug)]
struct View {
    x_min: f64,
    x_max: f64,
    y_min: f64,
    y_max: f64,
    width: u32,
    height: u32,
    max_iter: u32,
    parts: u32,
}

/// The canvas on screen: left, top, width and height in CSS pixels.
#[derive(Clone, Copy, Debug)]
struct Rect {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
}

/// The page's click zoom factor ("Click to zoom in ×4").
const CLICK_ZOOM: f64 = 4.0;
/// Columns at the left of every strip that the page paints in the pod's colour.
const POD_STRIPE: u32 = 6;
const PARTS: u32 = 6;
const RENDERED: Duration = Duration::from_secs(60);

#[test]
fn click_and_drag_zoom_and_rerender() {
    if !chromium::available() {
        return;
    }
    let server = PageServer::start("zoom-pod");
    let base = &server.base;

    let mut browser = Browser::launch(1400, 1000);
    // The full set with square pixels on a 400 × 300 canvas.
    let start = "x_min=-2.5&x_max=1&y_min=-1.3125&y_max=1.3125&width=400&height=300&max_iter=200";
    browser.navigate(&format!("{base}/#{start}&parts={PARTS}"));
    wait_rendered(&mut browser, "");
    let first = view(&mut browser);
    assert_eq!(
        (first.x_min, first.x_max, first.width, first.height),
        (-2.5, 1.0, 400, 300)
    );
    let canvas = canvas_rect(&mut browser);
    // One CSS pixel per canvas pixel, so the screenshot can be compared pixel by pixel.
    assert_eq!((canvas.width, canvas.height), (400.0, 300.0), "{canvas:?}");
    check_screenshot(&mut browser, canvas, &first);

    // Click near canvas pixel (300, 100): the view is centred there, 4 times narrower.
    let first_hash = hash(&mut browser);
    let (x, y) = canvas.client(300.0, 100.0);
    let clicked = plane_at(&first, x - canvas.left, y - canvas.top);
    browser.mouse("mouseMoved", x, y);
    browser.mouse("mousePressed", x, y);
    browser.mouse("mouseReleased", x, y);
    wait_rendered(&mut browser, &first_hash);
    let zoomed = view(&mut browser);
    let span = (first.x_max - first.x_min) / CLICK_ZOOM;
    close(zoomed.x_max - zoomed.x_min, span, span, "x span");
    close(
        zoomed.y_max - zoomed.y_min,
        span * 300.0 / 400.0,
        span,
        "y span",
    );
    close(
        (zoomed.x_min + zoomed.x_max) / 2.0,
        clicked.0,
        span,
        "centre x",
    );
    close(
        (zoomed.y_min + zoomed.y_max) / 2.0,
        clicked.1,
        span,
        "centre y",
    );
    check_screenshot(&mut browser, canvas, &zoomed);

    // Back returns to the view before the click, rendered again.
    let zoomed_hash = hash(&mut browser);
    browser.eval("history.back()");
    wait_rendered(&mut browser, &zoomed_hash);
    assert_eq!(hash(&mut browser), first_hash);

    // Drag a 120 × 90 rectangle (the canvas's 4:3 shape) from near (100, 60): it becomes the
    // view exactly.
    let from = canvas.client(100.0, 60.0);
    let to = (from.0 + 120.0, from.1 + 90.0);
    let top_left = plane_at(&first, from.0 - canvas.left, from.1 - canvas.top);
    let bottom_right = plane_at(&first, to.0 - canvas.left, to.1 - canvas.top);
    browser.mouse("mouseMoved", from.0, from.1);
    browser.mouse("mousePressed", from.0, from.1);
    for step in 1..=4 {
        let t = f64::from(step) / 4.0;
        let (x, y) = (from.0 + t * 120.0, from.1 + t * 90.0);
        browser.mouse("mouseMoved", x, y);
    }
    let selection = browser.eval(
        "(() => { const s = document.getElementById('selection'); \
         return [s.hidden, s.offsetWidth, s.offsetHeight]; })()",
    );
    assert_eq!(
        selection,
        serde_json::json!([false, 120, 90]),
        "selection box"
    );
    browser.mouse("mouseReleased", to.0, to.1);
    wait_rendered(&mut browser, &first_hash);
    let boxed = view(&mut browser);
    let span = bottom_right.0 - top_left.0;
    close(boxed.x_min, top_left.0, span, "x_min");
    close(boxed.x_max, bottom_right.0, span, "x_max");
    close(boxed.y_max, top_left.1, span, "y_max");
    close(boxed.y_min, bottom_right.1, span, "y_min");
    check_screenshot(&mut browser, canvas, &boxed);

    drop(browser);
    server.stop();
}

/// Waits until the hash differs from `previous`, all parts are drawn by the test's pod and
/// none failed.
fn wait_rendered(browser: &mut Browser, previous: &str) {
    let previous = serde_json::to_string(previous).unwrap();
    browser.wait_for(
        &format!(
            "location.hash !== {previous} && document.body.dataset.state === 'done' && \
             document.getElementById('status').textContent.startsWith('{PARTS}/{PARTS} parts')"
        ),
        "location.hash + ' ' + document.body.dataset.state + ' ' + \
         document.getElementById('status').textContent",
        RENDERED,
    );
    let pods = browser
        .eval("[...document.querySelectorAll('#parts tbody td.pod')].map(td => td.textContent)");
    assert_eq!(pods, serde_json::json!(vec!["zoom-pod"; PARTS as usize]));
}

fn hash(browser: &mut Browser) -> String {
    browser.eval("location.hash").as_str().unwrap().to_owned()
}

fn view(browser: &mut Browser) -> View {
    let fields: HashMap<String, String> = serde_json::from_value(
        browser.eval("Object.fromEntries(new URLSearchParams(location.hash.slice(1)))"),
    )
    .unwrap();
    let number = |key: &str| -> f64 {
        fields[key]
            .parse()
            .unwrap_or_else(|_| panic!("{key} in {fields:?}"))
    };
    View {
        x_min: number("x_min"),
        x_max: number("x_max"),
        y_min: number("y_min"),
        y_max: number("y_max"),
        width: number("width") as u32,
        height: number("height") as u32,
        max_iter: number("max_iter") as u32,
        parts: number("parts") as u32,
    }
}

impl Rect {
    /// The viewport point at canvas pixel (`px`, `py`), rounded to whole CSS pixels because
    /// Chromium reports whole-pixel `clientX` and `clientY` in mouse events.
    fn client(&self, px: f64, py: f64) -> (f64, f64) {
        ((self.left + px).round(), (self.top + py).round())
    }
}

fn canvas_rect(browser: &mut Browser) -> Rect {
    let rect: Value = browser.eval(
        "(() => { const r = document.getElementById('canvas').getBoundingClientRect(); \
         return [r.left, r.top, r.width, r.height]; })()",
    );
    let at = |i: usize| rect[i].as_f64().unwrap();
    Rect {
        left: at(0),
        top: at(1),
        width: at(2),
        height: at(3),
    }
}

/// The point of the plane at canvas position (`px`, `py`), (0, 0) being the top-left corner
/// of the top-left pixel (as `planeAt` in app.js).
fn plane_at(view: &View, px: f64, py: f64) -> (f64, f64) {
    (
        view.x_min + px / f64::from(view.width) * (view.x_max - view.x_min),
        view.y_max - py / f64::from(view.height) * (view.y_max - view.y_min),
    )
}

/// `got` equals `want` up to rounding: a millionth of a pixel at a view `span` wide.
fn close(got: f64, want: f64, span: f64, what: &str) {
    assert!(
        (got - want).abs() <= span * 1e-9,
        "{what}: got {got}, want {want}"
    );
}

/// The canvas in a screenshot equals the view computed here, strip by strip as the page
/// requests it, except the pod-colour bar at the left.
fn check_screenshot(browser: &mut Browser, canvas: Rect, view: &View) {
    let png = browser.screenshot(canvas.left, canvas.top, canvas.width, canvas.height);
    let mut reader = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (view.width, view.height));
    let channels = info.color_type.samples();
    let want = expected(view);
    let mut differing = 0;
    for row in 0..view.height {
        for col in POD_STRIPE..view.width {
            let i = (row * view.width + col) as usize;
            let got = &pixels[i * channels..i * channels + 3];
            if got.iter().zip(want[i]).any(|(&g, w)| g.abs_diff(w) > 1) {
                differing += 1;
            }
        }
    }
    assert_eq!(differing, 0, "pixels differing from {view:?}");
}

/// The RGB pixels of `view`, rendered in-process strip by strip with the same strip bounds
/// as the page (`stripsOf` in app.js).
fn expected(view: &View) -> Vec<[u8; 3]> {
    let dy = (view.y_max - view.y_min) / f64::from(view.height);
    let mut rgb = Vec::with_capacity((view.width * view.height) as usize);
    for part in 0..view.parts {
        let row0 = part * view.height / view.parts;
        let row1 = (part + 1) * view.height / view.parts;
        let region = Region {
            x_min: view.x_min,
            x_max: view.x_max,
            y_min: view.y_max - f64::from(row1) * dy,
            y_max: view.y_max - f64::from(row0) * dy,
        };
        let request = RenderRequest::new(
            region,
            view.width,
            row1 - row0,
            view.max_iter,
            Format::Png,
            &Limits::default(),
        )
        .unwrap();
        let rendered = render(&request);
        let smooth = rendered.smooth.expect("smooth values for PNG");
        rgb.extend(smooth.iter().map(|&nu| colour(nu, view.max_iter)));
    }
    rgb
}
