//! Cluster and node names: RFC 1123 labels, because a node name becomes the
//! Pi's hostname and the Kubernetes node name, and both must be DNS labels.

use std::fmt;
use std::str::FromStr;

/// Why a string is not an RFC 1123 label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelProblem {
    /// Nothing was written.
    #[error("it is empty")]
    Empty,
    /// Longer than 63 characters (holds the length).
    #[error("it is {0} characters long; the limit is 63")]
    TooLong(usize),
    /// An uppercase letter (holds it).
    #[error("uppercase {0:?} is not allowed (hostnames are lowercase)")]
    Uppercase(char),
    /// Another character than `[a-z0-9-]` (holds it).
    #[error("{0:?} is not allowed; use lowercase letters, digits and '-'")]
    BadChar(char),
    /// Starts with `-`.
    #[error("it must not start with '-'")]
    LeadingHyphen,
    /// Ends with `-`.
    #[error("it must not end with '-'")]
    TrailingHyphen,
}

/// Checks `s` is 1..=63 of `[a-z0-9-]`, not starting or ending with `-`.
pub(crate) fn check_dns_label(s: &str) -> Result<(), LabelProblem> {
    if s.is_empty() {
        return Err(LabelProblem::Empty);
    }
    if let Some(c) = s.chars().find(char::is_ascii_uppercase) {
        return Err(LabelProblem::Uppercase(c));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(LabelProblem::BadChar(c));
    }
    // Only ASCII from here on, so bytes are characters.
    if s.len() > 63 {
        return Err(LabelProblem::TooLong(s.len()));
    }
    if s.starts_with('-') {
        return Err(LabelProblem::LeadingHyphen);
    }
    if s.ends_with('-') {
        return Err(LabelProblem::TrailingHyphen);
    }
    Ok(())
}

/// A name that is not a valid label, with what it was meant to name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a valid {what}: {problem}")]
pub struct InvalidName {
    /// What it was to name (`node name`, `cluster name`).
    pub what: &'static str,
    /// What was written.
    pub input: String,
    /// What is wrong with it.
    pub problem: LabelProblem,
}

macro_rules! label_name {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl FromStr for $name {
            type Err = InvalidName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                check_dns_label(s).map_err(|problem| InvalidName {
                    what: $what,
                    input: s.to_owned(),
                    problem,
                })?;
                Ok($name(s.to_owned()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl $name {
            /// The name as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        // Read-only access to the checked text: nothing done through a `&str` can break
        // what the name guarantees, and every message or lookup takes one.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        // Maps keyed by the name are looked up with a plain `&str` (a name the cluster's
        // API or a command line gave).
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        // Read back from pikube's own records, checked as cluster.toml's names are.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

label_name!(
    /// The cluster's name: used in kubeconfig contexts and local state paths.
    ClusterName,
    "cluster name"
);
label_name!(
    /// A node's name, which pikube sets as its hostname.
    NodeName,
    "node name"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_labels() {
        for ok in ["a", "pi-master-01", "0", &"a".repeat(63)] {
            assert_eq!(ok.parse::<NodeName>().unwrap().as_ref(), ok);
        }
    }

    #[test]
    fn rejects_with_reason() {
        let cases = [
            ("", LabelProblem::Empty),
            ("Pi", LabelProblem::Uppercase('P')),
            ("pi_01", LabelProblem::BadChar('_')),
            ("pi.01", LabelProblem::BadChar('.')),
            ("-pi", LabelProblem::LeadingHyphen),
            ("pi-", LabelProblem::TrailingHyphen),
        ];
        for (input, problem) in cases {
            assert_eq!(
                input.parse::<NodeName>().unwrap_err().problem,
                problem,
                "{input}"
            );
        }
        assert_eq!(
            "a".repeat(64).parse::<ClusterName>().unwrap_err().problem,
            LabelProblem::TooLong(64)
        );
        assert_eq!(
            "pi_01".parse::<NodeName>().unwrap_err().to_string(),
            "\"pi_01\" is not a valid node name: '_' is not allowed; use lowercase letters, digits and '-'"
        );
    }

    #[test]
    fn names_read_back_from_records_are_checked_as_in_cluster_toml() {
        let name: NodeName = serde_json::from_str("\"pi-1\"").unwrap();
        assert_eq!(name, "pi-1");
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"pi-1\"");
        let err = serde_json::from_str::<NodeName>("\"Pi-1\"").unwrap_err();
        assert!(
            err.to_string().contains("is not a valid node name"),
            "{err}"
        );
    }
}
