//! "Did you mean …?" for misspelt keys and values.

/// The candidate closest to `word`, if it is close enough to be a likely typo.
///
/// Comparison ignores case, `-` and `_`, so ssh_config spellings such as
/// `IdentityFile` or `proxy-jump` find `identity_file` and `proxy_jump`.
pub(crate) fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let word = normalize(word);
    candidates
        .iter()
        // Optimal string alignment: Levenshtein plus adjacent swaps, since swapped letters
        // are the commonest typo.
        .map(|&c| (strsim::osa_distance(&word, &normalize(c)), c))
        .filter(|&(d, c)| d <= threshold(word.chars().count().min(normalize(c).chars().count())))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

// One edit for short words, one per three characters beyond that: loose
// enough for `adress`/`knwon_hosts`, tight enough that `name` ≠ `role`.
fn threshold(len: usize) -> usize {
    (len / 3).max(1)
}

fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE_KEYS: &[&str] = &["name", "address", "role", "user", "port", "labels"];

    #[test]
    fn finds_typos() {
        assert_eq!(did_you_mean("adress", NODE_KEYS), Some("address"));
        assert_eq!(did_you_mean("nmae", NODE_KEYS), Some("name"));
        assert_eq!(did_you_mean("lables", NODE_KEYS), Some("labels"));
        assert_eq!(
            did_you_mean("IdentityFile", &["identity_file", "user"]),
            Some("identity_file")
        );
        assert_eq!(did_you_mean("node", &["cluster", "nodes"]), Some("nodes"));
    }

    #[test]
    fn ignores_far_words() {
        assert_eq!(did_you_mean("colour", NODE_KEYS), None);
        assert_eq!(did_you_mean("", NODE_KEYS), None);
        assert_eq!(did_you_mean("x", &[]), None);
    }
}
