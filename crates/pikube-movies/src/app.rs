//! One process serving a selection of the services on one port.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;
use pikube_http::Ops;
use tokio::net::TcpListener;

use crate::api::ApiError;
use crate::auth::{TokenKeys, TokenSigner};
use crate::config::{MoviesConfig, Selection};
use crate::peers::Peers;
use crate::services::{self, Context, StartError, Started};
use crate::ServiceName;

/// Why the Movies process stopped.
#[derive(Debug, thiserror::Error)]
pub enum MoviesError {
    /// A service could not start (its database, its listener).
    #[error(transparent)]
    Start(#[from] StartError),
    /// Serving HTTP failed.
    #[error("serving HTTP: {0}")]
    Io(std::io::Error),
}

// Shown in the message, so not also returned as its source: each cause is read once.
impl From<std::io::Error> for MoviesError {
    fn from(err: std::io::Error) -> Self {
        MoviesError::Io(err)
    }
}

/// Binds `listen` and serves until SIGTERM or SIGINT, then drains (see [`serve`]).
pub async fn run(
    listen: SocketAddr,
    selection: &Selection,
    config: MoviesConfig,
) -> Result<(), MoviesError> {
    let listener = TcpListener::bind(listen).await?;
    serve(listener, selection, config, pikube_http::shutdown_signal()).await
}

/// Starts the selected services (each opens and migrates its own database), serves them on
/// `listener` until `signal` completes, then answers 503 on `/readyz` for the drain grace,
/// stops accepting, finishes the requests in flight, and closes the databases.
pub async fn serve(
    listener: TcpListener,
    selection: &Selection,
    config: MoviesConfig,
    signal: impl Future<Output = ()> + Send + 'static,
) -> Result<(), MoviesError> {
    crate::allocator::return_large_blocks_to_the_system();
    let address = listener.local_addr()?;
    let ops = Ops::new();
    let started = start(address, selection, &config, &ops).await?;
    let mut routes = Router::new();
    for service in &started {
        routes = routes.merge(service.router.clone());
    }
    let routes = routes
        .merge(crate::openapi::route(&selection.services()))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no such route; see /api/openapi.json",
            )
            .into_response()
        });
    // Every request of the API is a small JSON document; 16 KiB leaves room to spare and
    // keeps what a flood of bodies can hold in memory small (review M1).
    let app = ops.wrap(routes.layer(axum::extract::DefaultBodyLimit::max(
        crate::api::MAX_BODY_BYTES,
    )));
    let names: Vec<&str> = started.iter().map(|s| s.service.as_str()).collect();
    tracing::info!(url = %format!("http://{address}/api/"), services = %names.join(","), "movies listening");
    let shutdown = pikube_http::drain_on(signal, ops.readiness().clone(), config.drain_grace);
    let served = pikube_http::serve(listener, app, shutdown).await;
    for service in started {
        for task in &service.background {
            task.abort();
        }
        service.database.close().await;
    }
    Ok(served?)
}

async fn start(
    address: SocketAddr,
    selection: &Selection,
    config: &MoviesConfig,
    ops: &Ops,
) -> Result<Vec<Started>, StartError> {
    let urls = peer_urls(address, selection, config);
    let mut started: Vec<Started> = Vec::new();
    for service in selection.services() {
        // Each service gets only its own keys, even when all six share this process.
        let keys = TokenKeys::for_service(service, &config.verifying_key, &config.internal_keys);
        let context = Context {
            config,
            keys: keys.clone(),
            signer: (service == ServiceName::Users)
                .then(|| config.signing_key.as_ref().map(TokenSigner::new))
                .flatten(),
            peers: Peers::new(urls.clone(), keys),
            metrics: ops.metrics(),
        };
        match services::start(service, &context).await {
            Ok(running) => started.push(running),
            Err(error) => {
                for running in started {
                    for task in &running.background {
                        task.abort();
                    }
                    running.database.close().await;
                }
                return Err(error);
            }
        }
    }
    Ok(started)
}

/// Services in this process are called on this very listener (over HTTP, as if remote);
/// the others where configured, else at their Kubernetes Service name.
fn peer_urls(
    address: SocketAddr,
    selection: &Selection,
    config: &MoviesConfig,
) -> BTreeMap<ServiceName, String> {
    let host = if address.ip().is_unspecified() {
        match address {
            SocketAddr::V4(_) => format!("127.0.0.1:{}", address.port()),
            SocketAddr::V6(_) => format!("[::1]:{}", address.port()),
        }
    } else {
        address.to_string()
    };
    ServiceName::ALL
        .into_iter()
        .map(|service| {
            let url = match config.peer_urls.get(&service) {
                Some(url) => url.clone(),
                None if selection.contains(service) => format!("http://{host}"),
                None => service.default_url(),
            };
            (service, url)
        })
        .collect()
}
