//! K3s release versions such as `v1.31.4+k3s1`: pinned, so every node installs
//! the same build and a re-run never upgrades by surprise.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

const EXPECTED: &str = "expected v<major>.<minor>.<patch>[-rcN]+k3s<N>, e.g. \"v1.31.4+k3s1\"";

/// A K3s release tag. `Display` gives back the tag exactly as parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct K3sVersion {
    /// Kubernetes' major version.
    pub major: u32,
    /// Kubernetes' minor version (one at a time on an upgrade).
    pub minor: u32,
    /// Kubernetes' patch version.
    pub patch: u32,
    /// Release candidate number, from `-rcN`.
    pub rc: Option<u32>,
    /// The K3s build of that Kubernetes release, from `+k3sN`.
    pub k3s: u32,
}

/// A `version` that is not a K3s release tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a K3s version: {hint}; {EXPECTED}")]
pub struct InvalidK3sVersion {
    /// What was written.
    pub input: String,
    /// What is wrong with it.
    pub hint: &'static str,
}

impl FromStr for K3sVersion {
    type Err = InvalidK3sVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map_err(|hint| InvalidK3sVersion {
            input: s.to_owned(),
            hint,
        })
    }
}

fn parse(s: &str) -> Result<K3sVersion, &'static str> {
    if matches!(s, "latest" | "stable" | "testing") || s.ends_with("-testing") {
        return Err("a channel name is not a pinned version");
    }
    let Some(rest) = s.strip_prefix('v') else {
        return Err(if parse(&format!("v{s}")).is_ok() {
            "it lacks the leading 'v'"
        } else {
            "it must start with 'v'"
        });
    };
    let Some((kube, build)) = rest.split_once('+') else {
        return Err("it lacks the +k3sN suffix");
    };
    let build = build
        .strip_prefix("k3s")
        .ok_or("the suffix must be +k3sN")?;
    let k3s = number(build).ok_or("+k3s must be followed by a number")?;
    let (release, rc) = match kube.split_once('-') {
        Some((release, rc)) => {
            let rc = rc.strip_prefix("rc").and_then(number);
            (
                release,
                Some(rc.ok_or("the pre-release part must be -rcN")?),
            )
        }
        None => (kube, None),
    };
    let parts: Vec<&str> = release.split('.').collect();
    let [major, minor, patch] = parts[..] else {
        return Err("it needs three numbers, major.minor.patch");
    };
    let (Some(major), Some(minor), Some(patch)) = (number(major), number(minor), number(patch))
    else {
        return Err("major, minor and patch must be plain numbers");
    };
    Ok(K3sVersion {
        major,
        minor,
        patch,
        rc,
        k3s,
    })
}

/// Digits only and no leading zero, so that `Display` round-trips.
fn number(s: &str) -> Option<u32> {
    let digits_only = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

impl fmt::Display for K3sVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(rc) = self.rc {
            write!(f, "-rc{rc}")?;
        }
        write!(f, "+k3s{}", self.k3s)
    }
}

impl K3sVersion {
    /// Whether this release's config files take `key+:` to append to a list the files read
    /// before it set, rather than replace it. K3s gained it in April 2021 (k3s PR #3229),
    /// after v1.21.0 had shipped `config.yaml.d`; v1.22 is the first minor release wholly
    /// after it. Older releases would refuse `node-label+` as an unknown flag.
    #[must_use]
    pub fn appends_config_lists(&self) -> bool {
        (self.major, self.minor) >= (1, 22)
    }
}

// Release order: a release candidate comes before its release.
impl Ord for K3sVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let key = |v: &Self| (v.major, v.minor, v.patch, v.rc.is_none(), v.rc, v.k3s);
        key(self).cmp(&key(other))
    }
}

impl PartialOrd for K3sVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl serde::Serialize for K3sVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_list_appends_start_with_v1_22() {
        let appends = |v: &str| v.parse::<K3sVersion>().unwrap().appends_config_lists();
        assert!(!appends("v1.21.14+k3s1"));
        assert!(appends("v1.22.0-rc1+k3s1"));
        assert!(appends("v1.34.4+k3s1"));
        assert!(appends("v2.0.0+k3s1"));
    }

    #[test]
    fn round_trips() {
        for tag in ["v1.31.4+k3s1", "v1.32.0-rc2+k3s1", "v0.0.0+k3s0"] {
            assert_eq!(tag.parse::<K3sVersion>().unwrap().to_string(), tag);
        }
        let v: K3sVersion = "v1.31.4+k3s2".parse().unwrap();
        assert_eq!(
            v,
            K3sVersion {
                major: 1,
                minor: 31,
                patch: 4,
                rc: None,
                k3s: 2
            }
        );
    }

    #[test]
    fn rejects_with_hint() {
        let hint = |s: &str| s.parse::<K3sVersion>().unwrap_err().hint;
        assert_eq!(hint("1.31.4+k3s1"), "it lacks the leading 'v'");
        assert_eq!(hint("1.31.4"), "it must start with 'v'");
        assert_eq!(hint("v1.31"), "it lacks the +k3sN suffix");
        assert_eq!(
            hint("v1.31+k3s1"),
            "it needs three numbers, major.minor.patch"
        );
        assert_eq!(hint("v1.31.4+k3s"), "+k3s must be followed by a number");
        assert_eq!(hint("v1.31.4+rke1"), "the suffix must be +k3sN");
        assert_eq!(
            hint("v1.31.4-beta1+k3s1"),
            "the pre-release part must be -rcN"
        );
        assert_eq!(
            hint("v1.031.4+k3s1"),
            "major, minor and patch must be plain numbers"
        );
        assert_eq!(hint("latest"), "a channel name is not a pinned version");
        assert_eq!(hint(""), "it must start with 'v'");
        assert_eq!(
            "latest".parse::<K3sVersion>().unwrap_err().to_string(),
            "\"latest\" is not a K3s version: a channel name is not a pinned version; \
             expected v<major>.<minor>.<patch>[-rcN]+k3s<N>, e.g. \"v1.31.4+k3s1\""
        );
    }

    #[test]
    fn orders_releases() {
        let v = |s: &str| s.parse::<K3sVersion>().unwrap();
        assert!(v("v1.31.4-rc1+k3s1") < v("v1.31.4+k3s1"));
        assert!(v("v1.31.4+k3s1") < v("v1.31.4+k3s2"));
        assert!(v("v1.31.10+k3s1") > v("v1.31.9+k3s1"));
    }
}
