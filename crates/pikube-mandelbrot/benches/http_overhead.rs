//! What HTTP costs on top of the rendering: one 1920 × 1080 frame at max_iter 1000 in 16
//! horizontal strips, as PNG, the way the web page asks for it.
//!
//! - `in_process`: the 16 strips rendered and encoded by the same function the handler calls
//!   (`render` + `encode`), each on its own thread, as the service runs each request on its
//!   own blocking thread; all of them share rayon's pool.
//! - `http`: the same 16 strips as 16 parallel `GET /api/v1/render` over loopback to the
//!   real service (started here on 127.0.0.1:0), bodies read to the end.
//!
//! The view is the page's "Full view" at 1920 × 1080: centre -0.75 + 0i, 3.5 wide, square
//! pixels, so `y` spans ±0.984375. `scripts/bench-mandelbrot` runs this and prints min and
//! median per frame and the overhead from criterion's samples.

use std::net::SocketAddr;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use pikube_mandelbrot::{render, Format, Limits, Region, RenderRequest, ServiceConfig};

const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;
const MAX_ITER: u32 = 1000;
const PARTS: u32 = 16;
const X: (f64, f64) = (-2.5, 1.0);
const Y_HALF_SPAN: f64 = 3.5 * HEIGHT as f64 / WIDTH as f64 / 2.0;

/// The 16 strips with the page's bounds (`stripsOf` in app.js).
fn strips() -> Vec<RenderRequest> {
    let (y_min, y_max) = (-Y_HALF_SPAN, Y_HALF_SPAN);
    let dy = (y_max - y_min) / f64::from(HEIGHT);
    (0..PARTS)
        .map(|part| {
            let row0 = part * HEIGHT / PARTS;
            let row1 = (part + 1) * HEIGHT / PARTS;
            let region = Region {
                x_min: X.0,
                x_max: X.1,
                y_min: y_max - f64::from(row1) * dy,
                y_max: y_max - f64::from(row0) * dy,
            };
            RenderRequest::new(
                region,
                WIDTH,
                row1 - row0,
                MAX_ITER,
                Format::Png,
                &Limits::default(),
            )
            .expect("a valid strip")
        })
        .collect()
}

fn query(request: &RenderRequest) -> String {
    let r = request.region();
    format!(
        "x_min={}&x_max={}&y_min={}&y_max={}&width={}&height={}&max_iter={}&format=png",
        r.x_min,
        r.x_max,
        r.y_min,
        r.y_max,
        request.width(),
        request.height(),
        request.max_iter()
    )
}

fn in_process(strips: &[RenderRequest]) -> Vec<Vec<u8>> {
    std::thread::scope(|scope| {
        let threads: Vec<_> = strips
            .iter()
            .map(|request| scope.spawn(move || render(request).encode(Format::Png)))
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

async fn over_http(client: &reqwest::Client, urls: &[String]) -> Vec<Vec<u8>> {
    let responses = urls.iter().map(|url| async move {
        let response = client.get(url).send().await.expect("GET");
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("body").to_vec()
    });
    futures::future::join_all(responses).await
}

fn overhead(c: &mut Criterion) {
    let strips = strips();
    // The service as `pikube serve` runs it: its own multi-threaded runtime.
    let server_runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = server_runtime
        .block_on(tokio::net::TcpListener::bind(SocketAddr::from((
            [127, 0, 0, 1],
            0,
        ))))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    server_runtime.spawn(pikube_mandelbrot::serve(
        listener,
        ServiceConfig::default(),
        std::future::pending(),
    ));
    let urls: Vec<String> = strips
        .iter()
        .map(|request| format!("{base}/api/v1/render?{}", query(request)))
        .collect();
    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();

    // Both paths deliver the same bytes, so they do the same work.
    let local = in_process(&strips);
    let remote = client_runtime.block_on(over_http(&client, &urls));
    assert!(local == remote, "HTTP bodies differ from in-process ones");
    let bytes: usize = local.iter().map(Vec::len).sum();
    eprintln!("one frame: {PARTS} strips, {bytes} bytes of PNG");

    let mut group = c.benchmark_group("http_overhead");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(30);
    group.warm_up_time(std::time::Duration::from_secs(2));
    group.measurement_time(std::time::Duration::from_secs(15));
    group.bench_function("in_process", |b| {
        b.iter(|| std::hint::black_box(in_process(&strips)))
    });
    group.bench_function("http", |b| {
        b.iter(|| std::hint::black_box(client_runtime.block_on(over_http(&client, &urls))))
    });
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
