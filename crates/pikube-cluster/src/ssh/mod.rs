//! SSH to the nodes, with OpenSSH's own semantics.
//!
//! pikube drives the system `ssh` through one multiplexed master connection per node
//! (ControlMaster), so `~/.ssh/config`, the agent, `ProxyJump`, certificates and every
//! other OpenSSH feature behave exactly as they do in a terminal. Host keys are pinned in
//! the cluster's own known_hosts file: trusted on first use, refused when they change.

mod client_config;
mod connection;
mod error;
pub mod known_hosts;
mod masters;
mod sudo;
mod target;

pub use client_config::ClientConfig;
/// Single-quotes a string for a POSIX shell (for commands built outside this crate).
pub use connection::shell_quote as shell_quote_arg;
pub(crate) use connection::{last_line, shell_quote};
pub use connection::{transfer_limit, Allowing, CommandOutput, Connection};
pub use error::SshError;
pub use sudo::{Privilege, SudoPassword};
pub use target::SshTarget;
