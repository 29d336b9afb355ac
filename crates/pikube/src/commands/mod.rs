//! One file per subcommand.

mod admin_access;
mod apply;
mod backup;
mod bootstrap;
mod check;
mod cluster;
mod confirm;
mod demo;
mod doctor;
mod env_secrets;
mod exec;
mod firstboot;
mod images;
mod init;
mod kubeconfig;
mod local_state;
mod os_upgrade;
mod plan;
mod reset;
mod restore;
mod secrets;
mod serve;
mod shutdown;
mod ssh;
mod status;
mod sudo_prompt;

pub use env_secrets::take_secrets_from_env;

use crate::cli::{Cli, Command};
use crate::exit::Outcome;

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Init(args) => init::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::Images(args) => images::run(&args),
        Command::Apply(args) => apply::run(&args),
        Command::Kubeconfig(args) => kubeconfig::run(&args),
        Command::Reset(args) => reset::run(&args),
        Command::Shutdown(args) => shutdown::run(&args),
        Command::Exec(args) => exec::run(&args),
        Command::Ssh(args) => ssh::run(&args),
        Command::Bootstrap(args) => bootstrap::run(&args),
        Command::Firstboot(args) => firstboot::run(&args),
        Command::Secrets(command) => secrets::run(&command),
        Command::Restore(args) => restore::run(&args),
        Command::OsUpgrade(args) => os_upgrade::run(&args),
        Command::Backup(args) => backup::run(&args),
        Command::Serve(workload) => serve::run(&workload),
        Command::Demo(args) => demo::run(&args),
    }
}

/// The async runtime for commands that talk to nodes. SSH work is I/O bound: two worker
/// threads keep up with hundreds of connections.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
