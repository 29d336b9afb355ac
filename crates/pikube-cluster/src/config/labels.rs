//! Kubernetes node label keys and values, checked here rather than by the
//! API server, which would only object halfway through an install.

use std::fmt;
use std::str::FromStr;

/// The label and taint namespace pikube keeps for itself.
pub(crate) const PIKUBE_PREFIX: &str = "pikube.io";

/// `[prefix/]name`, where prefix is a DNS subdomain and name ≤63 of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct LabelKey(String);

/// ≤63 of `[A-Za-z0-9._-]`, starting and ending alphanumeric; may be empty.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct LabelValue(String);

/// A label key or value Kubernetes would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a valid label {what}: {problem}")]
pub struct InvalidLabel {
    /// "key" or "value".
    pub what: &'static str,
    /// What was written.
    pub input: String,
    /// What is wrong with it.
    pub problem: NodeLabelProblem,
}

/// What Kubernetes would object to in a label key or value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeLabelProblem {
    /// The DNS-subdomain part of a key, before its `/`.
    #[error("prefix {prefix:?}: {problem}")]
    Prefix {
        /// The prefix as written.
        prefix: String,
        /// What is wrong with it.
        problem: LabelPrefixProblem,
    },
    /// A key with a `/` in its name too.
    #[error("it has more than one '/'")]
    MoreThanOneSlash,
    /// A key without a name (`example.com/`, or nothing at all).
    #[error("the name is empty")]
    EmptyName,
    /// The first character outside `[A-Za-z0-9._-]`.
    #[error("{0:?} is not allowed; use letters, digits, '.', '_' and '-'")]
    Character(char),
    /// Longer than 63 bytes; its length.
    #[error("it is {0} characters long; the limit is 63")]
    TooLong(usize),
    /// It starts or ends with `.`, `_` or `-`.
    #[error("it must start and end with a letter or digit")]
    Ends,
}

/// What is wrong with a label key's prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelPrefixProblem {
    /// Nothing before the `/`.
    #[error("it is empty")]
    Empty,
    /// Longer than 253 bytes; its length.
    #[error("it is {0} characters long; the limit is 253")]
    TooLong(usize),
    /// Not dot-separated parts of lowercase letters, digits and inner `-`.
    #[error("it must be a lowercase DNS subdomain, e.g. example.com")]
    NotADnsSubdomain,
}

impl LabelKey {
    /// The DNS-subdomain part before `/`, if any.
    pub fn prefix(&self) -> Option<&str> {
        self.0.split_once('/').map(|(prefix, _)| prefix)
    }

    /// The part after `/` (all of it when there is no prefix).
    pub fn name(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(_, name)| name)
    }

    /// Whether the key is in the pikube.io namespace, whose keys pikube sets
    /// on nodes itself (pikube.io/pi-model, pikube.io/storage): a value from
    /// cluster.toml would fight pikube's own on every apply.
    pub fn pikube_reserved(&self) -> bool {
        self.prefix()
            .is_some_and(|p| p == PIKUBE_PREFIX || p.ends_with(&format!(".{PIKUBE_PREFIX}")))
    }

    /// Whether kubelet refuses this label when asked to set it on itself (K3s
    /// passes labels as `--node-labels`): the NodeRestriction rules reserve the
    /// kubernetes.io and k8s.io namespaces, bar a short allow-list, so a node
    /// cannot, say, promote itself to control plane. kubelet then fails to
    /// start, which is far from here and late.
    pub fn kubelet_refuses(&self) -> bool {
        const ALLOWED_KEYS: &[&str] = &[
            "kubernetes.io/hostname",
            "kubernetes.io/os",
            "kubernetes.io/arch",
            "beta.kubernetes.io/os",
            "beta.kubernetes.io/arch",
            "beta.kubernetes.io/instance-type",
            "node.kubernetes.io/instance-type",
            "topology.kubernetes.io/zone",
            "topology.kubernetes.io/region",
            "failure-domain.beta.kubernetes.io/zone",
            "failure-domain.beta.kubernetes.io/region",
        ];
        let Some(prefix) = self.prefix() else {
            return false;
        };
        let within = |ns: &str| prefix == ns || prefix.ends_with(&format!(".{ns}"));
        let reserved = within("kubernetes.io") || within("k8s.io");
        let allowed = ALLOWED_KEYS.contains(&self.0.as_str())
            || within("kubelet.kubernetes.io")
            || within("node.kubernetes.io");
        reserved && !allowed
    }
}

impl FromStr for LabelKey {
    type Err = InvalidLabel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check_key(s).map_err(|problem| InvalidLabel {
            what: "key",
            input: s.to_owned(),
            problem,
        })?;
        Ok(LabelKey(s.to_owned()))
    }
}

impl FromStr for LabelValue {
    type Err = InvalidLabel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !s.is_empty() {
            check_name(s).map_err(|problem| InvalidLabel {
                what: "value",
                input: s.to_owned(),
                problem,
            })?;
        }
        Ok(LabelValue(s.to_owned()))
    }
}

fn check_key(s: &str) -> Result<(), NodeLabelProblem> {
    let (prefix, name) = match s.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    if let Some(prefix) = prefix {
        check_prefix(prefix).map_err(|problem| NodeLabelProblem::Prefix {
            prefix: prefix.to_owned(),
            problem,
        })?;
        if name.contains('/') {
            return Err(NodeLabelProblem::MoreThanOneSlash);
        }
    }
    check_name(name)
}

/// The name part of a key, and any non-empty value.
fn check_name(s: &str) -> Result<(), NodeLabelProblem> {
    if s.is_empty() {
        return Err(NodeLabelProblem::EmptyName);
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(NodeLabelProblem::Character(c));
    }
    if s.len() > 63 {
        return Err(NodeLabelProblem::TooLong(s.len()));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(s.chars().next()) || !alnum(s.chars().last()) {
        return Err(NodeLabelProblem::Ends);
    }
    Ok(())
}

fn check_prefix(s: &str) -> Result<(), LabelPrefixProblem> {
    if s.is_empty() {
        return Err(LabelPrefixProblem::Empty);
    }
    if s.len() > 253 {
        return Err(LabelPrefixProblem::TooLong(s.len()));
    }
    for part in s.split('.') {
        let ok_chars = part
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let ok_ends = !part.starts_with('-') && !part.ends_with('-');
        if part.is_empty() || part.len() > 63 || !ok_chars || !ok_ends {
            return Err(LabelPrefixProblem::NotADnsSubdomain);
        }
    }
    Ok(())
}

impl fmt::Display for LabelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for LabelValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for LabelKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for LabelValue {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for ok in [
            "storage",
            "example.com/disk",
            "a",
            "A.b_c-9",
            "node.kubernetes.io/pool",
        ] {
            assert!(ok.parse::<LabelKey>().is_ok(), "{ok}");
        }
        let key: LabelKey = "example.com/disk".parse().unwrap();
        assert_eq!((key.prefix(), key.name()), (Some("example.com"), "disk"));
        for bad in [
            "",
            "/x",
            "x/",
            "-x",
            "x-",
            "a/b/c",
            "Example.com/x",
            "has space",
            &"a".repeat(64),
        ] {
            assert!(bad.parse::<LabelKey>().is_err(), "{bad}");
        }
    }

    #[test]
    fn each_refusal_says_what_is_wrong_and_where() {
        let problem = |s: &str| s.parse::<LabelKey>().unwrap_err().problem;
        assert_eq!(
            problem("Example.com/x"),
            NodeLabelProblem::Prefix {
                prefix: "Example.com".into(),
                problem: LabelPrefixProblem::NotADnsSubdomain
            }
        );
        assert_eq!(
            problem("/x"),
            NodeLabelProblem::Prefix {
                prefix: String::new(),
                problem: LabelPrefixProblem::Empty
            }
        );
        assert_eq!(problem("a/b/c"), NodeLabelProblem::MoreThanOneSlash);
        assert_eq!(problem("example.com/"), NodeLabelProblem::EmptyName);
        assert_eq!(problem("has space"), NodeLabelProblem::Character(' '));
        assert_eq!(problem(&"a".repeat(64)), NodeLabelProblem::TooLong(64));
        assert_eq!(problem("-x"), NodeLabelProblem::Ends);
        assert_eq!(
            "example.com/a b"
                .parse::<LabelKey>()
                .unwrap_err()
                .to_string(),
            "\"example.com/a b\" is not a valid label key: ' ' is not allowed; use letters, \
             digits, '.', '_' and '-'"
        );
        assert_eq!(
            format!("{}/x", "a".repeat(254))
                .parse::<LabelKey>()
                .unwrap_err()
                .problem
                .to_string(),
            format!(
                "prefix {:?}: it is 254 characters long; the limit is 253",
                "a".repeat(254)
            )
        );
        let value = "ssd.".parse::<LabelValue>().unwrap_err();
        assert_eq!(
            (value.what, value.problem),
            ("value", NodeLabelProblem::Ends)
        );
    }

    #[test]
    fn values() {
        for ok in ["", "ssd", "v1.2_3-x"] {
            assert!(ok.parse::<LabelValue>().is_ok(), "{ok}");
        }
        for bad in ["-ssd", "ssd.", "a b", &"a".repeat(64)] {
            assert!(bad.parse::<LabelValue>().is_err(), "{bad}");
        }
    }

    #[test]
    fn pikube_namespace() {
        let reserved = |k: &str| k.parse::<LabelKey>().unwrap().pikube_reserved();
        assert!(reserved("pikube.io/pi-model"));
        assert!(reserved("storage.pikube.io/x"));
        assert!(!reserved("notpikube.io/x"));
        assert!(!reserved("pikube.io"));
        assert!(!reserved("example.com/pikube.io"));
    }

    #[test]
    fn kubelet_namespace() {
        let refuses = |k: &str| k.parse::<LabelKey>().unwrap().kubelet_refuses();
        assert!(refuses("node-role.kubernetes.io/worker"));
        assert!(refuses("k8s.io/x"));
        assert!(!refuses("node.kubernetes.io/pool"));
        assert!(!refuses("topology.kubernetes.io/zone"));
        assert!(!refuses("example.com/x"));
        assert!(!refuses("storage"));
    }
}
