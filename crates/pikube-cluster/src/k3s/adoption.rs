//! Taking over a K3s another tool installed (audit F8). install.sh keeps the flags it was
//! given in the unit's ExecStart and copies `K3S_*`, `CONTAINERD_*` and proxy variables
//! into the env file; a hand-written config.yaml may hold more. pikube replaces all three
//! with its own, so an adoption first reads them: what cluster.toml does not set is kept
//! (the flags and config keys in a drop-in of their own, the variables moved on the node
//! to the unit's `/etc/default/<service>` file), and what cluster.toml sets is named as
//! replaced. Nothing is dropped without being named in the plan. Older k3s-ansible
//! playbooks run the agent as `k3s-node.service` (a bare `k3s agent`, the flags in
//! config.yaml): it is read the same way, and replaced by pikube's `k3s-agent`.

use yaml_serde::{Mapping, Value};

use super::paths::{Service, ADOPTED};
use crate::plan::is_secret;

/// Settings pikube always makes itself, whatever cluster.toml says: joining, the node's
/// name, the tokens and the datastore come from pikube's files, never an old install's.
const PIKUBE_KEYS: [&str; 10] = [
    "token",
    "token-file",
    "agent-token",
    "agent-token-file",
    "server",
    "datastore-endpoint",
    "node-name",
    "cluster-init",
    "config",
    "with-node-id",
];

/// Env variables K3s reads as a flag's default, with that flag: a flag in config.yaml wins
/// over its variable, so one whose flag pikube sets is replaced, not kept.
const FLAG_VARIABLES: [(&str, &str); 16] = [
    ("K3S_TOKEN", "token"),
    ("K3S_TOKEN_FILE", "token-file"),
    ("K3S_AGENT_TOKEN", "agent-token"),
    ("K3S_AGENT_TOKEN_FILE", "agent-token-file"),
    ("K3S_URL", "server"),
    ("K3S_DATASTORE_ENDPOINT", "datastore-endpoint"),
    ("K3S_NODE_NAME", "node-name"),
    ("K3S_CLUSTER_INIT", "cluster-init"),
    ("K3S_CONFIG_FILE", "config"),
    ("K3S_KUBECONFIG_MODE", "write-kubeconfig-mode"),
    ("K3S_KUBECONFIG_OUTPUT", "write-kubeconfig"),
    ("K3S_KUBECONFIG_GROUP", "write-kubeconfig-group"),
    ("K3S_DATA_DIR", "data-dir"),
    ("K3S_RESOLV_CONF", "resolv-conf"),
    ("K3S_SELINUX", "selinux"),
    ("K3S_LB_SERVER_PORT", "lb-server-port"),
];

/// Env variables pikube's env file sets itself (`[backup.s3]`'s keys).
const PIKUBE_VARIABLES: [&str; 2] = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];

/// The header of the adopted drop-in: pikube's, but kept apart from config.yaml.
const HEADER: &str =
    "# Kept by pikube from the K3s install it adopted: the settings cluster.toml does\n\
                      # not make. pikube removes a key here once cluster.toml sets it (this file\n\
                      # is read after config.yaml, so it would win).\n";

/// One K3s setting: a flag's name (as config.yaml writes it) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// The flag, without dashes.
    pub key: String,
    /// `true` for a bare flag, a string, or a list for a repeated one.
    pub value: Value,
}

impl Setting {
    /// `--key=value` (values of secret-looking keys redacted), for people.
    fn describe(&self) -> String {
        let secret = is_secret(&self.key);
        let shown = |v: &Value| -> String {
            if secret {
                "<redacted>".to_owned()
            } else {
                match v {
                    Value::String(s) => s.clone(),
                    other => yaml_serde::to_string(other)
                        .unwrap_or_default()
                        .trim_end()
                        .to_owned(),
                }
            }
        };
        match &self.value {
            Value::Bool(true) => format!("--{}", self.key),
            Value::Sequence(items) => items
                .iter()
                .map(|item| format!("--{}={}", self.key, shown(item)))
                .collect::<Vec<_>>()
                .join(" "),
            other => format!("--{}={}", self.key, shown(other)),
        }
    }
}

/// What adopting one node keeps and what cluster.toml replaces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Adoption {
    /// Settings cluster.toml does not make: they go to the adopted drop-in.
    pub kept: Vec<Setting>,
    /// Settings pikube makes itself: the old values go.
    pub replaced: Vec<Setting>,
    /// Env variables kept (names only; their values never leave the node).
    pub kept_variables: Vec<String>,
    /// Env variables pikube's env file sets instead.
    pub replaced_variables: Vec<String>,
}

impl Adoption {
    /// Reads the old install: its unit's ExecStart, its config.yaml unless pikube wrote it,
    /// and the names of its env file's variables, against the config.yaml pikube would
    /// write (`ours`).
    /// `kept_before`: the adopted drop-in, when an adoption that did not finish wrote it.
    pub fn read(
        unit: &str,
        config: Option<&str>,
        kept_before: Option<&str>,
        variables: &[String],
        ours: &str,
    ) -> Adoption {
        let mut settings: Vec<Setting> = kept_before.map(config_settings).unwrap_or_default();
        let foreign_config = config
            .filter(|text| !text.starts_with("# Managed by pikube"))
            .map(config_settings)
            .unwrap_or_default();
        // The file, then the command line: each wins over what came before it, a repeated
        // flag replacing the whole list, as in K3s.
        for setting in foreign_config
            .into_iter()
            .chain(command_line_settings(unit))
        {
            match settings.iter_mut().find(|s| s.key == setting.key) {
                Some(existing) => existing.value = setting.value,
                None => settings.push(setting),
            }
        }
        let made_by_pikube = pikube_config_keys(ours);
        let (replaced, kept) = settings
            .into_iter()
            .partition(|s| made_by_pikube.contains(&s.key));
        let (replaced_variables, kept_variables) = variables.iter().cloned().partition(|name| {
            PIKUBE_VARIABLES.contains(&name.as_str())
                || FLAG_VARIABLES.iter().any(|(variable, flag)| {
                    variable == name && made_by_pikube.iter().any(|k| k == flag)
                })
        });
        Adoption {
            kept,
            replaced,
            kept_variables,
            replaced_variables,
        }
    }

    /// The adopted drop-in's text; `None` when nothing is kept.
    pub fn dropin(&self) -> Option<String> {
        if self.kept.is_empty() {
            return None;
        }
        let mut map = Mapping::new();
        for setting in &self.kept {
            map.insert(setting.key.clone().into(), setting.value.clone());
        }
        Some(super::render::with_header(HEADER, map))
    }

    /// Whether a kept value may be a secret (the drop-in is then written without a diff).
    pub fn keeps_secrets(&self) -> bool {
        self.kept.iter().any(|s| is_secret(&s.key))
    }

    /// Moves the kept variables from the old env file (`from`) to `/etc/default/<service>`,
    /// which pikube's unit reads before its own env file. Runs on the node, so their values
    /// (a proxy password, say) never pass through pikube; appends only lines not there yet.
    pub fn keep_variables_script(&self, from: &str, service: Service) -> Option<String> {
        if self.kept_variables.is_empty() {
            return None;
        }
        let names = self.kept_variables.join("|");
        Some(format!(
            "umask 077; from={from}; to=/etc/default/{name}; [ -f \"$from\" ] || exit 0; \
             touch \"$to\" && chmod go-rwx \"$to\" && \
             grep -E '^[[:space:]]*(export[[:space:]]+)?({names})=' \"$from\" | \
             while IFS= read -r line; do grep -qxF -- \"$line\" \"$to\" || \
             printf '%s\\n' \"$line\" >> \"$to\"; done",
            from = crate::ssh::shell_quote(from),
            name = service.name(),
        ))
    }

    /// For the plan: what is kept and what is replaced.
    pub fn describe(&self) -> String {
        let list = |settings: &[Setting], variables: &[String]| -> String {
            settings
                .iter()
                .map(Setting::describe)
                .chain(variables.iter().cloned())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut kept = Vec::new();
        if !self.kept.is_empty() {
            kept.push(format!("{} (in {ADOPTED})", list(&self.kept, &[])));
        }
        if !self.kept_variables.is_empty() {
            kept.push(format!(
                "{} (moved to /etc/default)",
                list(&[], &self.kept_variables)
            ));
        }
        let replaced = list(&self.replaced, &self.replaced_variables);
        let mut out = if kept.is_empty() {
            "keeps none of its settings (cluster.toml sets them all)".to_owned()
        } else {
            format!(
                "keeps what cluster.toml does not set: {}",
                kept.join(" and ")
            )
        };
        if !replaced.is_empty() {
            out.push_str(&format!("; cluster.toml's replace {replaced}"));
        }
        out
    }
}

/// Whether `key`, a K3s switch, is on in a unit's ExecStart or in any of `files` (config
/// files: config.yaml, the adopted drop-in), as K3s would read it there.
pub fn switched_on(key: &str, unit: Option<&str>, files: &[Option<&str>]) -> bool {
    let on = |s: &Setting| {
        s.key == key
            && match &s.value {
                Value::Bool(on) => *on,
                Value::String(text) => text == "true",
                _ => false,
            }
    };
    unit.is_some_and(|unit| command_line_settings(unit).iter().any(on))
        || files
            .iter()
            .flatten()
            .any(|text| config_settings(text).iter().any(on))
}

/// What an adopted node keeps now: the adopted drop-in's settings (`current`) less those
/// pikube's config.yaml (`ours`) now makes, which the drop-in would otherwise override.
pub fn still_kept(current: &str, ours: &str) -> Adoption {
    let made_by_pikube = pikube_config_keys(ours);
    let (replaced, kept) = config_settings(current)
        .into_iter()
        .partition(|s| made_by_pikube.contains(&s.key));
    Adoption {
        kept,
        replaced,
        ..Adoption::default()
    }
}

/// The keys pikube's config.yaml sets, and those it always makes itself.
fn pikube_config_keys(ours: &str) -> Vec<String> {
    let mut keys: Vec<String> = PIKUBE_KEYS.iter().map(|k| (*k).to_owned()).collect();
    keys.extend(config_settings(ours).into_iter().map(|s| s.key));
    keys
}

/// A config file's settings, in file order (`key+:` read as `key`).
fn config_settings(text: &str) -> Vec<Setting> {
    let Ok(Value::Mapping(map)) = yaml_serde::from_str::<Value>(text) else {
        return Vec::new();
    };
    map.into_iter()
        .filter_map(|(key, value)| {
            let key = key.as_str()?.trim_end_matches('+').to_owned();
            Some(Setting { key, value })
        })
        .collect()
}

/// The flags of the unit's ExecStart (`k3s server --disable=traefik ...`), continuation
/// lines joined and quotes removed as systemd reads them.
fn command_line_settings(unit: &str) -> Vec<Setting> {
    let words = exec_start_words(unit);
    let mut args = words
        .iter()
        .skip(1)
        .skip_while(|w| *w == "server" || *w == "agent")
        .peekable();
    let mut settings: Vec<Setting> = Vec::new();
    while let Some(word) = args.next() {
        let Some(flag) = word.strip_prefix("--").or_else(|| word.strip_prefix('-')) else {
            continue;
        };
        let (key, value) = match flag.split_once('=') {
            Some((key, value)) => (key.to_owned(), Value::from(value)),
            None => match args.peek() {
                Some(next) if !next.starts_with('-') => {
                    let value = args.next().cloned().unwrap_or_default();
                    (flag.to_owned(), Value::from(value))
                }
                _ => (flag.to_owned(), Value::Bool(true)),
            },
        };
        let key = long_name(key);
        match settings.iter_mut().find(|s| s.key == key) {
            // A repeated flag is a list, as K3s reads it.
            Some(existing) => {
                let mut items = match std::mem::replace(&mut existing.value, Value::Null) {
                    Value::Sequence(items) => items,
                    one => vec![one],
                };
                items.push(value);
                existing.value = Value::Sequence(items);
            }
            None => settings.push(Setting { key, value }),
        }
    }
    settings
}

/// A unit's command (ExecStart, continuation lines joined, quotes removed), for people:
/// secrets redacted.
pub fn command_line(unit: &str) -> String {
    let words = exec_start_words(unit);
    if words.is_empty() {
        return "no ExecStart".to_owned();
    }
    crate::plan::redact_secrets(&words.join(" "))
}

/// K3s' one-letter flags, as config files name them (`-t` is `token`).
fn long_name(key: String) -> String {
    let long = match key.as_str() {
        "t" => "token",
        "s" => "server",
        "c" => "config",
        "d" => "data-dir",
        "i" => "node-ip",
        "l" => "log",
        _ => return key,
    };
    long.to_owned()
}

/// ExecStart's words: lines ending in `\` continue it; single and double quotes group,
/// a backslash escapes the next character.
fn exec_start_words(unit: &str) -> Vec<String> {
    let mut line = String::new();
    let lines = unit
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("ExecStart="));
    for part in lines {
        let part = part.trim().trim_start_matches("ExecStart=");
        match part.strip_suffix('\\') {
            Some(head) => {
                line.push_str(head);
                line.push(' ');
            }
            None => {
                line.push_str(part);
                break;
            }
        }
    }
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (_, '\\') => {
                if let Some(next) = chars.next() {
                    word.get_or_insert_with(String::new).push(next);
                }
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (_, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What install.sh writes for `INSTALL_K3S_EXEC="server --disable=traefik
    /// --flannel-backend wireguard-native --tls-san a --tls-san b" K3S_TOKEN=...`.
    const INSTALL_SH_UNIT: &str = "[Unit]\nDescription=Lightweight Kubernetes\n[Service]\n\
        Type=notify\nEnvironmentFile=-/etc/systemd/system/k3s.service.env\n\
        ExecStart=/usr/local/bin/k3s \\\n    server \\\n\t'--disable=traefik' \\\n\
        \t'--flannel-backend' \\\n\t'wireguard-native' \\\n\t'--tls-san' \\\n\t'a' \\\n\
        \t'--tls-san' \\\n\t'b' \\\n\t'--cluster-init' \\\n\t'--token' \\\n\t'install-secret' \\\n\n";

    /// pikube's config.yaml for the node, with `[k3s] tls_san`.
    const OURS: &str = "# Managed by pikube for cluster lab\nnode-name: one\n\
                        cluster-init: true\nwrite-kubeconfig-mode: \"0600\"\n\
                        tls-san:\n- 10.0.0.1\n";

    #[test]
    fn install_sh_flags_and_variables_are_kept_unless_cluster_toml_makes_them() {
        let variables = ["K3S_TOKEN", "K3S_KUBECONFIG_MODE", "HTTPS_PROXY"].map(String::from);
        let old_config = "write-kubeconfig-mode: \"0640\"\nflannel-backend: vxlan\n";
        let adoption = Adoption::read(INSTALL_SH_UNIT, Some(old_config), None, &variables, OURS);
        let keys = |settings: &[Setting]| -> Vec<String> {
            settings.iter().map(|s| s.key.clone()).collect()
        };
        // The command line's flannel backend wins over the file's, as in K3s.
        assert_eq!(keys(&adoption.kept), ["flannel-backend", "disable"]);
        assert_eq!(adoption.kept[0].value, Value::from("wireguard-native"));
        assert_eq!(
            keys(&adoption.replaced),
            ["write-kubeconfig-mode", "tls-san", "cluster-init", "token"]
        );
        // A variable is its flag's default: replaced where pikube sets the flag.
        assert_eq!(adoption.kept_variables, ["HTTPS_PROXY"]);
        assert_eq!(
            adoption.replaced_variables,
            ["K3S_TOKEN", "K3S_KUBECONFIG_MODE"]
        );

        let text = adoption.describe();
        assert_eq!(
            text,
            format!(
                "keeps what cluster.toml does not set: --flannel-backend=wireguard-native, \
                 --disable=traefik (in {ADOPTED}) and HTTPS_PROXY (moved to /etc/default); \
                 cluster.toml's replace --write-kubeconfig-mode=0640, --tls-san=a \
                 --tls-san=b, --cluster-init, --token=<redacted>, K3S_TOKEN, \
                 K3S_KUBECONFIG_MODE"
            )
        );
        assert!(!text.contains("install-secret"));
        assert!(!adoption.keeps_secrets());

        let dropin = adoption.dropin().unwrap();
        assert!(dropin.starts_with("# Kept by pikube"), "{dropin}");
        let read: Value = yaml_serde::from_str(&dropin).unwrap();
        assert!(read.get("write-kubeconfig-mode").is_none(), "{dropin}");
        assert_eq!(read["flannel-backend"], "wireguard-native");
        assert_eq!(read["disable"], "traefik");
    }

    #[test]
    fn pikubes_own_config_is_not_an_old_setting_and_nothing_kept_means_no_dropin() {
        let unit = "ExecStart=/usr/local/bin/k3s agent\n";
        let adoption = Adoption::read(unit, Some(OURS), None, &[], OURS);
        assert_eq!(adoption, Adoption::default());
        assert_eq!(adoption.dropin(), None);
        let from = Service::Agent.env_path();
        assert_eq!(adoption.keep_variables_script(&from, Service::Agent), None);
    }

    #[test]
    fn one_letter_flags_are_read_by_their_long_names() {
        let unit = "ExecStart=/usr/local/bin/k3s agent -s https://10.0.0.1:6443 -t K10abc \
                    -i 10.0.0.9\n";
        let adoption = Adoption::read(unit, None, None, &[], OURS);
        let keys = |settings: &[Setting]| -> Vec<String> {
            settings.iter().map(|s| s.key.clone()).collect()
        };
        assert_eq!(keys(&adoption.replaced), ["server", "token"]);
        assert_eq!(keys(&adoption.kept), ["node-ip"]);
        assert!(!adoption.describe().contains("K10abc"));
    }

    #[test]
    fn a_secret_kept_from_the_command_line_is_never_shown() {
        let unit = "ExecStart=/usr/local/bin/k3s server --etcd-s3-secret-key=hush --etcd-s3\n";
        let adoption = Adoption::read(unit, None, None, &[], OURS);
        assert!(adoption.keeps_secrets());
        let text = adoption.describe();
        assert!(
            text.contains("--etcd-s3-secret-key=<redacted>, --etcd-s3"),
            "{text}"
        );
        assert!(!text.contains("hush"), "{text}");
    }

    #[test]
    fn the_dropin_loses_a_key_once_cluster_toml_sets_it() {
        let adoption = Adoption::read(INSTALL_SH_UNIT, None, None, &[], OURS);
        let dropin = adoption.dropin().unwrap();
        assert_eq!(
            still_kept(&dropin, OURS).dropin().as_deref(),
            Some(dropin.as_str())
        );
        let disabling = format!("{OURS}disable:\n- servicelb\n");
        let refreshed = still_kept(&dropin, &disabling);
        let text = refreshed.dropin().unwrap();
        assert!(!text.contains("disable"), "{text}");
        assert!(text.contains("flannel-backend"), "{text}");
        assert_eq!(
            refreshed.describe().split("; ").nth(1),
            Some("cluster.toml's replace --disable=traefik")
        );
        let all = format!("{disabling}flannel-backend: vxlan\n");
        assert_eq!(still_kept(&dropin, &all).dropin(), None);
    }

    #[test]
    fn an_adoption_cut_short_keeps_what_it_had_already_kept() {
        // The first try kept config.yaml's settings in the drop-in, then replaced config.yaml
        // with pikube's and stopped before the unit: the next try still keeps them.
        let old_config = "flannel-backend: vxlan\nwrite-kubeconfig-mode: \"0640\"\n";
        let first = Adoption::read(INSTALL_SH_UNIT, Some(old_config), None, &[], OURS);
        let dropin = first.dropin().unwrap();
        let again = Adoption::read(INSTALL_SH_UNIT, Some(OURS), Some(&dropin), &[], OURS);
        assert_eq!(again.dropin(), Some(dropin));
    }

    #[test]
    fn kept_variables_move_on_the_node_without_their_values_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("k3s.service.env");
        let to = dir.path().join("default-k3s");
        std::fs::write(
            &from,
            "K3S_TOKEN=secret\nK3S_RESOLV_CONF='/etc/r.conf'\nexport HTTPS_PROXY=http://u:p@proxy:3128\n",
        )
        .unwrap();
        let variables = ["K3S_TOKEN", "K3S_RESOLV_CONF", "HTTPS_PROXY"].map(String::from);
        let adoption = Adoption::read(
            "ExecStart=/usr/local/bin/k3s server\n",
            None,
            None,
            &variables,
            OURS,
        );
        let script = adoption
            .keep_variables_script(&from.display().to_string(), Service::Server)
            .unwrap()
            .replace("/etc/default/k3s", &to.display().to_string());
        assert!(
            !script.contains("secret") && !script.contains("u:p"),
            "{script}"
        );
        for _ in 0..2 {
            let status = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .status()
                .unwrap();
            assert!(status.success());
        }
        assert_eq!(
            std::fs::read_to_string(&to).unwrap(),
            "K3S_RESOLV_CONF='/etc/r.conf'\nexport HTTPS_PROXY=http://u:p@proxy:3128\n"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&to).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
