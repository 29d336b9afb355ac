//! How many renders run at once, and how many may wait for a turn. Each render holds its
//! buffers (about 12 bytes per pixel) and all the cores, so letting every request start at
//! once only splits the cores ever thinner until memory runs out; a bounded queue in front
//! of a few render slots keeps memory bounded and answers the excess at once with 503.

use std::{sync::Arc, time::Duration};

use pikube_http::prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Capacity;

/// Why a request got no render slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// Every slot busy and the queue full.
    QueueFull,
    /// Waited the longest a request may wait.
    WaitedTooLong,
}

impl Refused {
    pub fn reason(self) -> &'static str {
        match self {
            Refused::QueueFull => "queue_full",
            Refused::WaitedTooLong => "queue_timeout",
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Admission {
    slots: Arc<Semaphore>,
    /// Requests waiting for a slot; also `mandelbrot_renders_waiting`.
    waiting: Gauge,
    queue: usize,
    wait: Duration,
}

/// Leaves the queue when dropped, also when the client goes away while waiting.
struct InQueue<'a>(&'a Gauge);

impl Drop for InQueue<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Admission {
    pub fn new(capacity: &Capacity, waiting: Gauge) -> Admission {
        Admission {
            slots: Arc::new(Semaphore::new(capacity.renders.max(1))),
            waiting,
            queue: capacity.queue,
            wait: capacity.queue_wait,
        }
    }

    /// A render slot, held until the permit is dropped.
    pub async fn admit(&self) -> Result<OwnedSemaphorePermit, Refused> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let ahead = self.waiting.inc();
        let _in_queue = InQueue(&self.waiting);
        if usize::try_from(ahead).unwrap_or(0) >= self.queue {
            return Err(Refused::QueueFull);
        }
        match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; a timeout is the only way here.
            Ok(Err(_)) | Err(_) => Err(Refused::WaitedTooLong),
        }
    }
}
