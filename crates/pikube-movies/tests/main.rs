//! pikube-movies's integration tests, one binary: each module below was a test binary of its
//! own, and linking one instead of 13 keeps builds short. Run one module with
//! `cargo nextest run -p pikube-movies -E 'test(/^MODULE::/)'`.

#[macro_use]
mod support;
mod contract;

mod api;
mod auth;
mod bad_input;
mod booking;
mod concurrency;
mod expiry;
mod failures;
mod hold_limits;
mod idempotency;
mod manifests;
mod openapi;
mod prometheus;
mod throttling;
