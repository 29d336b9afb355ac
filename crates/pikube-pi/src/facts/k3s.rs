//! Whether k3s is installed and running, as server or agent.

use serde::Serialize;

use super::units::ServiceState;

/// The k3s binary and its two possible services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct K3sState {
    /// `/usr/local/bin/k3s` is there, whether or not it answered `--version`.
    pub binary: bool,
    /// From `/usr/local/bin/k3s --version`, e.g. `v1.31.4+k3s1`. `None` also where the
    /// binary is there but would not answer the login user: releases before mid-2023 read
    /// their config.yaml (0600) even for `--version` (see K3s audit F3).
    pub version: Option<String>,
    /// `k3s.service`.
    pub server: ServiceState,
    /// `k3s-agent.service`.
    pub agent: ServiceState,
}

impl K3sState {
    /// A k3s binary is in place.
    pub fn is_installed(&self) -> bool {
        self.binary || self.version.is_some()
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

    /// A release before mid-2023 refuses `--version` to the login user once config.yaml is
    /// 0600: K3s is still installed, its version unknown to these facts.
    #[test]
    fn a_binary_that_will_not_say_its_version_is_still_installed() {
        let transcript = "@@pikube-facts v1\n@@begin k3s_version\n\
            |time=\"2026-12-06T10:00:00Z\" level=fatal msg=\"open /etc/rancher/k3s/config.yaml: permission denied\"\n\
            @@end k3s_version eol=1 rc=1\n@@pikube-facts end\n";
        let k3s = crate::parse_facts(transcript).unwrap().k3s;
        assert!(k3s.binary && k3s.is_installed());
        assert_eq!(k3s.version, None);

        let none = "@@pikube-facts v1\n@@absent k3s_version\n@@pikube-facts end\n";
        let k3s = crate::parse_facts(none).unwrap().k3s;
        assert!(!k3s.binary && !k3s.is_installed());
    }
}
