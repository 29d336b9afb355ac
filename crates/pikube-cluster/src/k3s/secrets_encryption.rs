//! Whether a cluster's servers keep Secrets encrypted in the datastore, decided once per
//! cluster before any config.yaml is rendered (security M11). K3s fixes it at a cluster's
//! first start and needs every server alike; a running cluster is switched only through
//! `k3s secrets-encrypt`, which a restart does not do. So cluster.toml's setting, when
//! written, is what every server gets (a running server that differs is refused in
//! `node_plan.rs`); when unset, a running cluster keeps what its servers run with and a new
//! one gets it on.

use super::adoption::switched_on;
use super::state::K3sNodeState;
use super::topology::{TopologyError, TopologyNode};
use crate::config::{NodeName, SecretsEncryption};

/// K3s' switch, in config.yaml and on a command line.
pub const SECRETS_ENCRYPTION_KEY: &str = "secrets-encryption";

/// What every server of the cluster renders, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretsEncryptionDecision {
    /// `secrets-encryption: true` in every server's config.yaml.
    pub on: bool,
    /// Where it comes from.
    pub because: EncryptionReason,
}

/// Where a [`SecretsEncryptionDecision`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptionReason {
    /// cluster.toml sets `secrets_encryption`.
    Written,
    /// Unset, and no server runs K3s yet.
    NewCluster,
    /// Unset, and the running servers all have it so.
    Kept,
}

impl std::fmt::Display for SecretsEncryptionDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let on_off = if self.on { "on" } else { "off" };
        match self.because {
            EncryptionReason::Written => write!(f, "secrets encryption: {on_off} (cluster.toml)"),
            EncryptionReason::NewCluster => write!(f, "secrets encryption: {on_off} (new cluster)"),
            EncryptionReason::Kept => write!(
                f,
                "secrets encryption: {on_off} (kept: the running servers were started with it \
                 {on_off})"
            ),
        }
    }
}

/// Whether the K3s server on a node runs with secrets encryption (from its config.yaml,
/// an adopted install's kept settings or another tool's command line); `None` when no
/// server is installed there.
pub fn server_encrypts(state: &K3sNodeState) -> Option<bool> {
    let unit = state.server.unit.as_deref()?;
    Some(switched_on(
        SECRETS_ENCRYPTION_KEY,
        Some(unit),
        &[state.config.as_deref(), state.adopted.as_deref()],
    ))
}

/// The cluster's secrets encryption, from cluster.toml's `setting` and what the servers
/// among `nodes` run with.
pub fn decide(
    setting: SecretsEncryption,
    nodes: &[TopologyNode<'_>],
) -> Result<SecretsEncryptionDecision, TopologyError> {
    let written = |on| SecretsEncryptionDecision {
        on,
        because: EncryptionReason::Written,
    };
    match setting {
        SecretsEncryption::On => return Ok(written(true)),
        SecretsEncryption::Off => return Ok(written(false)),
        SecretsEncryption::Default => {}
    }
    let (mut on, mut off): (Vec<NodeName>, Vec<NodeName>) = (Vec::new(), Vec::new());
    for node in nodes {
        match node.state.and_then(server_encrypts) {
            Some(true) => on.push(node.name.clone()),
            Some(false) => off.push(node.name.clone()),
            None => {}
        }
    }
    match (on.is_empty(), off.is_empty()) {
        (true, true) => Ok(SecretsEncryptionDecision {
            on: true,
            because: EncryptionReason::NewCluster,
        }),
        (false, true) | (true, false) => Ok(SecretsEncryptionDecision {
            on: off.is_empty(),
            because: EncryptionReason::Kept,
        }),
        (false, false) => Err(TopologyError::MixedSecretsEncryption { on, off }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k3s::paths::Service;
    use crate::k3s::render::unit_file;

    fn state(unit: Option<String>, config: &str) -> K3sNodeState {
        let mut state = crate::k3s::state::parse_state("@@pikube-facts v1\n@@pikube-facts end\n")
            .expect("empty state parses");
        state.server.unit = unit;
        state.config = Some(config.to_owned());
        state
    }

    /// A server pikube installed, with this config.yaml.
    fn server(config: &str) -> K3sNodeState {
        state(Some(unit_file(Service::Server)), config)
    }

    fn node<'a>(name: &'a str, service: Service, state: &'a K3sNodeState) -> TopologyNode<'a> {
        TopologyNode {
            // Leaked: a test's few names must outlive the nodes borrowing them.
            name: Box::leak(Box::new(name.parse::<NodeName>().unwrap())),
            address: name,
            service,
            state: Some(state),
        }
    }

    const ENCRYPTED: &str = "node-name: s1\nsecrets-encryption: true\n";
    const PLAIN: &str = "node-name: s1\n";

    #[test]
    fn unset_a_new_cluster_gets_it_on() {
        let fresh = state(None, "");
        let agent = state(None, PLAIN);
        let nodes = [
            node("s1", Service::Server, &fresh),
            node("s2", Service::Server, &fresh),
            node("a1", Service::Agent, &agent),
        ];
        let decision = decide(SecretsEncryption::Default, &nodes).unwrap();
        assert!(decision.on);
        assert_eq!(decision.to_string(), "secrets encryption: on (new cluster)");
        // Nothing read at all (no node reachable yet) is a new cluster too.
        assert!(decide(SecretsEncryption::Default, &[]).unwrap().on);
    }

    #[test]
    fn unset_a_running_cluster_keeps_what_it_was_started_with() {
        let fresh = state(None, "");
        for (config, on) in [(PLAIN, false), (ENCRYPTED, true)] {
            let running = server(config);
            // A server joining later (s2) gets what the running one has.
            let nodes = [
                node("s1", Service::Server, &running),
                node("s2", Service::Server, &fresh),
            ];
            let decision = decide(SecretsEncryption::Default, &nodes).unwrap();
            assert_eq!(decision.on, on);
            assert_eq!(decision.because, EncryptionReason::Kept);
        }
    }

    #[test]
    fn another_tools_flag_or_an_adopted_setting_counts() {
        let foreign = state(
            Some(
                "[Service]\nExecStart=/usr/local/bin/k3s \\\n    server \\\n    \
                 '--secrets-encryption' \\\n"
                    .to_owned(),
            ),
            "",
        );
        assert_eq!(server_encrypts(&foreign), Some(true));
        let mut adopted = server(PLAIN);
        adopted.adopted = Some("secrets-encryption: true\n".to_owned());
        assert_eq!(server_encrypts(&adopted), Some(true));
        assert_eq!(
            server_encrypts(&server("secrets-encryption: false\n")),
            Some(false)
        );
        assert_eq!(server_encrypts(&state(None, ENCRYPTED)), None);
    }

    #[test]
    fn unset_servers_that_disagree_are_named() {
        let on = server(ENCRYPTED);
        let off = server(PLAIN);
        let nodes = [
            node("s1", Service::Server, &on),
            node("s2", Service::Server, &off),
            node("s3", Service::Server, &on),
        ];
        let err = decide(SecretsEncryption::Default, &nodes)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("on s1, s3")
                && err.contains("off on s2")
                && err.contains("secrets-encrypt"),
            "{err}"
        );
        // Written, it is what every server gets (a running one that differs is refused
        // when its node is planned).
        for (setting, on) in [
            (SecretsEncryption::On, true),
            (SecretsEncryption::Off, false),
        ] {
            let decision = decide(setting, &nodes).unwrap();
            assert_eq!(decision.on, on);
            assert_eq!(decision.because, EncryptionReason::Written);
        }
    }
}
