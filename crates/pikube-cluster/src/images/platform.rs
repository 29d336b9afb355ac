//! The platforms an image is published for, and which of them a node runs.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::Arch;

/// One `os/architecture[/variant]` an image index lists (or a single image's config says).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// OCI's name: `amd64`, `arm64`, `arm`.
    pub architecture: String,
    /// `v7` for 32-bit ARM, often `v8` or nothing for arm64.
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// Whether a node running `arch`'s K3s build has a native image in this platform:
    /// arm64 whatever its variant; 32-bit ARM for ARMv7 or older (an ARMv7 CPU runs ARMv6
    /// code; a missing variant means v7). containerd on arm64 would fall back to a 32-bit
    /// image, but that needs the kernel's 32-bit support, which the Pi 5's 16K-page kernel
    /// does not have: a native build is asked for.
    pub fn runs_on(&self, arch: Arch) -> bool {
        if self.os != "linux" {
            return false;
        }
        match arch {
            Arch::Amd64 => self.architecture == "amd64",
            Arch::Arm64 => self.architecture == "arm64",
            Arch::Armhf => {
                self.architecture == "arm"
                    && matches!(self.variant.as_deref(), None | Some("v7" | "v6" | "v5"))
            }
        }
    }

    /// The platform a node running `arch`'s K3s build pulls, as registries name it.
    pub fn of_arch(arch: Arch) -> Platform {
        let (architecture, variant) = match arch {
            Arch::Amd64 => ("amd64", None),
            Arch::Arm64 => ("arm64", None),
            Arch::Armhf => ("arm", Some("v7")),
        };
        Platform {
            os: "linux".to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(s: &str) -> Platform {
        let mut parts = s.split('/');
        Platform {
            os: parts.next().unwrap().to_owned(),
            architecture: parts.next().unwrap().to_owned(),
            variant: parts.next().map(str::to_owned),
        }
    }

    #[test]
    fn a_node_runs_what_containerd_would_pull_for_it() {
        assert!(platform("linux/arm64/v8").runs_on(Arch::Arm64));
        assert!(platform("linux/arm64").runs_on(Arch::Arm64));
        assert!(platform("linux/arm/v7").runs_on(Arch::Armhf));
        assert!(platform("linux/arm/v6").runs_on(Arch::Armhf));
        assert!(platform("linux/arm").runs_on(Arch::Armhf));
        assert!(platform("linux/amd64").runs_on(Arch::Amd64));
        assert!(!platform("linux/arm/v8").runs_on(Arch::Armhf));
        assert!(
            !platform("linux/arm/v7").runs_on(Arch::Arm64),
            "no 32-bit fallback assumed"
        );
        assert!(!platform("windows/amd64").runs_on(Arch::Amd64));
        assert!(!platform("unknown/unknown").runs_on(Arch::Amd64));
        for arch in [Arch::Amd64, Arch::Arm64, Arch::Armhf] {
            assert!(Platform::of_arch(arch).runs_on(arch), "{arch}");
        }
        assert_eq!(Platform::of_arch(Arch::Armhf).to_string(), "linux/arm/v7");
    }
}
