//! The nodes of one cluster, worked on in parallel with a bound, each on its own
//! multiplexed connection. A node that fails never stops the others.

use futures::stream::{self, StreamExt};
use pikube_pi::NodeFacts;

use crate::apply::{apply_node, ApplyOptions, NodeReport};
use crate::facts::gather_facts;
use crate::node_error::NodeError;
use crate::plan::{plan_node, DesiredNode, NodePlan};
use crate::progress::Progress;
use crate::ssh::{ClientConfig, Connection, SshError, SshTarget, SudoPassword};

/// One node: how to reach it and what it should become.
#[derive(Debug, Clone)]
pub struct Member {
    pub target: SshTarget,
    pub desired: DesiredNode,
    pub role: String,
}

/// A result for one node, in cluster.toml order.
#[derive(Debug)]
pub struct NodeResult<T> {
    pub node: String,
    pub result: Result<T, NodeError>,
}

pub struct Fleet {
    client: ClientConfig,
    members: Vec<Member>,
    parallelism: usize,
}

impl Fleet {
    pub fn new(client: ClientConfig, members: Vec<Member>, parallelism: usize) -> Fleet {
        Fleet {
            client,
            members,
            parallelism: parallelism.max(1),
        }
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Facts of every node, read without root.
    pub async fn facts(&self, progress: &dyn Progress) -> Vec<NodeResult<NodeFacts>> {
        self.each(|member| async move {
            let connection = self.connect(member, progress).await?;
            let facts = gather_facts(&connection).await;
            connection.close().await;
            Ok(facts?)
        })
        .await
    }

    /// What apply would do, per node; nothing is changed.
    pub async fn plan(&self, progress: &dyn Progress) -> Vec<NodeResult<NodePlan>> {
        self.each(|member| async move {
            let connection = self.connect(member, progress).await?;
            let facts = gather_facts(&connection).await;
            connection.close().await;
            Ok(plan_node(&member.desired, &facts?)?)
        })
        .await
    }

    /// Prepares every node. `sudo_password` is asked at most once, and only when a node
    /// needs it.
    pub async fn apply(
        &self,
        options: &ApplyOptions,
        progress: &dyn Progress,
        sudo_password: &(dyn Fn() -> Option<SudoPassword> + Sync),
    ) -> Vec<NodeResult<NodeReport>> {
        let connections = self
            .each(|member| async move { Ok(self.connect(member, progress).await?) })
            .await;
        let password = if connections
            .iter()
            .any(|c| c.result.as_ref().is_ok_and(Connection::needs_sudo_password))
        {
            sudo_password()
        } else {
            None
        };

        let work = self
            .members
            .iter()
            .zip(connections)
            .map(|(member, connected)| {
                let password = password.clone();
                async move {
                    let result = async {
                        let mut connection = connected.result?;
                        if connection.needs_sudo_password() {
                            match &password {
                                Some(password) => connection.use_sudo_password(password).await?,
                                None => {
                                    return Err(SshError::SudoPasswordNeeded {
                                        node: member.desired.name.clone(),
                                        user: connection.login_user().to_owned(),
                                    }
                                    .into())
                                }
                            }
                        }
                        apply_node(connection, &member.desired, &self.client, options, progress)
                            .await
                    }
                    .await;
                    if let Err(err) = &result {
                        progress.node(&member.desired.name, &format!("FAILED: {err}"));
                    }
                    NodeResult {
                        node: member.desired.name.clone(),
                        result,
                    }
                }
            });
        stream::iter(work)
            .buffered(self.parallelism)
            .collect()
            .await
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
