//! The container runtime's image import at start: K3s' containerd imports every archive in
//! `<data-dir>/agent/images/` it recognises by extension (pkg/agent/containerd), skipping
//! subdirectories and anything else. The double runs no containers, but reads each archive
//! as containerd's import does (`archive`): a good one is logged with K3s' lines and its
//! image names are kept (`store`, listed by `k3s ctr images ls -q`); a bad one is logged
//! with K3s' error line, imports nothing, and K3s goes on starting.

mod archive;
mod reference;
mod store;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::log;

pub use store::ctr;

/// Imports every archive in the images directory, in name order, logging as K3s does.
pub fn import(data_dir: &Path) {
    let mut held = store::load(data_dir);
    let before = held.len();
    for path in archives(&data_dir.join("agent/images")) {
        let shown = path.display();
        let start = Instant::now();
        log::info(&format!("Importing images from {shown}"));
        match archive::read(&path) {
            Ok(names) => {
                for name in &names {
                    log::info(&format!("Imported {name}"));
                }
                held.extend(names);
                log::info(&format!(
                    "Imported images from {shown} in {}",
                    go_duration(start.elapsed())
                ));
            }
            Err(e) => log::error(&format!(
                "Failed to process image event: failed to import {shown}: \
                 failed to import images from {shown}: {e}"
            )),
        }
    }
    if held.len() != before {
        if let Err(e) = store::save(data_dir, &held) {
            log::error(&format!("Failed to record the imported images: {e}"));
        }
    }
}

/// The archives in `dir` K3s would import, in name order; a missing directory has none.
fn archives(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut archives: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            archive::SUFFIXES
                .iter()
                .any(|suffix| name.len() > suffix.len() && name.ends_with(suffix))
        })
        .collect();
    archives.sort();
    archives
}

/// A duration as Go prints one (`time.Duration.String`): `850µs`, `1.5ms`, `2.25s`.
fn go_duration(elapsed: Duration) -> String {
    let nanos = elapsed.as_nanos();
    let (value, unit) = match nanos {
        0..=999 => return format!("{nanos}ns"),
        1_000..=999_999 => (nanos as f64 / 1e3, "µs"),
        1_000_000..=999_999_999 => (nanos as f64 / 1e6, "ms"),
        _ => (nanos as f64 / 1e9, "s"),
    };
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{unit}")
}

#[cfg(test)]
mod tests;
