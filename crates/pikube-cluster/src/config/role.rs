//! What K3s runs on a node.

use std::fmt;
use std::str::FromStr;

use super::suggest::did_you_mean;

/// `server` runs the control plane (and etcd); `agent` only runs workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the control plane, and etcd with more than one server.
    Server,
    /// Runs workloads only.
    Agent,
}

/// A `role` other than server or agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a role; {hint}")]
pub struct InvalidRole {
    /// What was written.
    pub input: String,
    /// What would be accepted, or the likely meaning.
    pub hint: String,
}

impl FromStr for Role {
    type Err = InvalidRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "server" => return Ok(Role::Server),
            "agent" => return Ok(Role::Agent),
            _ => {}
        }
        // Other tools' words for the same roles are the likeliest mistake.
        let hint = match s.to_ascii_lowercase().as_str() {
            "master" | "control-plane" | "controlplane" | "controller" => {
                "K3s calls control-plane nodes \"server\"".to_owned()
            }
            "worker" | "node" | "minion" => "K3s calls worker nodes \"agent\"".to_owned(),
            _ => match did_you_mean(s, &["server", "agent"]) {
                Some(close) => format!("did you mean {close:?}?"),
                None => "expected \"server\" or \"agent\"".to_owned(),
            },
        };
        Err(InvalidRole {
            input: s.to_owned(),
            hint,
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Server => "server",
            Role::Agent => "agent",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        assert_eq!("server".parse::<Role>().unwrap(), Role::Server);
        assert_eq!(Role::Agent.to_string(), "agent");
    }

    #[test]
    fn hints() {
        let err = |s: &str| s.parse::<Role>().unwrap_err().to_string();
        assert_eq!(
            err("master"),
            "\"master\" is not a role; K3s calls control-plane nodes \"server\""
        );
        assert_eq!(
            err("worker"),
            "\"worker\" is not a role; K3s calls worker nodes \"agent\""
        );
        assert_eq!(
            err("sever"),
            "\"sever\" is not a role; did you mean \"server\"?"
        );
        assert_eq!(
            err("x"),
            "\"x\" is not a role; expected \"server\" or \"agent\""
        );
    }
}
