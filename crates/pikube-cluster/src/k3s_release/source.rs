use std::ffi::OsStr;
use std::fmt;

use super::url::redact;

/// The environment variable that points downloads at a mirror (or a test server), like
/// install.sh's `GITHUB_URL`.
pub const RELEASE_URL_ENV: &str = "PIKUBE_K3S_RELEASE_URL";
/// Where k3s publishes its releases.
pub const DEFAULT_RELEASE_URL: &str = "https://github.com/k3s-io/k3s/releases";

/// Where k3s releases are downloaded from: assets live at
/// `<base_url>/download/<version>/<asset>`.
#[derive(Clone, PartialEq, Eq)]
pub struct ReleaseSource {
    base_url: String,
}

impl ReleaseSource {
    /// Releases under `base_url` (a trailing `/` ignored).
    pub fn new(base_url: &str) -> ReleaseSource {
        ReleaseSource {
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// k3s' GitHub releases.
    pub fn github() -> ReleaseSource {
        ReleaseSource::new(DEFAULT_RELEASE_URL)
    }

    /// `$PIKUBE_K3S_RELEASE_URL` if set and non-empty, else GitHub.
    pub fn from_env() -> ReleaseSource {
        ReleaseSource::from_env_value(std::env::var_os(RELEASE_URL_ENV).as_deref())
    }

    fn from_env_value(value: Option<&OsStr>) -> ReleaseSource {
        match value {
            // Not UTF-8 cannot be a URL; kept lossily so the download error shows the value.
            Some(value) if !value.is_empty() => ReleaseSource::new(&value.to_string_lossy()),
            _ => ReleaseSource::github(),
        }
    }

    /// The base URL, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The URL of one asset. `+` in versions (`v1.31.4+k3s1`) must be `%2B` in the path:
    /// a literal `+` is read as a space by some servers and fails on GitHub.
    pub(super) fn asset_url(&self, version: &str, asset: &str) -> String {
        let version = version.replace('+', "%2B");
        format!("{}/download/{version}/{asset}", self.base_url)
    }
}

// A mirror URL may carry a password: never show it.
impl fmt::Debug for ReleaseSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReleaseSource")
            .field("base_url", &redact(&self.base_url))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_value_overrides_unless_empty() {
        let mirror = ReleaseSource::from_env_value(Some(OsStr::new("http://mirror.lan/k3s/")));
        assert_eq!(mirror.base_url(), "http://mirror.lan/k3s");
        assert_eq!(
            ReleaseSource::from_env_value(Some(OsStr::new(""))),
            ReleaseSource::github()
        );
        assert_eq!(
            ReleaseSource::from_env_value(None).base_url(),
            DEFAULT_RELEASE_URL
        );
    }

    #[test]
    fn asset_url_encodes_plus() {
        let url = ReleaseSource::github().asset_url("v1.31.4+k3s1", "k3s-arm64");
        assert_eq!(
            url,
            "https://github.com/k3s-io/k3s/releases/download/v1.31.4%2Bk3s1/k3s-arm64"
        );
    }

    #[test]
    fn debug_hides_password() {
        let source = ReleaseSource::new("https://me:hunter2@mirror.lan/k3s");
        let shown = format!("{source:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("mirror.lan/k3s"), "{shown}");
    }
}
