//! The service over real HTTP on 127.0.0.1:0.

use std::{net::SocketAddr, time::Duration};

use pikube_mandelbrot::{kernel::escape, Grid, ServiceConfig};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

struct Server {
    base: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(drain_grace: Duration) -> Server {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let config = ServiceConfig {
        served_by: "test-pod-1".into(),
        drain_grace,
        ..ServiceConfig::default()
    };
    let task = tokio::spawn(pikube_mandelbrot::serve(listener, config, async {
        let _ = stopped.await;
    }));
    Server {
        base,
        stop: Some(stop),
        task,
    }
}

const REGION: &str = "x_min=-2&x_max=1&y_min=-1&y_max=1.25";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_smooth_and_png() {
    let server = start(Duration::ZERO).await;
    let client = reqwest::Client::new();
    let (width, height, max_iter) = (33u32, 17u32, 200u32);
    let url = |format: &str| {
        format!(
            "{}/api/v1/render?{REGION}&width={width}&height={height}&max_iter={max_iter}&format={format}",
            server.base
        )
    };

    let response = client.get(url("counts")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["x-served-by"], "test-pod-1");
    assert_eq!(headers["content-type"], "application/octet-stream");
    let timing = headers["server-timing"].to_str().unwrap();
    assert!(timing.starts_with("compute;dur="), "{timing}");
    let ms: f64 = timing["compute;dur=".len()..]
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms >= 0.0);
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), (width * height * 4) as usize);
    let counts: Vec<u32> = body
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    // Row 0 is at y_max; compare with the scalar definition (exact for the plain kernel,
    // and with the served fused kernel all but rounding-decided pixels match).
    let grid = Grid::new(-2.0, 1.0, -1.0, 1.25, width, height);
    let want: Vec<u32> = (0..counts.len())
        .map(|i| {
            let (cr, ci) = grid.c_at(i);
            escape(cr, ci, max_iter).count
        })
        .collect();
    let differing = counts.iter().zip(&want).filter(|(a, b)| a != b).count();
    assert!(differing <= 1, "{differing} pixels differ");
    // The first row is at y_max = 1.25: outside the set, small counts; the middle row
    // (y ≈ 0) crosses the cardioid: max_iter there.
    assert!(
        counts[..width as usize].iter().all(|&c| c < 10),
        "{:?}",
        &counts[..width as usize]
    );
    let (cr, ci) = grid.c(22, 0);
    assert!(ci > 1.1 && cr > 0.0);
    // Row for y closest to 0.
    let middle_row = (0..height as usize)
        .min_by(|&a, &b| grid.c(0, a).1.abs().total_cmp(&grid.c(0, b).1.abs()))
        .unwrap();
    let middle = &counts[middle_row * width as usize..(middle_row + 1) * width as usize];
    assert!(middle.contains(&max_iter), "{middle:?}");

    let response = client.get(url("smooth")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), (width * height * 4) as usize);
    let smooth: Vec<f32> = body
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    for (s, c) in smooth.iter().zip(&counts) {
        assert!(s.is_finite() && *s >= 0.0 && *s <= max_iter as f32);
        if *c == max_iter {
            assert_eq!(*s, max_iter as f32);
        }
    }

    let response = client.get(url("png")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let body = response.bytes().await.unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(body.to_vec()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (width, height));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    // Interior pixels are black, the top row (far outside) is not.
    let at = |col: usize, row: usize| {
        let i = (row * width as usize + col) * 3;
        [pixels[i], pixels[i + 1], pixels[i + 2]]
    };
    let inside = middle.iter().position(|&c| c == max_iter).unwrap();
    assert_eq!(at(inside, middle_row), [0, 0, 0]);
    assert_ne!(at(0, 0), [0, 0, 0]);

    // Default format is PNG.
    let response = client
        .get(format!(
            "{}/api/v1/render?{REGION}&width=4&height=4",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "image/png");
    stop(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_400_with_the_parameter() {
    let server = start(Duration::ZERO).await;
    let client = reqwest::Client::new();
    for (query, parameter) in [
        (
            "x_min=1&x_max=-1&y_min=-1&y_max=1&width=4&height=4",
            "x_min",
        ),
        (
            "x_min=-1&x_max=1&y_min=-1&y_max=1&width=0&height=4",
            "width",
        ),
        (
            "x_min=NaN&x_max=1&y_min=-1&y_max=1&width=4&height=4",
            "x_min",
        ),
        (
            "x_min=-1&x_max=1&y_min=-1&y_max=1&width=4&height=4&max_iter=1000000",
            "max_iter",
        ),
        (
            "x_min=-1&x_max=1&y_min=-1&y_max=1&width=4&height=4&format=gif",
            "format",
        ),
        ("", "x_min"),
    ] {
        let response = client
            .get(format!("{}/api/v1/render?{query}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let body: serde_json::Value =
            serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(body["parameter"], parameter, "{query}: {body}");
        assert!(
            body["error"].as_str().unwrap().starts_with(parameter),
            "{body}"
        );
    }
    stop(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_health_and_page() {
    let server = start(Duration::ZERO).await;
    let client = reqwest::Client::new();
    for format in ["counts", "png", "png"] {
        let response = client
            .get(format!(
                "{}/api/v1/render?{REGION}&width=10&height=10&max_iter=100&format={format}",
                server.base
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let response = client
        .get(format!("{}/api/v1/render?width=0", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let metrics = client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"mandelbrot_requests_total{format="counts",status="200"} 1"#,
        r#"mandelbrot_requests_total{format="png",status="200"} 2"#,
        r#"mandelbrot_requests_total{format="invalid",status="400"} 1"#,
        "mandelbrot_pixels_total 300",
        r#"mandelbrot_render_duration_seconds_count{format="png"} 2"#,
        r#"mandelbrot_render_duration_seconds_bucket{le="+Inf",format="png"} 2"#,
        r#"http_request_duration_seconds_count{method="GET",route="/api/v1/render",status="200"} 3"#,
        r#"http_request_duration_seconds_count{method="GET",route="/api/v1/render",status="400"} 1"#,
    ] {
        assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    }
    let iterations: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mandelbrot_iterations_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(iterations > 300, "{iterations}");

    for (path, status, needle) in [
        ("/healthz", 200, "ok"),
        ("/readyz", 200, "ready"),
        ("/", 200, "<canvas"),
        ("/app.js", 200, "X-Served-By"),
        ("/style.css", 200, "canvas"),
        ("/nope", 404, ""),
    ] {
        let response = client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
        assert!(response.text().await.unwrap().contains(needle), "{path}");
    }
    stop(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_turns_unready_then_exits() {
    let mut server = start(Duration::from_millis(600)).await;
    // Keep one connection open so that it can still ask /readyz while draining.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let readyz = format!("{}/readyz", server.base);
    assert_eq!(client.get(&readyz).send().await.unwrap().status(), 200);
    server.stop.take().unwrap().send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let response = client.get(&readyz).send().await.unwrap();
    assert_eq!(response.status(), 503);
    drop(client);
    let result = tokio::time::timeout(Duration::from_secs(5), server.task).await;
    result
        .expect("server exits after the grace period")
        .unwrap()
        .unwrap();
}

async fn stop(mut server: Server) {
    server.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
}
