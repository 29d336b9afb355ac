//! What k3s install would change on one node: files, the binary, links, and whether the
//! service must (re)start. Planned from the node's k3s state only, so a run killed at any
//! point is finished by the next one.

use super::adoption::{command_line, still_kept, switched_on, Adoption};
use super::desired::{BinaryArtifact, DesiredK3s, ImagesArtifact};
use super::paths::{
    self, ansible_agent_env_path, ansible_agent_unit_path, Service, ADOPTED, ANSIBLE_AGENT, BINARY,
    CONFIG, KILLALL, REGISTRATION, REGISTRIES,
};
use super::render::{differ_only_in_joining, uninstall_script, unit_file, KILLALL_SCRIPT};
use super::secrets_encryption::{server_encrypts, SECRETS_ENCRYPTION_KEY};
use super::state::K3sNodeState;
use crate::config::{NodeName, REGISTRY_CA_DIR};
use crate::digest::Sha256;
use crate::plan::{Change, SecretFileChange, UploadChange};

/// The k3s part of a node's plan.
#[derive(Debug, Clone, Default)]
pub struct K3sNodePlan {
    /// Each change, in the order it is made.
    pub changes: Vec<Change>,
    /// Why k3s must restart (or start), if it must.
    pub restart: Option<String>,
    /// What the plan cannot say as a change: what an adoption keeps and replaces.
    pub warnings: Vec<String>,
}

impl K3sNodePlan {
    /// Nothing to change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Why a node's K3s cannot be brought to what cluster.toml says by changing files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum K3sPlanError {
    /// It runs the other role.
    #[error(
        "it runs {installed} but cluster.toml makes it {wanted}: run `pikube reset {node}` \
         first, then apply"
    )]
    RoleChanged {
        /// The node.
        node: NodeName,
        /// The service it runs.
        installed: &'static str,
        /// The one cluster.toml wants.
        wanted: &'static str,
    },
    /// install.sh (or another tool, such as k3s-ansible with its `k3s-node` unit)
    /// installed K3s here: its flags live in the unit's ExecStart and its variables in the
    /// env file, which pikube would replace.
    #[error(
        "K3s here was installed by another tool ({unit} has no \"# Managed by pikube\" line; \
         it runs `{exec_start}`): pikube would replace its unit, config.yaml and env file \
         with cluster.toml's, and left as they are, the flags and variables set there would \
         be lost on the restart. Adopting it {adoption}. Check with `pikube plan --adopt`, \
         then run `pikube apply --adopt` (or set `adopt = true` on this node in \
         cluster.toml); or carry them into cluster.toml first ([k3s] disable, tls_san, \
         kubelet_args, api_endpoint...)"
    )]
    Foreign {
        /// The unit file.
        unit: String,
        /// Its command line (secrets redacted).
        exec_start: String,
        /// What an adoption would keep and replace.
        adoption: String,
    },
    /// K3s keeps Secrets encrypted or not from a cluster's first start; switching a running
    /// cluster is its own sequence (`k3s secrets-encrypt`), which a restart does not do.
    #[error(
        "cluster.toml turns secrets_encryption {}, but this cluster was started with it {}: \
         K3s switches a running cluster only through `k3s secrets-encrypt {}` and a \
         re-encryption of every Secret, which pikube does not run; set secrets_encryption \
         back to {} (or follow K3s' secrets-encrypt guide on the servers, then change it)",
        on_off(*wanted), on_off(!*wanted), if *wanted { "enable" } else { "disable" }, !*wanted
    )]
    SecretsEncryption {
        /// What cluster.toml says.
        wanted: bool,
    },
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// The first line of every unit pikube writes.
const MANAGED_UNIT_HEADER: &str = "# Managed by pikube";

/// What would bring the node with `state` to `desired`, and whether K3s must restart.
pub fn plan_k3s(desired: &DesiredK3s, state: &K3sNodeState) -> Result<K3sNodePlan, K3sPlanError> {
    let service = desired.membership.service();
    if state.installed_service() == Some(service.other()) && !state.service(service).is_installed()
    {
        return Err(K3sPlanError::RoleChanged {
            node: desired.node.clone(),
            installed: match service {
                Service::Server if !state.agent.is_installed() => ANSIBLE_AGENT,
                _ => service.other().name(),
            },
            wanted: match service {
                Service::Server => "a server",
                Service::Agent => "an agent",
            },
        });
    }
    let current = state.service(service);
    // k3s-ansible's agent, which pikube's k3s-agent replaces (two agents must not run).
    let ansible_agent = match service {
        Service::Agent if state.ansible_agent.is_installed() => Some(&state.ansible_agent),
        _ => None,
    };
    // Another tool's install, under install.sh's name or k3s-ansible's: its unit, and the
    // unit's and the env file's paths. Not k3s-node beside pikube's own unit: that is an
    // adoption cut short, whose settings were already kept.
    let foreign = match current.unit.as_deref() {
        Some(unit) if !unit.starts_with(MANAGED_UNIT_HEADER) => {
            Some((unit, current, service.unit_path(), service.env_path()))
        }
        Some(_) => None,
        None => ansible_agent.and_then(|old| {
            let unit = old.unit.as_deref()?;
            Some((
                unit,
                old,
                ansible_agent_unit_path(),
                ansible_agent_env_path(),
            ))
        }),
    };
    // Another tool's install: read what it was set to. An adopted node's kept settings:
    // less any cluster.toml has taken over since.
    let adoption = match &foreign {
        Some((unit, files, unit_path, env_path)) => {
            let adoption = Adoption::read(
                unit,
                state.config.as_deref(),
                state.adopted.as_deref(),
                &files.env_names,
                &desired.config_yaml,
            );
            if !desired.adopt {
                return Err(K3sPlanError::Foreign {
                    unit: unit_path.clone(),
                    exec_start: command_line(unit),
                    adoption: adoption.describe(),
                });
            }
            Some((adoption, Some(env_path.as_str())))
        }
        None => state
            .adopted
            .as_deref()
            .map(|kept| (still_kept(kept, &desired.config_yaml), None)),
    };
    if service == Service::Server {
        if let Some(running) = server_encrypts(state) {
            let wanted = switched_on(
                SECRETS_ENCRYPTION_KEY,
                None,
                &[Some(desired.config_yaml.as_str())],
            );
            if running != wanted {
                return Err(K3sPlanError::SecretsEncryption { wanted });
            }
        }
    }
    let mut plan = K3sNodePlan::default();
    let mut restart_because = Vec::new();
    if let Some((adoption, old_env)) = &adoption {
        adopt(
            &mut plan,
            &mut restart_because,
            adoption,
            *old_env,
            state,
            service,
        );
    }

    if state.binary_sha256.as_ref() != Some(&desired.binary.sha256) {
        plan.changes.push(binary_change(&desired.binary));
        restart_because.push("the binary");
    }
    // Before K3s (re)starts: containerd imports the archives when it starts.
    let images = desired.binary.images.as_ref();
    if let Some(images) = images {
        if state.images.get(&images.remote) != Some(&images.sha256) {
            plan.changes
                .push(images_change(images, &desired.binary.version));
            restart_because.push("the airgap images");
        }
    }
    let stale: Vec<&String> = state
        .images
        .keys()
        .filter(|path| images.is_none_or(|images| &images.remote != *path))
        .collect();
    if !stale.is_empty() {
        // Images already imported stay in containerd; the archive only takes SD space.
        plan.changes.push(Change::command(
            "remove pikube's previous airgap image archive",
            format!(
                "rm -f {}",
                stale
                    .iter()
                    .map(|path| crate::ssh::shell_quote(path))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ));
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
        // A server restarting from its etcd data ignores whom config.yaml says to join
        // through: pointing it at another server (its first one gone) restarts nothing.
        let only_joining = service == Service::Server
            && state.etcd_data
            && state
                .config
                .as_deref()
                .is_some_and(|old| differ_only_in_joining(old, &desired.config_yaml));
        if !only_joining {
            restart_because.push("config.yaml");
        }
    }
    if state.registration.as_deref() != Some(desired.registration_yaml.as_str()) {
        // k3s re-reads it only when it starts: no restart (labels go through the API).
        plan.changes.push(Change::owned_file(
            REGISTRATION,
            state.registration.as_deref(),
            desired.registration_yaml.clone(),
            0o600,
        ));
    }
    let wanted_registries = desired.registries.as_ref();
    if let Some(registries) = wanted_registries {
        if state.registries_sha256 != Some(Sha256::of(registries.as_bytes())) {
            // The CAs it names first: each path carries its content's hash, so a new CA
            // is a new registries.yaml too. Older ones go.
            if !desired.registry_cas.is_empty() || state.registries_by_pikube {
                plan.changes.push(Change::command(
                    "clear the registry CAs pikube wrote before",
                    format!("rm -rf {REGISTRY_CA_DIR}"),
                ));
            }
            for ca in &desired.registry_cas {
                plan.changes
                    .push(Change::owned_file(&ca.path, None, ca.pem.clone(), 0o644));
            }
            plan.changes.push(Change::SecretFile(SecretFileChange {
                path: REGISTRIES.to_owned(),
                exists: state.registries_sha256.is_some(),
                holds: "the registry mirrors and credentials of [k3s.registries]".to_owned(),
                content: registries.clone(),
            }));
            restart_because.push("registries.yaml");
        }
    } else if state.registries_by_pikube {
        // Ours, and cluster.toml no longer has registries: K3s goes back to pulling from
        // the registries themselves. Someone else's registries.yaml is left alone.
        plan.changes.push(Change::command(
            "remove registries.yaml (no [k3s.registries] any more)",
            format!("rm -f {REGISTRIES}; rm -rf {REGISTRY_CA_DIR}"),
        ));
        restart_because.push("registries.yaml");
    }
    let env_path = service.env_path();
    let env_differs = match &desired.env {
        Some(env) => current.env_sha256 != Some(Sha256::of(env.as_bytes())),
        None => true,
    };
    if env_differs {
        plan.changes.push(Change::SecretFile(SecretFileChange {
            path: env_path,
            exists: current.env_sha256.is_some(),
            holds: match (&desired.env, service) {
                (Some(env), Service::Server) => {
                    let mut holds = "the server and agent tokens".to_owned();
                    if env.contains("\nK3S_DATASTORE_ENDPOINT=") {
                        holds.push_str(", the datastore endpoint");
                    }
                    if env.contains("\nAWS_ACCESS_KEY_ID=") {
                        holds.push_str(", the keys of [backup.s3]");
                    }
                    holds
                }
                (Some(_), Service::Agent) => "the agent token".to_owned(),
                (None, _) => "the cluster token, known once the first server runs".to_owned(),
            },
            content: desired.env.clone().unwrap_or_default(),
        }));
        restart_because.push("the env file's secrets");
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
    if ansible_agent.is_some() {
        // After pikube's unit is in place (a run cut short here still knows the node is
        // adopted) and before k3s-agent starts.
        plan.changes.push(Change::command(
            format!(
                "stop and remove {ANSIBLE_AGENT}.service (k3s-ansible's agent: {} takes \
                 its place)",
                service.name()
            ),
            format!(
                "systemctl disable --now {ANSIBLE_AGENT}.service && rm -f {} {} && \
                 systemctl daemon-reload",
                ansible_agent_unit_path(),
                ansible_agent_env_path()
            ),
        ));
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

/// The adoption's part of the plan: the old env file's kept variables moved first (before
/// pikube's env file replaces it), the adopted drop-in written, refreshed or removed, and
/// a warning naming what is kept and what cluster.toml replaces. `old_env`: the other
/// tool's env file on a first adoption; `None` for a node pikube adopted before.
fn adopt(
    plan: &mut K3sNodePlan,
    restart_because: &mut Vec<&'static str>,
    adoption: &Adoption,
    old_env: Option<&str>,
    state: &K3sNodeState,
    service: Service,
) {
    let first = old_env.is_some();
    if first {
        plan.warnings.push(format!(
            "adopting the K3s another tool installed: {}",
            adoption.describe()
        ));
    }
    if let Some(script) = old_env.and_then(|from| adoption.keep_variables_script(from, service)) {
        plan.changes.push(Change::command(
            format!(
                "keep {} from the old env file in /etc/default/{}",
                adoption.kept_variables.join(", "),
                service.name()
            ),
            script,
        ));
    }
    let wanted = adoption.dropin();
    if wanted.as_deref() == state.adopted.as_deref() {
        return;
    }
    if !first {
        // Mostly cluster.toml taking a kept setting over; also a hand edit of the file.
        plan.warnings.push(format!(
            "the settings kept from the adopted install are rewritten: {}",
            adoption.describe()
        ));
    }
    match wanted {
        Some(text) if adoption.keeps_secrets() => {
            plan.changes.push(Change::SecretFile(SecretFileChange {
                path: ADOPTED.to_owned(),
                exists: state.adopted.is_some(),
                holds: "the settings kept from the adopted install".to_owned(),
                content: text,
            }));
        }
        Some(text) => plan.changes.push(Change::owned_file(
            ADOPTED,
            state.adopted.as_deref(),
            text,
            0o600,
        )),
        None => plan.changes.push(Change::command(
            "remove the adopted settings (cluster.toml makes them all now)",
            format!("rm -f {ADOPTED}"),
        )),
    }
    restart_because.push("the adopted settings");
}

/// The k3s binary put in place, checked by size and SHA-256 on the node before the rename.
pub fn binary_change(binary: &BinaryArtifact) -> Change {
    Change::Upload(UploadChange {
        summary: format!(
            "install k3s {} ({:.1} MB, sha256 {}…)",
            binary.version,
            binary.size as f64 / 1e6,
            binary.sha256.short()
        ),
        local: binary.path.clone(),
        remote: BINARY.to_owned(),
        sha256: binary.sha256.clone(),
        size: binary.size,
        mode: 0o755,
    })
}

/// The airgap image archive put in K3s' images directory, checked like the binary.
pub fn images_change(images: &ImagesArtifact, version: &str) -> Change {
    Change::Upload(UploadChange {
        summary: format!(
            "install the airgap images of k3s {version} ({:.1} MB, sha256 {}…)",
            images.size as f64 / 1e6,
            images.sha256.short()
        ),
        local: images.path.clone(),
        remote: images.remote.clone(),
        sha256: images.sha256.clone(),
        size: images.size,
        mode: 0o644,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::k3s::desired::BinaryArtifact;
    use crate::k3s::render::{env_file, Membership};
    use crate::k3s::state::{ServiceFiles, ToolLink};

    #[test]
    fn a_k3s_another_tool_installed_is_refused_unless_adopted_and_its_secrets_never_shown() {
        let mut state = fresh();
        state.agent.unit = Some(
            "[Unit]\nDescription=Lightweight Kubernetes\n[Service]\nType=notify\n\
             ExecStart=/usr/local/bin/k3s \\\n    agent \\\n\t'--flannel-backend=wireguard-native' \\\n\
             \t'--token' \\\n\t'hunter2' \\\n\t'--datastore-endpoint=postgres://u:pw@db/k3s' \\\n\n"
                .to_owned(),
        );
        let err = plan_k3s(&desired(), &state).unwrap_err().to_string();
        assert!(
            err.contains(
                "/etc/systemd/system/k3s-agent.service has no \"# Managed by pikube\" line; it \
                 runs `/usr/local/bin/k3s agent --flannel-backend=wireguard-native --token <redacted> \
                 --datastore-endpoint=<redacted>`"
            ),
            "{err}"
        );
        assert!(err.contains("pikube apply --adopt"), "{err}");
        assert!(err.contains("`adopt = true`"), "{err}");
        // What would be dropped is named before anything is done.
        assert!(
            err.contains(
                "Adopting it keeps what cluster.toml does not set: \
                 --flannel-backend=wireguard-native (in"
            ),
            "{err}"
        );
        assert!(!err.contains("hunter2") && !err.contains("pw@db"), "{err}");

        let adopted = DesiredK3s {
            adopt: true,
            ..desired()
        };
        let plan = plan_k3s(&adopted, &state).unwrap();
        let summaries: Vec<String> = plan.changes.iter().map(Change::summary).collect();
        assert!(
            summaries.contains(&"update /etc/systemd/system/k3s-agent.service".to_owned()),
            "{summaries:?}"
        );
        assert!(
            summaries.contains(&format!("create {ADOPTED}")),
            "{summaries:?}"
        );
        assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
        assert!(
            plan.warnings[0].starts_with(
                "adopting the K3s another tool installed: keeps what cluster.toml does not \
                 set: --flannel-backend=wireguard-native"
            ),
            "{:?}",
            plan.warnings
        );
        // The plan as shown (the old unit's diff included) keeps the token out.
        let shown = serde_json::to_string(&plan.changes).unwrap();
        assert!(!shown.contains("hunter2"), "{shown}");

        // pikube's own unit is never foreign.
        state.agent.unit = Some(unit_file(Service::Agent));
        assert!(plan_k3s(&desired(), &state).is_ok());
    }

    /// An agent as older k3s-ansible playbooks leave it: a bare `k3s agent` in a unit
    /// named k3s-node.service, its flags and token in config.yaml.
    fn ansible_installed() -> K3sNodeState {
        let mut state = fresh();
        state.binary_sha256 = Some("cd".repeat(32).parse().unwrap());
        state.config = Some(
            "server: https://10.0.0.1:6443\ntoken: ansible-secret\nwith-node-id: true\n\
             node-label:\n- site=shed\nkubelet-arg:\n- max-pods=50\n"
                .into(),
        );
        state.ansible_agent = ServiceFiles {
            unit: Some(
                "[Unit]\nDescription=Lightweight Kubernetes\nAfter=network-online.target\n\
                 [Service]\nType=notify\nExecStart=/usr/local/bin/k3s agent\n\
                 KillMode=process\nRestart=always\n[Install]\nWantedBy=multi-user.target\n"
                    .into(),
            ),
            enabled: true,
            active: true,
            ..ServiceFiles::default()
        };
        state
    }

    #[test]
    fn a_k3s_ansible_agent_is_refused_unless_adopted_then_replaced_by_k3s_agent() {
        let state = ansible_installed();
        assert_eq!(state.installed_service(), Some(Service::Agent));
        let err = plan_k3s(&desired(), &state).unwrap_err().to_string();
        assert!(
            err.contains(
                "K3s here was installed by another tool (/etc/systemd/system/k3s-node.service \
                 has no \"# Managed by pikube\" line; it runs `/usr/local/bin/k3s agent`)"
            ),
            "{err}"
        );
        // config.yaml's flags are read, the token named but never shown.
        assert!(
            err.contains(
                "Adopting it keeps what cluster.toml does not set: --node-label=site=shed, \
                 --kubelet-arg=max-pods=50 (in"
            ) && err.contains(
                "cluster.toml's replace --server=https://10.0.0.1:6443, --token=<redacted>, \
                 --with-node-id"
            ),
            "{err}"
        );
        assert!(!err.contains("ansible-secret"), "{err}");

        let adopted = DesiredK3s {
            adopt: true,
            ..desired()
        };
        let plan = plan_k3s(&adopted, &state).unwrap();
        let summaries: Vec<String> = plan.changes.iter().map(Change::summary).collect();
        let at = |wanted: &str| {
            summaries
                .iter()
                .position(|s| s.starts_with(wanted))
                .unwrap_or_else(|| panic!("{wanted}: {summaries:?}"))
        };
        let kept = at(&format!("create {ADOPTED}"));
        let unit = at("create /etc/systemd/system/k3s-agent.service");
        let retired = at("stop and remove k3s-node.service (k3s-ansible's agent: k3s-agent");
        let started = at("start k3s-agent");
        assert!(
            kept < unit && unit < retired && retired < started,
            "{summaries:?}"
        );
        assert_eq!(started, summaries.len() - 1, "{summaries:?}");
        let Change::Command(command) = &plan.changes[retired] else {
            panic!("{:?}", plan.changes[retired]);
        };
        assert_eq!(
            command.script,
            "systemctl disable --now k3s-node.service && rm -f \
             /etc/systemd/system/k3s-node.service /etc/systemd/system/k3s-node.service.env \
             && systemctl daemon-reload"
        );
        assert!(plan.warnings[0].starts_with("adopting the K3s another tool installed"));
        let shown = serde_json::to_string(&plan.changes).unwrap();
        assert!(!shown.contains("ansible-secret"), "{shown}");

        // Cut short after pikube's unit was written: k3s-node still goes, no --adopt needed.
        let mut cut_short = state.clone();
        cut_short.agent.unit = Some(unit_file(Service::Agent));
        cut_short.adopted = Adoption::read(
            "ExecStart=/usr/local/bin/k3s agent\n",
            state.config.as_deref(),
            None,
            &[],
            &adopted.config_yaml,
        )
        .dropin();
        let plan = plan_k3s(&desired(), &cut_short).unwrap();
        assert!(plan
            .changes
            .iter()
            .any(|c| c.summary().starts_with("stop and remove k3s-node.service")));
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);

        // A server wanted where k3s-ansible's agent runs: a role change, named as it is.
        let mut server = desired();
        server.membership = Membership::Init { cluster_init: true };
        let err = plan_k3s(&server, &state).unwrap_err().to_string();
        assert!(
            err.starts_with("it runs k3s-node but cluster.toml makes it a server"),
            "{err}"
        );
    }

    fn desired() -> DesiredK3s {
        DesiredK3s {
            node: "pi-2".parse().unwrap(),
            membership: Membership::Agent {
                url: "https://10.0.0.1:6443".into(),
            },
            binary: BinaryArtifact {
                path: PathBuf::from("/tmp/k3s"),
                sha256: "ab".repeat(32).parse().unwrap(),
                size: 70_000_000,
                version: "v1.31.4+k3s1".into(),
                images: None,
            },
            config_yaml: "server: https://10.0.0.1:6443\n".into(),
            registration_yaml: "node-label: []\n".into(),
            labels: vec![],
            taints: vec![],
            env: Some(env_file("K10x::server:y", None)),
            registries: None,
            registry_cas: Vec::new(),
            adopt: false,
        }
    }

    #[test]
    fn an_adopted_setting_cluster_toml_takes_over_leaves_the_dropin_and_restarts_k3s() {
        let desired = desired();
        let mut state = converged(&desired);
        state.adopted =
            Some("# Kept by pikube\nflannel-backend: wireguard-native\nnode-name: old\n".into());
        // Only settings pikube does not make are kept: the file is rewritten without the
        // name (pikube's config.yaml has node-name), and K3s restarts to read it.
        let plan = plan_k3s(&desired, &state).unwrap();
        let summaries: Vec<String> = plan.changes.iter().map(Change::summary).collect();
        assert_eq!(summaries[0], format!("update {ADOPTED}"), "{summaries:?}");
        assert!(plan
            .restart
            .as_deref()
            .unwrap()
            .contains("the adopted settings"));
        assert!(plan.warnings[0].contains("cluster.toml's replace --node-name=old"));

        // Once written that way, nothing more to do.
        state.adopted =
            super::still_kept(state.adopted.as_deref().unwrap(), &desired.config_yaml).dropin();
        assert!(plan_k3s(&desired, &state).unwrap().is_empty());
        assert!(state
            .adopted
            .unwrap()
            .contains("flannel-backend: wireguard-native"));
    }

    fn fresh() -> K3sNodeState {
        K3sNodeState {
            binary_sha256: None,
            config: None,
            registration: None,
            adopted: None,
            killall: None,
            registries_sha256: None,
            registries_by_pikube: false,
            server: ServiceFiles::default(),
            agent: ServiceFiles::default(),
            ansible_agent: ServiceFiles::default(),
            links: paths::LINKS
                .iter()
                .map(|t| {
                    (
                        *t,
                        ToolLink {
                            target: None,
                            elsewhere: None,
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
            server_token: None,
            etcd_data: false,
            agent_token: None,
            images: BTreeMap::new(),
        }
    }

    /// The state a successful apply of `desired` leaves.
    fn converged(desired: &DesiredK3s) -> K3sNodeState {
        let mut state = fresh();
        state.binary_sha256 = Some(desired.binary.sha256.clone());
        state.config = Some(desired.config_yaml.clone());
        state.registration = Some(desired.registration_yaml.clone());
        state.killall = Some(KILLALL_SCRIPT.to_owned());
        if let Some(registries) = &desired.registries {
            state.registries_sha256 = Some(Sha256::of(registries.as_bytes()));
            state.registries_by_pikube = true;
        }
        if let Some(images) = &desired.binary.images {
            state
                .images
                .insert(images.remote.clone(), images.sha256.clone());
        }
        state.agent = ServiceFiles {
            unit: Some(unit_file(Service::Agent)),
            env_sha256: desired.env.as_deref().map(|e| Sha256::of(e.as_bytes())),
            env_names: vec!["K3S_TOKEN".into()],
            uninstall: Some(uninstall_script(Service::Agent)),
            enabled: true,
            active: true,
        };
        for link in state.links.values_mut() {
            link.target = Some("k3s".into());
        }
        state
    }

    #[test]
    fn a_running_server_is_not_switched_to_or_from_secrets_encryption() {
        let server = |encrypted: bool| {
            let mut desired = desired();
            desired.membership = Membership::Init { cluster_init: true };
            desired.config_yaml = format!(
                "node-name: pi-2\ncluster-init: true\n{}",
                if encrypted {
                    "secrets-encryption: true\n"
                } else {
                    ""
                }
            );
            desired
        };
        let running = |desired: &DesiredK3s| {
            let mut state = converged(desired);
            state.server = std::mem::take(&mut state.agent);
            state.server.unit = Some(unit_file(Service::Server));
            state
        };
        // A new server takes it, and a cluster started with it keeps it.
        assert!(plan_k3s(&server(true), &fresh()).is_ok());
        assert!(plan_k3s(&server(true), &running(&server(true))).is_ok());
        for wanted in [true, false] {
            let err = plan_k3s(&server(wanted), &running(&server(!wanted)))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!(
                    "cluster.toml turns secrets_encryption {}",
                    if wanted { "on" } else { "off" }
                )) && err.contains("k3s secrets-encrypt"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_fresh_node_gets_everything_and_a_start() {
        let plan = plan_k3s(&desired(), &fresh()).unwrap();
        let summaries: Vec<String> = plan.changes.iter().map(Change::summary).collect();
        assert!(
            summaries[0].starts_with("install k3s v1.31.4+k3s1 (70.0 MB"),
            "{summaries:?}"
        );
        assert!(summaries.contains(&"link kubectl to k3s".to_owned()));
        assert!(summaries
            .iter()
            .any(|s| s.contains("k3s-agent.service.env (contents hidden")));
        assert_eq!(plan.restart.as_deref(), Some("start k3s-agent"));
        assert_eq!(summaries.last().unwrap(), "start k3s-agent");
        // The token is never in what a plan shows or serialises.
        let json = serde_json::to_string(&plan.changes).unwrap();
        assert!(!json.contains("K10x") && !format!("{:?}", plan.changes).contains("K10x"));
    }

    fn with_images(remote: &str, sha256: &str) -> DesiredK3s {
        let mut desired = desired();
        desired.binary.images = Some(ImagesArtifact {
            path: PathBuf::from("/cache/k3s-airgap-images-arm64.tar.zst"),
            sha256: sha256.parse().unwrap(),
            size: 180_000_000,
            remote: remote.to_owned(),
        });
        desired
    }

    const ZST: &str = "/var/lib/rancher/k3s/agent/images/pikube-airgap-images.tar.zst";

    #[test]
    fn airgap_images_go_in_before_the_first_start() {
        let desired = with_images(ZST, &"cd".repeat(32));
        let plan = plan_k3s(&desired, &fresh()).unwrap();
        let summaries: Vec<String> = plan.changes.iter().map(Change::summary).collect();
        let images = summaries
            .iter()
            .position(|s| s.starts_with("install the airgap images of k3s v1.31.4+k3s1 (180.0 MB"))
            .unwrap_or_else(|| panic!("{summaries:?}"));
        let start = summaries
            .iter()
            .position(|s| s == "start k3s-agent")
            .unwrap();
        assert!(images < start, "{summaries:?}");
        let Change::Upload(upload) = &plan.changes[images] else {
            panic!("{:?}", plan.changes[images]);
        };
        assert_eq!(upload.remote, ZST);
        assert_eq!(upload.sha256.as_str(), "cd".repeat(32));
        // Converged: nothing to do, no restart.
        let plan = plan_k3s(&desired, &converged(&desired)).unwrap();
        assert!(plan.is_empty(), "{:?}", plan.changes);
    }

    #[test]
    fn new_airgap_images_replace_the_old_and_restart_k3s() {
        let old = with_images(ZST, &"cd".repeat(32));
        let mut state = converged(&old);
        let new = with_images(ZST, &"ef".repeat(32));
        let plan = plan_k3s(&new, &state).unwrap();
        assert_eq!(plan.changes.len(), 2, "{:?}", plan.changes);
        assert_eq!(
            plan.restart.as_deref(),
            Some("restart k3s-agent (the airgap images changed)")
        );

        // Another format: the new archive goes in, the old one goes.
        let tar = "/var/lib/rancher/k3s/agent/images/pikube-airgap-images.tar";
        let plan = plan_k3s(&with_images(tar, &"ef".repeat(32)), &state).unwrap();
        let Change::Command(remove) = &plan.changes[1] else {
            panic!("{:?}", plan.changes);
        };
        assert_eq!(remove.script, format!("rm -f '{ZST}'"));

        // Air-gap switched off: the archive goes, K3s keeps running as it is.
        state
            .images
            .insert(tar.to_owned(), "00".repeat(32).parse().unwrap());
        let plan = plan_k3s(&desired(), &state).unwrap();
        let Change::Command(remove) = &plan.changes[0] else {
            panic!("{:?}", plan.changes);
        };
        assert_eq!(remove.script, format!("rm -f '{tar}' '{ZST}'"));
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.restart, None);
    }

    #[test]
    fn registries_yaml_is_a_secret_file_and_only_ours_is_ever_removed() {
        let mut desired = desired();
        desired.registries = Some(format!(
            "{}\n{{\"configs\": {{\"r\": {{\"auth\": {{\"password\": \"hunter2\"}}}}}}}}\n",
            crate::k3s::registries::MARKER
        ));
        let mut state = converged(&desired);
        state.registries_sha256 = None;
        state.registries_by_pikube = false;
        let plan = plan_k3s(&desired, &state).unwrap();
        assert_eq!(plan.changes.len(), 2, "{:?}", plan.changes);
        assert!(
            plan.changes[0]
                .summary()
                .contains("registries.yaml (contents hidden"),
            "{}",
            plan.changes[0].summary()
        );
        assert_eq!(
            plan.restart.as_deref(),
            Some("restart k3s-agent (registries.yaml changed)")
        );
        let shown = format!(
            "{:?}{}",
            plan.changes,
            serde_json::to_string(&plan.changes).unwrap()
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(plan_k3s(&desired, &converged(&desired)).unwrap().is_empty());

        // cluster.toml drops its registries: ours goes, K3s restarts without it.
        let ours = converged(&desired);
        let plan = plan_k3s(&self::desired(), &ours).unwrap();
        let Change::Command(remove) = &plan.changes[0] else {
            panic!("{:?}", plan.changes);
        };
        assert_eq!(
            remove.script,
            "rm -f /etc/rancher/k3s/registries.yaml; rm -rf /etc/rancher/k3s/registries-ca"
        );
        assert!(plan.restart.is_some());

        // A registry CA: the old ones cleared, the new one put where registries.yaml names
        // it (public: 0644), before registries.yaml itself.
        let mut with_ca = desired.clone();
        with_ca.registry_cas = vec![crate::k3s::RegistryCaFile {
            path: "/etc/rancher/k3s/registries-ca/r-0123456789ab.crt".to_owned(),
            pem: "-----BEGIN CERTIFICATE-----\n".to_owned(),
        }];
        with_ca.registries = Some(format!("{}\n{{}}\n", crate::k3s::registries::MARKER));
        let plan = plan_k3s(&with_ca, &converged(&desired)).unwrap();
        let summaries: Vec<String> = plan.changes.iter().map(Change::summary).collect();
        assert!(
            summaries[0].contains("clear the registry CAs"),
            "{summaries:?}"
        );
        let Change::File(ca) = &plan.changes[1] else {
            panic!("{:?}", plan.changes);
        };
        assert_eq!(
            (ca.path.as_str(), ca.mode, ca.owned),
            (
                "/etc/rancher/k3s/registries-ca/r-0123456789ab.crt",
                0o644,
                true
            )
        );
        assert!(summaries[2].contains("registries.yaml"), "{summaries:?}");
        // Someone else's: never touched.
        let mut theirs = converged(&self::desired());
        theirs.registries_sha256 = Some("ab".repeat(32).parse().unwrap());
        assert!(plan_k3s(&self::desired(), &theirs).unwrap().is_empty());
    }

    #[test]
    fn a_converged_node_needs_nothing() {
        let desired = desired();
        let plan = plan_k3s(&desired, &converged(&desired)).unwrap();
        assert!(plan.is_empty(), "{:?}", plan.changes);
        assert_eq!(plan.restart, None);
    }

    #[test]
    fn only_restart_worthy_changes_restart() {
        let desired = desired();
        let mut state = converged(&desired);
        state.registration = Some("node-label: [old=1]\n".into());
        let plan = plan_k3s(&desired, &state).unwrap();
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(
            plan.restart, None,
            "registration-only changes need no restart"
        );

        let mut state = converged(&desired);
        state.config = Some("server: https://10.0.0.9:6443\n".into());
        let plan = plan_k3s(&desired, &state).unwrap();
        assert_eq!(
            plan.restart.as_deref(),
            Some("restart k3s-agent (config.yaml changed)")
        );

        let mut state = converged(&desired);
        state.agent.active = false;
        let plan = plan_k3s(&desired, &state).unwrap();
        assert_eq!(plan.restart.as_deref(), Some("start k3s-agent"));
    }

    #[test]
    fn a_server_on_its_etcd_data_is_not_restarted_for_whom_it_joins_through() {
        // s3 joined through s1; s1's card died and left cluster.toml: s3 now points at s2.
        let config = |join: &str| format!("node-name: s3\n{join}write-kubeconfig-mode: '0600'\n");
        let mut desired = desired();
        desired.membership = Membership::JoinServer {
            url: "https://s2:6443".into(),
        };
        desired.config_yaml = config("server: https://s2:6443\n");
        let running = |etcd_data: bool, old: &str| {
            let mut state = converged(&desired);
            state.server = std::mem::take(&mut state.agent);
            state.server.unit = Some(unit_file(Service::Server));
            state.server.uninstall = Some(uninstall_script(Service::Server));
            state.config = Some(old.to_owned());
            state.etcd_data = etcd_data;
            state
        };
        let plan = plan_k3s(
            &desired,
            &running(true, &config("server: https://s1:6443\n")),
        )
        .unwrap();
        assert_eq!(plan.changes.len(), 1, "{:?}", plan.changes);
        assert_eq!(plan.restart, None);
        // The server taking s1's place loses its `server:` and gets no `cluster-init`.
        let plan = plan_k3s(&desired, &running(true, &config(""))).unwrap();
        assert_eq!(plan.restart, None);
        // Without etcd data K3s does read them: it restarts.
        let plan = plan_k3s(
            &desired,
            &running(false, &config("server: https://s1:6443\n")),
        )
        .unwrap();
        assert_eq!(
            plan.restart.as_deref(),
            Some("restart k3s (config.yaml changed)")
        );
        // Anything else changed with it restarts too.
        let plan = plan_k3s(
            &desired,
            &running(true, "node-name: s3\nserver: https://s1:6443\n"),
        )
        .unwrap();
        assert!(plan.restart.is_some());
    }

    #[test]
    fn a_users_own_kubectl_is_left_alone_and_a_role_change_is_refused() {
        let desired = desired();
        let mut state = converged(&desired);
        state.links.insert(
            "kubectl",
            ToolLink {
                target: None,
                elsewhere: Some("/usr/bin/kubectl".into()),
            },
        );
        assert!(plan_k3s(&desired, &state).unwrap().is_empty());

        let mut server = fresh();
        server.server.unit = Some(unit_file(Service::Server));
        let err = plan_k3s(&desired, &server).unwrap_err().to_string();
        assert!(
            err.contains("runs k3s but cluster.toml makes it an agent"),
            "{err}"
        );
        assert!(err.contains("pikube reset pi-2"), "{err}");
    }
}
