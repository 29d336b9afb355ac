//! Reading the host's files below a root. Each reader says what it found, or why not.

use std::path::{Path, PathBuf};

/// The host's files, seen from `root`.
pub struct Host<'a> {
    root: &'a Path,
}

/// Why a value is missing: absent (the host does not have it) or unreadable (it should,
/// but the file holds something else), for the log.
pub enum Missing {
    Absent,
    Garbage(String),
}

pub type Read<T> = Result<T, Missing>;

impl<'a> Host<'a> {
    pub fn new(root: &'a Path) -> Self {
        Host { root }
    }

    pub fn path(&self, absolute: &str) -> PathBuf {
        self.root.join(absolute.trim_start_matches('/'))
    }

    /// A file's text, `Absent` when it does not exist.
    pub fn text(&self, absolute: &str) -> Read<String> {
        let path = self.path(absolute);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Missing::Absent),
            Err(e) => Err(Missing::Garbage(format!("{}: {e}", path.display()))),
        }
    }

    /// A file holding one number, parsed by `parse`.
    pub fn number<T>(&self, absolute: &str, parse: impl Fn(&str) -> Option<T>) -> Read<T> {
        let text = self.text(absolute)?;
        parse(text.trim_matches(|c: char| c.is_whitespace() || c == '\0')).ok_or_else(|| {
            Missing::Garbage(format!(
                "{}: not a number: {:?}",
                self.path(absolute).display(),
                text.chars().take(40).collect::<String>()
            ))
        })
    }

    pub fn exists(&self, absolute: &str) -> bool {
        self.path(absolute).exists()
    }

    /// The names in a directory (empty when it does not exist).
    pub fn entries(&self, absolute: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path(absolute))
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}
