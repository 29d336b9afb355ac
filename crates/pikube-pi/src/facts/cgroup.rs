//! Whether the memory cgroup controller is usable (k3s refuses to start
//! without it: "failed to find memory cgroup"), and the cpu and cpuset controllers.

use serde::Serialize;

use crate::kernel_cmdline::requests_memory_cgroup;

/// Effective state of the memory cgroup controller on the running kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupState {
    /// The controller is enabled now.
    pub enabled: bool,
    /// Which kernel file decided `enabled`.
    pub source: CgroupEvidence,
    /// The running kernel's command line (/proc/cmdline) ends up asking for the
    /// memory cgroup: a `cgroup_enable=memory` after the last
    /// `cgroup_disable=memory`. False while a cmdline.txt edit awaits a reboot.
    pub cmdline_requests_memory: bool,
    /// Filesystem type of /sys/fs/cgroup: `cgroup2fs` (unified) or `tmpfs`
    /// (v1 or hybrid).
    pub cgroup_fs: Option<String>,
    /// Of the other controllers K3s needs (`cpu`, `cpuset`; `k3s check-config` requires
    /// them beside memory, and the agent fails with "failed to find cpuset cgroup"), those
    /// the kernel shows to be off or absent. Without evidence either way, none.
    pub missing_controllers: Vec<String>,
}

/// The controllers besides memory that K3s needs.
const ALSO_NEEDED: [&str; 2] = ["cpu", "cpuset"];

/// The file the memory cgroup state was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CgroupEvidence {
    /// The `memory` row of /proc/cgroups (its 4th column, "enabled").
    ProcCgroups,
    /// /sys/fs/cgroup/cgroup.controllers (cgroup v2).
    CgroupV2Controllers,
    /// Neither file mentions memory.
    NotFound,
}

impl CgroupState {
    /// /proc/cgroups first when it has a `memory` row: its "enabled" column is
    /// the kernel-wide switch that `cgroup_disable=memory` flips, and a disabled
    /// controller cannot appear in any hierarchy, so on a real kernel it agrees
    /// with cgroup.controllers — while staying right on v1/hybrid hosts and in
    /// containers whose cgroup namespace shows a parent's controllers. Kernels
    /// 6.12+ without CONFIG_MEMCG_V1 drop the row; then a `memory` entry in
    /// the v2 cgroup.controllers file decides.
    pub(crate) fn read(
        proc_cgroups: Option<&str>,
        v2_controllers: Option<&str>,
        proc_cmdline: &str,
        cgroup_fs: Option<&str>,
    ) -> Self {
        let from_proc = proc_cgroups.and_then(|text| row_enabled(text, "memory"));
        let missing_controllers = ALSO_NEEDED
            .iter()
            .filter(|name| {
                match proc_cgroups.and_then(|text| row_enabled(text, name)) {
                    Some(enabled) => !enabled,
                    // No row: the v2 root list decides, when there is one.
                    None => v2_controllers
                        .is_some_and(|text| !text.split_whitespace().any(|c| c == **name)),
                }
            })
            .map(|name| (*name).to_owned())
            .collect();
        let from_v2 = v2_controllers
            .map(|text| text.split_whitespace().any(|c| c == "memory"))
            .filter(|&listed| listed);
        let (enabled, source) = match (from_proc, from_v2) {
            (Some(enabled), _) => (enabled, CgroupEvidence::ProcCgroups),
            (None, Some(_)) => (true, CgroupEvidence::CgroupV2Controllers),
            (None, None) => (false, CgroupEvidence::NotFound),
        };
        CgroupState {
            enabled,
            source,
            cmdline_requests_memory: requests_memory_cgroup(proc_cmdline),
            cgroup_fs: cgroup_fs
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string),
            missing_controllers,
        }
    }
}

/// `memory\t0\t105\t0` → Some(false) for `memory`; no such row → None.
fn row_enabled(proc_cgroups: &str, controller: &str) -> Option<bool> {
    proc_cgroups.lines().find_map(|line| {
        let mut columns = line.split_whitespace();
        if columns.next()? != controller {
            return None;
        }
        Some(columns.nth(2)? == "1")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_OFF: &str = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t105\t1\ncpu\t0\t105\t1\nmemory\t0\t105\t0\npids\t0\t105\t1\n";
    const NO_MEMORY_ROW: &str =
        "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t62\t1\ncpu\t0\t62\t1\n";

    #[test]
    fn disabled_by_proc_cgroups_row() {
        let state = CgroupState::read(
            Some(V1_OFF),
            Some("cpuset cpu io pids\n"),
            "",
            Some("cgroup2fs"),
        );
        assert!(!state.enabled);
        assert_eq!(state.source, CgroupEvidence::ProcCgroups);
    }

    #[test]
    fn modern_kernel_without_memory_row_uses_v2_file() {
        let on = CgroupState::read(
            Some(NO_MEMORY_ROW),
            Some("cpuset cpu io memory pids\n"),
            "",
            None,
        );
        assert_eq!(
            (on.enabled, on.source),
            (true, CgroupEvidence::CgroupV2Controllers)
        );
        let off = CgroupState::read(Some(NO_MEMORY_ROW), Some("cpuset cpu io pids\n"), "", None);
        assert_eq!((off.enabled, off.source), (false, CgroupEvidence::NotFound));
    }

    #[test]
    fn cpu_and_cpuset_are_missing_only_on_evidence() {
        let both = CgroupState::read(Some(V1_OFF), Some("cpuset cpu io pids\n"), "", None);
        assert!(both.missing_controllers.is_empty());
        let off = V1_OFF.replace("cpuset\t0\t105\t1", "cpuset\t0\t105\t0");
        let state = CgroupState::read(Some(&off), None, "", None);
        assert_eq!(state.missing_controllers, ["cpuset"]);
        // No rows (a 6.12+ kernel's /proc/cgroups lists v1 controllers only): the v2 list.
        let state = CgroupState::read(Some(""), Some("io memory pids\n"), "", None);
        assert_eq!(state.missing_controllers, ["cpu", "cpuset"]);
        // Neither file says anything: nothing is claimed missing.
        assert!(CgroupState::read(Some(""), None, "", None)
            .missing_controllers
            .is_empty());
    }

    #[test]
    fn cmdline_order_matters() {
        let later_disable = "cgroup_enable=memory cgroup_memory=1 cgroup_disable=memory";
        assert!(!CgroupState::read(None, None, later_disable, None).cmdline_requests_memory);
        let later_enable =
            "cgroup_disable=memory console=tty1 cgroup_memory=1 cgroup_enable=memory";
        assert!(CgroupState::read(None, None, later_enable, None).cmdline_requests_memory);
    }
}
