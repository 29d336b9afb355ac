//! Extra kubelet flags in K3s' `--kubelet-arg` form, `name=value`.

use std::fmt;
use std::str::FromStr;

/// One kubelet flag without its leading `--`, as K3s' `kubelet-arg` takes it.
///
/// Fields are private so every value has been through the checks below;
/// `Display` (and serde) give `name=value` back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeletArg {
    name: String,
    value: String,
}

/// A `kubelet_args` item that is not `name=value`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a kubelet argument: {problem}")]
pub struct InvalidKubeletArg {
    /// What was written.
    pub input: String,
    /// What is wrong with it.
    pub problem: KubeletArgProblem,
}

/// What is wrong with a `kubelet_args` item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubeletArgProblem {
    /// Written with kubelet's leading dashes, which K3s adds itself.
    #[error("write {undashed}, not {written}")]
    Dashed {
        /// The item as written.
        written: String,
        /// The same without its leading dashes.
        undashed: String,
    },
    /// No `=`; `flag` is set when what was written is a flag name, so probably a boolean
    /// flag written as on a command line.
    #[error("write name=value, e.g. \"max-pods=50\"{}", boolean_hint(.flag.as_deref()))]
    NoValue {
        /// What was written, when it is a valid flag name.
        flag: Option<String>,
    },
    /// `=value` with no name.
    #[error("the name before '=' is empty")]
    EmptyName,
    /// A name kubelet does not spell its flags like; the name.
    #[error(
        "the name {0:?} must be lowercase letters, digits and '-', as kubelet spells its flags \
         (e.g. max-pods)"
    )]
    Name(String),
    /// A line break in the value, which would split the flag where K3s writes it.
    #[error("the value contains a line break")]
    LineBreak,
}

fn boolean_hint(flag: Option<&str>) -> String {
    flag.map(|flag| format!("; a boolean flag needs its value too, e.g. \"{flag}=true\""))
        .unwrap_or_default()
}

impl KubeletArg {
    /// The flag name, e.g. `max-pods`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Everything after the first `=`; may be empty.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl FromStr for KubeletArg {
    type Err = InvalidKubeletArg;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check(s).map_err(|problem| InvalidKubeletArg {
            input: s.to_owned(),
            problem,
        })
    }
}

fn check(s: &str) -> Result<KubeletArg, KubeletArgProblem> {
    let undashed = s.trim_start_matches('-');
    if undashed.len() != s.len() && undashed.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        // K3s adds the dashes itself; with ours the flag would read ----name.
        return Err(KubeletArgProblem::Dashed {
            written: s.to_owned(),
            undashed: undashed.to_owned(),
        });
    }
    let Some((name, value)) = s.split_once('=') else {
        return Err(KubeletArgProblem::NoValue {
            flag: valid_name(s).then(|| s.to_owned()),
        });
    };
    if name.is_empty() {
        return Err(KubeletArgProblem::EmptyName);
    }
    if !valid_name(name) {
        return Err(KubeletArgProblem::Name(name.to_owned()));
    }
    // No kubelet flag takes a multi-line value, so a line break is a slip of
    // a multi-line TOML string, and it would split the flag where K3s writes
    // it out. Anything else is kubelet's to judge.
    if value.contains(['\n', '\r']) {
        return Err(KubeletArgProblem::LineBreak);
    }
    Ok(KubeletArg {
        name: name.to_owned(),
        value: value.to_owned(),
    })
}

/// `[a-z0-9][a-z0-9-]*`: how kubelet spells every flag it has.
fn valid_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl fmt::Display for KubeletArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.value)
    }
}

impl serde::Serialize for KubeletArg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_first_equals() {
        let arg: KubeletArg = "eviction-hard=memory.available<100Mi,nodefs.available<5%"
            .parse()
            .unwrap();
        assert_eq!(arg.name(), "eviction-hard");
        assert_eq!(arg.value(), "memory.available<100Mi,nodefs.available<5%");
        let arg: KubeletArg = "feature-gates=A=true,B=false".parse().unwrap();
        assert_eq!(
            (arg.name(), arg.value()),
            ("feature-gates", "A=true,B=false")
        );
        let arg: KubeletArg = "resolv-conf=".parse().unwrap();
        assert_eq!((arg.name(), arg.value()), ("resolv-conf", ""));
        assert_eq!(arg.to_string(), "resolv-conf=");
        assert_eq!(
            serde_json::to_string(&"max-pods=50".parse::<KubeletArg>().unwrap()).unwrap(),
            "\"max-pods=50\""
        );
    }

    #[test]
    fn rejects_with_reason() {
        let err = |s: &str| s.parse::<KubeletArg>().unwrap_err().to_string();
        assert_eq!(
            err("--max-pods=50"),
            "\"--max-pods=50\" is not a kubelet argument: write max-pods=50, not --max-pods=50"
        );
        assert_eq!(
            err("-v=2"),
            "\"-v=2\" is not a kubelet argument: write v=2, not -v=2"
        );
        assert_eq!(
            err("fail-swap-on"),
            "\"fail-swap-on\" is not a kubelet argument: write name=value, e.g. \"max-pods=50\"; \
             a boolean flag needs its value too, e.g. \"fail-swap-on=true\""
        );
        assert_eq!(
            err("=50"),
            "\"=50\" is not a kubelet argument: the name before '=' is empty"
        );
        assert_eq!(
            err("Max_Pods=50"),
            "\"Max_Pods=50\" is not a kubelet argument: the name \"Max_Pods\" must be \
             lowercase letters, digits and '-', as kubelet spells its flags (e.g. max-pods)"
        );
        assert!(err("max pods=50").contains("the name \"max pods\""));
        assert_eq!(
            err("--"),
            "\"--\" is not a kubelet argument: write name=value, e.g. \"max-pods=50\""
        );
        assert!(err("a=b\nc").contains("line break"));
        assert!(err("a=b\r").contains("line break"));
        let problem = |s: &str| s.parse::<KubeletArg>().unwrap_err().problem;
        assert_eq!(
            problem("fail-swap-on"),
            KubeletArgProblem::NoValue {
                flag: Some("fail-swap-on".into())
            }
        );
        assert_eq!(problem("--"), KubeletArgProblem::NoValue { flag: None });
        assert_eq!(
            problem("Max_Pods=50"),
            KubeletArgProblem::Name("Max_Pods".into())
        );
        assert_eq!(problem("a=b\nc"), KubeletArgProblem::LineBreak);
    }
}
