//! Swap: what is active now and what would bring it back after a reboot.

use serde::Serialize;

use crate::edit::fstab::is_swap_entry;

/// Everything that provides swap on the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwapState {
    /// Swap areas in use now (/proc/swaps).
    pub active: Vec<ActiveSwap>,
    /// Uncommented /etc/fstab lines of type `swap`, verbatim.
    pub fstab_entries: Vec<String>,
    /// The dphys-swapfile service (Raspberry Pi OS up to Bookworm); `None`
    /// when not installed.
    pub dphys: Option<DphysSwapfile>,
    /// The rpi-swap systemd generator (newer Pi OS) is installed and not
    /// masked, so swap comes back at every boot unless configured off.
    pub rpi_swap: bool,
    /// Active systemd swap units (`dev-zram0.swap`, `var-swap.swap`, ...).
    pub swap_units: Vec<String>,
}

/// One line of /proc/swaps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveSwap {
    /// The swap file or device.
    pub path: String,
    /// `file` or `partition` (zram shows as a partition).
    pub kind: String,
    /// Its size.
    pub size_kib: u64,
    /// In use now.
    pub used_kib: u64,
}

/// The dphys-swapfile service state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DphysSwapfile {
    /// Enabled at boot (`systemctl is-enabled`).
    pub enabled: bool,
    /// Running now (`systemctl is-active`).
    pub active: bool,
}

impl SwapState {
    /// No swap in use right now.
    pub fn is_off(&self) -> bool {
        self.active.is_empty()
    }

    /// No swap now and nothing that turns it back on at boot: no fstab swap
    /// entry, dphys-swapfile neither enabled nor active, no unmasked rpi-swap
    /// generator (its configuration is not read, so it counts as "on").
    pub fn is_off_for_good(&self) -> bool {
        self.is_off()
            && self.fstab_entries.is_empty()
            && !self.dphys.as_ref().is_some_and(|d| d.enabled || d.active)
            && !self.rpi_swap
    }
}

/// Raw script output the swap state is built from.
pub(crate) struct SwapEvidence<'a> {
    pub proc_swaps: Option<&'a str>,
    pub fstab: &'a str,
    pub dphys_installed: bool,
    pub dphys_enabled: Option<&'a str>,
    pub dphys_active: Option<&'a str>,
    pub rpi_swap_generator: Option<&'a str>,
    pub swap_units: Option<&'a str>,
}

impl SwapState {
    pub(crate) fn read(evidence: &SwapEvidence<'_>) -> Self {
        SwapState {
            active: evidence
                .proc_swaps
                .map(parse_proc_swaps)
                .unwrap_or_default(),
            fstab_entries: evidence
                .fstab
                .lines()
                .filter(|line| is_swap_entry(line))
                .map(|line| line.trim_end_matches('\r').to_string())
                .collect(),
            dphys: evidence.dphys_installed.then(|| DphysSwapfile {
                enabled: evidence.dphys_enabled.is_some_and(unit_is_enabled),
                active: evidence.dphys_active == Some("active"),
            }),
            rpi_swap: evidence.rpi_swap_generator == Some("installed"),
            swap_units: evidence
                .swap_units
                .unwrap_or("")
                .lines()
                .filter_map(|line| line.split_whitespace().next())
                .filter(|unit| unit.ends_with(".swap"))
                .map(str::to_string)
                .collect(),
        }
    }
}

/// `systemctl is-enabled` answers that mean "starts at boot".
fn unit_is_enabled(answer: &str) -> bool {
    matches!(
        answer,
        "enabled"
            | "enabled-runtime"
            | "static"
            | "generated"
            | "alias"
            | "indirect"
            | "linked"
            | "linked-runtime"
    )
}

/// /proc/swaps: a header, then `Filename Type Size Used Priority` with sizes
/// in KiB and spaces in paths escaped as `\040`.
fn parse_proc_swaps(text: &str) -> Vec<ActiveSwap> {
    text.lines()
        .skip_while(|line| line.starts_with("Filename"))
        .filter_map(|line| {
            let mut columns = line.split_whitespace();
            let path = unescape_octal(columns.next()?);
            let kind = columns.next()?.to_string();
            let size_kib = columns.next()?.parse().ok()?;
            let used_kib = columns.next().and_then(|u| u.parse().ok()).unwrap_or(0);
            Some(ActiveSwap {
                path,
                kind,
                size_kib,
                used_kib,
            })
        })
        .collect()
}

/// The kernel escapes space, tab, newline and backslash as `\ooo`.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                let value = u32::from(d[0] - b'0') * 64
                    + u32::from(d[1] - b'0') * 8
                    + u32::from(d[2] - b'0');
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_swaps() {
        let text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/var/swap                               file\t\t102396\t\t0\t\t-2\n/dev/zram0 partition 2009084 1024 100\n/mnt/my\\040swap file 10 0 -3\n";
        let active = parse_proc_swaps(text);
        assert_eq!(active.len(), 3);
        assert_eq!(
            active[0],
            ActiveSwap {
                path: "/var/swap".into(),
                kind: "file".into(),
                size_kib: 102396,
                used_kib: 0
            }
        );
        assert_eq!(active[1].kind, "partition");
        assert_eq!(active[2].path, "/mnt/my swap");
        assert!(parse_proc_swaps("Filename\tType\tSize\tUsed\tPriority\n").is_empty());
        assert_eq!(unescape_octal("a\\7"), "a\\7");
        assert_eq!(unescape_octal("\\777"), "?");
    }

    #[test]
    fn off_for_good_needs_everything_off() {
        let evidence = SwapEvidence {
            proc_swaps: Some("Filename Type Size Used Priority\n"),
            fstab: "proc /proc proc defaults 0 0\n#pikube: swap disabled for Kubernetes: /swapfile none swap sw 0 0\n",
            dphys_installed: true,
            dphys_enabled: Some("disabled"),
            dphys_active: Some("inactive"),
            rpi_swap_generator: Some("masked"),
            swap_units: Some(""),
        };
        let state = SwapState::read(&evidence);
        assert!(state.is_off() && state.is_off_for_good());
        let enabled = SwapState::read(&SwapEvidence {
            dphys_enabled: Some("enabled"),
            ..evidence
        });
        assert!(enabled.is_off() && !enabled.is_off_for_good());
    }
}
