//! Structured logging: `tracing` events to stderr, as text or as JSON lines.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// `RUST_LOG` is not a valid filter.
    #[error("RUST_LOG is not a valid log filter: {0}")]
    Filter(tracing_subscriber::filter::ParseError),
    /// Another global subscriber was installed first.
    #[error("a global tracing subscriber is already installed: {0}")]
    AlreadyInstalled(tracing_subscriber::util::TryInitError),
}

// Shown in the message, so not also returned as its source: each cause is read once.
impl From<tracing_subscriber::util::TryInitError> for LoggingError {
    fn from(err: tracing_subscriber::util::TryInitError) -> Self {
        LoggingError::AlreadyInstalled(err)
    }
}

// Shown in the message, so not also returned as its source: each cause is read once.
impl From<tracing_subscriber::filter::ParseError> for LoggingError {
    fn from(err: tracing_subscriber::filter::ParseError) -> Self {
        LoggingError::Filter(err)
    }
}

/// Installs the global `tracing` subscriber.
///
/// The level comes from `RUST_LOG` (e.g. `info`, `pikube_mandelbrot=debug`), `info` when unset.
/// Output is JSON lines when `PIKUBE_LOG_FORMAT=json` (what a cluster's log collector wants),
/// human-readable text otherwise.
pub fn init_logging() -> Result<(), LoggingError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(spec)?,
        _ => EnvFilter::new("info"),
    };
    let json = std::env::var("PIKUBE_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init()?;
    } else {
        registry
            .with(
                fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init()?;
    }
    Ok(())
}
