//! Where a native k3s install puts things (the same places as k3s' install.sh, so
//! that k3s' own documentation, and a node installed either way, stay valid).

/// Where the binary and the helper scripts go.
pub const BIN_DIR: &str = "/usr/local/bin";
/// The k3s binary.
pub const BINARY: &str = "/usr/local/bin/k3s";
/// k3s is a multi-call binary: these names run its bundled tools.
pub const LINKS: [&str; 3] = ["kubectl", "crictl", "ctr"];
/// Stops K3s and every container it runs (pikube's own script, install.sh's name).
pub const KILLALL: &str = "/usr/local/bin/k3s-killall.sh";
/// K3s' configuration directory.
pub const CONFIG_DIR: &str = "/etc/rancher/k3s";
/// The node's K3s configuration, as pikube renders it.
pub const CONFIG: &str = "/etc/rancher/k3s/config.yaml";
/// Node labels and taints: k3s applies the labels at every start and the taints when the
/// node registers; pikube updates the live node through the API, so a change here needs
/// no restart.
pub const REGISTRATION: &str = "/etc/rancher/k3s/config.yaml.d/90-pikube-registration.yaml";
/// The settings of an adopted install that cluster.toml does not make (`adoption.rs`):
/// read after config.yaml and before the registration drop-in.
pub const ADOPTED: &str = "/etc/rancher/k3s/config.yaml.d/10-pikube-adopted.yaml";
/// Registry mirrors and credentials (`--private-registry`'s default), read at start.
pub const REGISTRIES: &str = "/etc/rancher/k3s/registries.yaml";
/// The admin kubeconfig a server writes.
pub const KUBECONFIG: &str = "/etc/rancher/k3s/k3s.yaml";
/// The cluster token a server keeps.
pub const SERVER_TOKEN: &str = "/var/lib/rancher/k3s/server/token";
/// K3s imports every archive here when containerd starts (servers run an agent too).
pub const IMAGES_DIR: &str = "/var/lib/rancher/k3s/agent/images";
/// pikube's archive there: `pikube-airgap-images.tar.zst` and the like; other files in the
/// directory are the user's and left alone.
pub const IMAGES_FILE_STEM: &str = "pikube-airgap-images";
/// Where the units and their env files go.
pub const SYSTEMD_DIR: &str = "/etc/systemd/system";

/// The agent service older k3s-ansible playbooks install (`k3s-node.service`, running
/// `k3s agent`) instead of install.sh's `k3s-agent`. pikube never writes it: an adopted
/// node gets `k3s-agent` and this one is stopped and removed, so two agents never run.
pub const ANSIBLE_AGENT: &str = "k3s-node";

/// `ANSIBLE_AGENT`'s unit file.
pub fn ansible_agent_unit_path() -> String {
    format!("{SYSTEMD_DIR}/{ANSIBLE_AGENT}.service")
}

/// `ANSIBLE_AGENT`'s env file (some playbook versions write one).
pub fn ansible_agent_env_path() -> String {
    format!("{SYSTEMD_DIR}/{ANSIBLE_AGENT}.service.env")
}

/// The two services, as install.sh names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `k3s.service`, `k3s server`.
    Server,
    /// `k3s-agent.service`, `k3s agent`.
    Agent,
}

impl From<crate::config::Role> for Service {
    /// The service a node of that role runs.
    fn from(role: crate::config::Role) -> Service {
        match role {
            crate::config::Role::Server => Service::Server,
            crate::config::Role::Agent => Service::Agent,
        }
    }
}

impl Service {
    /// The unit's name without `.service`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Server => "k3s",
            Service::Agent => "k3s-agent",
        }
    }

    /// The k3s subcommand it runs.
    pub fn command(self) -> &'static str {
        match self {
            Service::Server => "server",
            Service::Agent => "agent",
        }
    }

    /// Its unit file.
    pub fn unit_path(self) -> String {
        format!("{SYSTEMD_DIR}/{}.service", self.name())
    }

    /// Its env file (the token: 0600).
    pub fn env_path(self) -> String {
        format!("{SYSTEMD_DIR}/{}.service.env", self.name())
    }

    /// Its uninstall script.
    pub fn uninstall_path(self) -> String {
        format!("{BIN_DIR}/{}-uninstall.sh", self.name())
    }

    /// The other one.
    pub fn other(self) -> Service {
        match self {
            Service::Server => Service::Agent,
            Service::Agent => Service::Server,
        }
    }
}
