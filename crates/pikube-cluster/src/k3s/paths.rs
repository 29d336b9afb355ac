//! Where a native k3s install puts things (the same places as k3s' install.sh, so
//! that k3s' own documentation, and a node installed either way, stay valid).

pub const BIN_DIR: &str = "/usr/local/bin";
pub const BINARY: &str = "/usr/local/bin/k3s";
/// k3s is a multi-call binary: these names run its bundled tools.
pub const LINKS: [&str; 3] = ["kubectl", "crictl", "ctr"];
pub const KILLALL: &str = "/usr/local/bin/k3s-killall.sh";
pub const CONFIG_DIR: &str = "/etc/rancher/k3s";
pub const CONFIG: &str = "/etc/rancher/k3s/config.yaml";
/// Node labels and taints: k3s applies the labels at every start and the taints when the
/// node registers; pikube updates the live node through the API, so a change here needs
/// no restart.
pub const REGISTRATION: &str = "/etc/rancher/k3s/config.yaml.d/90-pikube-registration.yaml";
/// Registry mirrors and credentials (`--private-registry`'s default), read at start.
pub const REGISTRIES: &str = "/etc/rancher/k3s/registries.yaml";
pub const KUBECONFIG: &str = "/etc/rancher/k3s/k3s.yaml";
pub const SERVER_TOKEN: &str = "/var/lib/rancher/k3s/server/token";
/// K3s imports every archive here when containerd starts (servers run an agent too).
pub const IMAGES_DIR: &str = "/var/lib/rancher/k3s/agent/images";
/// pikube's archive there: `pikube-airgap-images.tar.zst` and the like; other files in the
/// directory are the user's and left alone.
pub const IMAGES_FILE_STEM: &str = "pikube-airgap-images";
pub const SYSTEMD_DIR: &str = "/etc/systemd/system";

/// The two services, as install.sh names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Server,
    Agent,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Server => "k3s",
            Service::Agent => "k3s-agent",
        }
    }

    pub fn command(self) -> &'static str {
        match self {
            Service::Server => "server",
            Service::Agent => "agent",
        }
    }

    pub fn unit_path(self) -> String {
        format!("{SYSTEMD_DIR}/{}.service", self.name())
    }

    pub fn env_path(self) -> String {
        format!("{SYSTEMD_DIR}/{}.service.env", self.name())
    }

    pub fn uninstall_path(self) -> String {
        format!("{BIN_DIR}/{}-uninstall.sh", self.name())
    }

    pub fn other(self) -> Service {
        match self {
            Service::Server => Service::Agent,
            Service::Agent => Service::Server,
        }
    }
}
