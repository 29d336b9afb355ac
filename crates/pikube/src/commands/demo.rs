use anyhow::Context;

use crate::cli::DemoArgs;
use crate::commands::serve::service_runtime;
use crate::exit::Outcome;

/// The workloads on this machine with embedded defaults. Today that is the Mandelbrot
/// generator; the Movies services join it when they land.
pub fn run(args: &DemoArgs) -> anyhow::Result<Outcome> {
    pikube_http::init_logging().context("setting up logging")?;
    println!(
        "pikube demo: the Mandelbrot generator on http://{}/ (Ctrl-C to stop)\n\
         The Movies ticketing services are not built yet.",
        args.listen
    );
    service_runtime()?
        .block_on(pikube_mandelbrot::run(
            args.listen,
            pikube_mandelbrot::ServiceConfig::default(),
        ))
        .with_context(|| {
            format!(
                "serving on {}: is the port taken? choose another with --listen",
                args.listen
            )
        })?;
    Ok(Outcome::Success)
}
