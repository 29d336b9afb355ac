use std::fmt;
use std::path::PathBuf;

use serde::{Serialize, Serializer};

use crate::digest::Sha256;

/// One change to a node, described well enough to show it and to carry it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A whole file written (its diff shown).
    File(FileChange),
    /// A file whose content is secret (it holds the cluster token): never shown, never
    /// logged, written 0600.
    SecretFile(SecretFileChange),
    /// A local file copied to the node and checked there against its SHA-256.
    Upload(UploadChange),
    /// A command run as root.
    Command(CommandChange),
}

/// A whole-file replacement, written atomically (temporary file, then rename).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    /// Where on the node.
    pub path: String,
    /// `None`: the file does not exist yet. Serialised with its secrets redacted.
    #[serde(serialize_with = "super::redact::serialize_redacted")]
    pub before: Option<String>,
    /// The new content. Serialised with its secrets redacted.
    #[serde(serialize_with = "super::redact::serialize_redacted_str")]
    pub after: String,
    /// Mode for a new file; an existing file keeps its owner and mode unless `owned`.
    pub mode: u32,
    /// pikube owns the file outright (the k3s files): `mode` is enforced on every write
    /// and no `.pikube-orig` copy is kept. Files pikube edits on the user's behalf keep
    /// their mode and their original.
    #[serde(skip)]
    pub owned: bool,
}

/// See [`Change::SecretFile`]. The content is redacted in `Debug` and never serialised.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct SecretFileChange {
    /// Where on the node.
    pub path: String,
    /// Whether a file is replaced (its old content is never read back).
    pub exists: bool,
    /// What is in it, for people: e.g. "the cluster token and the server URL".
    pub holds: String,
    /// The content itself, for the write alone.
    #[serde(skip)]
    pub content: String,
}

impl fmt::Debug for SecretFileChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretFileChange")
            .field("path", &self.path)
            .field("exists", &self.exists)
            .field("holds", &self.holds)
            .finish_non_exhaustive()
    }
}

/// See [`Change::Upload`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadChange {
    /// What it is, for people (`the k3s v1.34.4+k3s1 binary`).
    pub summary: String,
    /// The file here.
    #[serde(serialize_with = "display_path")]
    pub local: PathBuf,
    /// Where it goes on the node.
    pub remote: String,
    /// Its SHA-256, checked on the node before it replaces anything.
    pub sha256: Sha256,
    /// Its size.
    pub size: u64,
    /// Its mode on the node.
    pub mode: u32,
}

/// A command run as root, with a sentence a person can read in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandChange {
    /// What it does, for people.
    pub summary: String,
    /// The shell script (not shown: it may be long; the summary says it).
    #[serde(skip)]
    pub script: String,
}

impl Change {
    /// A file pikube edits on the user's behalf: its mode kept, its original kept once.
    pub fn file(path: &str, before: Option<&str>, after: String, mode: u32) -> Change {
        Change::File(FileChange {
            path: path.to_owned(),
            before: before.map(str::to_owned),
            after,
            mode,
            owned: false,
        })
    }

    /// A file pikube owns outright: written with exactly `mode`, no original kept.
    pub fn owned_file(path: &str, before: Option<&str>, after: String, mode: u32) -> Change {
        Change::File(FileChange {
            path: path.to_owned(),
            before: before.map(str::to_owned),
            after,
            mode,
            owned: true,
        })
    }

    /// A command, with what it does in words.
    pub fn command(summary: impl Into<String>, script: impl Into<String>) -> Change {
        Change::Command(CommandChange {
            summary: summary.into(),
            script: script.into(),
        })
    }

    /// The change in a few words (`update /etc/hostname`).
    pub fn summary(&self) -> String {
        match self {
            Change::File(file) if file.before.is_none() => format!("create {}", file.path),
            Change::File(file) => format!("update {}", file.path),
            Change::SecretFile(file) => format!(
                "{} {} (contents hidden: {})",
                if file.exists { "update" } else { "create" },
                file.path,
                file.holds
            ),
            Change::Upload(upload) => upload.summary.clone(),
            Change::Command(command) => command.summary.clone(),
        }
    }
}

fn display_path<S: Serializer>(path: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&path.display())
}
