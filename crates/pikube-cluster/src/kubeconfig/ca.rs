//! Checking the CA in k3s.yaml against the cluster token. A full K3s token is
//! `K10<CA hash>::<credentials>`; for the single self-signed CA that K3s generates, the
//! hash is the SHA-256 of `/var/lib/rancher/k3s/server/tls/server-ca.crt` exactly as it is
//! on disk, and k3s.yaml's `certificate-authority-data` is the base64 of that same file.
//! So the decoded bytes must hash to the pin: a node cannot swap in a CA of its own choosing
//! without the token kept on this machine noticing.

use std::path::{Path, PathBuf};

use super::KubeconfigError;
use crate::digest::Sha256;
use crate::state::K3sToken;

/// What the cluster token kept on this machine says about the cluster's CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaPin {
    /// A full token: the CA's SHA-256, in lowercase hex.
    Hash {
        /// The CA's SHA-256.
        hash: String,
        /// The cluster token file.
        token: PathBuf,
    },
    /// A short token (the secret alone), which is what `pikube apply` keeps: nothing to
    /// check against.
    ShortToken {
        /// The cluster token file.
        token: PathBuf,
    },
    /// No token on this machine (state not copied here, or the cluster not made by pikube).
    NoToken {
        /// Where it was looked for.
        token: PathBuf,
    },
}

impl CaPin {
    /// Reads the pin from `token`, the content of the token file at `path`.
    pub fn from_token(token: Option<&K3sToken>, path: &Path) -> Result<CaPin, KubeconfigError> {
        parse(token.map(K3sToken::expose), path)
    }

    /// The pin from local state: the token when it is a full one, else the CA hash `apply`
    /// recorded at `recorded_path` from the first server's token.
    pub fn from_state(
        token: Option<&K3sToken>,
        token_path: &Path,
        recorded: Option<String>,
        recorded_path: &Path,
    ) -> Result<CaPin, KubeconfigError> {
        match (CaPin::from_token(token, token_path)?, recorded) {
            (pin @ CaPin::Hash { .. }, _) => Ok(pin),
            (_, Some(hash)) => Ok(CaPin::Hash {
                hash,
                token: recorded_path.to_owned(),
            }),
            (pin, None) => Ok(pin),
        }
    }

    /// Why the CA is not checked, for a warning; `None` when it is.
    pub fn unchecked_reason(&self) -> Option<String> {
        match self {
            CaPin::Hash { .. } => None,
            CaPin::ShortToken { token } => Some(format!(
                "the cluster token in {} is a short token, without the K10<CA hash> of a \
                 full one",
                token.display()
            )),
            CaPin::NoToken { token } => {
                Some(format!("there is no cluster token in {}", token.display()))
            }
        }
    }
}

/// [`CaPin::from_token`] on the token's text.
fn parse(token: Option<&str>, path: &Path) -> Result<CaPin, KubeconfigError> {
    let token_path = path.to_owned();
    let Some(token) = token else {
        return Ok(CaPin::NoToken { token: token_path });
    };
    // As K3s parses it: `K10` then the hash up to `::`; an empty hash pins nothing.
    let pinned = token
        .strip_prefix("K10")
        .and_then(|rest| rest.split_once("::"))
        .map(|(hash, _)| hash);
    match pinned {
        None | Some("") => Ok(CaPin::ShortToken { token: token_path }),
        Some(hash) if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(CaPin::Hash {
                hash: hash.to_ascii_lowercase(),
                token: token_path,
            })
        }
        // K3s refuses such a token too; guessing what it meant would not be a check.
        Some(_) => Err(KubeconfigError::MalformedToken { token: token_path }),
    }
}

/// Checks `ca_pem` (the decoded `certificate-authority-data` of `entry`) against `pin`.
pub(super) fn check(ca_pem: &[u8], entry: &str, pin: &CaPin) -> Result<(), KubeconfigError> {
    let CaPin::Hash { hash, token } = pin else {
        return Ok(());
    };
    let found = Sha256::of(ca_pem);
    if found.as_str() == hash {
        // The very bytes K3s hashed, whatever they hold.
        return Ok(());
    }
    // K3s hashes a bundle of several certificates by its root's DER instead, which takes
    // chain verification: say so rather than call a custom CA a forgery.
    let count = certificates(ca_pem);
    if count > 1 {
        return Err(KubeconfigError::CaNotCheckable {
            entry: entry.to_owned(),
            count,
            token: token.clone(),
        });
    }
    Err(KubeconfigError::CaMismatch {
        entry: entry.to_owned(),
        found,
        pinned: hash.clone(),
        token: token.clone(),
    })
}

/// How many PEM certificates `pem` holds.
fn certificates(pem: &[u8]) -> usize {
    String::from_utf8_lossy(pem)
        .lines()
        .filter(|line| line.trim() == "-----BEGIN CERTIFICATE-----")
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed CA as K3s writes it, and `sha256sum` of that file.
    const PEM: &str = include_str!("../../tests/fixtures/server-ca.crt");
    const PEM_SHA256: &str = "8cc412a18b3459e55e6616a866cb813c7e55e01bafdaeca4abac5393a8d8d911";
    const ENTRY: &str = "clusters[default].cluster";

    fn token_path() -> PathBuf {
        PathBuf::from(".pikube/lab/token")
    }

    fn pin(token: &str) -> CaPin {
        parse(Some(token), &token_path()).unwrap()
    }

    #[test]
    fn a_recorded_hash_pins_the_ca_when_the_token_does_not() {
        let recorded = PathBuf::from("/lab/.pikube/x/ca.sha256");
        let pin = CaPin::from_state(None, &token_path(), Some("ab".repeat(32)), &recorded).unwrap();
        assert_eq!(
            pin,
            CaPin::Hash {
                hash: "ab".repeat(32),
                token: recorded.clone()
            }
        );
        let none = CaPin::from_state(None, &token_path(), None, &recorded).unwrap();
        assert!(matches!(none, CaPin::NoToken { .. }));
    }

    #[test]
    fn a_full_token_pins_the_ca_hash_and_a_short_one_does_not() {
        let hash = CaPin::Hash {
            hash: PEM_SHA256.to_owned(),
            token: token_path(),
        };
        assert_eq!(pin(&format!("K10{PEM_SHA256}::server:s3cret")), hash);
        let upper = PEM_SHA256.to_ascii_uppercase();
        assert_eq!(pin(&format!("K10{upper}::server:s3cret")), hash);
        // Agent and bootstrap tokens pin the CA the same way.
        assert_eq!(pin(&format!("K10{PEM_SHA256}::node:s3cret")), hash);
        assert_eq!(
            pin(&format!("K10{PEM_SHA256}::abcdef.0123456789abcdef")),
            hash
        );

        let short = CaPin::ShortToken {
            token: token_path(),
        };
        assert_eq!(pin(&"ab".repeat(32)), short, "what pikube apply keeps");
        assert_eq!(
            pin("K10::server:s3cret"),
            short,
            "an empty hash pins nothing"
        );
        assert_eq!(
            parse(None, &token_path()).unwrap(),
            CaPin::NoToken {
                token: token_path()
            }
        );

        for malformed in [
            "K10abc::server:s3cret",
            &format!("K10{}::x:y", "g".repeat(64)),
        ] {
            let error = parse(Some(malformed), &token_path()).unwrap_err();
            assert!(
                matches!(error, KubeconfigError::MalformedToken { .. }),
                "{malformed}"
            );
        }
    }

    #[test]
    fn the_ca_file_k3s_hashed_is_accepted() {
        let pinned = pin(&format!("K10{PEM_SHA256}::server:s3cret"));
        check(PEM.as_bytes(), ENTRY, &pinned).unwrap();
        assert_eq!(pinned.unchecked_reason(), None);
    }

    #[test]
    fn another_ca_is_refused_naming_both_hashes_and_the_token() {
        let pinned = pin(&format!("K10{PEM_SHA256}::server:s3cret"));
        // One byte more (a trailing newline) is another file to K3s too.
        for other in [format!("{PEM}\n"), PEM.replace("MIIB", "MIIC")] {
            let error = check(other.as_bytes(), ENTRY, &pinned).unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(error, KubeconfigError::CaMismatch { .. }),
                "{message}"
            );
            assert!(message.contains(PEM_SHA256), "{message}");
            assert!(message.contains(".pikube/lab/token"), "{message}");
            assert!(
                message.contains("clusters[default].cluster.certificate-authority-data"),
                "{message}"
            );
            assert!(!message.contains("s3cret"), "{message}");
        }
    }

    #[test]
    fn the_hash_is_over_the_pem_file_not_its_base64() {
        use base64::Engine;
        let base64 = base64::engine::general_purpose::STANDARD.encode(PEM);
        let of_base64 = Sha256::of(base64.as_bytes());
        let pinned = pin(&format!("K10{of_base64}::server:s3cret"));
        assert!(check(PEM.as_bytes(), ENTRY, &pinned).is_err());
    }

    #[test]
    fn a_bundle_is_refused_as_not_checkable_rather_than_forged() {
        let pinned = pin(&format!("K10{}::server:s3cret", "ab".repeat(32)));
        let bundle = format!("{PEM}{PEM}");
        let error = check(bundle.as_bytes(), ENTRY, &pinned).unwrap_err();
        assert!(
            matches!(error, KubeconfigError::CaNotCheckable { count: 2, .. }),
            "{error}"
        );
    }

    #[test]
    fn without_a_pin_any_ca_passes_with_a_reason_to_warn() {
        for unpinned in [
            pin("s3cret"),
            CaPin::NoToken {
                token: token_path(),
            },
        ] {
            check(b"anything", ENTRY, &unpinned).unwrap();
            let reason = unpinned.unchecked_reason().expect("a warning");
            assert!(reason.contains(".pikube/lab/token"), "{reason}");
        }
    }
}
