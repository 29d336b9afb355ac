//! What the service is configured with.

use std::time::Duration;

use crate::{kernel::Kernel, request::Limits};

/// Configuration of the Mandelbrot service.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Request limits.
    pub limits: Limits,
    /// How many renders run at once and how many wait.
    pub capacity: Capacity,
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
            capacity: Capacity::default(),
            kernel: Kernel::detect(),
            served_by: pikube_http::instance_name(),
            drain_grace: Duration::ZERO,
        }
    }
}

/// The service's protection against more work than it can do: at most `renders` at once
/// (memory is at most `renders` × about 12 bytes × the largest request's pixels), at most
/// `queue` more waiting up to `queue_wait` each, every other request answered 503 with
/// `Retry-After` at once, and no render running past `deadline`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity {
    /// Renders computed at once (default: the cores this process may use, which in a pod
    /// follows its CPU limit).
    pub renders: usize,
    /// Requests that may wait for a render slot (default: 16 per slot). A waiting request
    /// holds no image buffers, only its connection, so the queue can be deep enough for
    /// the page's strips from several viewers; `queue_wait` bounds how long any waits.
    pub queue: usize,
    /// The longest a request waits for a slot before a 503 (default 10 s).
    pub queue_wait: Duration,
    /// The longest a render may take: then it is stopped and answered 503 (default 20 s,
    /// below the pod's 30 s termination grace so that shutdown never cuts a render off).
    pub deadline: Duration,
}

/// Requests that may wait per render slot, by default.
pub const QUEUE_PER_SLOT: usize = 16;

impl Default for Capacity {
    fn default() -> Self {
        let renders = std::thread::available_parallelism()
            .map(std::num::NonZero::get)
            .unwrap_or(1);
        Capacity {
            renders,
            queue: QUEUE_PER_SLOT * renders,
            queue_wait: Duration::from_secs(10),
            deadline: Duration::from_secs(20),
        }
    }
}
