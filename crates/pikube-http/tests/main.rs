//! pikube-http's integration tests, one binary: each module below was a test binary of its
//! own, and linking one instead of 2 keeps builds short. Run one module with
//! `cargo nextest run -p pikube-http -E 'test(/^MODULE::/)'`.

mod limits;
mod ops;
