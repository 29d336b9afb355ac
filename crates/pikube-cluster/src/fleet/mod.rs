//! The nodes of one cluster, worked on in parallel with a bound, each on its own
//! multiplexed connection. A node that fails never stops the others.

mod from_config;

pub use from_config::{record_of, SshClientError};

use futures::stream::{self, StreamExt};
use pikube_pi::NodeFacts;

use crate::config::{NodeName, Role};
use crate::facts::gather_facts;
use crate::node_error::NodeError;
use crate::plan::DesiredNode;
use crate::progress::Progress;
use crate::ssh::{known_hosts, ClientConfig, Connection, SshError, SshTarget, SudoPassword};

/// One node: how to reach it and what it should become.
#[derive(Debug, Clone)]
pub struct Member {
    /// How to reach it.
    pub target: SshTarget,
    /// What its preparation should leave (its hostname).
    pub desired: DesiredNode,
    /// Server or agent.
    pub role: Role,
}

/// A result for one node, in cluster.toml order.
#[derive(Debug)]
pub struct NodeResult<T, E = NodeError> {
    /// The node, by its cluster.toml name.
    pub node: NodeName,
    /// What became of it.
    pub result: Result<T, E>,
}

/// Every node of a cluster, reached with one SSH configuration, a bounded number at once.
pub struct Fleet {
    /// Shared with whatever outlives a borrow of the fleet (the cluster lock's refresh).
    client: std::sync::Arc<ClientConfig>,
    members: Vec<Member>,
    parallelism: usize,
}

impl Fleet {
    /// `members` reached with `client`, at most `parallelism` at once (at least one).
    pub fn new(client: ClientConfig, members: Vec<Member>, parallelism: usize) -> Fleet {
        Fleet {
            client: std::sync::Arc::new(client),
            members,
            parallelism: parallelism.max(1),
        }
    }

    /// The nodes, in cluster.toml order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Facts of every node, read without root.
    pub async fn facts(&self, progress: &dyn Progress) -> Vec<NodeResult<NodeFacts>> {
        let known_before = known_hosts::snapshot(self.client.known_hosts());
        let facts = self
            .each(|member| async move {
                let connection = self.connect(member, progress).await?;
                let facts = gather_facts(&connection).await;
                connection.close().await;
                Ok(facts?)
            })
            .await;
        self.tell_pinned(&known_before, progress);
        facts
    }

    /// Connects to every node to run commands as root, as the pipeline does: a node's sudo
    /// password (`sudo_password(node)`, which asks at most once) is wanted only when that
    /// node's sudo needs one. With `required` false, a node whose sudo wants a password
    /// nobody gave is still connected: only its root commands fail.
    pub async fn connect_all(
        &self,
        progress: &dyn Progress,
        sudo_password: &(dyn Fn(&str) -> Option<SudoPassword> + Sync),
        required: bool,
    ) -> Vec<NodeResult<Connection>> {
        self.connect_privileged_with(progress, sudo_password, required)
            .await
    }

    /// The SSH settings every connection of this fleet uses.
    pub fn client(&self) -> &ClientConfig {
        &self.client
    }

    /// The same settings, for a task that outlives this borrow.
    pub fn shared_client(&self) -> std::sync::Arc<ClientConfig> {
        self.client.clone()
    }

    /// Connects to every node so that it can run commands as root: directly, with
    /// passwordless sudo, or with the node's sudo password.
    pub async fn connect_privileged(
        &self,
        progress: &dyn Progress,
        sudo_password: &(dyn Fn(&str) -> Option<SudoPassword> + Sync),
    ) -> Vec<NodeResult<Connection>> {
        self.connect_privileged_with(progress, sudo_password, true)
            .await
    }

    async fn connect_privileged_with(
        &self,
        progress: &dyn Progress,
        sudo_password: &(dyn Fn(&str) -> Option<SudoPassword> + Sync),
        required: bool,
    ) -> Vec<NodeResult<Connection>> {
        let known_before = known_hosts::snapshot(self.client.known_hosts());
        let connections = self
            .each(|member| async move { Ok(self.connect(member, progress).await?) })
            .await;
        self.tell_pinned(&known_before, progress);
        let work = connections.into_iter().map(|connected| async move {
            let node = connected.node.clone();
            let result = match connected.result {
                Ok(connection) => with_root(connection, &node, sudo_password, required).await,
                Err(err) => Err(err),
            };
            if let Err(err) = &result {
                progress.node(&node, &format!("FAILED: {err}"));
            }
            NodeResult { node, result }
        });
        stream::iter(work)
            .buffered(self.parallelism)
            .collect()
            .await
    }

    /// Connects to `node` at `address` instead of its own, as [`Fleet::connect_all`] does
    /// (a node found where it was last recorded, before the run moves it to its address
    /// in cluster.toml). `None` when `node` is not in this fleet.
    pub async fn connect_at(
        &self,
        node: &str,
        address: &str,
        progress: &dyn Progress,
        sudo_password: &(dyn Fn(&str) -> Option<SudoPassword> + Sync),
        required: bool,
    ) -> Option<Result<Connection, NodeError>> {
        let member = self.members.iter().find(|m| m.desired.name == node)?;
        let moved = Member {
            target: SshTarget {
                address: address.to_owned(),
                ..member.target.clone()
            },
            ..member.clone()
        };
        let known_before = known_hosts::snapshot(self.client.known_hosts());
        let result = match self.connect(&moved, progress).await {
            Ok(connection) => {
                with_root(connection, &member.target.node, sudo_password, required).await
            }
            Err(err) => Err(err.into()),
        };
        self.tell_pinned(&known_before, progress);
        Some(result)
    }

    async fn connect(
        &self,
        member: &Member,
        progress: &dyn Progress,
    ) -> Result<Connection, SshError> {
        let connection = Connection::open(&member.target, &self.client).await;
        match &connection {
            Ok(c) => progress.node(
                &member.desired.name,
                &format!("connected as {}", c.login_user()),
            ),
            Err(err) => progress.node(&member.desired.name, &format!("FAILED: {err}")),
        }
        connection
    }

    /// Names each host key pinned since `before` (first contacts) with its fingerprint, so
    /// that it can be compared with the node's own.
    fn tell_pinned(&self, before: &std::collections::BTreeSet<String>, progress: &dyn Progress) {
        let file = self.client.known_hosts().display();
        for key in known_hosts::pinned_since(self.client.known_hosts(), before) {
            let member = self
                .members
                .iter()
                .find(|m| key.is_for(&m.target.address, m.target.port.unwrap_or(22)));
            let said = format!(
                "first contact: pinned the {} host key {} in {file}; compare it with \
                 `ssh-keygen -lf` of the key in /etc/ssh on the node's own console",
                key.key_type, key.fingerprint
            );
            let who = member.map_or(key.hosts.as_str(), |m| m.desired.name.as_str());
            progress.notice(&format!("{who}: {said}"));
        }
    }

    /// Runs `work` for every member, at most `parallelism` at once, keeping file order.
    async fn each<'a, T, F, Fut>(&'a self, work: F) -> Vec<NodeResult<T>>
    where
        F: Fn(&'a Member) -> Fut,
        Fut: std::future::Future<Output = Result<T, NodeError>> + 'a,
    {
        stream::iter(self.members.iter().map(|member| {
            let fut = work(member);
            async move {
                NodeResult {
                    node: member.desired.name.clone(),
                    result: fut.await,
                }
            }
        }))
        .buffered(self.parallelism)
        .collect()
        .await
    }
}

/// `connection`, able to run as root: with the node's sudo password when its sudo wants
/// one (asked at most once); without it only when not `required`.
async fn with_root(
    mut connection: Connection,
    node: &NodeName,
    sudo_password: &(dyn Fn(&str) -> Option<SudoPassword> + Sync),
    required: bool,
) -> Result<Connection, NodeError> {
    if connection.needs_sudo_password() {
        match sudo_password(node) {
            Some(password) => connection.use_sudo_password(&password).await?,
            None if !required => {}
            None => {
                return Err(SshError::SudoPasswordNeeded {
                    node: node.clone(),
                    user: connection.login_user().to_owned(),
                }
                .into())
            }
        }
    }
    Ok(connection)
}
