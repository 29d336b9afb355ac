//! Carrying out a node's plan: changes in phase order, the reboot if one is due, then a
//! check of the effective state.

mod carry_out;
mod reboot;
mod upload;
mod write_file;

use std::time::Duration;

use pikube_pi::NodeFacts;

pub(crate) use carry_out::carry_out;
pub use reboot::RebootError;

use crate::facts::gather_facts;
use crate::node_error::NodeError;
use crate::plan::{plan_node, verify_node, DesiredNode, NodePlan};
use crate::progress::Progress;
use crate::ssh::{ClientConfig, Connection};

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// How long a node may take to come back from a reboot.
    pub reboot_timeout: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            reboot_timeout: Duration::from_secs(300),
        }
    }
}

/// What apply did to one node.
#[derive(Debug, Clone)]
pub struct NodeReport {
    pub plan: NodePlan,
    pub rebooted: bool,
    /// Facts read after the changes (and the reboot): the effective state.
    pub facts: NodeFacts,
}

/// Brings one node to its desired state, and hands back an open connection to it (a new
/// one after a reboot, without the sudo password: see [`Connection::use_sudo_password`]). Safe to run again at any point: every step
/// is planned from fresh facts, so a run killed half-way is finished by the next one.
pub async fn apply_node(
    connection: Connection,
    desired: &DesiredNode,
    client: &ClientConfig,
    options: &ApplyOptions,
    progress: &dyn Progress,
) -> Result<(NodeReport, Connection), NodeError> {
    let node = desired.name.as_str();
    let facts = gather_facts(&connection).await?;
    let plan = plan_node(desired, &facts)?;
    if plan.is_empty() {
        progress.node(node, "already prepared: no changes");
        return Ok((
            NodeReport {
                plan,
                rebooted: false,
                facts,
            },
            connection,
        ));
    }

    for planned in &plan.changes {
        progress.node(
            node,
            &format!("[{}] {}", planned.phase, planned.change.summary()),
        );
        carry_out(&connection, &planned.change).await?;
    }

    let (connection, rebooted) = if plan.needs_reboot() {
        progress.node(node, &format!("rebooting ({})", plan.reboot.join("; ")));
        let target = connection.target().clone();
        reboot::request_reboot(&connection).await?;
        connection.close().await;
        let connection =
            reboot::wait_for_new_boot(&target, client, &facts.boot_id, options.reboot_timeout)
                .await?;
        progress.node(node, "back with a new boot id");
        (connection, true)
    } else {
        (connection, false)
    };

    let facts = gather_facts(&connection).await?;
    let problems = verify_node(desired, &facts);
    if !problems.is_empty() {
        return Err(NodeError::Verify {
            node: node.to_owned(),
            problems,
        });
    }
    progress.node(node, "prepared and verified");
    Ok((
        NodeReport {
            plan,
            rebooted,
            facts,
        },
        connection,
    ))
}
