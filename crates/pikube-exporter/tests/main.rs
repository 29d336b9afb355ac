//! pikube-exporter's integration tests, one binary: each module below was a test binary of its
//! own, and linking one instead of several keeps builds short. Run one module with
//! `cargo nextest run -p pikube-exporter -E 'test(/^MODULE::/)'`.

mod alerts;
mod certificates;
mod clock;
mod exporter;
mod storage;
mod vcgencmd;
