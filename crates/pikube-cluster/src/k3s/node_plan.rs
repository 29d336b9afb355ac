//! What k3s install would change on one node: files, the binary, links, and whether the
//! service must (re)start. Planned from the node's k3s state only, so a run killed at any
//! point is finished by the next one.

use sha2::{Digest, Sha256};

use super::desired::DesiredK3s;
use super::paths::{self, Service, BINARY, CONFIG, KILLALL, REGISTRATION};
use super::render::{unit_file, uninstall_script, KILLALL_SCRIPT};
use super::state::K3sNodeState;
use crate::plan::{Change, SecretFileChange, UploadChange};

/// The k3s part of a node's plan.
#[derive(Debug, Clone, Default)]
pub struct K3sNodePlan {
    pub changes: Vec<Change>,
    /// Why k3s must restart (or start), if it must.
    pub restart: Option<String>,
}

impl K3sNodePlan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum K3sPlanError {
    #[error(
        "it runs {installed} but cluster.toml makes it {wanted}: run `pikube reset {node}` \
         first, then apply"
    )]
    RoleChanged {
        node: String,
        installed: &'static str,
        wanted: &'static str,
    },
}

pub fn plan_k3s(desired: &DesiredK3s, state: &K3sNodeState) -> Result<K3sNodePlan, K3sPlanError> {
    let service = desired.membership.service();
    if state.installed_service() == Some(service.other()) && !state.service(service).is_installed()
    {
        return Err(K3sPlanError::RoleChanged {
            node: desired.node.clone(),
            installed: service.other().name(),
            wanted: match service {
                Service::Server => "a server",
                Service::Agent => "an agent",
            },
        });
    }
    let current = state.service(service);
    let mut plan = K3sNodePlan::default();
    let mut restart_because = Vec::new();

    if state.binary_sha256.as_deref() != Some(desired.binary.sha256.as_str()) {
        plan.changes.push(Change::Upload(UploadChange {
            summary: format!(
                "install k3s {} ({:.1} MB, sha256 {}…)",
                desired.binary.version,
                desired.binary.size as f64 / 1e6,
                &desired.binary.sha256[..12.min(desired.binary.sha256.len())]
            ),
            local: desired.binary.path.clone(),
            remote: BINARY.to_owned(),
            sha256: desired.binary.sha256.clone(),
            size: desired.binary.size,
            mode: 0o755,
        }));
        restart_because.push("the binary");
    }
    for tool in paths::LINKS {
        let link = &state.links[tool];
        // Never shadow the user's own kubectl, and never replace a file we did not make.
        if link.target.is_none() && link.elsewhere.is_none() {
            plan.changes.push(Change::command(
                format!("link {tool} to k3s"),
                format!("ln -sf k3s {}/{tool}", paths::BIN_DIR),
            ));
        }
    }
    if state.killall.as_deref() != Some(KILLALL_SCRIPT) {
        plan.changes.push(Change::owned_file(
            KILLALL,
            state.killall.as_deref(),
            KILLALL_SCRIPT.to_owned(),
            0o755,
        ));
    }
    let uninstall = uninstall_script(service);
    if current.uninstall.as_deref() != Some(uninstall.as_str()) {
        plan.changes.push(Change::owned_file(
            &service.uninstall_path(),
            current.uninstall.as_deref(),
            uninstall,
            0o755,
        ));
    }
    if state.config.as_deref() != Some(desired.config_yaml.as_str()) {
        plan.changes.push(Change::owned_file(
            CONFIG,
            state.config.as_deref(),
            desired.config_yaml.clone(),
            0o600,
        ));
        restart_because.push("config.yaml");
    }
    if state.registration.as_deref() != Some(desired.registration_yaml.as_str()) {
        // Read by k3s at registration only: no restart (labels go through the API).
        plan.changes.push(Change::owned_file(
            REGISTRATION,
            state.registration.as_deref(),
            desired.registration_yaml.clone(),
            0o600,
        ));
    }
    let env_path = service.env_path();
    let env_differs = match &desired.env {
        Some(env) => current.env_sha256.as_deref() != Some(sha256_hex(env.as_bytes()).as_str()),
        None => true,
    };
    if env_differs {
        plan.changes.push(Change::SecretFile(SecretFileChange {
            path: env_path,
            exists: current.env_sha256.is_some(),
            holds: match desired.env {
                Some(_) => "the cluster token".to_owned(),
                None => "the cluster token, known once the first server runs".to_owned(),
            },
            content: desired.env.clone().unwrap_or_default(),
        }));
        restart_because.push("the token");
    }
    let unit = unit_file(service);
    if current.unit.as_deref() != Some(unit.as_str()) {
        plan.changes.push(Change::owned_file(
            &service.unit_path(),
            current.unit.as_deref(),
            unit,
            0o644,
        ));
        plan.changes.push(Change::command(
            "reload systemd's units",
            "systemctl daemon-reload",
        ));
        restart_because.push("the unit");
    }
    if !current.enabled {
        plan.changes.push(Change::command(
            format!("enable {}", service.name()),
            format!("systemctl enable {}.service", service.name()),
        ));
    }
    let name = service.name();
    if !current.is_installed() || (!current.active && restart_because.is_empty()) {
        plan.restart = Some(format!("start {name}"));
    } else if !restart_because.is_empty() {
        plan.restart = Some(format!(
            "restart {name} ({} changed)",
            restart_because.join(", ")
        ));
    }
    if let Some(why) = &plan.restart {
        // --no-block: with Type=notify and no start timeout, a k3s that cannot join would
        // hold systemctl forever; pikube waits with its own timeout instead.
        plan.changes.push(Change::command(
            why.clone(),
            format!("systemctl restart --no-block {name}.service"),
        ));
    }
    Ok(plan)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
