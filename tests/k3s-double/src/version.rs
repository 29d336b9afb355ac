//! `k3s --version`, and `k3s-double stamp VERSION OUT`: a copy of this binary that reports
//! another version, so upgrades can be tested with a binary whose version and sha256 differ,
//! as a real release's do. The version rides in a trailer appended to the executable
//! (`\0k3s-double-version=v1.35.0+k3s1\n`); an ELF file runs unchanged with bytes after it.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// What an unstamped double reports: K3s of the Kubernetes release it runs.
pub const DEFAULT_VERSION: &str = "v1.34.4+k3s1";

const MARK: &[u8] = b"\0k3s-double-version=";

/// The version this binary claims to be.
pub fn current() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| stamped(&exe))
        .unwrap_or_else(|| DEFAULT_VERSION.to_string())
}

/// The version stamped into the executable at `path`, if any.
fn stamped(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let start = len.saturating_sub(128);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).ok()?;
    let at = tail.windows(MARK.len()).rposition(|w| w == MARK)?;
    let version = std::str::from_utf8(&tail[at + MARK.len()..]).ok()?.trim();
    (!version.is_empty()).then(|| version.to_string())
}

/// A K3s version as k3s tags them: `v1.34.4+k3s1`, `v1.35.0-rc1+k3s2`.
fn valid(version: &str) -> bool {
    let Some((kube, build)) = version.split_once("+k3s") else {
        return false;
    };
    let kube = kube.strip_prefix('v').unwrap_or("");
    let core = kube.split_once("-rc").map_or(kube, |(core, _)| core);
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && !build.is_empty()
        && build.bytes().all(|b| b.is_ascii_digit())
}

/// `k3s-double stamp VERSION OUT`.
pub fn stamp(args: &[String]) -> Result<(), String> {
    let [version, out] = args else {
        return Err(
            "usage: k3s-double stamp VERSION OUT (e.g. stamp v1.35.0+k3s1 ./k3s-1.35)".into(),
        );
    };
    if !valid(version) {
        return Err(format!(
            "{version:?} is not a K3s version like v1.35.0+k3s1"
        ));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut bytes = std::fs::read(&exe).map_err(|e| format!("read {}: {e}", exe.display()))?;
    if let Some(at) = bytes.len().checked_sub(128).and_then(|start| {
        bytes[start..]
            .windows(MARK.len())
            .rposition(|w| w == MARK)
            .map(|i| start + i)
    }) {
        bytes.truncate(at);
    }
    bytes.extend_from_slice(MARK);
    bytes.extend_from_slice(version.as_bytes());
    bytes.push(b'\n');
    crate::files::write_mode(Path::new(out), &bytes, 0o755).map_err(|e| format!("write {out}: {e}"))
}

/// Whether this version reads config.yaml even for `--version` and dies when it cannot:
/// k3s before the June 2023 patch releases (v1.24.15, v1.25.11, v1.26.6, v1.27.3) did, so
/// a 0600 config.yaml made `k3s --version` fail for every user but root.
pub fn version_reads_config(version: &str) -> bool {
    let core = version.trim_start_matches('v');
    let core = core.split(['+', '-']).next().unwrap_or("");
    let parts: Vec<u32> = core.split('.').filter_map(|p| p.parse().ok()).collect();
    let [1, minor, patch] = parts[..] else {
        return false;
    };
    match minor {
        0..=23 => true,
        24 => patch < 15,
        25 => patch < 11,
        26 => patch < 6,
        27 => patch < 3,
        _ => false,
    }
}

/// `k3s --version`: the banner, or, on the old releases, the config file's error first.
pub fn print_version() -> i32 {
    let version = current();
    if version_reads_config(&version) {
        let config = crate::roots::config_file();
        if let Err(e) = std::fs::File::open(&config) {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                eprintln!(
                    "time=\"{}\" level=fatal msg=\"open {}: permission denied\"",
                    crate::log::rfc3339_now(),
                    config.display()
                );
                return 1;
            }
        }
    }
    print!("{}", banner());
    0
}

/// The two lines real k3s prints, marked as the double.
pub fn banner() -> String {
    format!(
        "k3s version {} (double)\ngo version go1.24.11 (k3s-double)\n",
        current()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn which_releases_read_config_yaml_for_their_version() {
        for old in [
            "v1.23.17+k3s1",
            "v1.24.14+k3s1",
            "v1.26.5+k3s1",
            "v1.27.2+k3s1",
        ] {
            assert!(super::version_reads_config(old), "{old}");
        }
        for fixed in [
            "v1.24.15+k3s1",
            "v1.26.6+k3s1",
            "v1.27.3+k3s1",
            "v1.28.0+k3s1",
            "v1.34.4+k3s1",
        ] {
            assert!(!super::version_reads_config(fixed), "{fixed}");
        }
    }

    #[test]
    fn k3s_versions() {
        for ok in ["v1.34.4+k3s1", "v1.35.0-rc1+k3s2", "v1.9.10+k3s12"] {
            assert!(super::valid(ok), "{ok}");
        }
        for bad in [
            "1.34.4+k3s1",
            "v1.34+k3s1",
            "v1.34.4",
            "v1.34.4+k3s",
            "v1.34.x+k3s1",
            "",
        ] {
            assert!(!super::valid(bad), "{bad}");
        }
    }
}
