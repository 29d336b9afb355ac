//! What a Raspberry Pi (or x86 mini PC) node *is*, read in one SSH round trip,
//! and the pure text edits that prepare it for K3s.
//!
//! This crate does no I/O. Another crate runs [`FACTS_SCRIPT`] on the node,
//! hands its stdout to [`parse_facts`], and writes back the files produced by
//! the functions in [`edit`].

#![warn(missing_docs)]

pub mod edit;
pub mod facts;
mod kernel_cmdline;

pub use edit::{
    cmdline_has_cgroups, cmdline_with_cgroups, fstab_without_swap, hostname_file,
    hosts_with_hostname, is_valid_hostname, CGROUP_PARAMS,
};
pub use facts::{framed_script, parse_facts, FactsError, NodeFacts, Sections, FACTS_SCRIPT};
pub use facts::{ThrottleFlag, Throttled};
