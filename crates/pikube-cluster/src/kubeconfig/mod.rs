//! The cluster's kubeconfig on the controller: k3s writes `/etc/rancher/k3s/k3s.yaml` on its
//! server with everything named `default` and a loopback server address. This module renames
//! that to the cluster's name, points it at a reachable server and merges it into the user's
//! kubeconfig without disturbing the other clusters there. What it takes from the node is
//! only what K3s writes (`allow`), and the CA is checked against the cluster token (`ca`):
//! a kubeconfig can run commands on this machine, and the node may not be trustworthy.

mod allow;
mod ca;
mod emit;
mod entries;
mod error;
mod lock;
mod merge;
mod rename;
mod san;
mod target;
mod write;

pub use ca::CaPin;
pub use error::KubeconfigError;
pub use merge::{merge, merge_into_file};
pub use rename::{for_cluster, from_server, Kubeconfig};
pub use san::{check_covers, subject_names, SanError, SERVING_CERT};
pub use target::kubeconfig_target;
pub use write::write_private;
