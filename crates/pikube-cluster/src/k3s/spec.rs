//! The k3s part of cluster.toml, in the plain terms the install stage works with.

use super::paths::Service;
use super::render::{S3Credentials, ServerEnv, ServerOptions};
use crate::config::{
    DatastoreEndpoint, ExternalDatastore, K3sVersion, NodeName, SecretsEncryption,
};

/// What the K3s phases install: cluster.toml's K3s settings and nodes.
#[derive(Clone)]
pub struct K3sSpec {
    /// The cluster's name.
    pub cluster: String,
    /// The K3s version.
    pub version: K3sVersion,
    /// A VIP or DNS name for the API (host only).
    pub api_endpoint: Option<String>,
    /// Server-wide settings.
    pub server: ServerOptions,
    /// cluster.toml's secrets encryption; what the servers get is decided with the
    /// topology, from the servers' state too.
    pub secrets_encryption: SecretsEncryption,
    /// Extra kubelet flags, `name=value`.
    pub kubelet_args: Vec<String>,
    /// An external datastore; its endpoint is secret (it may hold a database password)
    /// and goes to the env file only.
    pub datastore: Option<ExternalDatastore>,
    /// `[backup.s3]`'s keys, once looked up (secret): servers' env files only.
    pub s3_credentials: Option<S3Credentials>,
    /// In file order.
    pub nodes: Vec<K3sMemberSpec>,
    /// registries.yaml, rendered with its passwords once they are looked up (secret);
    /// `None`: pikube does not manage it.
    pub registries: Option<String>,
    /// The registry CAs registries.yaml names, written with it.
    pub registry_cas: Vec<super::RegistryCaFile>,
}

/// One node as the K3s phases see it.
#[derive(Debug, Clone)]
pub struct K3sMemberSpec {
    /// Its name.
    pub name: NodeName,
    /// Where it is reached (and, unless another IP was used, where others join it).
    pub address: String,
    /// Server or agent.
    pub service: Service,
    /// Its labels (cluster.toml's; the automatic ones come from its facts).
    pub labels: Vec<(String, String)>,
    /// Its taints, `key=value:Effect`.
    pub taints: Vec<String>,
    /// Its static address: K3s' node-ip, so that K3s follows a move to it rather than
    /// keep the IP it detected at its start.
    pub node_ip: Option<std::net::IpAddr>,
    /// cluster.toml's `adopt = true`: take over a K3s another tool installed here.
    pub adopt: bool,
}

/// The datastore endpoint may hold a database password: never in debug output.
impl std::fmt::Debug for K3sSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("K3sSpec")
            .field("cluster", &self.cluster)
            .field("version", &self.version)
            .field("api_endpoint", &self.api_endpoint)
            .field("server", &self.server)
            .field("kubelet_args", &self.kubelet_args)
            .field(
                "datastore",
                &self.datastore.as_ref().map(|d| match d {
                    ExternalDatastore::Endpoint(_) => "<redacted>".to_owned(),
                    ExternalDatastore::InSecret(key) => format!("in secret {key}"),
                }),
            )
            .field("nodes", &self.nodes)
            .field("s3_credentials", &self.s3_credentials)
            .field(
                "registries",
                &self.registries.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl K3sSpec {
    /// What a server's env file holds beyond its token.
    pub fn server_env<'a>(&'a self, agent_token: &'a str) -> ServerEnv<'a> {
        ServerEnv {
            agent_token,
            datastore_endpoint: self
                .datastore
                .as_ref()
                .and_then(ExternalDatastore::endpoint)
                .map(DatastoreEndpoint::expose),
            s3: self.s3_credentials.as_ref(),
        }
    }

    /// The node named `name`.
    pub fn member(&self, name: &str) -> Option<&K3sMemberSpec> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

impl K3sSpec {
    /// From a loaded cluster.toml.
    pub fn from_config(config: &crate::config::ClusterConfig) -> K3sSpec {
        let k3s = &config.k3s;
        let mut tls_san: Vec<String> = k3s.api_endpoint.iter().map(ToString::to_string).collect();
        for san in &k3s.tls_san {
            let san = san.to_string();
            if !tls_san.contains(&san) {
                tls_san.push(san);
            }
        }
        K3sSpec {
            cluster: config.name.to_string(),
            version: k3s.version,
            api_endpoint: k3s.api_endpoint.as_ref().map(ToString::to_string),
            server: ServerOptions {
                tls_san,
                disable: k3s.disable.iter().map(ToString::to_string).collect(),
                etcd_metrics: config.addons.monitoring.is_some() && !k3s.external_datastore(),
                backup: config.backup.clone(),
            },
            secrets_encryption: k3s.secrets_encryption,
            kubelet_args: k3s.kubelet_args.iter().map(ToString::to_string).collect(),
            datastore: k3s.datastore.clone(),
            nodes: config
                .nodes
                .iter()
                .map(|node| K3sMemberSpec {
                    name: node.name.clone(),
                    address: node.address.to_string(),
                    service: Service::from(node.role),
                    labels: node
                        .labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    taints: node.taints.iter().map(ToString::to_string).collect(),
                    node_ip: node.static_address.map(|address| address.ip),
                    adopt: node.adopt,
                })
                .collect(),
            registries: None,
            registry_cas: Vec::new(),
            s3_credentials: None,
        }
    }
}
