//! Asking before anything destructive.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::bail;

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
