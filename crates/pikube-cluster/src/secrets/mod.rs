//! Secrets beside cluster.toml: `secrets.age`, an age-encrypted TOML table of named
//! values (the sudo password, per-node sudo passwords, a bootstrap password, S3 keys...),
//! and `secrets.recipients`, the public keys it is encrypted to (age or SSH public keys,
//! one per line, or the word `passphrase`). The real `age` tool opens the file too; pikube
//! never writes a decrypted copy to disk except the private, removed-after file of `edit`.

mod crypto;
mod key;
mod store;
mod unlock;

pub use crypto::{RecipientProblem, Recipients, SecretsError};
pub use key::{InvalidSecretKey, SecretKey};
pub use store::Secrets;
pub use unlock::{default_identity, ensure_default_identity, Unlock, IDENTITY_ENV, PASSPHRASE_ENV};

use std::path::{Path, PathBuf};

/// `secrets.age` and `secrets.recipients` in the directory of cluster.toml.
#[derive(Debug, Clone)]
pub struct SecretsFile {
    /// `secrets.age`.
    pub path: PathBuf,
    /// `secrets.recipients`.
    pub recipients_path: PathBuf,
}

impl SecretsFile {
    /// The two files in `config_dir`.
    pub fn beside(config_dir: &Path) -> SecretsFile {
        SecretsFile {
            path: config_dir.join("secrets.age"),
            recipients_path: config_dir.join("secrets.recipients"),
        }
    }

    /// `secrets.age` is there.
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// The recipients file, parsed.
    pub fn recipients(&self) -> Result<Recipients, SecretsError> {
        let text =
            std::fs::read_to_string(&self.recipients_path).map_err(|cause| SecretsError::Io {
                path: self.recipients_path.clone(),
                cause,
            })?;
        Recipients::parse(&text, &self.recipients_path)
    }

    /// Decrypts and parses the file.
    pub fn open(&self, unlock: &Unlock) -> Result<Secrets, SecretsError> {
        let sealed = std::fs::read(&self.path).map_err(|cause| SecretsError::Io {
            path: self.path.clone(),
            cause,
        })?;
        let plain = crypto::decrypt(&sealed, unlock, &self.path)?;
        Secrets::parse(&plain, &self.path)
    }

    /// Encrypts `secrets` to `recipients` and puts the file in place whole (a temporary
    /// file renamed over it), then writes the recipients file the same way.
    pub fn save(
        &self,
        secrets: &Secrets,
        recipients: &Recipients,
        unlock: &Unlock,
    ) -> Result<(), SecretsError> {
        let sealed = crypto::encrypt(&secrets.to_toml(), recipients, unlock)?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        write_whole(dir, &self.path, &sealed)?;
        write_whole(dir, &self.recipients_path, recipients.to_text().as_bytes())
    }
}

fn write_whole(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), SecretsError> {
    use std::io::Write;
    let io = |cause| SecretsError::Io {
        path: path.to_owned(),
        cause,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".pikube-secrets")
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
