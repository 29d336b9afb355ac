//! Progress lines for long work: one line per step per node, with the time since start,
//! so a run piped to a log reads as well as one in a terminal.

use std::io::Write;
use std::time::Instant;

use crate::terminal_text::safe;

/// Where long work says how it goes.
pub trait Progress: Send + Sync {
    /// A line about one node.
    fn node(&self, node: &str, message: &str);
    /// A line about the run as a whole.
    fn step(&self, message: &str);
    /// What the user must see even when progress is not shown (a host key pinned on first
    /// contact): on standard error either way.
    fn notice(&self, message: &str);
}

fn write_notice(message: &str) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "{}",
        safe(&format!("note: {message}"))
    );
}

/// Writes progress to standard error, keeping standard output for results.
pub struct StderrProgress {
    started: Instant,
}

impl StderrProgress {
    /// Timed from now.
    pub fn new() -> Self {
        StderrProgress {
            started: Instant::now(),
        }
    }
}

impl Default for StderrProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for StderrProgress {
    fn node(&self, node: &str, message: &str) {
        let secs = self.started.elapsed().as_secs_f64();
        let line = format!("[{secs:6.1}s] {node}: {message}");
        let _ = writeln!(std::io::stderr().lock(), "{}", safe(&line));
    }

    fn step(&self, message: &str) {
        let secs = self.started.elapsed().as_secs_f64();
        let _ = writeln!(
            std::io::stderr().lock(),
            "{}",
            safe(&format!("[{secs:6.1}s] {message}"))
        );
    }

    fn notice(&self, message: &str) {
        write_notice(message);
    }
}

/// Says nothing but notices: for `--quiet`, for commands whose output is their result, and
/// for tests.
pub struct SilentProgress;

impl Progress for SilentProgress {
    fn node(&self, _node: &str, _message: &str) {}
    fn step(&self, _message: &str) {}
    fn notice(&self, message: &str) {
        write_notice(message);
    }
}
