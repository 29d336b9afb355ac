//! The k3s binary for every architecture among the nodes still in the run: a local file
//! from `[k3s.binary]`, or the official release, cached and checksum-verified (downloaded
//! now if need be). Without it no node gets K3s, so a failure here fails every node.

use std::collections::BTreeSet;

use crate::config::Arch;
use crate::error_chain::describe;
use crate::k3s::resolve_binaries;
use crate::k3s_release::{default_cache_dir, ReleaseSource};
use crate::pipeline::{PhaseReport, Run};

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) {
    // A node whose machine no K3s build runs on is the k3s phase's to fail, saying so.
    let arches: BTreeSet<Arch> = run
        .nodes
        .iter()
        .filter(|n| run.is_up(&n.name))
        .filter_map(|n| Arch::of_machine(&n.facts.arch))
        .collect();
    if arches.is_empty() {
        return;
    }
    let cache = default_cache_dir().unwrap_or_else(|| run.local.dir().join("cache"));
    let progress = run.progress;
    let say = |line: &str| progress.step(line);
    match resolve_binaries(
        run.config,
        &arches,
        &ReleaseSource::from_env(),
        &cache,
        &say,
    )
    .await
    {
        Ok(binaries) => run.binaries = Some(binaries),
        Err(err) => {
            let why = describe(&err);
            run.fail_all_up(report, |node| {
                format!("{node}: getting the k3s binary: {why}")
            });
        }
    }
}
