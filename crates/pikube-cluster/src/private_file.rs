//! Files of local state only the user may read, never seen half-written: the content goes
//! to a temporary file (0600, in a 0700 directory, synced to disk) that is then put in
//! place whole.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Writes `bytes` to a new temporary file beside `dir/name` and returns its path; the
/// caller puts it in place (rename, or a hard link that never replaces).
pub fn write_temporary(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    let (mut file, tmp) = create_temporary(dir, name)?;
    if let Err(err) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        let _ = fs::remove_file(&tmp);
        return Err(err);
    }
    Ok(tmp)
}

/// A new, empty, private temporary file beside `dir/name` for the caller to fill (and
/// sync) and put in place, or remove.
pub fn create_temporary(dir: &Path, name: &str) -> io::Result<(fs::File, PathBuf)> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    check_private(dir)?;
    if let Some(parent) = dir.parent().filter(|p| p.ends_with(".pikube")) {
        check_private(parent)?;
        keep_out_of_git(parent);
    }
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    Ok((file, tmp))
}

/// A directory made beforehand (a shared checkout, another user) may be writable by
/// others, who could then swap a symlink in for a file pikube is about to write: refuse it
/// (security review L6). `DirBuilder::mode` only applies to directories it creates.
fn check_private(dir: &Path) -> io::Result<()> {
    let metadata = fs::symlink_metadata(dir)?;
    let me = rustix::process::geteuid().as_raw();
    let problem = if metadata.file_type().is_symlink() {
        Some("is a symbolic link".to_owned())
    } else if metadata.uid() != me {
        Some(format!(
            "belongs to uid {}, not to you (uid {me})",
            metadata.uid()
        ))
    } else if metadata.mode() & 0o022 != 0 {
        Some(format!(
            "is writable by other users (mode {:o}): run `chmod go-w {}`",
            metadata.mode() & 0o777,
            dir.display()
        ))
    } else {
        None
    };
    match problem {
        Some(problem) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} {problem}; it holds the cluster's secrets",
                dir.display()
            ),
        )),
        None => Ok(()),
    }
}

/// Cluster directories are usually versioned; the tokens must not be committed with them.
/// Writes `.pikube/.gitignore` (`*`) unless it exists; `pikube init` calls it too, so the
/// directory is ignored before anything is in it.
pub fn keep_out_of_git(pikube_dir: &Path) {
    if fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(pikube_dir)
        .is_err()
    {
        return;
    }
    let ignore = pikube_dir.join(".gitignore");
    if !ignore.exists() {
        let _ = fs::write(
            &ignore,
            "# Written by pikube: local state, with the cluster's secrets. Never commit it.\n*\n",
        );
    }
}

/// Replaces `dir/name` with `bytes`, atomically.
pub fn replace(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = write_temporary(dir, name, bytes)?;
    fs::rename(&tmp, dir.join(name)).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_replaced_file_is_private_whole_and_leaves_nothing_behind() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("state");
        replace(&dir, "f", b"one").unwrap();
        replace(&dir, "f", b"two").unwrap();
        assert_eq!(fs::read(dir.join("f")).unwrap(), b"two");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("f")), 0o600);
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f"]);
    }

    #[test]
    fn the_pikube_directory_is_kept_out_of_git_and_must_be_private() {
        let root = tempfile::tempdir().unwrap();
        let pikube = root.path().join(".pikube");
        let dir = pikube.join("lab");
        replace(&dir, "token", b"s3cret").unwrap();
        let ignore = fs::read_to_string(pikube.join(".gitignore")).unwrap();
        assert!(ignore.lines().any(|l| l == "*"), "{ignore}");
        // A group-writable state directory (made by hand, or a shared checkout) is refused,
        // naming it and the fix.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o770)).unwrap();
        let err = replace(&dir, "token", b"other").unwrap_err().to_string();
        assert!(
            err.contains("writable by other users") && err.contains("chmod go-w"),
            "{err}"
        );
        assert_eq!(fs::read(dir.join("token")).unwrap(), b"s3cret");
        // So is a symlink in its place.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        let elsewhere = root.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        let link = pikube.join("linked");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let err = replace(&link, "token", b"x").unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(!elsewhere.join("token").exists());
    }
}
