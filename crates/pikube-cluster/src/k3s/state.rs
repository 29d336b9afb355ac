//! What k3s looks like on a node now, read as root in one round trip: the files pikube
//! manages (secret ones as digests only), the services, and the server token.

use std::collections::BTreeMap;

use pikube_pi::facts::UnitStates;
use pikube_pi::{framed_script, FactsError, Sections};

use super::paths::{Service, IMAGES_DIR, LINKS};
use super::token::{AgentToken, ServerToken};
use crate::config::NodeName;
use crate::digest::Sha256;
use crate::ssh::{Connection, SshError};

const STATE_SCRIPT: &str = include_str!("state.sh");

/// One service's unit, env file and systemd state. Its Debug shows the unit's size, not
/// its text: another tool's unit may carry a token on its command line.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ServiceFiles {
    pub unit: Option<String>,
    pub env_sha256: Option<Sha256>,
    /// The names of the env file's variables (never their values).
    pub env_names: Vec<String>,
    pub uninstall: Option<String>,
    pub enabled: bool,
    pub active: bool,
}

impl ServiceFiles {
    pub fn is_installed(&self) -> bool {
        self.unit.is_some()
    }
}

impl std::fmt::Debug for ServiceFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceFiles")
            .field("unit", &Sized(&self.unit))
            .field("env_sha256", &self.env_sha256)
            .field("env_names", &self.env_names)
            .field("uninstall", &Sized(&self.uninstall))
            .field("enabled", &self.enabled)
            .field("active", &self.active)
            .finish()
    }
}

/// A file's text in a Debug: its size only (it may hold a secret value).
struct Sized<'a>(&'a Option<String>);

impl std::fmt::Debug for Sized<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(text) => write!(f, "Some(<{} bytes>)", text.len()),
            None => f.write_str("None"),
        }
    }
}

/// A `kubectl`-style link in /usr/local/bin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolLink {
    /// Where `/usr/local/bin/<tool>` points; `Some("(a file)")` for a regular file.
    pub target: Option<String>,
    /// The same tool elsewhere on PATH (the user's own kubectl, say).
    pub elsewhere: Option<String>,
}

/// A node's K3s as the state script found it (read as root). Its Debug shows the files'
/// sizes, not their text: a foreign config.yaml, or a setting kept from an adopted install,
/// may hold a secret value.
#[derive(Clone, PartialEq, Eq)]
pub struct K3sNodeState {
    /// The binary's SHA-256.
    pub binary_sha256: Option<Sha256>,
    /// config.yaml.
    pub config: Option<String>,
    /// pikube's registration drop-in.
    pub registration: Option<String>,
    /// The settings pikube kept from an install it adopted (may hold a secret value).
    pub adopted: Option<String>,
    /// The killall script.
    pub killall: Option<String>,
    /// registries.yaml's SHA-256, and whether pikube wrote it (its first line).
    pub registries_sha256: Option<Sha256>,
    /// registries.yaml starts with pikube's marker.
    pub registries_by_pikube: bool,
    /// `k3s.service`'s files and state.
    pub server: ServiceFiles,
    /// `k3s-agent.service`'s.
    pub agent: ServiceFiles,
    /// `k3s-node.service`'s: an agent older k3s-ansible playbooks installed
    /// (`paths::ANSIBLE_AGENT`), never pikube's.
    pub ansible_agent: ServiceFiles,
    /// kubectl, crictl and ctr: where each link points.
    pub links: BTreeMap<&'static str, ToolLink>,
    /// Present on a server that has started at least once.
    pub server_token: Option<ServerToken>,
    /// Embedded etcd's data is on disk (`server/db/etcd`): K3s then ignores `cluster-init`
    /// and `server` in config.yaml.
    pub etcd_data: bool,
    /// `server/agent-token` when it is a token of its own (not the link to `token`).
    pub agent_token: Option<AgentToken>,
    /// pikube's airgap image archives in K3s' images directory: path to SHA-256.
    pub images: BTreeMap<String, Sha256>,
}

impl std::fmt::Debug for K3sNodeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("K3sNodeState")
            .field("binary_sha256", &self.binary_sha256)
            .field("config", &Sized(&self.config))
            .field("registration", &Sized(&self.registration))
            .field("adopted", &Sized(&self.adopted))
            .field("killall", &Sized(&self.killall))
            .field("registries_sha256", &self.registries_sha256)
            .field("registries_by_pikube", &self.registries_by_pikube)
            .field("server", &self.server)
            .field("agent", &self.agent)
            .field("ansible_agent", &self.ansible_agent)
            .field("links", &self.links)
            .field("server_token", &self.server_token)
            .field("etcd_data", &self.etcd_data)
            .field("agent_token", &self.agent_token)
            .field("images", &self.images)
            .finish()
    }
}

impl K3sNodeState {
    /// `service`'s files and state.
    pub fn service(&self, service: Service) -> &ServiceFiles {
        match service {
            Service::Server => &self.server,
            Service::Agent => &self.agent,
        }
    }

    /// The kind of service that is installed (k3s-ansible's `k3s-node` is an agent), if
    /// any: a node with one is in the cluster, not a blank card.
    pub fn installed_service(&self) -> Option<Service> {
        let agent = self.agent.is_installed() || self.ansible_agent.is_installed();
        match (self.server.is_installed(), agent) {
            (true, _) => Some(Service::Server),
            (false, true) => Some(Service::Agent),
            (false, false) => None,
        }
    }
}

/// Why a node's K3s state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The script could not be run.
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// What it printed is not the script's format.
    #[error("{node}: could not read its k3s state: {causes}", causes = crate::error_chain::describe(cause))]
    Parse {
        /// The node.
        node: NodeName,
        /// What is wrong with the output.
        cause: FactsError,
    },
}

pub fn state_script() -> String {
    framed_script(STATE_SCRIPT)
}

/// Runs the state script on the node, as root, and reads it.
pub async fn read_state(connection: &Connection) -> Result<K3sNodeState, StateError> {
    let output = connection
        .run_privileged("reading the k3s state", &state_script(), b"")
        .await?;
    parse_state(&output.stdout).map_err(|cause| StateError::Parse {
        node: connection.node().to_owned(),
        cause,
    })
}

pub fn parse_state(stdout: &str) -> Result<K3sNodeState, FactsError> {
    let s = Sections::parse(stdout)?;
    let text = |name: &str| s.ok_text(name).map(str::to_owned);
    let line = |name: &str| s.ok_line(name).map(str::to_owned);
    // sha256sum's output. Anything else (a node whose sha256sum is broken) reads as no
    // digest at all: never equal to what pikube wants, so the file is written again.
    let sum = |name: &str| s.ok_line(name).and_then(|l| l.parse::<Sha256>().ok());
    let units = UnitStates::parse(s.ok_text("units"));
    // `unit`'s files are in sections named with `n`, its unit name with `-` as `_`.
    let service = |unit: &str, n: &str| ServiceFiles {
        unit: text(&format!("unit_{n}")),
        env_sha256: sum(&format!("env_sha256_{n}")),
        env_names: s
            .ok_text(&format!("env_names_{n}"))
            .unwrap_or_default()
            .lines()
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect(),
        uninstall: text(&format!("uninstall_{n}")),
        enabled: units.get(unit).is_enabled(),
        active: units.get(unit).is_active(),
    };
    let links = LINKS
        .iter()
        .map(|tool| {
            (
                *tool,
                ToolLink {
                    target: line(&format!("link_{tool}")),
                    elsewhere: line(&format!("other_{tool}")),
                },
            )
        })
        .collect();
    Ok(K3sNodeState {
        binary_sha256: sum("binary_sha256"),
        config: text("config"),
        registration: text("registration"),
        adopted: text("adopted"),
        killall: text("killall"),
        registries_sha256: sum("registries_sha256"),
        registries_by_pikube: s.ok_line("registries_head") == Some(super::registries::MARKER),
        server: service("k3s", "k3s"),
        agent: service("k3s-agent", "k3s_agent"),
        ansible_agent: service("k3s-node", "k3s_node"),
        links,
        server_token: s.ok_line("server_token").and_then(ServerToken::parse),
        etcd_data: s.ok_line("etcd_data").is_some(),
        agent_token: s.ok_line("agent_token").and_then(AgentToken::parse),
        images: s
            .ok_text("images")
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let (sha256, name) = line.split_once(' ')?;
                Some((format!("{IMAGES_DIR}/{name}"), sha256.parse().ok()?))
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn debug_shows_the_files_sizes_never_their_text() {
        let state = K3sNodeState {
            binary_sha256: None,
            config: Some("token: hunter2\n".into()),
            registration: None,
            adopted: Some("agent-token: s3cret\n".into()),
            killall: None,
            registries_sha256: None,
            registries_by_pikube: false,
            server: ServiceFiles {
                unit: Some("ExecStart=/usr/local/bin/k3s server --token topsecret\n".into()),
                active: true,
                ..ServiceFiles::default()
            },
            agent: ServiceFiles::default(),
            ansible_agent: ServiceFiles::default(),
            links: BTreeMap::new(),
            server_token: None,
            etcd_data: false,
            agent_token: None,
            images: BTreeMap::new(),
        };
        let shown = format!("{state:?}");
        for secret in ["hunter2", "s3cret", "topsecret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(
            shown.contains("config: Some(<15 bytes>)") && shown.contains("active: true"),
            "{shown}"
        );
    }
    use super::*;

    #[test]
    fn the_script_runs_under_sh_without_k3s_and_parses() {
        // As an unprivileged user on a machine without k3s: everything absent, no error.
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(state_script())
            .output()
            .unwrap();
        let state = parse_state(&String::from_utf8_lossy(&output.stdout)).unwrap();
        assert_eq!(state.binary_sha256, None);
        assert_eq!(state.installed_service(), None);
        assert_eq!(state.links.len(), 3);
        assert!(state.server_token.is_none());
        assert!(state.images.is_empty());
    }

    #[test]
    fn both_services_come_from_one_systemctl_show() {
        let asked = format!(
            "systemctl show --property={} k3s k3s-agent k3s-node",
            pikube_pi::facts::UNIT_PROPERTIES
        );
        assert!(STATE_SCRIPT.contains(&asked));
        let transcript = "@@pikube-facts v1\n@@begin units\n\
                          |Id=k3s-agent.service\n|LoadState=loaded\n|ActiveState=failed\n\
                          |UnitFileState=enabled\n|\n\
                          |Id=k3s.service\n|LoadState=not-found\n|ActiveState=inactive\n\
                          |UnitFileState=\n@@end units eol=1 rc=0\n@@pikube-facts end\n";
        let state = parse_state(transcript).unwrap();
        assert!(state.agent.enabled && !state.agent.active);
        assert!(!state.server.enabled && !state.server.active);
    }

    #[test]
    fn k3s_ansibles_k3s_node_unit_is_read_as_an_installed_agent() {
        let transcript = "@@pikube-facts v1\n@@begin unit_k3s_node\n\
                          |ExecStart=/usr/local/bin/k3s agent\n@@end unit_k3s_node eol=1 rc=0\n\
                          @@begin units\n|Id=k3s-node.service\n|LoadState=loaded\n\
                          |ActiveState=active\n|UnitFileState=enabled\n\
                          @@end units eol=1 rc=0\n@@pikube-facts end\n";
        let state = parse_state(transcript).unwrap();
        assert!(!state.agent.is_installed());
        assert!(state.ansible_agent.is_installed() && state.ansible_agent.active);
        // In the cluster, not a blank card whose old Node pikube would delete.
        assert_eq!(state.installed_service(), Some(Service::Agent));
        assert!(STATE_SCRIPT.contains("for pk_svc in k3s k3s-agent k3s-node; do"));
    }

    /// The state script with the k3s binary and the sums cache at `binary` and `sums`,
    /// run by `shell`.
    fn binary_sum(shell: &str, binary: &std::path::Path, sums: &std::path::Path) -> Sha256 {
        let script = state_script()
            .replace(
                "pk_sha binary_sha256 /usr/local/bin/k3s\n",
                &format!("pk_sha binary_sha256 {}\n", binary.display()),
            )
            .replace(
                "pk_sums=/var/lib/pikube/sha256sums",
                &format!("pk_sums={}", sums.display()),
            );
        let output = std::process::Command::new(shell)
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        let state = parse_state(&String::from_utf8_lossy(&output.stdout)).unwrap();
        state.binary_sha256.expect("the binary's sum")
    }

    #[test]
    fn a_large_files_sum_is_kept_until_the_file_changes() {
        use std::os::unix::fs::PermissionsExt;
        for shell in ["sh", "bash"] {
            let dir = tempfile::tempdir().unwrap();
            let binary = dir.path().join("k3s");
            let sums = dir.path().join("pikube/sha256sums");
            std::fs::write(&binary, b"first binary").unwrap();

            // A miss: hashed, and kept in a directory only root (the owner) can enter.
            assert_eq!(
                binary_sum(shell, &binary, &sums),
                Sha256::of(b"first binary")
            );
            let kept = std::fs::read_to_string(&sums).unwrap();
            assert_eq!(kept.lines().count(), 1, "{kept}");
            let mode = std::fs::metadata(sums.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700, "{shell}");

            // A hit: the kept sum is what is reported, so the file was not read again.
            let planted = "f".repeat(64);
            let (_, key) = kept.trim_end().split_once(' ').unwrap();
            std::fs::write(&sums, format!("{planted} {key}\n")).unwrap();
            assert_eq!(
                binary_sum(shell, &binary, &sums).as_str(),
                planted,
                "{shell}"
            );

            // Rewritten in place at the same size: its change time moved, so hashed again.
            std::fs::write(&binary, b"other binary").unwrap();
            assert_eq!(
                binary_sum(shell, &binary, &sums),
                Sha256::of(b"other binary")
            );

            // Replaced by rename, as pikube and install.sh do: hashed again, and the old
            // entry of that path dropped.
            let new = dir.path().join("k3s.new");
            std::fs::write(&new, b"the third one, longer").unwrap();
            std::fs::rename(&new, &binary).unwrap();
            assert_eq!(
                binary_sum(shell, &binary, &sums),
                Sha256::of(b"the third one, longer")
            );
            let kept = std::fs::read_to_string(&sums).unwrap();
            assert_eq!(kept.lines().count(), 1, "{shell}: {kept}");
        }
    }
}
