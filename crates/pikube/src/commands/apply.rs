use pikube_cluster::apply::ApplyOptions;
use pikube_cluster::progress::{Progress, SilentProgress, StderrProgress};

use crate::cli::ApplyArgs;
use crate::commands::cluster::{fleet, load_config};
use crate::commands::runtime;
use crate::commands::sudo_prompt::sudo_password;
use crate::exit::Outcome;

pub fn run(args: &ApplyArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    let fleet = fleet(&config)?;
    let options = ApplyOptions {
        reboot_timeout: args.reboot_timeout,
    };
    let progress: Box<dyn Progress> = if args.quiet {
        Box::new(SilentProgress)
    } else {
        Box::new(StderrProgress::new())
    };
    progress.step(&format!(
        "preparing {} node{} of cluster {}",
        fleet.members().len(),
        if fleet.members().len() == 1 { "" } else { "s" },
        config.name
    ));
    let results = runtime()?.block_on(fleet.apply(&options, progress.as_ref(), &sudo_password));

    let mut failed = 0;
    let mut changed = 0;
    let mut rebooted = 0;
    for result in &results {
        match &result.result {
            Ok(report) => {
                let what = if report.plan.is_empty() {
                    "unchanged".to_owned()
                } else {
                    changed += 1;
                    format!(
                        "{} change{}{}",
                        report.plan.changes.len(),
                        if report.plan.changes.len() == 1 {
                            ""
                        } else {
                            "s"
                        },
                        if report.rebooted { ", rebooted" } else { "" }
                    )
                };
                if report.rebooted {
                    rebooted += 1;
                }
                println!("ok      {}: {what}", result.node);
            }
            Err(err) => {
                failed += 1;
                println!("FAILED  {err}");
            }
        }
    }
    println!(
        "Apply: {changed} changed ({rebooted} rebooted), {} unchanged, {failed} failed.",
        results.len() - changed - failed
    );
    Ok(if failed > 0 {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}
