use std::fmt;

/// The architectures k3s publishes binaries for, named as k3s' install.sh names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReleaseArch {
    Amd64,
    Arm64,
    /// 32-bit ARM with hardware floating point (Raspberry Pi OS 32-bit).
    Armhf,
}

impl ReleaseArch {
    /// The binary's asset name in a k3s release.
    pub fn asset_name(self) -> &'static str {
        match self {
            ReleaseArch::Amd64 => "k3s",
            ReleaseArch::Arm64 => "k3s-arm64",
            ReleaseArch::Armhf => "k3s-armhf",
        }
    }

    /// The release's checksum file covering this architecture's assets. Note armhf's is
    /// called `arm`, not `armhf`.
    pub fn checksum_asset(self) -> &'static str {
        match self {
            ReleaseArch::Amd64 => "sha256sum-amd64.txt",
            ReleaseArch::Arm64 => "sha256sum-arm64.txt",
            ReleaseArch::Armhf => "sha256sum-arm.txt",
        }
    }
}

impl fmt::Display for ReleaseArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReleaseArch::Amd64 => "amd64",
            ReleaseArch::Arm64 => "arm64",
            ReleaseArch::Armhf => "armhf",
        })
    }
}
