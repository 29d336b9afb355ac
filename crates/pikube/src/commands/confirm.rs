//! Asking before anything destructive.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::bail;

use crate::exit::Outcome;

/// The dry run or the question before `plan` is carried out: `Some(outcome)` when the
/// command ends here (the dry run was shown, or the answer was no), `None` to go on.
pub fn dry_run_or_confirm(plan: &str, dry_run: bool, yes: bool) -> anyhow::Result<Option<Outcome>> {
    if dry_run {
        outln!("Would {plan}.");
        return Ok(Some(Outcome::Success));
    }
    if !yes && !confirm(&format!("This will {plan}."))? {
        errln!("nothing done");
        return Ok(Some(Outcome::Failed));
    }
    Ok(None)
}

/// Asks on the terminal; without one, refuses (scripts say --yes).
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("{question} Refusing without confirmation: no terminal to ask on (use --yes)");
    }
    err!("{question} Type yes to go on: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
