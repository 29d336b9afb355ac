//! The age format: encrypting to recipients or a passphrase, ASCII-armored so that the file
//! is text in a repository; decrypting with whatever [`Unlock`] offers.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use age::secrecy::SecretString;

use super::Unlock;

/// Why the secrets could not be read or written; never shows a secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// A file could not be read or written.
    #[error("{path}: {causes}", causes = crate::error_chain::describe(cause))]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// A line of secrets.recipients is not a public key.
    #[error("{path}, line {line}: {problem}")]
    BadRecipient {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        problem: RecipientProblem,
    },
    #[error("{path} names no recipient: add an age public key (age1...) or an SSH public key, or the word passphrase")]
    /// secrets.recipients names nobody.
    NoRecipients {
        /// The file.
        path: PathBuf,
    },
    #[error(
        "{path} is encrypted to other keys: none of the identities tried ({tried}) opens it; \
         point {identity_env} at yours, or ask someone who can open it to add your public key \
         to secrets.recipients and run `pikube secrets rekey`"
    )]
    /// None of the identities tried opens it.
    NotForUs {
        /// The file.
        path: PathBuf,
        /// The identity files tried.
        tried: String,
        /// The variable that points at another.
        identity_env: &'static str,
    },
    /// The passphrase does not open it.
    #[error("{path}: wrong passphrase")]
    WrongPassphrase {
        /// The file.
        path: PathBuf,
    },
    #[error("{path} is encrypted with a passphrase: set {passphrase_env} or run pikube on a terminal to be asked")]
    /// It needs a passphrase and none can be had (no variable, no terminal).
    NoPassphrase {
        /// The file.
        path: PathBuf,
        /// The variable that gives it.
        passphrase_env: &'static str,
    },
    /// Not an age file, or damaged.
    #[error("{path} is not an age file, or is damaged: {message}")]
    NotAge {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// It opened, but what it holds is not the secrets' TOML.
    #[error("{path} holds secrets that cannot be read: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An identity file could not be used.
    #[error("{path}: {message}")]
    Identity {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Encryption failed.
    #[error("encrypting: {message}")]
    Encrypt {
        /// Why.
        message: String,
    },
}

/// Why a line of secrets.recipients names nobody age can encrypt to.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecipientProblem {
    /// `age1...`, but not a valid one (age's reason).
    #[error("not an age public key: {0}")]
    Age(&'static str),
    /// `ssh-...`, but a key type age cannot use, or a damaged key (age's reason).
    #[error("not a usable SSH public key: {0:?}")]
    Ssh(age::ssh::ParseRecipientKeyError),
    #[error(
        "expected an age public key (age1...), an SSH public key (ssh-ed25519 ... or ssh-rsa \
         ...), or the word passphrase"
    )]
    /// Neither a key nor the word passphrase.
    Unknown,
    /// Keys and the word passphrase in one file.
    #[error("a passphrase cannot be combined with keys (age allows one or the other)")]
    PassphraseWithKeys,
}

/// Who can open `secrets.age`.
#[derive(Debug, Clone)]
pub enum Recipients {
    /// age (`age1...`) or SSH (`ssh-ed25519 ...`, `ssh-rsa ...`) public keys.
    Keys(Vec<String>),
    /// Whoever knows the passphrase.
    Passphrase,
}

enum AnyRecipient {
    Age(age::x25519::Recipient),
    Ssh(age::ssh::Recipient),
}

impl AnyRecipient {
    fn parse(line: &str) -> Result<AnyRecipient, RecipientProblem> {
        if line.starts_with("age1") {
            age::x25519::Recipient::from_str(line)
                .map(AnyRecipient::Age)
                .map_err(RecipientProblem::Age)
        } else if line.starts_with("ssh-") {
            age::ssh::Recipient::from_str(line)
                .map(AnyRecipient::Ssh)
                .map_err(RecipientProblem::Ssh)
        } else {
            Err(RecipientProblem::Unknown)
        }
    }

    fn as_dyn(&self) -> &dyn age::Recipient {
        match self {
            AnyRecipient::Age(r) => r,
            AnyRecipient::Ssh(r) => r,
        }
    }
}

impl Recipients {
    /// Reads secrets.recipients (`path` only for messages): one key per line, `#` comments.
    pub fn parse(text: &str, path: &Path) -> Result<Recipients, SecretsError> {
        let mut keys = Vec::new();
        let mut passphrase = false;
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |problem| SecretsError::BadRecipient {
                path: path.to_owned(),
                line: index + 1,
                problem,
            };
            if line == "passphrase" {
                passphrase = true;
            } else {
                AnyRecipient::parse(line).map_err(bad)?;
                keys.push(line.to_owned());
            }
            if passphrase && !keys.is_empty() {
                return Err(bad(RecipientProblem::PassphraseWithKeys));
            }
        }
        match (passphrase, keys.is_empty()) {
            (true, _) => Ok(Recipients::Passphrase),
            (false, false) => Ok(Recipients::Keys(keys)),
            (false, true) => Err(SecretsError::NoRecipients {
                path: path.to_owned(),
            }),
        }
    }

    /// As secrets.recipients keeps it, with its explaining comment.
    pub fn to_text(&self) -> String {
        let mut out = String::from(
            "# Who can open secrets.age (pikube): age or SSH public keys, one per line, or the\n\
             # word passphrase. After a change, run `pikube secrets rekey`.\n",
        );
        match self {
            Recipients::Keys(keys) => keys.iter().for_each(|k| out.push_str(&format!("{k}\n"))),
            Recipients::Passphrase => out.push_str("passphrase\n"),
        }
        out
    }
}

pub(super) fn encrypt(
    plain: &[u8],
    recipients: &Recipients,
    unlock: &Unlock,
) -> Result<Vec<u8>, SecretsError> {
    let failed = |message: String| SecretsError::Encrypt { message };
    let encryptor = match recipients {
        Recipients::Keys(lines) => {
            let parsed: Vec<AnyRecipient> = lines
                .iter()
                .map(|l| AnyRecipient::parse(l))
                .collect::<Result<_, _>>()
                .map_err(|problem| failed(problem.to_string()))?;
            age::Encryptor::with_recipients(parsed.iter().map(AnyRecipient::as_dyn))
                .map_err(|e| failed(e.to_string()))?
        }
        Recipients::Passphrase => {
            let passphrase = unlock.passphrase(Path::new("secrets.age"))?;
            age::Encryptor::with_user_passphrase(passphrase)
        }
    };
    let mut out = Vec::new();
    let armored = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor)
        .map_err(|e| failed(e.to_string()))?;
    let mut writer = encryptor
        .wrap_output(armored)
        .map_err(|e| failed(e.to_string()))?;
    writer.write_all(plain).map_err(|e| failed(e.to_string()))?;
    writer
        .finish()
        .and_then(ArmoredWriter::finish)
        .map_err(|e| failed(e.to_string()))?;
    Ok(out)
}

pub(super) fn decrypt(
    sealed: &[u8],
    unlock: &Unlock,
    path: &Path,
) -> Result<Vec<u8>, SecretsError> {
    let not_age = |message: String| SecretsError::NotAge {
        path: path.to_owned(),
        message,
    };
    let decryptor =
        age::Decryptor::new(ArmoredReader::new(sealed)).map_err(|e| not_age(e.to_string()))?;
    let mut plain = Vec::new();
    if decryptor.is_scrypt() {
        let passphrase: SecretString = unlock.passphrase(path)?;
        let identity = age::scrypt::Identity::new(passphrase);
        let mut reader = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => {
                    SecretsError::WrongPassphrase {
                        path: path.to_owned(),
                    }
                }
                other => not_age(other.to_string()),
            })?;
        reader
            .read_to_end(&mut plain)
            .map_err(|e| not_age(e.to_string()))?;
        return Ok(plain);
    }
    let (identities, tried) = unlock.identities()?;
    let mut reader = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => SecretsError::NotForUs {
                path: path.to_owned(),
                tried: if tried.is_empty() {
                    "none found".to_owned()
                } else {
                    tried.join(", ")
                },
                identity_env: super::IDENTITY_ENV,
            },
            other => not_age(other.to_string()),
        })?;
    reader
        .read_to_end(&mut plain)
        .map_err(|e| not_age(e.to_string()))?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> (usize, RecipientProblem) {
        match Recipients::parse(text, Path::new("secrets.recipients")) {
            Err(SecretsError::BadRecipient { line, problem, .. }) => (line, problem),
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn a_bad_recipient_line_is_named_with_what_is_wrong() {
        assert_eq!(
            problem("# who\nage1notakey"),
            (2, RecipientProblem::Age("invalid Bech32 encoding"))
        );
        assert!(matches!(
            problem("ssh-ed25519 AAAA"),
            (1, RecipientProblem::Ssh(_))
        ));
        assert_eq!(problem("alice"), (1, RecipientProblem::Unknown));
        let key = age::x25519::Identity::generate().to_public().to_string();
        assert_eq!(
            problem(&format!("{key}\npassphrase")),
            (2, RecipientProblem::PassphraseWithKeys)
        );
        let err = Recipients::parse("alice", Path::new("secrets.recipients")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "secrets.recipients, line 1: expected an age public key (age1...), an SSH public \
             key (ssh-ed25519 ... or ssh-rsa ...), or the word passphrase"
        );
    }
}
