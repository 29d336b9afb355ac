//! pikube's integration tests, one binary: each module below was a test binary of its
//! own, and linking one instead of 12 keeps builds short. Run one module with
//! `cargo nextest run -p pikube -E 'test(/^MODULE::/)'`.

mod support;

mod addons;
mod cli;
mod firstboot;
mod fleet_harness;
mod images;
mod k3s;
mod movies;
mod network;
mod power;
mod prepare;
mod recovery;
mod secrets;
mod serve;
mod upgrade;
