//! Putting the files on the partition (or in a folder): each whole or not at all.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::firstrun::with_firstrun;
use super::{BootFile, CmdlineEdit};

/// Why the files were not written (none was left half-written).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A file could not be written.
    #[error("{path}: {causes}", causes = crate::error_chain::describe(cause))]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Each file written, whole.
    pub files: Vec<PathBuf>,
    /// cmdline.txt edited in place; `None` when the folder had none, and the words are the
    /// caller's to tell.
    pub cmdline: Option<PathBuf>,
}

/// Writes `files` into `dir` (made if missing) and, for `edit`, adds the first-run words to
/// `dir/cmdline.txt` when it is there. Each file goes through a temporary beside it and a
/// rename, so a pulled card never holds half a file.
pub fn write_boot_files(
    dir: &Path,
    files: &[BootFile],
    edit: Option<&CmdlineEdit>,
) -> Result<Written, WriteError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |cause| WriteError::Io { path, cause }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::new();
    for file in files {
        let path = dir.join(file.name);
        replace(&path, &file.content).map_err(io(&path))?;
        written.push(path);
    }
    let mut cmdline = None;
    if edit.is_some() {
        let path = dir.join("cmdline.txt");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                replace(&path, &with_firstrun(&text)).map_err(io(&path))?;
                cmdline = Some(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
    }
    Ok(Written {
        files: written,
        cmdline,
    })
}

fn replace(path: &Path, content: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temporary = tempfile::Builder::new()
        .prefix(".pikube-")
        .tempfile_in(dir)?;
    temporary.write_all(content.as_bytes())?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_written_and_an_existing_cmdline_is_edited_in_place() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cmdline.txt"), "console=tty1 rootwait\n").unwrap();
        let files = [BootFile {
            name: "firstrun.sh",
            content: "#!/bin/sh\n".into(),
        }];
        let edit = CmdlineEdit {
            append: super::super::firstrun::CMDLINE_APPEND.to_owned(),
        };
        let written = write_boot_files(dir.path(), &files, Some(&edit)).unwrap();
        assert_eq!(written.files, [dir.path().join("firstrun.sh")]);
        assert_eq!(written.cmdline, Some(dir.path().join("cmdline.txt")));
        let cmdline = std::fs::read_to_string(dir.path().join("cmdline.txt")).unwrap();
        assert!(
            cmdline.starts_with("console=tty1 rootwait systemd.run=/boot/firmware/firstrun.sh ")
        );
        // Nothing else left in the folder.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["cmdline.txt", "firstrun.sh"]);
        // A folder without cmdline.txt: the caller says what to add.
        let other = tempfile::tempdir().unwrap();
        let written = write_boot_files(other.path(), &files, Some(&edit)).unwrap();
        assert_eq!(written.cmdline, None);
    }
}
