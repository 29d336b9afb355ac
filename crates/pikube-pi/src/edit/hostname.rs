//! /etc/hostname and what a valid node name is.

/// Content of /etc/hostname for `hostname`.
pub fn hostname_file(hostname: &str) -> String {
    format!("{hostname}\n")
}

/// An RFC 1123 host name: dot-separated labels of 1–63 letters, digits and
/// hyphens, not starting or ending with a hyphen, at most 253 characters.
/// The edits write the name verbatim, so check it before calling them.
pub fn is_valid_hostname(hostname: &str) -> bool {
    !hostname.is_empty()
        && hostname.len() <= 253
        && hostname.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(hostname_file("pi1"), "pi1\n");
        assert!(is_valid_hostname("pi-node-1"));
        assert!(is_valid_hostname("pi1.lan"));
        for bad in [
            "",
            "-pi",
            "pi-",
            "pi 1",
            "pi\n",
            "pi..lan",
            "pi_1",
            &"a".repeat(64),
        ] {
            assert!(!is_valid_hostname(bad), "{bad:?}");
        }
    }
}
