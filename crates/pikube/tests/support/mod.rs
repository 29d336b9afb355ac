//! Shared helpers for pikube's integration tests (`mod support;` in a test file).
#![allow(dead_code)]

pub mod cluster;
pub mod fleet;
pub mod image_archive;
pub mod k3s;
pub mod registry;
pub mod secrets;
