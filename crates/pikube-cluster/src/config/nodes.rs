//! One `[[nodes]]` table to a `NodeSpec`, its SSH options resolved against `[ssh]`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use toml::Spanned;

use super::address::Address;
use super::fields;
use super::labels::{LabelKey, LabelValue, PIKUBE_PREFIX};
use super::located::Located;
use super::model::{NodeSpec, SshSettings};
use super::names::NodeName;
use super::network::{NodeAddress, StaticAddress};
use super::raw::{RawNode, Text};
use super::report::Report;
use super::role::Role;
use super::taint::Taint;

/// What the fleet-wide checks need even when the node as a whole is invalid,
/// so a bad port on one node does not hide a duplicate name on another.
pub(crate) struct LoweredNode {
    pub(crate) index: usize,
    pub(crate) name: Option<Spanned<NodeName>>,
    pub(crate) address: Option<Spanned<Address>>,
    /// The address's prefix made it a static address.
    pub(crate) static_address: Option<Spanned<StaticAddress>>,
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
    let written = required::<NodeAddress>(
        report,
        raw.address.as_ref(),
        &table,
        &at("address"),
        "address = \"192.168.1.20\"",
    );
    let address = written
        .as_ref()
        .map(|w| Spanned::new(w.span(), w.get_ref().address.clone()));
    let static_address = written.as_ref().and_then(|w| {
        let prefix = w.get_ref().prefix?;
        let Address::Ip(ip) = w.get_ref().address else {
            return None;
        };
        Some(Spanned::new(w.span(), StaticAddress { ip, prefix }))
    });
    let role = required::<Role>(
        report,
        raw.role.as_ref(),
        &table,
        &at("role"),
        "role = \"agent\"",
    );
    let bad_role = raw.role.is_some() && role.is_none();

    // Outer `None`: the value was given but invalid (already reported).
    let user = fields::optional(raw.user.as_ref(), |u| fields::user(report, &at("user"), u));
    let port = fields::optional(raw.port.as_ref(), |p| fields::port(report, &at("port"), p));
    let identity_file = fields::optional(raw.identity_file.as_ref(), |p| {
        fields::path(report, &at("identity_file"), p, dir, home)
    });
    let proxy_jump = fields::optional(raw.proxy_jump.as_ref(), |j| {
        fields::proxy_jump(report, &at("proxy_jump"), j)
    });
    let labels = labels(report, &at("labels"), raw.labels.unwrap_or_default());
    let taints = taints(
        report,
        &at("taints"),
        raw.taints.as_deref().unwrap_or_default(),
    );

    let spec = (|| {
        Some(NodeSpec {
            name: name.clone()?.into_inner(),
            address: address.clone()?.into_inner(),
            static_address: static_address.as_ref().map(|s| *s.get_ref()),
            role: *role.as_ref()?.get_ref(),
            user: user?.or_else(|| ssh.user.clone()),
            port: port?.or(ssh.port),
            identity_file: identity_file?.or_else(|| ssh.identity_file.clone()),
            proxy_jump: match proxy_jump? {
                Some(own) => own,
                None => ssh.proxy_jump.clone(),
            },
            labels: labels?,
            taints: taints?,
            adopt: raw.adopt.is_some_and(|b| *b.get_ref()),
        })
    })();
    LoweredNode {
        index,
        name,
        address,
        static_address,
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

fn labels(
    report: &mut Report<'_>,
    field: &str,
    raw: BTreeMap<Text, Text>,
) -> Option<BTreeMap<LabelKey, LabelValue>> {
    let mut labels = BTreeMap::new();
    let mut ok = true;
    for (key, value) in raw {
        let here = format!("{field}.{}", fields::toml_key(key.get_ref()));
        let k = fields::parse::<LabelKey>(report, &here, &key);
        if let Some(k) = &k {
            if k.pikube_reserved() {
                report.error(Some(key.span()), &here, pikube_reserved(k, "label"));
                ok = false;
            } else if k.kubelet_refuses() {
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

/// Taints in file order. Unlike labels, taint keys in kubernetes.io are
/// fine: kubelet registers the node with them as given, and
/// `node-role.kubernetes.io/control-plane:NoSchedule` is the usual way to
/// keep workloads off servers.
fn taints(report: &mut Report<'_>, field: &str, raw: &[Text]) -> Option<Vec<Taint>> {
    let (taints, parsed) = fields::items(report, field, raw, |report, here, item| {
        let taint = fields::parse::<Taint>(report, here, item)?;
        if taint.key.pikube_reserved() {
            report.error(
                Some(item.span()),
                here,
                pikube_reserved(&taint.key, "taint"),
            );
            return None;
        }
        Some(taint)
    });
    // The API server keeps one taint per key and effect, and rejects a node
    // registering two.
    let unique = fields::no_repeats(
        report,
        field,
        &taints,
        |t| (t.key.clone(), t.effect),
        |t| format!("taint {:?} with effect {}", t.key.as_ref(), t.effect),
    );
    (parsed && unique).then(|| taints.into_iter().map(|(_, t)| t.into_inner()).collect())
}

fn pikube_reserved(key: &LabelKey, what: &str) -> String {
    format!(
        "{:?} is in the {PIKUBE_PREFIX}/ namespace, which pikube sets on nodes itself \
         (e.g. {PIKUBE_PREFIX}/pi-model, {PIKUBE_PREFIX}/storage); give the {what} your own \
         prefix, e.g. \"example.com/{}\"",
        key.as_ref(),
        key.name()
    )
}
