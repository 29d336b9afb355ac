//! Writing files with an exact mode, and k3s-style relative symlinks.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Writes `bytes` to `path` (creating parent dirs) and forces `mode`,
/// via a temp file and rename so readers never see half a file.
pub fn write_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    drop(file);
    if path.is_symlink() {
        std::fs::remove_file(path)?;
    }
    std::fs::rename(&tmp, path)
}

/// `ln -sf target link`.
pub fn symlink_force(target: &Path, link: &Path) -> std::io::Result<()> {
    if link.is_symlink() || link.exists() {
        std::fs::remove_file(link)?;
    }
    std::os::unix::fs::symlink(target, link)
}
