use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cli::DemoArgs;
use crate::commands::serve::service_runtime;
use crate::exit::Outcome;

/// The workloads on this machine with embedded defaults: the Mandelbrot generator, and the
/// six Movies services on SQLite files, seeded with movies, cinemas and a week of screenings.
pub fn run(args: &DemoArgs) -> anyhow::Result<Outcome> {
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(pikube_movies::default_data_dir);
    let selection = pikube_movies::Selection::all();
    let mut movies_config = pikube_movies::MoviesConfig::from_env(&selection, &data_dir)
        .context("reading the Movies configuration from the environment")?;
    // A pod answers 503 on /readyz for a while before it stops, so that its Service stops
    // sending it requests; a demo has nobody to tell, and Ctrl-C should end it at once.
    movies_config.drain_grace = std::time::Duration::ZERO;
    pikube_http::init_logging().context("setting up logging")?;
    service_runtime()?.block_on(async {
        let mandelbrot = bind(args.listen, "--listen").await?;
        let movies = bind(args.movies_listen, "--movies-listen").await?;
        let movies_url = format!("http://{}", loopback(movies.local_addr()?));
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(async move {
            pikube_http::shutdown_signal().await;
            let _ = stop.send(true);
        });
        let mandelbrot_url = format!("http://{}/", loopback(mandelbrot.local_addr()?));
        let serve_mandelbrot = pikube_mandelbrot::serve(
            mandelbrot,
            pikube_mandelbrot::ServiceConfig::default(),
            until(stopped.clone()),
        );
        let seeding_stopped = until(stopped.clone());
        let serve_movies = pikube_movies::serve(movies, &selection, movies_config.clone(), until(stopped));
        // The listener is bound already: the seeding requests wait in its backlog until the
        // services have migrated their databases and start accepting.
        let seed = async {
            // Ctrl-C before the data is in: the services stop, and the seeding with them.
            let seeded = tokio::select! {
                // Stopping first: a seeding request the stopping services refused is no error.
                biased;
                () = seeding_stopped => return anyhow::Ok(()),
                seeded = pikube_movies::seed_demo(&movies_url, &movies_config) => seeded?,
            };
            outln!(
                "pikube demo (Ctrl-C to stop)\n  Mandelbrot generator  {mandelbrot_url}\n  Movies API            {movies_url}/api/  \
                 (OpenAPI: {movies_url}/api/openapi.json)\n  Movies data           {} (added {} movies, {} cinemas, {} screenings)\n\
                 Book a seat with curl: see \"Book a seat in the demo\" in the README.",
                data_dir.display(),
                seeded.movies,
                seeded.cinemas,
                seeded.screenings,
            );
            anyhow::Ok(())
        };
        // The first failure ends the demo (and drops the other services).
        tokio::try_join!(
            async { serve_mandelbrot.await.context("the Mandelbrot generator") },
            async { serve_movies.await.context("the Movies services") },
            async { seed.await.context("seeding the Movies demo data") },
        )?;
        anyhow::Ok(())
    })?;
    Ok(Outcome::Success)
}

async fn bind(address: SocketAddr, flag: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.with_context(|| {
        format!("listening on {address}: is the port taken? choose another with {flag}")
    })
}

/// Completes when the watched flag turns true.
async fn until(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Where a client on this machine reaches `address` (0.0.0.0 is not a destination).
fn loopback(address: SocketAddr) -> SocketAddr {
    if address.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], address.port()))
    } else {
        address
    }
}
