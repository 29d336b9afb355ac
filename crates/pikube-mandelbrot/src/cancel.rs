//! Stopping a render part-way: the service sets the flag when the client goes away or the
//! render's deadline passes, and the render checks it before each chunk of rows, so the
//! cores go back to requests somebody is still waiting for.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

/// A flag shared between whoever may give up on a render and the render itself.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag nobody has set yet.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Asks the render to stop at its next chunk.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Cancels its flag when dropped unless disarmed: held by the request handler, whose future
/// hyper drops when the client disconnects.
#[derive(Debug)]
pub struct CancelOnDrop(Option<Cancel>);

impl CancelOnDrop {
    /// Armed: dropping it cancels `cancel`.
    pub fn new(cancel: Cancel) -> CancelOnDrop {
        CancelOnDrop(Some(cancel))
    }

    /// The render's result was delivered: nothing to cancel any more.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(cancel) = self.0.take() {
            cancel.cancel();
        }
    }
}
