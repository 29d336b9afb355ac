use pikube_pi::{cmdline_with_cgroups, NodeFacts};

use super::{Change, ChangeArea, DesiredNode, Phase, PhaseOutcome, Unpreparable};

/// K3s needs the memory cgroup controller. On a Raspberry Pi it is off unless the kernel
/// command line in the OS's real cmdline.txt asks for it, and only a reboot applies it.
pub struct MemoryCgroup;

impl Phase for MemoryCgroup {
    fn area(&self) -> ChangeArea {
        ChangeArea::Cgroups
    }

    fn plan(&self, _node: &DesiredNode, facts: &NodeFacts) -> Result<PhaseOutcome, Unpreparable> {
        let mut outcome = PhaseOutcome::default();
        let missing = &facts.memory_cgroup.missing_controllers;
        if !missing.is_empty() {
            // Audit F15: the agent fails with "failed to find cpuset cgroup (v2)". Pi OS
            // kernels have both; a cmdline.txt edit cannot add what the kernel lacks.
            return Err(Unpreparable::CgroupControllers {
                missing: missing.clone(),
            });
        }
        let enabled = facts.memory_cgroup.enabled;
        match (&facts.boot.cmdline_path, &facts.boot.cmdline) {
            (Some(path), Some(cmdline)) => {
                let wanted = cmdline_with_cgroups(cmdline);
                if &wanted != cmdline {
                    outcome
                        .changes
                        .push(Change::file(path, Some(cmdline), wanted, 0o644));
                    if !enabled {
                        outcome.reboot = Some(format!(
                            "{path} changed: the memory cgroup is enabled at boot"
                        ));
                    }
                } else if !enabled {
                    if facts.memory_cgroup.cmdline_requests_memory {
                        // Booted with the parameters and still off: another reboot would
                        // loop. Say so instead.
                        return Err(Unpreparable::MemoryCgroupStillOff {
                            cmdline_path: path.clone(),
                            proc_cmdline: facts.proc_cmdline.trim().to_owned(),
                        });
                    }
                    outcome.reboot = Some(format!(
                        "{path} asks for the memory cgroup but the running kernel was booted before it did"
                    ));
                }
            }
            _ if !enabled => return Err(Unpreparable::NoCmdlineTxt),
            _ => {}
        }
        Ok(outcome)
    }

    fn verify(&self, _node: &DesiredNode, facts: &NodeFacts) -> Vec<String> {
        if facts.memory_cgroup.enabled {
            Vec::new()
        } else {
            vec![format!(
                "the memory cgroup is still disabled (running kernel command line: {:?})",
                facts.proc_cmdline.trim()
            )]
        }
    }
}
