//! `k3s --version`. The version can be changed without rebuilding: a file
//! `<own executable>.version` holding e.g. `v1.32.0+k3s1` overrides the default,
//! so tests can simulate an upgrade by installing a different binary + version.

pub const DEFAULT_VERSION: &str = "v1.31.4+k3s1";

/// The version this binary claims to be.
pub fn current() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let mut path = exe.into_os_string();
            path.push(".version");
            std::fs::read_to_string(path).ok()
        })
        .map(|text| text.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_VERSION.to_string())
}

/// The two lines real k3s prints, marked as the double.
pub fn banner() -> String {
    format!(
        "k3s version {} (double)\ngo version go1.22.0 (k3s-double)\n",
        current()
    )
}
