//! `pikube`: one multi-call binary for the cluster tool and its workloads.

/// `println!`, `print!`, `eprintln!` and `eprint!` for everything pikube shows: much of it
/// comes from nodes, and control characters in it are written out, not sent to the
/// terminal (see `pikube_cluster::terminal_text`). JSON has none to change.
macro_rules! outln {
    ($($arg:tt)*) => {
        println!("{}", pikube_cluster::terminal_text::safe(&format!($($arg)*)))
    };
}
macro_rules! out {
    ($($arg:tt)*) => {
        print!("{}", pikube_cluster::terminal_text::safe(&format!($($arg)*)))
    };
}
macro_rules! errln {
    ($($arg:tt)*) => {
        eprintln!("{}", pikube_cluster::terminal_text::safe(&format!($($arg)*)))
    };
}
macro_rules! err {
    ($($arg:tt)*) => {
        eprint!("{}", pikube_cluster::terminal_text::safe(&format!($($arg)*)))
    };
}

mod cli;
mod commands;
mod error_report;
mod exit;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::exit::Outcome;

fn main() -> ExitCode {
    // Run by ssh as its askpass program during `pikube bootstrap`: answer and stop.
    if let Some(file) = std::env::var_os(pikube_cluster::bootstrap::ASKPASS_FILE_ENV) {
        return match pikube_cluster::bootstrap::answer_askpass(std::path::Path::new(&file)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(1),
        };
    }
    commands::take_secrets_from_env();
    let cli = match Cli::try_parse_from(cli::args_with_multicall_name(std::env::args_os())) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // Usage errors exit 1, never 2: `plan` keeps 2 for "changes pending".
            return match err.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(1),
            };
        }
    };
    match commands::run(cli) {
        Ok(outcome) => outcome.into(),
        Err(err) => {
            errln!("error: {}", error_report::describe(&err));
            Outcome::Failed.into()
        }
    }
}
