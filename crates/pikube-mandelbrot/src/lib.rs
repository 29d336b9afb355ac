//! The Mandelbrot workload of Raspberry Kube.
//!
//! - [`kernel`]: escape-time counts, SIMD chosen at run time (AVX2+FMA on x86-64, NEON on
//!   aarch64, a portable 8-lane kernel elsewhere), checked against the scalar definition.
//! - [`render`]: a validated [`RenderRequest`] computed on every core with rayon.
//! - [`router`] and [`run`]: the HTTP service (`/api/v1/render`, the web page at `/`,
//!   `/metrics`, `/healthz`, `/readyz`) with graceful shutdown.

#![warn(missing_docs)]

pub mod kernel;

mod cancel;
mod grid;
mod palette;
mod render;
mod request;
mod service;
mod smooth;

pub use cancel::{Cancel, CancelOnDrop};
pub use grid::Grid;
pub use kernel::Kernel;
pub use palette::{colour, encode_png};
pub use render::{render, render_cancellable, render_with, Cancelled, Rendered};
pub use request::{Format, Limits, ParamError, Problem, Region, RenderRequest, DEFAULT_MAX_ITER};
pub use service::{router, run, serve, Capacity, ServiceConfig, QUEUE_PER_SLOT};
pub use smooth::smooth_value;
