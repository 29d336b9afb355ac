//! One `[[nodes]]` table to a `NodeSpec`, its SSH options resolved against `[ssh]`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use toml::Spanned;

use super::address::Address;
use super::fields;
use super::labels::{LabelKey, LabelValue};
use super::located::Located;
use super::model::{NodeSpec, SshSettings};
use super::names::NodeName;
use super::raw::{RawNode, Text};
use super::report::Report;
use super::role::Role;

/// What the fleet-wide checks need even when the node as a whole is invalid,
/// so a bad port on one node does not hide a duplicate name on another.
pub(crate) struct LoweredNode {
    pub(crate) index: usize,
    pub(crate) name: Option<Spanned<NodeName>>,
    pub(crate) address: Option<Spanned<Address>>,
    pub(crate) role: Option<Spanned<Role>>,
    /// A role was written but is not a valid one.
    pub(crate) bad_role: bool,
    /// `Some` only when every field of the node is valid.
    pub(crate) spec: Option<NodeSpec>,
}

pub(crate) fn lower(
    report: &mut Report<'_>,
    index: usize,
    raw: Located<RawNode>,
    ssh: &SshSettings,
    dir: &Path,
    home: Option<&Path>,
) -> LoweredNode {
    let at = |key: &str| format!("nodes[{index}].{key}");
    let table = raw.span;
    let raw = raw.value;

    let name = required::<NodeName>(
        report,
        raw.name.as_ref(),
        &table,
        &at("name"),
        "name = \"pi-worker-01\"",
    );
    let address = required::<Address>(
        report,
        raw.address.as_ref(),
        &table,
        &at("address"),
        "address = \"192.168.1.20\"",
    );
    let role = required::<Role>(
        report,
        raw.role.as_ref(),
        &table,
        &at("role"),
        "role = \"agent\"",
    );
    let bad_role = raw.role.is_some() && role.is_none();

    // Outer `None`: the value was given but invalid (already reported).
    let user = optional(raw.user.as_ref(), |u| fields::user(report, &at("user"), u));
    let port = optional(raw.port.as_ref(), |p| fields::port(report, &at("port"), p));
    let identity_file = optional(raw.identity_file.as_ref(), |p| {
        fields::path(report, &at("identity_file"), p, dir, home)
    });
    let proxy_jump = optional(raw.proxy_jump.as_ref(), |j| {
        fields::proxy_jump(report, &at("proxy_jump"), j)
    });
    let labels = labels(report, &at("labels"), raw.labels.unwrap_or_default());

    let spec = (|| {
        Some(NodeSpec {
            name: name.clone()?.into_inner(),
            address: address.clone()?.into_inner(),
            role: *role.as_ref()?.get_ref(),
            user: user?.or_else(|| ssh.user.clone()),
            port: port?.or(ssh.port),
            identity_file: identity_file?.or_else(|| ssh.identity_file.clone()),
            proxy_jump: match proxy_jump? {
                Some(own) => own,
                None => ssh.proxy_jump.clone(),
            },
            labels: labels?,
        })
    })();
    LoweredNode {
        index,
        name,
        address,
        role,
        bad_role,
        spec,
    }
}

fn required<T>(
    report: &mut Report<'_>,
    raw: Option<&Text>,
    table: &Option<Range<usize>>,
    field: &str,
    example: &str,
) -> Option<Spanned<T>>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let Some(raw) = raw else {
        fields::missing(report, table.clone(), field, example);
        return None;
    };
    fields::parse::<T>(report, field, raw).map(|v| Spanned::new(raw.span(), v))
}

fn optional<R, T>(raw: Option<&R>, lower: impl FnOnce(&R) -> Option<T>) -> Option<Option<T>> {
    match raw {
        None => Some(None),
        Some(raw) => lower(raw).map(Some),
    }
}

fn labels(
    report: &mut Report<'_>,
    field: &str,
    raw: BTreeMap<Text, Text>,
) -> Option<BTreeMap<LabelKey, LabelValue>> {
    let mut labels = BTreeMap::new();
    let mut ok = true;
    for (key, value) in raw {
        let here = format!("{field}.{}", toml_key(key.get_ref()));
        let k = fields::parse::<LabelKey>(report, &here, &key);
        if let Some(k) = &k {
            if k.kubelet_refuses() {
                report.error(
                    Some(key.span()),
                    &here,
                    format!(
                        "{:?} is in a namespace kubelet reserves (kubernetes.io, k8s.io), \
                         so the node would fail to start; use your own prefix, \
                         e.g. \"example.com/{}\", or node.kubernetes.io/",
                        k.as_ref(),
                        k.name()
                    ),
                );
                ok = false;
            }
        }
        let v = fields::parse::<LabelValue>(report, &here, &value);
        match (k, v) {
            (Some(k), Some(v)) => {
                labels.insert(k, v);
            }
            _ => ok = false,
        }
    }
    ok.then_some(labels)
}

/// A key as TOML would write it, so `labels."example.com/disk"` stays one segment.
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}
