//! Reading a release's `sha256sum-<arch>.txt`: `sha256sum` output, one `<hex>  <name>` line
//! per asset.

use crate::digest::Sha256;

#[derive(Debug, PartialEq, Eq)]
pub(super) enum ChecksumProblem {
    /// No line names the asset.
    Missing,
    /// The asset's line (1-based) has no 64-digit hex hash.
    Malformed { line: usize },
}

/// The expected sha256 of `asset`. Names are compared whole: `k3s` must not match
/// `k3s-airgap-images-amd64.tar`.
pub(super) fn expected_sha256(text: &str, asset: &str) -> Result<Sha256, ChecksumProblem> {
    for (index, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let (Some(hash), Some(name)) = (fields.next(), fields.next()) else {
            continue;
        };
        // sha256sum marks files hashed in binary mode with a leading `*`.
        if name.strip_prefix('*').unwrap_or(name) != asset {
            continue;
        }
        return hash
            .parse()
            .map_err(|_| ChecksumProblem::Malformed { line: index + 1 });
    }
    Err(ChecksumProblem::Missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

    #[test]
    fn exact_name_only() {
        let text = format!("{A}  k3s-airgap-images-amd64.tar\n{B}  k3s\n");
        assert_eq!(expected_sha256(&text, "k3s"), Ok(B.parse().unwrap()));
        assert_eq!(
            expected_sha256(&text, "k3s-arm64"),
            Err(ChecksumProblem::Missing)
        );
    }

    #[test]
    fn binary_mode_marker_and_blank_lines() {
        let text = format!("\n{A} *k3s-arm64\n");
        assert_eq!(expected_sha256(&text, "k3s-arm64"), Ok(A.parse().unwrap()));
    }

    #[test]
    fn short_hash_is_malformed() {
        let text = format!("{A}  k3s\nabc123  k3s-armhf\n");
        assert_eq!(
            expected_sha256(&text, "k3s-armhf"),
            Err(ChecksumProblem::Malformed { line: 2 })
        );
    }
}
