//! pikube-mandelbrot's integration tests, one binary: each module below was a test binary of its
//! own, and linking one instead of 8 keeps builds short. Run one module with
//! `cargo nextest run -p pikube-mandelbrot -E 'test(/^MODULE::/)'`.

mod chromium;

mod browser;
mod http;
mod kernel_equivalence;
mod manifests;
mod overload;
mod prometheus;
mod request;
mod zoom;
