//! `[k3s.registries]` to [`Registries`]: what K3s' registries.yaml says, with each
//! password named by a secret in secrets.age rather than written in cluster.toml.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::fields;
use super::located::Located;
use super::raw::{RawRegistries, RawRegistryConfig, Text};
use super::report::Report;
use crate::digest::Sha256;
use crate::secrets::SecretKey;

/// Mirrors and per-registry settings for every node's containerd.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Registries {
    /// Registry name (`docker.io`, `registry.lan:5000`, or `*` for all) to the endpoints
    /// tried in order before the registry itself.
    pub mirrors: BTreeMap<String, Vec<String>>,
    /// Registry host to how to reach it.
    pub configs: BTreeMap<String, RegistryConfig>,
}

/// `[k3s.registries.configs."host"]`: how K3s' containerd talks to one registry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RegistryConfig {
    /// A user and the secret holding its password, together or not at all.
    pub auth: Option<RegistryAuth>,
    /// Do not check its certificate (a registry on the LAN with a self-signed one).
    pub insecure_skip_verify: bool,
    /// The CA its certificate is checked against (a home registry's own CA).
    pub ca: Option<RegistryCa>,
}

/// A registry's CA certificate, read from the controller when cluster.toml is loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryCa {
    /// Where it was read from.
    pub source: PathBuf,
    /// The certificate, PEM.
    #[serde(skip)]
    pub pem: String,
}

/// Where K3s' containerd finds registry CAs pikube put on the nodes.
pub const REGISTRY_CA_DIR: &str = "/etc/rancher/k3s/registries-ca";

/// CA files are a few KiB; anything this big is not one.
const MAX_CA_BYTES: u64 = 1 << 20;

impl RegistryCa {
    /// Its path on the nodes: named after the registry and its content, so that another CA
    /// is another path, and registries.yaml (which names it) changes with it.
    pub fn remote_path(&self, host: &str) -> String {
        let name: String = host
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let digest = Sha256::of(self.pem.as_bytes());
        format!("{REGISTRY_CA_DIR}/{name}-{}.crt", digest.short())
    }
}

/// A registry's login; the password stays in secrets.age.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryAuth {
    /// The user.
    pub username: String,
    /// The secret holding the password.
    pub password_secret: SecretKey,
}

impl Registries {
    /// No mirror and no registry configured.
    pub fn is_empty(&self) -> bool {
        self.mirrors.is_empty() && self.configs.is_empty()
    }

    /// The secrets the configs name, in order.
    pub fn secrets(&self) -> impl Iterator<Item = (&str, &SecretKey)> {
        self.configs.iter().filter_map(|(host, config)| {
            config
                .auth
                .as_ref()
                .map(|auth| (host.as_str(), &auth.password_secret))
        })
    }
}

/// `None` when anything in the table is invalid (each problem is in `report`).
pub(crate) fn lower(
    report: &mut Report<'_>,
    raw: Option<Located<RawRegistries>>,
    (dir, home): (&Path, Option<&Path>),
) -> Option<Registries> {
    let Some(raw) = raw else {
        return Some(Registries::default());
    };
    let raw = raw.value;
    let mut ok = true;
    let mut registries = Registries::default();
    for (name, endpoints) in raw.mirrors.unwrap_or_default() {
        let field = format!(
            "k3s.registries.mirrors.{}",
            fields::toml_key(name.get_ref())
        );
        ok &= registry_name(report, &field, &name, true);
        if endpoints.is_empty() {
            report.error(
                Some(name.span()),
                &field,
                "no endpoints: list at least one, e.g. [\"https://registry.lan:5000\"]",
            );
            ok = false;
        }
        let (good, all) = fields::items(report, &field, &endpoints, endpoint);
        ok &= all;
        registries.mirrors.insert(
            name.into_inner(),
            good.into_iter().map(|(_, e)| e.into_inner()).collect(),
        );
    }
    for (host, config) in raw.configs.unwrap_or_default() {
        let field = format!(
            "k3s.registries.configs.{}",
            fields::toml_key(host.get_ref())
        );
        ok &= registry_name(report, &field, &host, false);
        match registry_config(report, &field, &host, config, (dir, home)) {
            Some(config) => {
                registries.configs.insert(host.into_inner(), config);
            }
            None => ok = false,
        }
    }
    ok.then_some(registries)
}

/// `host`, `host:port`, or (for a mirror) `*`: what containerd matches image names on.
fn registry_name(report: &mut Report<'_>, field: &str, name: &Text, wildcard: bool) -> bool {
    let text = name.get_ref();
    let valid = (wildcard && text == "*")
        || (!text.is_empty()
            && !text.starts_with(['.', '-', ':'])
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')));
    if !valid {
        report.error(
            Some(name.span()),
            field,
            format!(
                "{text:?} is not a registry name: a host with an optional port, like \
                 docker.io or registry.lan:5000{}",
                if wildcard {
                    ", or \"*\" for every registry"
                } else {
                    ""
                }
            ),
        );
    }
    valid
}

/// An http(s) URL without credentials (they go in `configs`, from the secrets).
fn endpoint(report: &mut Report<'_>, field: &str, raw: &Text) -> Option<String> {
    let problem = match reqwest::Url::parse(raw.get_ref()) {
        Err(e) => format!("{:?} is not a URL: {e}", raw.get_ref()),
        Ok(url) if !matches!(url.scheme(), "http" | "https") => {
            format!(
                "{:?}: a mirror endpoint is http:// or https://",
                raw.get_ref()
            )
        }
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            "credentials in a mirror URL would be written to every node in clear: give \
             the registry a [k3s.registries.configs] entry with username and \
             password_secret instead"
                .to_owned()
        }
        Ok(_) => return Some(raw.get_ref().clone()),
    };
    report.error(Some(raw.span()), field, problem);
    None
}

fn registry_config(
    report: &mut Report<'_>,
    field: &str,
    host: &Text,
    raw: RawRegistryConfig,
    (dir, home): (&Path, Option<&Path>),
) -> Option<RegistryConfig> {
    let ca = match &raw.ca_file {
        None => Some(None),
        Some(value) => {
            registry_ca(report, &format!("{field}.ca_file"), value, (dir, home)).map(Some)
        }
    };
    let auth = match (raw.username, raw.password_secret) {
        (None, None) => Some(None),
        (Some(username), Some(secret)) => {
            let user = if username.get_ref().is_empty()
                || username.get_ref().chars().any(char::is_control)
            {
                report.error(
                    Some(username.span()),
                    format!("{field}.username"),
                    "the registry user is empty or holds control characters",
                );
                None
            } else {
                Some(username.get_ref().clone())
            };
            let key = match SecretKey::parse(secret.get_ref()) {
                Ok(key) => Some(key),
                Err(e) => {
                    report.error(Some(secret.span()), format!("{field}.password_secret"), e);
                    None
                }
            };
            match (user, key) {
                (Some(username), Some(password_secret)) => Some(Some(RegistryAuth {
                    username,
                    password_secret,
                })),
                _ => None,
            }
        }
        (Some(_), None) | (None, Some(_)) => {
            report.error(
                Some(host.span()),
                field,
                "username and password_secret go together: the password comes from the \
                 secret of that name (`pikube secrets set <name>`)",
            );
            None
        }
    };
    Some(RegistryConfig {
        auth: auth?,
        insecure_skip_verify: raw.insecure_skip_verify.is_some_and(|b| *b.get_ref()),
        ca: ca?,
    })
}

/// `ca_file`: a PEM certificate, read now, so that a wrong path or file is named at its line
/// rather than found on the nodes.
fn registry_ca(
    report: &mut Report<'_>,
    field: &str,
    value: &Text,
    (dir, home): (&Path, Option<&Path>),
) -> Option<RegistryCa> {
    let path = fields::path(report, field, value, dir, home)
        .and_then(|path| fields::existing_file(report, field, value, path))?;
    let problem = match std::fs::metadata(&path) {
        Ok(meta) if meta.len() > MAX_CA_BYTES => Err(format!(
            "{}: {} bytes is not a CA certificate",
            path.display(),
            meta.len()
        )),
        _ => std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e}", path.display()))
            .and_then(|pem| {
                if pem.contains("-----BEGIN CERTIFICATE-----") {
                    Ok(pem)
                } else {
                    Err(format!(
                        "{}: not a PEM certificate (no -----BEGIN CERTIFICATE----- line)",
                        path.display()
                    ))
                }
            }),
    };
    match problem {
        Ok(pem) => Some(RegistryCa { source: path, pem }),
        Err(problem) => {
            report.error(Some(value.span()), field, problem);
            None
        }
    }
}
