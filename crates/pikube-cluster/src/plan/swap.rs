use pikube_pi::{fstab_without_swap, NodeFacts};

use super::{Change, ChangeArea, DesiredNode, Phase, PhaseOutcome, Unpreparable};

/// Swap off for good: the kubelet expects none. Raspberry Pi OS turns it on three ways
/// (dphys-swapfile, an fstab line, and whatever is active now); each is undone.
pub struct SwapOff;

impl Phase for SwapOff {
    fn area(&self) -> ChangeArea {
        ChangeArea::Swap
    }

    fn plan(&self, _node: &DesiredNode, facts: &NodeFacts) -> Result<PhaseOutcome, Unpreparable> {
        let mut outcome = PhaseOutcome::default();
        if let Some(dphys) = &facts.swap.dphys {
            if dphys.enabled || dphys.active {
                outcome.changes.push(Change::command(
                    "stop and disable dphys-swapfile, and delete its swap file",
                    "dphys-swapfile swapoff >/dev/null 2>&1 || true; \
                     dphys-swapfile uninstall >/dev/null 2>&1 || true; \
                     systemctl disable --now dphys-swapfile.service",
                ));
            }
        }
        if facts.swap.rpi_swap {
            // Newer images make swap (zram and/or a file) with the rpi-swap systemd
            // generator; masking the generator stops it at the next boot, swapoff now.
            outcome.changes.push(Change::command(
                "mask the rpi-swap generator so no swap is created at boot",
                "mkdir -p /etc/systemd/system-generators && \
                 ln -sf /dev/null /etc/systemd/system-generators/rpi-swap-generator && \
                 systemctl daemon-reload",
            ));
        }
        let fstab = fstab_without_swap(&facts.fstab);
        if fstab != facts.fstab {
            outcome
                .changes
                .push(Change::file("/etc/fstab", Some(&facts.fstab), fstab, 0o644));
        }
        if !facts.swap.active.is_empty() {
            let paths: Vec<&str> = facts.swap.active.iter().map(|s| s.path.as_str()).collect();
            outcome.changes.push(Change::command(
                format!("turn off active swap ({})", paths.join(", ")),
                "swapoff -a",
            ));
        }
        Ok(outcome)
    }

    fn verify(&self, _node: &DesiredNode, facts: &NodeFacts) -> Vec<String> {
        let mut problems = Vec::new();
        if !facts.swap.active.is_empty() {
            let paths: Vec<&str> = facts.swap.active.iter().map(|s| s.path.as_str()).collect();
            problems.push(format!("swap is still active: {}", paths.join(", ")));
        }
        if !facts.swap.fstab_entries.is_empty() {
            problems.push(format!(
                "/etc/fstab still mounts swap: {}",
                facts.swap.fstab_entries.join("; ")
            ));
        }
        if facts
            .swap
            .dphys
            .as_ref()
            .is_some_and(|d| d.enabled || d.active)
        {
            problems.push("dphys-swapfile is still enabled".to_owned());
        }
        if facts.swap.rpi_swap {
            problems.push("the rpi-swap generator is still active".to_owned());
        }
        problems
    }
}
