use serde::Serialize;

/// One change to a node, described well enough to show it and to carry it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    File(FileChange),
    Command(CommandChange),
}

/// A whole-file replacement, written atomically (temporary file, then rename).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    pub path: String,
    /// `None`: the file does not exist yet.
    pub before: Option<String>,
    pub after: String,
    /// Mode for a new file; an existing file keeps its owner and mode.
    pub mode: u32,
}

/// A command run as root, with a sentence a person can read in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandChange {
    pub summary: String,
    #[serde(skip)]
    pub script: String,
}

impl Change {
    pub fn file(path: &str, before: Option<&str>, after: String, mode: u32) -> Change {
        Change::File(FileChange {
            path: path.to_owned(),
            before: before.map(str::to_owned),
            after,
            mode,
        })
    }

    pub fn command(summary: impl Into<String>, script: impl Into<String>) -> Change {
        Change::Command(CommandChange {
            summary: summary.into(),
            script: script.into(),
        })
    }

    pub fn summary(&self) -> String {
        match self {
            Change::File(file) if file.before.is_none() => format!("create {}", file.path),
            Change::File(file) => format!("update {}", file.path),
            Change::Command(command) => command.summary.clone(),
        }
    }
}
