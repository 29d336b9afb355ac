//! Runs the service on its own: `cargo run --release -p pikube-mandelbrot --example serve
//! [ADDRESS]` (default 127.0.0.1:8080), until Ctrl-C.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let _ = pikube_http::init_logging();
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into())
        .parse()
        .expect("ADDRESS like 127.0.0.1:8080");
    pikube_mandelbrot::run(listen, pikube_mandelbrot::ServiceConfig::default()).await
}
