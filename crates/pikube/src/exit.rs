use std::process::ExitCode;

/// How a command ended, as the exit code scripts read (Terraform's `-detailed-exitcode`
/// convention for plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: done, or nothing to change.
    Success,
    /// 1: something failed (every failure is printed).
    Failed,
    /// 2: `plan` found changes to make.
    ChangesPending,
    /// 2: `doctor` found only warnings.
    Warnings,
    /// The exit status of a command pikube ran for the user (`pikube ssh`), passed on.
    PassedOn(u8),
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> ExitCode {
        match outcome {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Failed => ExitCode::from(1),
            Outcome::ChangesPending | Outcome::Warnings => ExitCode::from(2),
            Outcome::PassedOn(code) => ExitCode::from(code),
        }
    }
}
