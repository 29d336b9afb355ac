//! SHA-256 digests in lowercase hex, as `sha256sum` prints them and K3s' release checksums
//! list them: the one way this crate writes a digest it compares or shows.

use sha2::{Digest, Sha256};

/// The SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn as_sha256sum_prints_it() {
        // `printf abc | sha256sum`
        assert_eq!(
            super::sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
