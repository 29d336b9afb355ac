//! SHA-256 digests, the one type for them from cluster.toml's pins to what a node's
//! `sha256sum` prints: parsed once where text comes in, shown in lowercase hex (as
//! `sha256sum` prints them and K3s' release checksums list them), compared as values.

use std::fmt;
use std::io;
use std::path::Path;
use std::str::FromStr;

use sha2::Digest;

/// A SHA-256 digest: 64 hex digits, kept lowercase.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(into = "String")]
pub struct Sha256(String);

/// Text that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a SHA-256: 64 hex digits, as sha256sum prints them")]
pub struct InvalidSha256 {
    input: String,
}

/// Uppercase is accepted (someone may paste one) and kept lowercase, so two digests of the
/// same bytes are equal however they were written.
impl FromStr for Sha256 {
    type Err = InvalidSha256;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Sha256(s.to_ascii_lowercase()))
        } else {
            Err(InvalidSha256 {
                input: s.to_owned(),
            })
        }
    }
}

impl Sha256 {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256 {
        Self::from_digest(sha2::Sha256::digest(bytes))
    }

    /// The digest of the file at `path`, read in pieces (it may be hundreds of MB). Blocks:
    /// async callers run it with `spawn_blocking`.
    pub fn of_file(path: &Path) -> io::Result<Sha256> {
        let mut file = std::fs::File::open(path)?;
        let mut hasher = Sha256Hasher::new();
        io::copy(&mut file, &mut hasher.0)?;
        Ok(hasher.finish())
    }

    fn from_digest(digest: impl AsRef<[u8]>) -> Sha256 {
        Sha256(hex::encode(digest))
    }

    /// Lowercase hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 digits, for a line a person reads ("sha256 0123456789ab…").
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Sha256> for String {
    fn from(digest: Sha256) -> String {
        digest.0
    }
}

// Read back from pikube's own records (backup manifests), checked as any other input.
impl<'de> serde::Deserialize<'de> for Sha256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A digest computed piece by piece, for bytes that stream past (a download, a file
/// copied from a node).
#[derive(Default)]
pub struct Sha256Hasher(sha2::Sha256);

impl Sha256Hasher {
    /// Nothing hashed yet.
    pub fn new() -> Sha256Hasher {
        Sha256Hasher::default()
    }

    /// Hashes `bytes` after what came before.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest of everything hashed.
    pub fn finish(self) -> Sha256 {
        Sha256::from_digest(self.0.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `printf abc | sha256sum`
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn as_sha256sum_prints_it_whether_hashed_at_once_in_pieces_or_from_a_file() {
        assert_eq!(Sha256::of(b"abc").to_string(), ABC);
        let mut hasher = Sha256Hasher::new();
        hasher.update(b"a");
        hasher.update(b"bc");
        assert_eq!(hasher.finish().as_str(), ABC);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("abc");
        std::fs::write(&file, b"abc").unwrap();
        assert_eq!(Sha256::of_file(&file).unwrap().as_str(), ABC);
        assert_eq!(Sha256::of(b"abc").short(), &ABC[..12]);
        let missing = Sha256::of_file(&dir.path().join("none")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn hex_of_the_right_length_lowered() {
        let upper = "AB".repeat(32);
        assert_eq!(upper.parse::<Sha256>().unwrap().as_str(), "ab".repeat(32));
        assert_eq!(ABC.parse::<Sha256>().unwrap(), Sha256::of(b"abc"));
        for bad in [
            "",
            "abc",
            &"g".repeat(64),
            &"a".repeat(65),
            &format!("sha256:{ABC}"),
        ] {
            let err = bad.parse::<Sha256>().unwrap_err().to_string();
            assert!(err.contains("is not a SHA-256"), "{bad}: {err}");
        }
    }

    #[test]
    fn written_and_read_back_as_its_hex() {
        let digest = Sha256::of(b"abc");
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(json, format!("\"{ABC}\""));
        assert_eq!(serde_json::from_str::<Sha256>(&json).unwrap(), digest);
        let err = serde_json::from_str::<Sha256>("\"abc\"").unwrap_err();
        assert!(err.to_string().contains("is not a SHA-256"), "{err}");
    }
}
