use super::upload::upload;
use super::write_file::{write_file, write_secret_file};
use crate::plan::Change;
use crate::ssh::{Connection, SshError};

/// Carries out one planned change on a node.
pub(crate) async fn carry_out(connection: &Connection, change: &Change) -> Result<(), SshError> {
    match change {
        Change::File(file) => write_file(connection, file).await,
        Change::SecretFile(file) => write_secret_file(connection, file).await,
        Change::Upload(file) => upload(connection, file).await,
        Change::Command(command) => connection
            .run_privileged(&command.summary, &command.script, b"")
            .await
            .map(drop),
    }
}
