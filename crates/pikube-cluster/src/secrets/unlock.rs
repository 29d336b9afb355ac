//! What can open `secrets.age`: identity files (an age identity, or an unencrypted OpenSSH
//! private key) and a passphrase, from the environment or asked on the terminal.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use age::secrecy::SecretString;

use super::SecretsError;

/// A file holding the identity to open secrets.age with (age or OpenSSH private key).
pub const IDENTITY_ENV: &str = "PIKUBE_AGE_IDENTITY";
/// The passphrase of a passphrase-encrypted secrets.age, for unattended runs.
pub const PASSPHRASE_ENV: &str = "PIKUBE_SECRETS_PASSPHRASE";

pub(super) type Identities = Vec<Box<dyn age::Identity>>;

/// Asks for a passphrase (`None`: cannot ask, e.g. no terminal).
pub type AskPassphrase = dyn Fn(&str) -> Option<String> + Send + Sync;

/// How `secrets.age` is opened: the identity files to try, and how to ask for a passphrase
/// (asked once per run).
pub struct Unlock {
    identity_files: Vec<PathBuf>,
    ask: Box<AskPassphrase>,
    passphrase: Mutex<Option<String>>,
}

impl Unlock {
    /// `$PIKUBE_AGE_IDENTITY` if set, else pikube's own identity and the user's
    /// `~/.ssh/id_ed25519` where they exist; a passphrase from `$PIKUBE_SECRETS_PASSPHRASE`
    /// or `ask`.
    pub fn from_env(ask: Box<AskPassphrase>) -> Unlock {
        let identity_files = match std::env::var_os(IDENTITY_ENV) {
            Some(path) if !path.is_empty() => vec![PathBuf::from(path)],
            _ => {
                let mut found: Vec<PathBuf> = default_identity().into_iter().collect();
                if let Some(home) = std::env::var_os("HOME") {
                    found.push(Path::new(&home).join(".ssh/id_ed25519"));
                }
                found.retain(|p| p.exists());
                found
            }
        };
        Unlock {
            identity_files,
            ask,
            passphrase: Mutex::new(std::env::var(PASSPHRASE_ENV).ok()),
        }
    }

    pub(super) fn passphrase(&self, path: &Path) -> Result<SecretString, SecretsError> {
        let mut known = self
            .passphrase
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if known.is_none() {
            *known = (self.ask)(&format!("passphrase of {}: ", path.display()));
        }
        match known.as_ref() {
            Some(passphrase) => Ok(SecretString::from(passphrase.clone())),
            None => Err(SecretsError::NoPassphrase {
                path: path.to_owned(),
                passphrase_env: PASSPHRASE_ENV,
            }),
        }
    }

    /// The identities, and the files they came from (for the error when none fits).
    pub(super) fn identities(&self) -> Result<(Identities, Vec<String>), SecretsError> {
        let mut identities: Vec<Box<dyn age::Identity>> = Vec::new();
        let mut tried = Vec::new();
        for path in &self.identity_files {
            let bad = |message: String| SecretsError::Identity {
                path: path.clone(),
                message,
            };
            let bytes = std::fs::read(path).map_err(|cause| SecretsError::Io {
                path: path.clone(),
                cause,
            })?;
            if bytes.starts_with(b"-----BEGIN OPENSSH PRIVATE KEY-----") {
                let identity =
                    age::ssh::Identity::from_buffer(&bytes[..], Some(path.display().to_string()))
                        .map_err(|e| bad(e.to_string()))?;
                match identity {
                    age::ssh::Identity::Unencrypted(_) => identities.push(Box::new(identity)),
                    _ => {
                        return Err(bad(
                            "an encrypted or unsupported SSH key: use an age identity \
                             (`pikube secrets init` makes one) or an unencrypted key"
                                .to_owned(),
                        ))
                    }
                }
            } else {
                let file = age::IdentityFile::from_buffer(&bytes[..])
                    .map_err(|e| bad(format!("not an age identity file: {e}")))?;
                identities.extend(
                    file.into_identities()
                        .map_err(|e| bad(format!("not an age identity file: {e}")))?,
                );
            }
            tried.push(path.display().to_string());
        }
        Ok((identities, tried))
    }
}

/// pikube's own identity: `$XDG_CONFIG_HOME/pikube/identity`, else `~/.config/pikube/identity`.
pub fn default_identity() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))?;
    Some(base.join("pikube/identity"))
}

/// Creates pikube's identity (0600, directory 0700) unless it exists; its public key.
pub fn ensure_default_identity() -> Result<(PathBuf, String), SecretsError> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let path = default_identity().ok_or_else(|| SecretsError::Identity {
        path: PathBuf::from("~/.config/pikube/identity"),
        message: "neither XDG_CONFIG_HOME nor HOME is set".to_owned(),
    })?;
    let io = |cause| SecretsError::Io {
        path: path.clone(),
        cause,
    };
    if let Ok(text) = std::fs::read_to_string(&path) {
        let public = text
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .map(str::to_owned)
            .ok_or_else(|| SecretsError::Identity {
                path: path.clone(),
                message: "has no '# public key:' line; give its public key with --recipient"
                    .to_owned(),
            })?;
        return Ok((path, public));
    }
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public().to_string();
    let secret = {
        use age::secrecy::ExposeSecret;
        identity.to_string().expose_secret().to_owned()
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io)?;
    file.write_all(
        format!("# pikube's age identity: keep it private, back it up.\n# public key: {public}\n{secret}\n")
            .as_bytes(),
    )
    .and_then(|()| file.sync_all())
    .map_err(io)?;
    Ok((path, public))
}
