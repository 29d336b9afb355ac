//! CPU architectures K3s publishes binaries for, named as its releases name them.

use std::fmt;
use std::str::FromStr;

use pikube_pi::facts::Arch as Machine;

use super::suggest::did_you_mean;

/// One K3s release architecture: a key of `[k3s.binary]`, and what a node's
/// `uname -m` maps to when choosing which binary it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// 64-bit x86 (the mini PCs).
    Amd64,
    /// 64-bit ARM: Pi 3, 4, 5 and Zero 2 on a 64-bit OS.
    Arm64,
    /// 32-bit ARM (hard float): Raspberry Pi OS 32-bit, any Pi model.
    Armhf,
}

const NAMES: &[&str] = &["amd64", "arm64", "armhf"];

/// A `[k3s.binary]` key that is not a K3s architecture.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not an architecture K3s publishes; {hint}")]
pub struct InvalidArch {
    /// What was written.
    pub input: String,
    /// What would be accepted, or the likely meaning.
    pub hint: String,
}

impl Arch {
    /// The K3s build a machine of `machine`'s architecture (its facts' `uname -m`) runs;
    /// `None` where no build runs. Decided here alone: an ARMv6 Pi (Zero, 1) gets none,
    /// although install.sh would hand it the armhf build, which targets ARMv7 and does not
    /// start there.
    pub fn of_machine(machine: &Machine) -> Option<Arch> {
        match machine {
            Machine::Amd64 => Some(Arch::Amd64),
            Machine::Arm64 => Some(Arch::Arm64),
            Machine::Armhf => Some(Arch::Armhf),
            Machine::Armv6 | Machine::Other(_) => None,
        }
    }

    /// The release asset holding this architecture's binary.
    pub fn asset_name(self) -> &'static str {
        match self {
            Arch::Amd64 => "k3s",
            Arch::Arm64 => "k3s-arm64",
            Arch::Armhf => "k3s-armhf",
        }
    }

    /// The release asset holding this architecture's airgap images (zstd, the smallest;
    /// named `arm` where the binary says `armhf`), listed in [`Arch::checksum_asset`].
    pub fn airgap_images_asset(self) -> &'static str {
        match self {
            Arch::Amd64 => "k3s-airgap-images-amd64.tar.zst",
            Arch::Arm64 => "k3s-airgap-images-arm64.tar.zst",
            Arch::Armhf => "k3s-airgap-images-arm.tar.zst",
        }
    }

    /// The release asset with the SHA-256 sums for this architecture; note
    /// it says `arm` where the binary says `armhf`.
    pub fn checksum_asset(self) -> &'static str {
        match self {
            Arch::Amd64 => "sha256sum-amd64.txt",
            Arch::Arm64 => "sha256sum-arm64.txt",
            Arch::Armhf => "sha256sum-arm.txt",
        }
    }

    /// K3s' name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
            Arch::Armhf => "armhf",
        }
    }
}

impl FromStr for Arch {
    type Err = InvalidArch;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "amd64" => return Ok(Arch::Amd64),
            "arm64" => return Ok(Arch::Arm64),
            "armhf" => return Ok(Arch::Armhf),
            _ => {}
        }
        // `uname -m` spellings are the likeliest mistake: they are what a
        // Pi reports, but K3s names its builds differently.
        let hint = match Arch::of_machine(&Machine::from_uname_m(s)) {
            Some(arch) => format!("K3s calls it \"{arch}\""),
            None => match did_you_mean(s, NAMES) {
                Some(close) => format!("did you mean {close:?}?"),
                None => "expected \"amd64\", \"arm64\" or \"armhf\"".to_owned(),
            },
        };
        Err(InvalidArch {
            input: s.to_owned(),
            hint,
        })
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_machine_gets_the_build_that_runs_there() {
        for (machine, arch) in [
            ("amd64", Some(Arch::Amd64)),
            ("x86_64", Some(Arch::Amd64)),
            ("arm64", Some(Arch::Arm64)),
            ("aarch64", Some(Arch::Arm64)),
            ("armv7l", Some(Arch::Armhf)),
            ("armv8l", Some(Arch::Armhf)),
            ("armv6l", None),
            ("armhf", Some(Arch::Armhf)),
            ("s390x", None),
            ("i686", None),
            ("AARCH64", None),
            ("", None),
        ] {
            let of = Arch::of_machine(&Machine::from_uname_m(machine));
            assert_eq!(of, arch, "{machine}");
        }
    }

    #[test]
    fn release_asset_names() {
        let names = |a: Arch| (a.to_string(), a.asset_name(), a.checksum_asset());
        assert_eq!(
            names(Arch::Amd64),
            ("amd64".into(), "k3s", "sha256sum-amd64.txt")
        );
        assert_eq!(
            names(Arch::Arm64),
            ("arm64".into(), "k3s-arm64", "sha256sum-arm64.txt")
        );
        assert_eq!(
            names(Arch::Armhf),
            ("armhf".into(), "k3s-armhf", "sha256sum-arm.txt")
        );
    }

    #[test]
    fn parses_release_names_only() {
        for arch in [Arch::Amd64, Arch::Arm64, Arch::Armhf] {
            assert_eq!(arch.to_string().parse::<Arch>(), Ok(arch));
        }
        let err = |s: &str| s.parse::<Arch>().unwrap_err().to_string();
        assert_eq!(
            err("aarch64"),
            "\"aarch64\" is not an architecture K3s publishes; K3s calls it \"arm64\""
        );
        assert_eq!(
            err("armv7l"),
            "\"armv7l\" is not an architecture K3s publishes; K3s calls it \"armhf\""
        );
        assert_eq!(
            err("amd46"),
            "\"amd46\" is not an architecture K3s publishes; did you mean \"amd64\"?"
        );
        assert_eq!(
            err("riscv64"),
            "\"riscv64\" is not an architecture K3s publishes; \
             expected \"amd64\", \"arm64\" or \"armhf\""
        );
    }

    #[test]
    fn serializes_as_a_map_key() {
        let map = std::collections::BTreeMap::from([(Arch::Armhf, 1), (Arch::Amd64, 2)]);
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            r#"{"amd64":2,"armhf":1}"#
        );
    }
}
