//! `cluster.toml`: parsed into typed values at the edge.
