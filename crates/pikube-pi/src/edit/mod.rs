//! Pure, idempotent text edits that prepare a node. Each takes a file's exact
//! content and returns the new content, changing only what it must.

mod cmdline;
pub(crate) mod fstab;
mod hostname;
mod hosts;

pub use cmdline::{cmdline_has_cgroups, cmdline_with_cgroups, CGROUP_PARAMS};
pub use fstab::fstab_without_swap;
pub use hostname::{hostname_file, is_valid_hostname};
pub use hosts::hosts_with_hostname;
