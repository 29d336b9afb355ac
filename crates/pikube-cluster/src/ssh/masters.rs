//! ControlMasters kept for the next run, as Ansible keeps its own (`ControlPersist=60s`):
//! a `plan` followed by an `apply`, or two plans, reach each node without a new SSH
//! handshake (here half of a no-op plan's time, most of it the post-quantum key exchange).
//!
//! Each way of reaching a node (target, identity, known_hosts and the ssh_config text
//! that applies, the user's and the system's included) has a directory of its own under
//! a base that must be this user's alone: a socket there runs commands on the node as
//! the login user without any further authentication, so a directory another user made
//! (or a symlink) disables reuse instead. A master left idle exits by itself after
//! `ControlPersist`, and ServerAlive ends one whose node went away.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::SshTarget;
use crate::digest::Sha256;

/// The directory the masters of one run's connections go to when they may be reused,
/// keyed by everything that decides where and how ssh connects.
#[derive(Debug, Clone)]
pub struct MasterDirs {
    base: PathBuf,
    /// The ssh_config texts that apply (pikube's, the user's, the system's).
    config_material: String,
}

impl MasterDirs {
    /// `own_dir`: a directory this run just made, so its owner is this process's user (no
    /// libc call needed to learn the uid). `runtime_dir`: `$XDG_RUNTIME_DIR`, used when it
    /// is ours alone; else the system's temporary directory. `None` when no base directory
    /// can be ours alone.
    pub fn new(
        own_dir: &Path,
        runtime_dir: Option<&Path>,
        config_material: String,
    ) -> Option<MasterDirs> {
        let uid = fs::metadata(own_dir).ok()?.uid();
        let base = match runtime_dir.filter(|d| !d.as_os_str().is_empty()) {
            Some(runtime) if private_to(runtime, uid) => runtime.join("pikube-ssh"),
            _ => std::env::temp_dir().join(format!("pikube-ssh-{uid}")),
        };
        let _ = fs::DirBuilder::new().mode(0o700).create(&base);
        private_to(&base, uid).then_some(MasterDirs {
            base,
            config_material,
        })
    }

    /// The directory for `target`, created 0700 when missing.
    pub fn for_target(&self, target: &SshTarget, known_hosts: &Path) -> Option<PathBuf> {
        let key = format!(
            "{:?}\0{:?}\0{:?}\0{:?}\0{:?}\0{}\0{}",
            target.address,
            target.user,
            target.port,
            target.identity_file,
            target.proxy_jump,
            known_hosts.display(),
            self.config_material,
        );
        let dir = self.base.join(&Sha256::of(key.as_bytes()).as_str()[..16]);
        // A socket's path has room for about a hundred bytes, and ssh adds 46 below this
        // directory; a longer one would stop ssh from starting at all.
        if dir.as_os_str().len() > MAX_DIR_LEN {
            return None;
        }
        let _ = fs::DirBuilder::new().mode(0o700).create(&dir);
        let meta = fs::symlink_metadata(&dir).ok()?;
        (meta.is_dir() && meta.permissions().mode() & 0o077 == 0).then_some(dir)
    }
}

/// The control sockets of earlier masters in `dir`, newest first; the directories of
/// masters that are gone are removed.
pub fn earlier_masters(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let is_master_dir = entry.file_name().to_string_lossy().starts_with(PREFIX)
            && entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_master_dir {
            continue;
        }
        let socket = path.join("master");
        if socket.exists() {
            let modified = fs::metadata(&path).and_then(|m| m.modified()).ok();
            found.push((modified, socket, path.join("log")));
        } else {
            forget(&path);
        }
    }
    found.sort_by_key(|(modified, _, _)| std::cmp::Reverse(*modified));
    found.into_iter().map(|(_, s, l)| (s, l)).collect()
}

/// Removes the directory of a master that is gone or was ended.
pub fn forget(master_dir: &Path) {
    let _ = fs::remove_dir_all(master_dir);
}

/// The longest directory a master's socket can be made below (see `for_target`).
const MAX_DIR_LEN: usize = 54;

/// The prefix the openssh crate gives the directory of each master it starts.
const PREFIX: &str = ".ssh-connection";

/// `dir` is a real directory (not a symlink), owned by `uid`, that nobody else may enter.
fn private_to(dir: &Path, uid: u32) -> bool {
    fs::symlink_metadata(dir).is_ok_and(|meta| {
        meta.is_dir() && meta.uid() == uid && meta.permissions().mode() & 0o077 == 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(address: &str) -> SshTarget {
        SshTarget {
            node: "n".parse().unwrap(),
            address: address.into(),
            user: Some("pi".into()),
            port: None,
            identity_file: None,
            proxy_jump: None,
        }
    }

    #[test]
    fn each_way_of_reaching_a_node_has_its_own_private_directory() {
        let own = tempfile::tempdir().unwrap();
        let base = own.path().join("runtime");
        fs::DirBuilder::new().mode(0o700).create(&base).unwrap();
        let dirs = MasterDirs::new(own.path(), Some(&base), "Host *\n".into()).unwrap();
        let known = Path::new("/k/known_hosts");
        let a = dirs.for_target(&target("10.0.0.1"), known).unwrap();
        assert!(a.starts_with(base.join("pikube-ssh")));
        assert_eq!(
            fs::metadata(&a).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(dirs.for_target(&target("10.0.0.1"), known), Some(a.clone()));
        assert_ne!(dirs.for_target(&target("10.0.0.2"), known), Some(a.clone()));
        assert_ne!(
            dirs.for_target(&target("10.0.0.1"), Path::new("/other/known_hosts")),
            Some(a.clone())
        );
        let edited =
            MasterDirs::new(own.path(), Some(&base), "Host *\n  Port 2222\n".into()).unwrap();
        assert_ne!(
            edited.for_target(&target("10.0.0.1"), known),
            Some(a.clone())
        );

        // A base others may enter is not used.
        fs::set_permissions(base.join("pikube-ssh"), fs::Permissions::from_mode(0o755)).unwrap();
        let shared_tmp = std::env::temp_dir().join(format!(
            "pikube-ssh-{}",
            fs::metadata(own.path()).unwrap().uid()
        ));
        let fallback = MasterDirs::new(own.path(), Some(&base.join("pikube-ssh")), String::new());
        assert!(fallback.is_some_and(|d| d.base == shared_tmp));

        // Too deep for a socket's path: nothing is kept there.
        let deep = own.path().join("d".repeat(60));
        fs::DirBuilder::new().mode(0o700).create(&deep).unwrap();
        let too_deep = MasterDirs::new(own.path(), Some(&deep), String::new()).unwrap();
        assert_eq!(too_deep.for_target(&target("10.0.0.1"), known), None);

        // A master directory whose socket is gone is cleaned up, one with a socket kept.
        let gone = a.join(".ssh-connectionAAAA");
        fs::create_dir(&gone).unwrap();
        let live = a.join(".ssh-connectionBBBB");
        fs::create_dir(&live).unwrap();
        let _listener = std::os::unix::net::UnixListener::bind(live.join("master")).unwrap();
        let masters = earlier_masters(&a);
        assert_eq!(masters.len(), 1);
        assert_eq!(masters[0].0, live.join("master"));
        assert!(!gone.exists());
    }
}
