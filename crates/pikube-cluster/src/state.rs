//! The cluster's local state, kept beside cluster.toml in `.pikube/<cluster>/` (directory
//! 0700, files 0600): what must stay the same from one apply to the next, such as the K3s
//! token, which is generated once and reused on every apply.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::private_file;

/// Why a file of `.pikube/<cluster>/` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// It could not be read or written.
    #[error("{path}: {causes}", causes = crate::error_chain::describe(cause))]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: io::Error,
    },
    #[error(
        "{path} is readable by other users (mode {mode:o}); it holds a secret of the cluster \
         (a K3s token or a password): run `chmod 600 {path}`"
    )]
    /// A secret's file others may read: refused until fixed.
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// A token file that holds no token.
    #[error("{path} is empty or not a token; delete it only if the cluster is to be rebuilt")]
    Corrupt {
        /// The file.
        path: PathBuf,
    },
    #[error(
        "{path} is not a SHA-256 of the cluster CA; delete it, and the next apply records it \
         again from the first server"
    )]
    /// The recorded CA hash is not a SHA-256.
    CorruptCaHash {
        /// The file.
        path: PathBuf,
    },
    #[error(
        "{path} cannot be read ({causes}): fix it, or delete it; the next apply writes it \
         again but forgets how to reach the nodes cluster.toml no longer lists",
        causes = crate::error_chain::describe(cause)
    )]
    /// The node records are not valid JSON of their format.
    Malformed {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        cause: serde_json::Error,
    },
}

/// The K3s cluster token's secret. Never printed: `Debug` and `Display` are redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct K3sToken(String);

impl K3sToken {
    /// The secret itself, for the one place that writes it to a node (a 0600 file).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for K3sToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("K3sToken(<redacted>)")
    }
}

impl fmt::Display for K3sToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

const GRAFANA_PASSWORD: &str = "grafana-admin-password";

/// The state directory of one cluster.
#[derive(Debug, Clone)]
pub struct LocalState {
    dir: PathBuf,
}

impl LocalState {
    /// `config_dir`: the directory of cluster.toml.
    pub fn new(config_dir: &Path, cluster_name: &str) -> LocalState {
        LocalState {
            dir: config_dir.join(".pikube").join(cluster_name),
        }
    }

    /// `.pikube/<cluster>` beside cluster.toml.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cluster token if one was stored; never creates anything (for `plan`).
    pub fn existing_token(&self) -> Result<Option<K3sToken>, StateError> {
        read_token(&self.dir.join("token"))
    }

    /// The agent token's secret if one was stored; never creates anything (for `plan`).
    pub fn existing_agent_token(&self) -> Result<Option<K3sToken>, StateError> {
        read_token(&self.dir.join("agent-token"))
    }

    /// The secret agents join with (K3s' `agent-token`): read, else taken from `running`
    /// (what the servers already use), else generated; stored as the cluster token is.
    /// Agents never get the server token, which would let root on an agent join as a
    /// server and read every Secret (security review M5).
    pub fn agent_token_adopting(&self, running: Option<&str>) -> Result<K3sToken, StateError> {
        self.secret_adopting("agent-token", running)
    }

    /// Grafana's admin password when cluster.toml names no secret for it, if one was made;
    /// never creates anything (for `plan`).
    pub fn existing_grafana_password(&self) -> Result<Option<K3sToken>, StateError> {
        read_token(&self.dir.join(GRAFANA_PASSWORD))
    }

    /// Grafana's admin password when cluster.toml names no secret for it: read, else
    /// generated once and kept like the token, so every apply writes the same one.
    pub fn grafana_password(&self) -> Result<K3sToken, StateError> {
        self.secret_adopting(GRAFANA_PASSWORD, None)
    }

    /// Where the SHA-256 of the cluster's CA is kept, learnt from the first server's full
    /// token (`K10<hash>::...`) the first time pikube saw the cluster running.
    pub fn ca_hash_path(&self) -> PathBuf {
        self.dir.join("ca.sha256")
    }

    /// The recorded CA hash, if any.
    pub fn recorded_ca_hash(&self) -> Result<Option<String>, StateError> {
        let path = self.ca_hash_path();
        match fs::read_to_string(&path) {
            Ok(text) => {
                let hash = text.trim().to_ascii_lowercase();
                if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(Some(hash))
                } else {
                    Err(StateError::CorruptCaHash { path })
                }
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Io {
                path,
                cause: source,
            }),
        }
    }

    /// Records the CA hash (a temporary file renamed over the old one, 0600). The first
    /// record wins: a node that later serves another CA must not be able to move the pin.
    pub fn record_ca_hash(&self, hash: &str) -> Result<(), StateError> {
        if self.recorded_ca_hash()?.is_some() {
            return Ok(());
        }
        let text = format!("{}\n", hash.to_ascii_lowercase());
        private_file::replace(&self.dir, "ca.sha256", text.as_bytes()).map_err(|cause| {
            StateError::Io {
                path: self.ca_hash_path(),
                cause,
            }
        })
    }

    /// The cluster token: read if it exists, otherwise generated and stored. Creation is
    /// atomic: a run killed half-way leaves no token or a whole one, and two runs racing
    /// agree on one token.
    pub fn token(&self) -> Result<K3sToken, StateError> {
        self.token_adopting(None)
    }

    /// As [`LocalState::token`], but a missing token is taken from `running` (the secret a
    /// running cluster already uses) instead of generated: local state lost or never
    /// copied to this machine must not split the cluster.
    pub fn token_adopting(&self, running: Option<&str>) -> Result<K3sToken, StateError> {
        self.secret_adopting("token", running)
    }

    fn secret_adopting(&self, name: &str, running: Option<&str>) -> Result<K3sToken, StateError> {
        let path = self.dir.join(name);
        if let Some(token) = read_token(&path)? {
            return Ok(token);
        }
        let io = |cause| StateError::Io {
            path: self.dir.clone(),
            cause,
        };
        let secret = match running {
            Some(secret) => secret.to_owned(),
            None => random_hex(32).map_err(io)?,
        };
        let tmp = private_file::write_temporary(&self.dir, name, format!("{secret}\n").as_bytes())
            .map_err(io)?;
        // A hard link never replaces an existing file: whoever links first wins.
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(StateError::Io {
                    path,
                    cause: source,
                })
            }
        }
        read_token(&path)?.ok_or(StateError::Corrupt { path })
    }
}

fn read_token(path: &Path) -> Result<Option<K3sToken>, StateError> {
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StateError::Io {
                path: path.to_owned(),
                cause: source,
            })
        }
    };
    let mode = metadata.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StateError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    let text = fs::read_to_string(path).map_err(|cause| StateError::Io {
        path: path.to_owned(),
        cause,
    })?;
    let token = text.trim();
    if token.is_empty() || token.chars().any(char::is_whitespace) {
        return Err(StateError::Corrupt {
            path: path.to_owned(),
        });
    }
    Ok(Some(K3sToken(token.to_owned())))
}

fn random_hex(bytes: usize) -> io::Result<String> {
    let mut buffer = vec![0u8; bytes];
    fs::File::open("/dev/urandom")?.read_exact(&mut buffer)?;
    Ok(hex::encode(buffer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_ca_hash_is_recorded_once_privately() {
        let dir = tempfile::tempdir().unwrap();
        let state = LocalState::new(dir.path(), "lab");
        assert_eq!(state.recorded_ca_hash().unwrap(), None);
        let first = "ab".repeat(32);
        state.record_ca_hash(&first.to_uppercase()).unwrap();
        assert_eq!(state.recorded_ca_hash().unwrap(), Some(first.clone()));
        state.record_ca_hash(&"cd".repeat(32)).unwrap();
        assert_eq!(
            state.recorded_ca_hash().unwrap(),
            Some(first),
            "the first record wins"
        );
        let mode = fs::metadata(state.ca_hash_path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        fs::write(state.ca_hash_path(), "not a hash\n").unwrap();
        assert!(matches!(
            state.recorded_ca_hash(),
            Err(StateError::CorruptCaHash { .. })
        ));
    }

    #[test]
    fn the_token_is_made_once_private_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let state = LocalState::new(dir.path(), "homelab");
        let token = state.token().unwrap();
        assert_eq!(token.expose().len(), 64);
        assert_eq!(state.token().unwrap(), token, "reused on every apply");
        let file = state.dir().join("token");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(state.dir()).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(!format!("{token:?} {token}").contains(token.expose()));
        let leftovers: Vec<_> = fs::read_dir(state.dir()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left");
    }

    #[test]
    fn a_running_clusters_token_is_adopted_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let state = LocalState::new(dir.path(), "lab");
        assert_eq!(
            state.existing_token().unwrap(),
            None,
            "plan creates nothing"
        );
        assert!(!state.dir().exists());
        let token = state.token_adopting(Some("abc123")).unwrap();
        assert_eq!(token.expose(), "abc123");
        assert_eq!(
            state.token_adopting(Some("other")).unwrap().expose(),
            "abc123"
        );
        assert_eq!(state.existing_token().unwrap(), Some(token));
    }

    #[test]
    fn a_token_readable_by_others_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let state = LocalState::new(dir.path(), "lab");
        state.token().unwrap();
        let file = state.dir().join("token");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let err = state.token().unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn an_empty_token_file_is_not_silently_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let state = LocalState::new(dir.path(), "lab");
        fs::create_dir_all(state.dir()).unwrap();
        let file = state.dir().join("token");
        fs::write(&file, "").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(state.token(), Err(StateError::Corrupt { .. })));
    }
}
