use anyhow::Context;

use crate::cli::{ExporterArgs, MandelbrotArgs, MoviesArgs, Workload};
use crate::exit::Outcome;

pub fn run(workload: &Workload) -> anyhow::Result<Outcome> {
    match workload {
        Workload::Mandelbrot(args) => mandelbrot(args),
        Workload::Movies(args) => movies(args),
        Workload::PiExporter(args) => pi_exporter(args),
    }
}

fn pi_exporter(args: &ExporterArgs) -> anyhow::Result<Outcome> {
    pikube_http::init_logging().context("setting up logging")?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(pikube_exporter::run(args.listen, &args.host_root))
        .with_context(|| format!("serving the Pi exporter on {}", args.listen))?;
    Ok(Outcome::Success)
}

fn mandelbrot(args: &MandelbrotArgs) -> anyhow::Result<Outcome> {
    pikube_http::init_logging().context("setting up logging")?;
    let defaults = pikube_mandelbrot::Capacity::default();
    let renders = args.max_renders.map_or(defaults.renders, usize::from);
    let capacity = pikube_mandelbrot::Capacity {
        renders,
        queue: args
            .queue
            .map_or(pikube_mandelbrot::QUEUE_PER_SLOT * renders, usize::from),
        queue_wait: args.queue_wait,
        deadline: args.render_deadline,
    };
    let config = pikube_mandelbrot::ServiceConfig {
        drain_grace: args.serve.drain_grace,
        capacity,
        ..Default::default()
    };
    let listen = args.serve.listen;
    service_runtime()?
        .block_on(pikube_mandelbrot::run(listen, config))
        .with_context(|| format!("serving on {listen}"))?;
    Ok(Outcome::Success)
}

fn movies(args: &MoviesArgs) -> anyhow::Result<Outcome> {
    if args.new_keys {
        out!("{}", pikube_movies::new_key_set());
        return Ok(Outcome::Success);
    }
    let selection = movies_selection(&args.services)?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(pikube_movies::default_data_dir);
    let mut config = pikube_movies::MoviesConfig::from_env(&selection, &data_dir)
        .context("reading the Movies configuration from the environment")?;
    config.drain_grace = args.serve.drain_grace;
    pikube_http::init_logging().context("setting up logging")?;
    service_runtime()?
        .block_on(pikube_movies::run(args.serve.listen, &selection, config))
        .with_context(|| format!("serving Movies on {}", args.serve.listen))?;
    Ok(Outcome::Success)
}

/// `all`, or one or more service names.
fn movies_selection(names: &[String]) -> anyhow::Result<pikube_movies::Selection> {
    if names.iter().any(|name| name == "all") {
        anyhow::ensure!(
            names.len() == 1,
            "`all` already means every service: name no others with it"
        );
        return Ok(pikube_movies::Selection::all());
    }
    let services = names
        .iter()
        .map(|name| name.parse::<pikube_movies::ServiceName>())
        .collect::<Result<Vec<_>, _>>()?;
    pikube_movies::Selection::of(services).context("name at least one service, or `all`")
}

/// The runtime of an HTTP service: one worker per core for I/O; rendering runs on rayon's
/// own pool, never on these threads.
pub fn service_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
