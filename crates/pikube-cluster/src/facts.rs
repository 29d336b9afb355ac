//! Reading a node's facts: one script, one round trip.

use pikube_pi::{parse_facts, FactsError, NodeFacts, FACTS_SCRIPT};

use crate::ssh::{Connection, SshError};

#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error("{node}: could not read its facts: {source}")]
    Parse {
        node: String,
        #[source]
        source: FactsError,
    },
}

pub async fn gather_facts(connection: &Connection) -> Result<NodeFacts, GatherError> {
    let output = connection.run("gathering facts", FACTS_SCRIPT).await?;
    parse_facts(&output.stdout).map_err(|source| GatherError::Parse {
        node: connection.node().to_owned(),
        source,
    })
}
