//! Which image a mounted boot partition belongs to, so that `pikube firstboot` can be run
//! without `--os` on the card itself. Only what the images put on their FAT partition is
//! read: Raspberry Pi OS writes `issue.txt` (its build); cloud-init images (Pi OS Trixie,
//! Ubuntu) ship the NoCloud `user-data` there; Ubuntu has no `issue.txt`.

use std::path::Path;

use super::BootOs;

/// Why the image on a partition could not be told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{dir}: cannot tell which image this boot partition is ({found}); say --os bookworm, \
     trixie or ubuntu"
)]
pub struct UnknownBootPartition {
    /// The folder looked at.
    pub dir: String,
    /// What was (not) found there.
    pub found: String,
}

/// The image whose boot partition `dir` is, and the files that told it.
pub fn detect_boot_os(dir: &Path) -> Result<(BootOs, &'static str), UnknownBootPartition> {
    let has = |name: &str| dir.join(name).is_file();
    let raspberry_pi_os = has("issue.txt")
        && std::fs::read_to_string(dir.join("issue.txt"))
            .is_ok_and(|text| text.contains("Raspberry Pi"));
    let cloud_init = has("user-data");
    match (raspberry_pi_os, cloud_init, has("cmdline.txt")) {
        (true, true, _) => Ok((BootOs::Trixie, "Raspberry Pi OS's issue.txt and user-data")),
        (true, false, _) => Ok((
            BootOs::Bookworm,
            "Raspberry Pi OS's issue.txt without user-data",
        )),
        (false, true, true) => Ok((BootOs::Ubuntu, "user-data and cmdline.txt, no issue.txt")),
        (false, cloud_init, cmdline) => Err(UnknownBootPartition {
            dir: dir.display().to_string(),
            found: match (cloud_init, cmdline) {
                (false, false) => "no cmdline.txt: not a Raspberry Pi boot partition".to_owned(),
                (true, false) => "user-data but no cmdline.txt".to_owned(),
                _ => {
                    "cmdline.txt, but neither Raspberry Pi OS's issue.txt nor user-data".to_owned()
                }
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    const ISSUE: &str = "Raspberry Pi reference 2025-11-24\nGenerated using pi-gen\n";
    const CMDLINE: &str = "console=serial0,115200 root=PARTUUID=1234-02 rootwait\n";

    #[test]
    fn each_image_is_told_by_its_own_files() {
        let bookworm = partition(&[("issue.txt", ISSUE), ("cmdline.txt", CMDLINE)]);
        assert_eq!(detect_boot_os(bookworm.path()).unwrap().0, BootOs::Bookworm);
        let trixie = partition(&[
            ("issue.txt", ISSUE),
            ("cmdline.txt", CMDLINE),
            ("user-data", "#cloud-config\n"),
            ("meta-data", ""),
        ]);
        assert_eq!(detect_boot_os(trixie.path()).unwrap().0, BootOs::Trixie);
        let ubuntu = partition(&[
            ("cmdline.txt", CMDLINE),
            ("user-data", "#cloud-config\n"),
            ("README", "Ubuntu boot partition\n"),
        ]);
        assert_eq!(detect_boot_os(ubuntu.path()).unwrap().0, BootOs::Ubuntu);
    }

    #[test]
    fn anything_else_asks_for_os() {
        let empty = partition(&[]);
        let err = detect_boot_os(empty.path()).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "cannot tell which image this boot partition is (no cmdline.txt: not a \
                 Raspberry Pi boot partition); say --os bookworm, trixie or ubuntu"
            ),
            "{err}"
        );
        let other = partition(&[("cmdline.txt", CMDLINE), ("issue.txt", "Debian 12\n")]);
        let err = detect_boot_os(other.path()).unwrap_err().to_string();
        assert!(
            err.contains("neither Raspberry Pi OS's issue.txt nor user-data"),
            "{err}"
        );
    }
}
