//! One located problem in `cluster.toml`, and the error that carries them.

use std::fmt;
use std::path::PathBuf;

/// A problem (or warning) at `file:line:column`, about one field.
///
/// Displays as `cluster.toml:12:11: nodes[1].address: <what is wrong>`; the
/// field part is left out for syntax errors, which belong to no field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// The file as the user named it, so the message points where they look.
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// Dotted path such as `nodes[1].address`; empty when no field applies.
    pub field: String,
    /// What is wrong, and what to write instead.
    pub message: String,
}

/// Warnings share the error format; they are reported but do not fail a load.
pub type ConfigWarning = Diagnostic;

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// Why `cluster.toml` could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// There is no such file.
    #[error("{}: no such file; run `pikube init` to write a starter cluster.toml", path.display())]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
    /// It could not be read.
    #[error("{}: cannot read: {causes}", path.display(), causes = crate::error_chain::describe(cause))]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// Every problem found, sorted by position, one per line when displayed.
    #[error("{}", lines(.diagnostics))]
    Invalid {
        /// Each problem, with its line, column and field.
        diagnostics: Vec<Diagnostic>,
    },
}

impl ConfigError {
    /// The located problems; empty for I/O errors, which have no position.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Invalid { diagnostics } => diagnostics,
            ConfigError::NotFound { .. } | ConfigError::Read { .. } => &[],
        }
    }
}

fn lines(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
