//! Whether k3s is installed and running, as server or agent.

use serde::Serialize;

use super::units::ServiceState;

/// The k3s binary and its two possible services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct K3sState {
    /// From `/usr/local/bin/k3s --version`, e.g. `v1.31.4+k3s1`.
    pub version: Option<String>,
    /// `k3s.service`.
    pub server: ServiceState,
    /// `k3s-agent.service`.
    pub agent: ServiceState,
}

impl K3sState {
    /// A k3s binary answered `--version`.
    pub fn is_installed(&self) -> bool {
        self.version.is_some()
    }
}

/// `k3s version v1.31.4+k3s1 (a562d090)` → `v1.31.4+k3s1`.
pub(crate) fn parse_version(output: &str) -> Option<String> {
    let first = output.lines().next()?;
    let mut words = first.split_whitespace();
    words
        .by_ref()
        .position(|w| w == "version")
        .and_then(|_| words.next())
        .filter(|v| v.starts_with('v'))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_line() {
        let out = "k3s version v1.31.4+k3s1 (a562d090)\ngo version go1.22.9\n";
        assert_eq!(parse_version(out).as_deref(), Some("v1.31.4+k3s1"));
        assert_eq!(parse_version("Segmentation fault"), None);
        assert_eq!(parse_version(""), None);
    }
}
