//! Writing files that hold credentials: atomic, private, never half-written.

use std::fs::{self, DirBuilder, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Writes `text` to `path` with mode 0600 by writing a temporary file beside it and renaming
/// it over `path`, so a reader sees the old file or the new one, never a mix. A missing
/// parent directory is created with mode 0700; an existing one is left as it is.
pub fn write_private(path: &Path, text: &str) -> io::Result<()> {
    let path = follow_symlink(path);
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
/// would silently replace it with a plain file, so write to what it points at instead.
fn follow_symlink(path: &Path) -> PathBuf {
    let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if is_link {
        if let Ok(target) = fs::canonicalize(path) {
            return target;
        }
    }
    path.to_owned()
}
