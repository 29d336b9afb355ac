//! What `apt-get full-upgrade` would install, read from its simulation.

use serde::Serialize;

/// A package `apt-get full-upgrade` would install or upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingPackage {
    /// The package's name.
    pub name: String,
    /// `None` for a package the upgrade pulls in new.
    pub from: Option<String>,
    /// The version it would get.
    pub to: String,
}

/// What `apt-get full-upgrade` would do on a node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PendingUpgrades {
    /// What it would install or upgrade.
    pub packages: Vec<PendingPackage>,
    /// Upgradable packages it leaves alone: held (`apt-mark hold`), or a phased update not
    /// yet offered to this node.
    pub kept_back: Vec<String>,
}

impl PendingUpgrades {
    /// Read from the output of `apt-get -s full-upgrade`.
    pub fn parse(output: &str) -> Self {
        Self {
            packages: parse_simulation(output),
            kept_back: parse_kept_back(output),
        }
    }
}

/// The names under apt's "kept back" heading (`Not upgrading:` since apt 3.0), listed on
/// indented lines after it.
fn parse_kept_back(output: &str) -> Vec<String> {
    let mut kept = Vec::new();
    let mut inside = false;
    for line in output.lines() {
        if line == "The following packages have been kept back:" || line == "Not upgrading:" {
            inside = true;
        } else if inside && line.starts_with(' ') {
            kept.extend(line.split_whitespace().map(str::to_owned));
        } else {
            inside = false;
        }
    }
    kept
}

/// Parses the `Inst` lines of `apt-get -s full-upgrade`:
/// `Inst NAME [OLD] (NEW ORIGIN [ARCH])`, or without `[OLD]` for a new package.
pub fn parse_simulation(output: &str) -> Vec<PendingPackage> {
    output
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("Inst ")?;
            let (name, rest) = rest.split_once(' ')?;
            let (from, rest) = match rest.strip_prefix('[') {
                Some(bracketed) => {
                    let (old, rest) = bracketed.split_once("] ")?;
                    (Some(old.to_owned()), rest)
                }
                None => (None, rest),
            };
            let to = rest
                .strip_prefix('(')?
                .split_whitespace()
                .next()?
                .to_owned();
            Some(PendingPackage {
                name: name.to_owned(),
                from,
                to,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrades_and_new_packages_are_read_and_the_rest_ignored() {
        let output = "Reading package lists...\n\
            Building dependency tree...\n\
            The following packages will be upgraded:\n  openssl pikube-fake-os\n\
            Inst openssl [3.0.15-1~deb12u1] (3.0.17-1~deb12u2 Debian-Security:12/stable-security [arm64])\n\
            Inst linux-image-6.6.74 (1:6.6.74-1+rpt1 Raspberry Pi Foundation:stable [arm64])\n\
            Conf openssl (3.0.17-1~deb12u2 Debian-Security:12/stable-security [arm64])\n";
        let pending = parse_simulation(output);
        assert_eq!(
            pending,
            [
                PendingPackage {
                    name: "openssl".to_owned(),
                    from: Some("3.0.15-1~deb12u1".to_owned()),
                    to: "3.0.17-1~deb12u2".to_owned(),
                },
                PendingPackage {
                    name: "linux-image-6.6.74".to_owned(),
                    from: None,
                    to: "1:6.6.74-1+rpt1".to_owned(),
                },
            ]
        );
        assert!(parse_simulation("0 upgraded, 0 newly installed\n").is_empty());
    }

    #[test]
    fn held_packages_are_read_as_kept_back_in_either_apts_words() {
        // apt 2.6 (bookworm), as it printed here for a package on `apt-mark hold`.
        let bookworm = "Calculating upgrade...\n\
            The following packages have been kept back:\n  pikube-held other-held\n  third\n\
            The following packages will be upgraded:\n  pikube-demo\n\
            1 upgraded, 0 newly installed, 0 to remove and 3 not upgraded.\n\
            Inst pikube-demo [1.0] (2.0 localhost [all])\n";
        let pending = PendingUpgrades::parse(bookworm);
        assert_eq!(pending.kept_back, ["pikube-held", "other-held", "third"]);
        assert_eq!(pending.packages.len(), 1);
        // apt 3.0 (trixie) names the same list differently.
        let trixie = "Not upgrading:\n  pikube-held\n\nSummary:\n  Upgrading: 0\n";
        assert_eq!(parse_kept_back(trixie), ["pikube-held"]);
        assert!(parse_kept_back("0 upgraded, 0 newly installed\n").is_empty());
    }
}
