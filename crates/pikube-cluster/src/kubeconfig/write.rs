//! Writing files that hold credentials: atomic, private, never half-written.

use std::fs::{self, DirBuilder, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Writes `text` to `path` with mode 0600 by writing a temporary file beside it and renaming
/// it over `path`, so a reader sees the old file or the new one, never a mix. A missing
/// parent directory is created with mode 0700; an existing one is left as it is.
pub fn write_private(path: &Path, text: &str) -> io::Result<()> {
    let path = follow_symlink(path)?;
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)?;

    // tempfile creates the file 0600 already; set it again so no umask or future default can
    // leave a credential readable while it is being written.
    let mut file = tempfile::Builder::new()
        .prefix(".pikube-")
        .suffix(".tmp")
        .tempfile_in(parent)?;
    file.as_file()
        .set_permissions(Permissions::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_all()?;
    file.persist(&path).map_err(|e| e.error)?;

    // Make the rename itself durable. Some filesystems refuse to fsync a directory; the file
    // is in place either way, so that is not worth failing for.
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Many people keep ~/.kube/config as a symlink into their dotfiles; renaming over the link
/// would silently replace it with a plain file, so write to what it points at instead. Only
/// a link of the user's own is followed: one someone else left where the file goes (say in
/// /tmp, for `--write /tmp/x.yaml`) would redirect the write anywhere the user can write
/// (security review L6).
fn follow_symlink(path: &Path) -> io::Result<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let Ok(metadata) = fs::symlink_metadata(path) else {
        return Ok(path.to_owned());
    };
    if !metadata.file_type().is_symlink() {
        return Ok(path.to_owned());
    }
    let me = rustix::process::geteuid().as_raw();
    if metadata.uid() != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is a symbolic link owned by uid {}, not by you: refusing to write \
                 through it",
                path.display(),
                metadata.uid()
            ),
        ));
    }
    Ok(fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_of_ones_own_is_followed_and_someone_elses_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("dotfiles-config");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("config");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_private(&link, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());

        // Another user's link (tests run as root, who can make one): refused, untouched.
        if rustix::process::geteuid().is_root() {
            let planted = dir.path().join("x.yaml");
            std::os::unix::fs::symlink(&target, &planted).unwrap();
            std::os::unix::fs::lchown(&planted, Some(12345), Some(12345)).unwrap();
            let err = write_private(&planted, "evil").unwrap_err();
            assert!(err.to_string().contains("owned by uid 12345"), "{err}");
            assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        }
    }
}
