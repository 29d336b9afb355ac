//! `[k3s]` (and `[k3s.binary]`, `[k3s.images]`) to `K3sSettings`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::address::Address;
use super::arch::Arch;
use super::component::K3sComponent;
use super::datastore::{DatastoreEndpoint, ExternalDatastore};
use super::fields;
use super::image_archive::ImageArchiveKind;
use super::kubelet_arg::KubeletArg;
use super::located::Located;
use super::model::K3sSettings;
use super::raw::{RawK3s, Text};
use super::report::Report;
use super::secrets_encryption::SecretsEncryption;
use super::version::K3sVersion;
use crate::digest::Sha256;
use crate::secrets::SecretKey;

/// `None` when the table is missing or any value in it is invalid; every
/// problem is in `report` either way.
pub(crate) fn lower(
    report: &mut Report<'_>,
    raw: Option<Located<RawK3s>>,
    dir: &Path,
    home: Option<&Path>,
) -> Option<K3sSettings> {
    let Some(table) = raw else {
        report.error(
            None,
            "k3s",
            "missing [k3s] table, e.g. [k3s] version = \"v1.31.4+k3s1\"",
        );
        return None;
    };
    let raw = table.value;

    let version = match &raw.version {
        None => {
            fields::missing(
                report,
                table.span,
                "k3s.version",
                "version = \"v1.31.4+k3s1\"",
            );
            None
        }
        Some(v) => fields::parse::<K3sVersion>(report, "k3s.version", v),
    };
    let api_endpoint = fields::optional(raw.api_endpoint.as_ref(), |a| {
        server_name(report, "k3s.api_endpoint", a, "API address")
    });
    let tls_san = tls_san(report, raw.tls_san.as_deref().unwrap_or_default());
    let disable = disable(report, raw.disable.as_deref().unwrap_or_default());
    let kubelet_args = kubelet_args(report, raw.kubelet_args.as_deref().unwrap_or_default());
    let datastore_endpoint = fields::optional(raw.datastore_endpoint.as_ref(), |d| {
        fields::parse::<DatastoreEndpoint>(report, "k3s.datastore_endpoint", d)
    });
    let datastore_endpoint_secret = fields::optional(raw.datastore_endpoint_secret.as_ref(), |s| {
        let key = SecretKey::parse(s.get_ref())
            .map_err(|why| report.error(Some(s.span()), "k3s.datastore_endpoint_secret", why))
            .ok()?;
        if raw.datastore_endpoint.is_some() {
            report.error(
                Some(s.span()),
                "k3s.datastore_endpoint_secret",
                "give the endpoint once: either datastore_endpoint, or the name of the secret \
                 in secrets.age that holds it here"
                    .to_owned(),
            );
            return None;
        }
        Some(key)
    });
    let binaries = local_files(
        report,
        "binary",
        raw.binary.unwrap_or_default(),
        (dir, home),
        |_| None,
    );
    let images = local_files(
        report,
        "images",
        raw.images.unwrap_or_default(),
        (dir, home),
        image_archive_problem,
    );

    let binary_sha256 = pins(report, "sha256", raw.sha256.unwrap_or_default());
    let images_sha256 = pins(
        report,
        "images_sha256",
        raw.images_sha256.unwrap_or_default(),
    );

    let registries = super::registries::lower(report, raw.registries, (dir, home));

    Some(K3sSettings {
        version: version?,
        api_endpoint: api_endpoint?,
        tls_san: tls_san?,
        disable: disable?,
        kubelet_args: kubelet_args?,
        // Never both: the secret's check above refuses that.
        datastore: match (datastore_endpoint?, datastore_endpoint_secret?) {
            (Some(endpoint), _) => Some(ExternalDatastore::Endpoint(endpoint)),
            (None, Some(key)) => Some(ExternalDatastore::InSecret(key)),
            (None, None) => None,
        },
        binaries: binaries?,
        airgap_images: raw.airgap_images.is_some_and(|b| *b.get_ref()),
        secrets_encryption: SecretsEncryption::from_key(
            raw.secrets_encryption.map(|b| *b.get_ref()),
        ),
        images: images?,
        binary_sha256: binary_sha256?,
        images_sha256: images_sha256?,
        registries: registries?,
    })
}

/// `[k3s.sha256]`, `[k3s.images_sha256]`: an architecture's asset must hash to this.
fn pins(
    report: &mut Report<'_>,
    table: &str,
    raw: BTreeMap<Text, Text>,
) -> Option<BTreeMap<Arch, Sha256>> {
    let mut pins = BTreeMap::new();
    let mut ok = true;
    for (key, value) in raw {
        let field = format!("k3s.{table}.{}", fields::toml_key(key.get_ref()));
        let arch = fields::parse::<Arch>(report, &field, &key);
        let digest = fields::parse::<Sha256>(report, &field, &value);
        match (arch, digest) {
            (Some(arch), Some(digest)) => {
                pins.insert(arch, digest);
            }
            _ => ok = false,
        }
    }
    ok.then_some(pins)
}

fn server_name(
    report: &mut Report<'_>,
    field: &str,
    raw: &Text,
    what: &'static str,
) -> Option<Address> {
    match Address::parse_server_name(raw.get_ref(), what) {
        Ok(address) => Some(address),
        Err(e) => {
            report.error(Some(raw.span()), field, e.to_string());
            None
        }
    }
}

/// In file order. A repeat is an error rather than dropped: it is more
/// often a second name mistyped as the first than a real duplicate.
fn tls_san(report: &mut Report<'_>, raw: &[Text]) -> Option<Vec<Address>> {
    let field = "k3s.tls_san";
    let (names, parsed) = fields::items(report, field, raw, |report, here, item| {
        server_name(report, here, item, "certificate name")
    });
    let unique = fields::no_repeats(report, field, &names, Address::identity, |a| {
        format!("name {:?}", a.to_string())
    });
    (parsed && unique).then(|| names.into_iter().map(|(_, a)| a.into_inner()).collect())
}

fn disable(report: &mut Report<'_>, raw: &[Text]) -> Option<BTreeSet<K3sComponent>> {
    let field = "k3s.disable";
    let (components, parsed) = fields::items(report, field, raw, |report, here, item| {
        fields::parse::<K3sComponent>(report, here, item)
    });
    let unique = fields::no_repeats(
        report,
        field,
        &components,
        |c| *c,
        |c| format!("component {:?}", c.as_str()),
    );
    (parsed && unique).then(|| {
        components
            .into_iter()
            .map(|(_, c)| c.into_inner())
            .collect()
    })
}

/// In file order. A repeated name is left alone: K3s keeps its last value.
fn kubelet_args(report: &mut Report<'_>, raw: &[Text]) -> Option<Vec<KubeletArg>> {
    let (args, ok) = fields::items(report, "k3s.kubelet_args", raw, fields::parse::<KubeletArg>);
    ok.then(|| args.into_iter().map(|(_, a)| a.into_inner()).collect())
}

/// Local files per architecture (`[k3s.binary]`, `[k3s.images]`), resolved like
/// `[ssh] identity_file` and required to exist now: finding out at install time, with half
/// the nodes done, is too late.
fn local_files(
    report: &mut Report<'_>,
    table: &str,
    raw: BTreeMap<Text, Text>,
    (dir, home): (&Path, Option<&Path>),
    problem: fn(&Path) -> Option<String>,
) -> Option<BTreeMap<Arch, PathBuf>> {
    let mut files = BTreeMap::new();
    let mut ok = true;
    for (key, value) in raw {
        let field = format!("k3s.{table}.{}", fields::toml_key(key.get_ref()));
        let arch = fields::parse::<Arch>(report, &field, &key);
        let path = fields::path(report, &field, &value, dir, home)
            .and_then(|path| fields::existing_file(report, &field, &value, path))
            .and_then(|path| match problem(&path) {
                None => Some(path),
                Some(problem) => {
                    report.error(Some(value.span()), &field, problem);
                    None
                }
            });
        match (arch, path) {
            (Some(arch), Some(path)) => {
                files.insert(arch, path);
            }
            _ => ok = false,
        }
    }
    ok.then_some(files)
}

/// K3s imports only archives it recognises by their extension: anything else would be
/// pushed to every node and silently ignored there.
fn image_archive_problem(path: &Path) -> Option<String> {
    ImageArchiveKind::of(path).is_none().then(|| {
        format!(
            "{}: K3s imports only {} archives; this one would be ignored on the nodes",
            path.display(),
            ImageArchiveKind::EXTENSIONS.join(", ")
        )
    })
}
