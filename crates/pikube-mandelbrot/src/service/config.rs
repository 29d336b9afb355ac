//! What the service is configured with.

use std::time::Duration;

use crate::{kernel::Kernel, request::Limits};

/// Configuration of the Mandelbrot service.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Request limits.
    pub limits: Limits,
    /// The kernel to compute with (default: the fastest this CPU runs).
    pub kernel: Kernel,
    /// The `X-Served-By` value (default: `POD_NAME`, else `HOSTNAME`, else the host name).
    pub served_by: String,
    /// How long `/readyz` answers 503 after SIGTERM before the listener closes (default 0;
    /// a few seconds in a cluster, so that the Service stops routing here first).
    pub drain_grace: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            limits: Limits::default(),
            kernel: Kernel::detect(),
            served_by: pikube_http::instance_name(),
            drain_grace: Duration::ZERO,
        }
    }
}
