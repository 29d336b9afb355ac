use anyhow::Context;

use crate::cli::{ServeArgs, Workload};
use crate::exit::Outcome;

pub fn run(workload: &Workload) -> anyhow::Result<Outcome> {
    match workload {
        Workload::Mandelbrot(args) => mandelbrot(args),
    }
}

fn mandelbrot(args: &ServeArgs) -> anyhow::Result<Outcome> {
    pikube_http::init_logging().context("setting up logging")?;
    let config = pikube_mandelbrot::ServiceConfig {
        drain_grace: args.drain_grace,
        ..Default::default()
    };
    service_runtime()?
        .block_on(pikube_mandelbrot::run(args.listen, config))
        .with_context(|| format!("serving on {}", args.listen))?;
    Ok(Outcome::Success)
}

/// The runtime of an HTTP service: one worker per core for I/O; rendering runs on rayon's
/// own pool, never on these threads.
pub fn service_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
