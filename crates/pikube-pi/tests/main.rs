//! pikube-pi's integration tests, one binary: each module below was a test binary of its
//! own, and linking one instead of 4 keeps builds short. Run one module with
//! `cargo nextest run -p pikube-pi -E 'test(/^MODULE::/)'`.

mod edits;
mod fixtures;
mod robustness;
mod script;
