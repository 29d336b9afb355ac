//! Reading a node's facts: one script, one round trip.

use std::time::{SystemTime, UNIX_EPOCH};

use pikube_pi::{parse_facts, FactsError, NodeFacts, FACTS_SCRIPT};

use crate::config::NodeName;
use crate::ssh::{Connection, SshError};

/// Why a node's facts could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    /// The script could not be run.
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// What it printed is not the script's format (a login banner on stdout, a cut-off run).
    #[error("{node}: could not read its facts: {causes}", causes = crate::error_chain::describe(cause))]
    Parse {
        /// The node.
        node: NodeName,
        /// What is wrong with the output.
        cause: FactsError,
    },
}

/// Runs the facts script on the node (without root) and reads what it printed; the clock
/// offset is measured on the way.
pub async fn gather_facts(connection: &Connection) -> Result<NodeFacts, GatherError> {
    let sent = SystemTime::now();
    let output = connection.run("gathering facts", FACTS_SCRIPT).await?;
    let mut facts = parse_facts(&output.stdout).map_err(|cause| GatherError::Parse {
        node: connection.node().to_owned(),
        cause,
    })?;
    // The script reads the clock first thing: the node's time then, less ours when we sent
    // it, is its offset plus the time ssh takes to start a command (milliseconds).
    if let (Some(node), Ok(ours)) = (facts.clock_epoch_secs, sent.duration_since(UNIX_EPOCH)) {
        facts.clock_offset_secs = Some(node - ours.as_secs_f64());
    }
    Ok(facts)
}

/// Facts from a transcript of the facts script holding just `sections` (name, content),
/// for tests that decide from a few facts.
#[cfg(test)]
pub(crate) fn from_sections(sections: &[(&str, &str)]) -> pikube_pi::NodeFacts {
    let mut transcript = String::from("@@pikube-facts v1\n");
    for (name, text) in sections {
        transcript.push_str(&format!("@@begin {name}\n"));
        for line in text.lines() {
            transcript.push_str(&format!("|{line}\n"));
        }
        transcript.push_str(&format!("@@end {name} eol=1 rc=0\n"));
    }
    transcript.push_str("@@pikube-facts end\n");
    pikube_pi::parse_facts(&transcript).expect("a transcript of the facts script")
}
