//! What a server's manifests folder holds of pikube's add-ons: each file that starts with
//! the marker, by its SHA-256, with the text of a file that is about to change (for the
//! plan's diff). A secret file is never read back.

use super::{MANIFESTS_DIR, MARKER};
use crate::digest::Sha256;
use crate::ssh::{shell_quote, Connection, SshError};

/// One add-on file found on a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFile {
    /// Its name in the manifests folder.
    pub name: String,
    /// Its content's SHA-256.
    pub sha256: Sha256,
    /// Read only when asked for, and never for a secret file.
    pub content: Option<String>,
}

/// Why a server's add-on files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ServerFilesError {
    /// The command failed or the connection did.
    #[error("reading {MANIFESTS_DIR}: {}", crate::error_chain::describe(.0))]
    Ssh(SshError),
    /// The listing held a line that is not `SHA256 NAME` of an add-on file.
    #[error("reading {MANIFESTS_DIR}: unexpected line {0:?}")]
    Unexpected(String),
}

// Shown in the message, so not also returned as its source: each cause is read once.
impl From<SshError> for ServerFilesError {
    fn from(err: SshError) -> Self {
        ServerFilesError::Ssh(err)
    }
}

/// The add-on files on the server behind `connection`; `read(name)` says which ones'
/// text to fetch too.
pub async fn read_server_files(
    connection: &Connection,
    read: impl Fn(&str, &Sha256) -> bool,
) -> Result<Vec<ServerFile>, ServerFilesError> {
    let script = format!(
        "dir={dir}\n\
         [ -d \"$dir\" ] || exit 0\n\
         for f in \"$dir\"/pikube-*.yaml; do\n\
         \x20 [ -f \"$f\" ] || continue\n\
         \x20 IFS= read -r first < \"$f\" || first=\n\
         \x20 [ \"$first\" = {marker} ] || continue\n\
         \x20 sum=$(sha256sum < \"$f\") || exit 1\n\
         \x20 printf '%s %s\\n' \"${{sum%% *}}\" \"${{f##*/}}\"\n\
         done\n",
        dir = shell_quote(MANIFESTS_DIR),
        marker = shell_quote(MARKER),
    );
    let output = connection
        .run_privileged("listing the add-on manifests", &script, b"")
        .await?;
    let mut files = Vec::new();
    for line in output.stdout.lines().filter(|l| !l.is_empty()) {
        let (sha256, name) = line
            .split_once(' ')
            .filter(|(_, name)| super::addon_of(name).is_some())
            .and_then(|(sha, name)| Some((sha.parse::<Sha256>().ok()?, name)))
            .ok_or_else(|| ServerFilesError::Unexpected(line.to_owned()))?;
        let content = if read(name, &sha256) {
            let path = format!("{MANIFESTS_DIR}/{name}");
            let text = connection
                .run_privileged(
                    "reading an add-on manifest",
                    &format!("cat {}", shell_quote(&path)),
                    b"",
                )
                .await?;
            Some(text.stdout)
        } else {
            None
        };
        files.push(ServerFile {
            name: name.to_owned(),
            sha256,
            content,
        });
    }
    Ok(files)
}
