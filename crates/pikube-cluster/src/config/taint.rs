//! Node taints in kubectl's `key[=value]:Effect` form, checked with the same
//! rules as labels (Kubernetes validates taint keys and values as such).

use std::fmt;
use std::str::FromStr;

use super::labels::{InvalidLabel, LabelKey, LabelValue};
use super::suggest::did_you_mean;

/// What a taint does to pods that do not tolerate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum TaintEffect {
    /// New pods that do not tolerate it are not scheduled there.
    NoSchedule,
    /// The scheduler avoids it for them if it can.
    PreferNoSchedule,
    /// Pods that do not tolerate it are evicted too.
    NoExecute,
}

const EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// One taint registered with the node, e.g. `dedicated=storage:NoSchedule`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Taint {
    /// Its key.
    pub key: LabelKey,
    /// `None` for `key:Effect`; an empty value (`key=:Effect`) is the same
    /// taint to Kubernetes and is read as `None`.
    pub value: Option<LabelValue>,
    /// What it does.
    pub effect: TaintEffect,
}

/// A taint not in `key[=value]:Effect` form, or with a bad part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a valid taint: {problem}")]
pub struct InvalidTaint {
    /// What was written.
    pub input: String,
    /// What is wrong with it.
    pub problem: TaintProblem,
}

/// What is wrong with a taint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaintProblem {
    /// No `:Effect` at all.
    #[error("it has no effect; write key[=value]:Effect, e.g. \"dedicated=storage:NoSchedule\"")]
    NoEffect,
    /// `key:` with nothing after the colon.
    #[error("the effect after ':' is empty; expected {}", EFFECTS.join(", "))]
    EmptyEffect,
    /// An effect Kubernetes does not have; `close` is the one it looks like a slip of.
    #[error("unknown effect {effect:?}; {}", hint(*.close))]
    UnknownEffect {
        /// The effect as written.
        effect: String,
        /// The effect it is closest to, if any is close.
        close: Option<&'static str>,
    },
    /// Its key or value, checked as a label's.
    #[error("{} {:?}: {}", .0.what, .0.input, .0.problem)]
    Part(InvalidLabel),
}

impl TaintEffect {
    /// As Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }
}

/// The likely effect meant, else the list of them.
fn hint(close: Option<&str>) -> String {
    match close {
        Some(close) => format!("did you mean {close:?}?"),
        None => format!("expected {}", EFFECTS.join(", ")),
    }
}

/// Exact case, as the API server wants it.
fn effect(s: &str) -> Result<TaintEffect, TaintProblem> {
    match s {
        "NoSchedule" => Ok(TaintEffect::NoSchedule),
        "PreferNoSchedule" => Ok(TaintEffect::PreferNoSchedule),
        "NoExecute" => Ok(TaintEffect::NoExecute),
        "" => Err(TaintProblem::EmptyEffect),
        _ => Err(TaintProblem::UnknownEffect {
            effect: s.to_owned(),
            close: did_you_mean(s, EFFECTS),
        }),
    }
}

impl FromStr for Taint {
    type Err = InvalidTaint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map_err(|problem| InvalidTaint {
            input: s.to_owned(),
            problem,
        })
    }
}

fn parse(s: &str) -> Result<Taint, TaintProblem> {
    // Neither key nor value may contain ':', so the last one starts the effect.
    let Some((key_value, effect_name)) = s.rsplit_once(':') else {
        return Err(TaintProblem::NoEffect);
    };
    let (key, value) = match key_value.split_once('=') {
        Some((key, value)) => (key, Some(value)),
        None => (key_value, None),
    };
    let key: LabelKey = key.parse().map_err(TaintProblem::Part)?;
    let value = match value {
        None | Some("") => None,
        Some(v) => Some(v.parse::<LabelValue>().map_err(TaintProblem::Part)?),
    };
    let effect = effect(effect_name)?;
    Ok(Taint { key, value, effect })
}

impl fmt::Display for TaintEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Taint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key.as_ref())?;
        if let Some(value) = &self.value {
            write!(f, "={value}")?;
        }
        write!(f, ":{}", self.effect)
    }
}

/// As kubectl and K3s' `--node-taint` write it.
impl serde::Serialize for Taint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(s: &str) -> Taint {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_displays() {
        let t = taint("dedicated=storage:NoSchedule");
        assert_eq!(t.key.as_ref(), "dedicated");
        assert_eq!(t.value.as_ref().map(AsRef::as_ref), Some("storage"));
        assert_eq!(t.effect, TaintEffect::NoSchedule);
        assert_eq!(t.to_string(), "dedicated=storage:NoSchedule");

        let t = taint("gpu:NoExecute");
        assert_eq!((t.value, t.effect), (None, TaintEffect::NoExecute));
        for s in [
            "gpu:NoExecute",
            "example.com/pool=edge:PreferNoSchedule",
            "node-role.kubernetes.io/control-plane:NoSchedule",
        ] {
            assert_eq!(taint(s).to_string(), s);
        }
        // An empty value is no value.
        assert_eq!(taint("gpu=:NoSchedule").to_string(), "gpu:NoSchedule");
        assert_eq!(
            serde_json::to_string(&taint("a=b:NoSchedule")).unwrap(),
            "\"a=b:NoSchedule\""
        );
    }

    #[test]
    fn rejects_with_reason() {
        let err = |s: &str| s.parse::<Taint>().unwrap_err().to_string();
        assert_eq!(
            err("dedicated=storage"),
            "\"dedicated=storage\" is not a valid taint: it has no effect; \
             write key[=value]:Effect, e.g. \"dedicated=storage:NoSchedule\""
        );
        assert_eq!(
            err("gpu:noschedule"),
            "\"gpu:noschedule\" is not a valid taint: unknown effect \"noschedule\"; \
             did you mean \"NoSchedule\"?"
        );
        assert_eq!(
            err("gpu:NoExcute"),
            "\"gpu:NoExcute\" is not a valid taint: unknown effect \"NoExcute\"; \
             did you mean \"NoExecute\"?"
        );
        assert_eq!(
            err("gpu:Evict"),
            "\"gpu:Evict\" is not a valid taint: unknown effect \"Evict\"; \
             expected NoSchedule, PreferNoSchedule, NoExecute"
        );
        assert!(err("gpu:").contains("the effect after ':' is empty"));
        assert_eq!(
            err("-gpu:NoSchedule"),
            "\"-gpu:NoSchedule\" is not a valid taint: key \"-gpu\": \
             it must start and end with a letter or digit"
        );
        assert_eq!(
            err("gpu=a b:NoSchedule"),
            "\"gpu=a b:NoSchedule\" is not a valid taint: value \"a b\": \
             ' ' is not allowed; use letters, digits, '.', '_' and '-'"
        );
        assert!(err("a=b=c:NoSchedule").contains("value \"b=c\""));
        let problem = |s: &str| s.parse::<Taint>().unwrap_err().problem;
        assert_eq!(problem("gpu"), TaintProblem::NoEffect);
        assert_eq!(problem("gpu:"), TaintProblem::EmptyEffect);
        assert_eq!(
            problem("gpu:noschedule"),
            TaintProblem::UnknownEffect {
                effect: "noschedule".into(),
                close: Some("NoSchedule")
            }
        );
        assert!(matches!(
            problem("gpu=a b:NoSchedule"),
            TaintProblem::Part(InvalidLabel { what: "value", .. })
        ));
        assert!(err("a:b:NoSchedule").contains("key \"a:b\""));
        assert!(err(":NoSchedule").contains("key \"\""));
    }

    #[test]
    fn effects_order_and_serialize() {
        assert_eq!(
            serde_json::to_string(&TaintEffect::PreferNoSchedule).unwrap(),
            "\"PreferNoSchedule\""
        );
        assert!(TaintEffect::NoSchedule < TaintEffect::NoExecute);
    }
}
