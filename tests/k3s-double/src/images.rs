//! The container runtime's image import at start: K3s' containerd imports every archive in
//! `<data-dir>/agent/images/` it recognises by extension (pkg/agent/containerd), skipping
//! subdirectories and anything else. The double runs no containers: it names each archive
//! it would import, as K3s logs it, so tests see what a node would have had at start.

use std::path::{Path, PathBuf};

use crate::log;

/// What K3s' containerd imports, by file-name suffix.
const ARCHIVES: [&str; 8] = [
    ".tar", ".tar.lz4", ".tar.bz2", ".tbz", ".tar.gz", ".tgz", ".tar.zst", ".tzst",
];

/// Logs `Imported images from <path>` for every archive in the images directory.
pub fn import(data_dir: &Path) {
    for archive in archives(&data_dir.join("agent/images")) {
        log::info(&format!("Imported images from {}", archive.display()));
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
            ARCHIVES
                .iter()
                .any(|suffix| name.len() > suffix.len() && name.ends_with(suffix))
        })
        .collect();
    archives.sort();
    archives
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_archives_k3s_imports_are_named() {
        let dir = std::env::temp_dir().join(format!("k3s-double-images-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub.tar")).unwrap();
        for name in [
            "a.tar.zst",
            "b.txt",
            ".k3s.pikube-abc123",
            "c.tgz",
            "d.zip",
            ".tar",
        ] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        let named = archives(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(named, [dir.join("a.tar.zst"), dir.join("c.tgz")]);
        assert!(archives(&dir).is_empty());
    }
}
