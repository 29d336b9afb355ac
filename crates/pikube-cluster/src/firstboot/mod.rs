//! What a node's boot partition needs so that its first boot leaves it ready for pikube:
//! its hostname, the admin user with the controller's public key and passwordless sudo,
//! and SSH on, in the format its OS reads (see `../shared` prior art: Raspberry Pi OS
//! Bookworm runs a `systemd.run=` script named in cmdline.txt, later images and Ubuntu
//! read cloud-init's NoCloud files).

use crate::config::NodeName;
mod admin_access;
mod authorized_key;
mod cloud_init;
mod detect;
mod firstrun;
mod write;

pub(crate) use admin_access::admin_access;
pub use admin_access::AdminSudo;
pub use authorized_key::{AuthorizedKey, InvalidAuthorizedKey};
pub use detect::{detect_boot_os, UnknownBootPartition};
pub use write::{write_boot_files, WriteError, Written};

use std::fmt;

pub use crate::network::StaticNetwork;

/// The images pikube writes first-boot files for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootOs {
    /// Raspberry Pi OS Bookworm (and the first Trixie image): `firstrun.sh` run once by
    /// systemd from cmdline.txt, as Raspberry Pi Imager writes it.
    Bookworm,
    /// Raspberry Pi OS Trixie: cloud-init NoCloud files, plus the `ssh` flag file (its
    /// cloud-init does not turn SSH on by itself).
    Trixie,
    /// Ubuntu Server for Raspberry Pi: cloud-init NoCloud files, networkd renderer.
    Ubuntu,
}

impl fmt::Display for BootOs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BootOs::Bookworm => "bookworm",
            BootOs::Trixie => "trixie",
            BootOs::Ubuntu => "ubuntu",
        })
    }
}

/// One node's first boot.
#[derive(Debug, Clone)]
pub struct FirstBoot {
    /// The cluster's name (in the files' comments).
    pub cluster: String,
    /// The node's name: its hostname.
    pub node: NodeName,
    /// The admin user pikube logs in as (`[ssh] user`).
    pub user: String,
    /// The public keys the admin user accepts.
    pub keys: Vec<AuthorizedKey>,
    /// The image's first-boot format.
    pub os: BootOs,
    /// The static address from cluster.toml; `None`: DHCP.
    pub network: Option<StaticNetwork>,
}

/// A file for the boot partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootFile {
    /// Its name on the partition (`user-data`, `firstrun.sh`...).
    pub name: &'static str,
    /// Its content.
    pub content: String,
}

/// An edit of a file already on the partition (Bookworm's cmdline.txt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdlineEdit {
    /// What goes at the end of the kernel command line.
    pub append: String,
}

impl FirstBoot {
    /// The files to write, and the cmdline.txt edit Bookworm needs.
    pub fn files(&self) -> (Vec<BootFile>, Option<CmdlineEdit>) {
        match self.os {
            BootOs::Bookworm => {
                let (script, edit) = firstrun::firstrun(self);
                (
                    vec![
                        BootFile {
                            name: "firstrun.sh",
                            content: script,
                        },
                        ssh_flag(),
                    ],
                    Some(edit),
                )
            }
            BootOs::Trixie | BootOs::Ubuntu => {
                let mut files = cloud_init::nocloud(self);
                if self.os == BootOs::Trixie {
                    files.push(ssh_flag());
                }
                (files, None)
            }
        }
    }
}

/// An empty `ssh` on the boot partition: Raspberry Pi OS turns SSH on at boot when it finds
/// it (sshswitch.service), whatever else ran.
fn ssh_flag() -> BootFile {
    BootFile {
        name: "ssh",
        content: String::new(),
    }
}
