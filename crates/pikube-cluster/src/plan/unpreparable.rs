//! Why a node cannot be prepared by any change pikube knows, with what the user can do.

/// A node whose facts rule out preparing it; each says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unpreparable {
    /// `ip route` shows no `default`: K3s picks its node IP from that route.
    #[error(
        "no default route (ip route shows no `default`): K3s chooses its node IP from it and \
         would not start. Give the node a gateway, or on a network without one add a route \
         through a dummy interface, e.g. `ip link add dummy0 type dummy && ip link set dummy0 \
         up && ip addr add 203.0.113.254/31 dev dummy0 && ip route add default via \
         203.0.113.255 dev dummy0 metric 1000` (made permanent in the OS's network \
         configuration)"
    )]
    NoDefaultRoute,
    /// cgroup controllers K3s needs (cpu, cpuset, memory) that the kernel has off or lacks;
    /// never empty.
    #[error(
        "the kernel's {} cgroup controller{} off or missing (K3s needs cpu, cpuset and \
         memory; its agent would fail with \"failed to find {} cgroup\"): boot a kernel built \
         with CONFIG_CGROUP_SCHED and CONFIG_CPUSETS, or add cgroup_enable={} to the kernel \
         command line if it was turned off there",
        .missing.join(" and "),
        if .missing.len() == 1 { " is" } else { "s are" },
        .missing.first().map_or("", String::as_str),
        .missing.join(",")
    )]
    CgroupControllers {
        /// The controllers, as /proc/cgroups names them.
        missing: Vec<String>,
    },
    /// Booted with the parameter and still off: another reboot would loop.
    #[error(
        "the kernel was booted with cgroup_enable=memory (from {cmdline_path}) but the memory \
         cgroup is still disabled; /proc/cmdline is {proc_cmdline:?}. Check for a later \
         cgroup_disable=memory or a kernel without memory cgroup support"
    )]
    MemoryCgroupStillOff {
        /// The cmdline.txt that asks for it.
        cmdline_path: String,
        /// The running kernel's command line.
        proc_cmdline: String,
    },
    /// Not a Raspberry Pi's boot layout (e.g. an x86 machine): pikube has no file to edit.
    #[error(
        "the memory cgroup is disabled and there is no cmdline.txt (/boot/firmware/cmdline.txt \
         or /boot/cmdline.txt) to enable it: add cgroup_enable=memory to the boot loader's \
         kernel command line"
    )]
    NoCmdlineTxt,
}
