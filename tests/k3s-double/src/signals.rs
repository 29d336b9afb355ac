//! SIGTERM/SIGINT end the process cleanly with exit 0 (systemd stop), after the
//! supervised programs have stopped. The signals are blocked in every thread and awaited
//! by one thread with sigwait, so no async-signal-safety concerns arise.

// Signal masks and sigwait have no safe wrapper in the crates this double uses.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static STOPPING: AtomicBool = AtomicBool::new(false);

/// Whether a stop was asked for: children ending now is expected, not a crash.
pub fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

pub fn exit_cleanly_on_term() {
    // SAFETY: plain libc calls on a locally owned, initialised sigset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let set_copy = set;
        std::thread::spawn(move || {
            let mut signal: libc::c_int = 0;
            libc::sigwait(&set_copy, &mut signal);
            let name = if signal == libc::SIGTERM {
                "SIGTERM"
            } else {
                "SIGINT"
            };
            STOPPING.store(true, Ordering::SeqCst);
            crate::log::info(&format!("Received {name}, shutting down"));
            crate::components::stop_all(Duration::from_secs(5));
            std::process::exit(0);
        });
    }
}
