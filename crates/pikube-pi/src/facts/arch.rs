//! CPU architecture as k3s release assets name it.

use serde::{Serialize, Serializer};

/// The machine architecture, from `uname -m`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arch {
    /// `aarch64` (64-bit kernel; k3s is static, so userland bitness is moot).
    Arm64,
    /// `armv7l`/`armv8l`: 32-bit ARM with hard float.
    Armhf,
    /// `armv6l` (Pi Zero/1): k3s's armhf build targets ARMv7, so unsupported.
    Armv6,
    /// `x86_64`.
    Amd64,
    /// Anything else, as `uname -m` printed it.
    Other(String),
}

impl Arch {
    /// What `uname -m` printed, named.
    pub fn from_uname_m(machine: &str) -> Self {
        match machine.trim() {
            "aarch64" | "arm64" | "armv8b" => Arch::Arm64,
            "armv7l" | "armv7" | "armv8l" | "armhf" => Arch::Armhf,
            "armv6l" | "armv6" => Arch::Armv6,
            "x86_64" | "amd64" => Arch::Amd64,
            other => Arch::Other(other.to_string()),
        }
    }

    /// The canonical `uname -m` spelling.
    pub fn uname_m(&self) -> &str {
        match self {
            Arch::Arm64 => "aarch64",
            Arch::Armhf => "armv7l",
            Arch::Armv6 => "armv6l",
            Arch::Amd64 => "x86_64",
            Arch::Other(machine) => machine,
        }
    }

    /// Short name used in JSON and messages: `arm64`, `armhf`, `armv6`,
    /// `amd64`, or the raw machine name.
    pub fn name(&self) -> &str {
        match self {
            Arch::Arm64 => "arm64",
            Arch::Armhf => "armhf",
            Arch::Armv6 => "armv6",
            Arch::Amd64 => "amd64",
            Arch::Other(machine) => machine,
        }
    }
}

impl Serialize for Arch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_by_uname() {
        assert_eq!(Arch::from_uname_m("aarch64\n"), Arch::Arm64);
        assert_eq!(Arch::from_uname_m("armv7l"), Arch::Armhf);
        assert_eq!(Arch::from_uname_m("armv8l"), Arch::Armhf);
        assert_eq!(Arch::from_uname_m("x86_64"), Arch::Amd64);
        assert_eq!(Arch::from_uname_m("armv6l"), Arch::Armv6);
        assert_eq!(Arch::from_uname_m("riscv64").uname_m(), "riscv64");
    }
}
