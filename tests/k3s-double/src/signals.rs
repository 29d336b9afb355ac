//! SIGTERM/SIGINT end the process cleanly with exit 0 (systemd stop).
//! The signals are blocked in every thread and awaited by one thread with
//! sigwait, so no async-signal-safety concerns arise.

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
            crate::log::info(&format!("Received {name}, shutting down"));
            std::process::exit(0);
        });
    }
}
