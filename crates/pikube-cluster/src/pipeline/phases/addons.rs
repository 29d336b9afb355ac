//! The add-ons of cluster.toml on every server still in the run: their files written to
//! the manifests folder, where K3s applies them (see `addons`). An add-on pikube installed
//! and cluster.toml no longer turns on is taken out: its objects deleted through the API,
//! then its files removed, server by server. A plan shows each file's diff (a secret file
//! only by name).

use std::collections::BTreeSet;

use crate::addons::{addon_of, monitoring_files, read_server_files, AddonFile, ServerFile};
use crate::apply::carry_out;
use crate::config::NodeName;
use crate::pipeline::{Mode, NodeOutcome, PhaseReport, PipelineError, Run};
use crate::plan::{Change, ChangeArea, NodePlan, PlannedChange};
use crate::ssh::shell_quote;

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) -> Result<(), PipelineError> {
    let servers: Vec<NodeName> = run.servers_up().iter().map(|n| n.name.clone()).collect();
    if servers.is_empty() {
        return Ok(());
    }
    let desired = match desired_files(run) {
        Ok(files) => files,
        Err(problem) => {
            // Without it an add-on would be half-installed: its other files are not written.
            report.errors.push(problem.clone());
            for server in &servers {
                run.fail(report, server, format!("{server}: add-ons: {problem}"));
            }
            return Ok(());
        }
    };
    for server in servers {
        let Some(node) = run.nodes.iter().find(|n| n.name == server) else {
            continue;
        };
        let connection = &node.connection;
        let current = match read_server_files(connection, |name, sha| {
            desired
                .iter()
                .any(|f| f.name == name && f.secret.is_none() && f.sha256() != *sha)
        })
        .await
        {
            Ok(current) => current,
            Err(err) => {
                let message = format!("{server}: add-ons: {}", crate::error_chain::describe(&err));
                run.fail(report, &server, message);
                continue;
            }
        };
        let changes = changes(&desired, &current);
        if changes.is_empty() {
            continue;
        }
        let summaries: Vec<String> = changes.iter().map(Change::summary).collect();
        let outcome = |verb: &str| NodeOutcome::Changed {
            summary: format!("add-ons: {} {verb}", describe(&changes)),
            changes: summaries.clone(),
        };
        match run.mode {
            Mode::Plan => {
                report.push(&server, outcome("to change"));
                let plan = run.plans.entry(server.clone()).or_insert_with(|| NodePlan {
                    node: server.clone(),
                    changes: Vec::new(),
                    reboot: Vec::new(),
                });
                plan.changes
                    .extend(changes.into_iter().map(|change| PlannedChange {
                        phase: ChangeArea::Addons,
                        change,
                    }));
            }
            Mode::Apply => {
                run.progress.node(&server, "add-ons: writing the manifests");
                let mut failure = None;
                for change in &changes {
                    if let Err(err) = carry_out(connection, change).await {
                        failure = Some(format!(
                            "{server}: add-ons: {}: {}",
                            change.summary(),
                            crate::error_chain::describe(&err)
                        ));
                        break;
                    }
                }
                match failure {
                    Some(error) => run.fail(report, &server, error),
                    None => report.push(&server, outcome("changed")),
                }
            }
        }
    }
    Ok(())
}

/// Every file the add-ons cluster.toml turns on should put on each server.
fn desired_files(run: &Run<'_>) -> Result<Vec<AddonFile>, String> {
    let mut files = Vec::new();
    if let Some(monitoring) = &run.config.addons.monitoring {
        let password = match &monitoring.grafana_password_secret {
            Some(key) => (run.secret)(key).ok_or_else(|| {
                format!(
                    "addons.monitoring.grafana_password_secret names {key}, which the secrets \
                     beside cluster.toml do not hold: add it with `pikube secrets set {key}`"
                )
            })?,
            None => {
                let stored = match run.mode {
                    Mode::Plan => run.local.existing_grafana_password(),
                    Mode::Apply => run.local.grafana_password().map(Some),
                }
                .map_err(|err| err.to_string())?;
                // A plan before the first apply: the file is new either way.
                stored.map(|p| p.expose().to_owned()).unwrap_or_default()
            }
        };
        files.extend(monitoring_files(monitoring, &password));
    }
    Ok(files)
}

/// What brings a server from `current` to `desired`: each file written where it differs,
/// and for each add-on no longer wanted, its objects deleted and its files removed.
fn changes(desired: &[AddonFile], current: &[ServerFile]) -> Vec<Change> {
    let mut changes: Vec<Change> = desired
        .iter()
        .filter_map(|file| file.change(current.iter().find(|c| c.name == file.name)))
        .collect();
    let unwanted: BTreeSet<&str> = current
        .iter()
        .filter_map(|c| addon_of(&c.name))
        .filter(|addon| !desired.iter().any(|f| f.addon == *addon))
        .collect();
    for addon in unwanted {
        let mut files: Vec<&ServerFile> = current
            .iter()
            .filter(|c| addon_of(&c.name) == Some(addon))
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        changes.push(remove_addon(addon, &files));
    }
    changes
}

/// K3s leaves what a manifest made when the file goes, so the objects are deleted first
/// (through this server's API, from the files themselves); then the files, and K3s' own
/// record of each (its `AddOn`, which would otherwise skip a later, identical file).
fn remove_addon(addon: &str, files: &[&ServerFile]) -> Change {
    let mut script = String::from("set -e\n");
    for file in files {
        let path = shell_quote(&format!("{}/{}", crate::addons::MANIFESTS_DIR, file.name));
        script.push_str(&format!(
            "/usr/local/bin/k3s kubectl delete --ignore-not-found --wait=false -f {path}\n"
        ));
    }
    for file in files {
        let path = shell_quote(&format!("{}/{}", crate::addons::MANIFESTS_DIR, file.name));
        let record = shell_quote(file.name.trim_end_matches(".yaml"));
        script.push_str(&format!(
            "rm -f {path}\n\
             if /usr/local/bin/k3s kubectl api-resources --api-group=k3s.cattle.io -o name \
             2>/dev/null | grep -qx addons.k3s.cattle.io; then\n\
             \x20 /usr/local/bin/k3s kubectl delete -n kube-system addons.k3s.cattle.io {record} \
             --ignore-not-found\n\
             fi\n"
        ));
    }
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    Change::command(
        format!(
            "remove the {addon} add-on: delete its objects, then {}",
            names.join(" and ")
        ),
        script,
    )
}

/// "2 files", "1 file, 1 add-on removed".
fn describe(changes: &[Change]) -> String {
    let removed = changes
        .iter()
        .filter(|c| matches!(c, Change::Command(_)))
        .count();
    let written = changes.len() - removed;
    let mut parts = Vec::new();
    if written > 0 {
        parts.push(format!(
            "{written} file{}",
            if written == 1 { "" } else { "s" }
        ));
    }
    if removed > 0 {
        parts.push(format!(
            "{removed} add-on{} removed",
            if removed == 1 { "" } else { "s" }
        ));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MonitoringAddon;

    fn monitoring(password: &str) -> Vec<AddonFile> {
        let settings = MonitoringAddon {
            retention: "15d".parse().unwrap(),
            storage: "8Gi".parse().unwrap(),
            grafana_password_secret: None,
        };
        monitoring_files(&settings, password)
    }

    fn on_server(file: &AddonFile) -> ServerFile {
        ServerFile {
            name: file.name.clone(),
            sha256: file.sha256(),
            content: None,
        }
    }

    #[test]
    fn nothing_changes_where_the_files_are_already_there() {
        let desired = monitoring("pw");
        let current: Vec<ServerFile> = desired.iter().map(on_server).collect();
        assert!(changes(&desired, &current).is_empty());
    }

    #[test]
    fn a_new_addon_writes_both_files_the_secret_hidden() {
        let changes = changes(&monitoring("pw"), &[]);
        let summaries: Vec<String> = changes.iter().map(Change::summary).collect();
        assert_eq!(
            summaries,
            [
                "create /var/lib/rancher/k3s/server/manifests/pikube-monitoring.yaml",
                "create /var/lib/rancher/k3s/server/manifests/pikube-monitoring-secret.yaml \
                 (contents hidden: Grafana's admin password)",
            ]
        );
        assert!(matches!(&changes[0], Change::File(f) if f.mode == 0o600 && f.owned));
        assert_eq!(describe(&changes), "2 files");
    }

    #[test]
    fn a_changed_password_rewrites_only_the_secret_file() {
        let current: Vec<ServerFile> = monitoring("old").iter().map(on_server).collect();
        let changes = changes(&monitoring("new"), &current);
        assert_eq!(changes.len(), 1);
        assert!(matches!(&changes[0], Change::SecretFile(f) if f.exists));
    }

    #[test]
    fn an_addon_turned_off_is_deleted_then_its_files_removed() {
        let current: Vec<ServerFile> = monitoring("pw").iter().map(on_server).collect();
        let changes = changes(&[], &current);
        assert_eq!(changes.len(), 1);
        let Change::Command(command) = &changes[0] else {
            panic!("{changes:?}");
        };
        assert_eq!(
            command.summary,
            "remove the monitoring add-on: delete its objects, then \
             pikube-monitoring-secret.yaml and pikube-monitoring.yaml"
        );
        let delete = command
            .script
            .find("kubectl delete --ignore-not-found")
            .unwrap();
        let remove = command.script.find("rm -f").unwrap();
        assert!(delete < remove, "{}", command.script);
        assert_eq!(describe(&changes), "1 add-on removed");
    }
}
