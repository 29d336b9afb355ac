//! `[addons.*]` to [`Addons`]: the add-ons pikube installs into the cluster, each setting
//! typed here so a bad one is a cluster.toml error at its line, not a pod that never starts.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::fields;
use super::located::Located;
use super::raw::{RawAddons, RawMonitoring};
use super::report::Report;
use crate::secrets::SecretKey;

/// The add-ons cluster.toml turns on. One that is absent or `enabled = false` is removed
/// from the cluster by the next apply, if pikube installed it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Addons {
    /// `[addons.monitoring]`, when on.
    pub monitoring: Option<MonitoringAddon>,
}

/// `[addons.monitoring]`: Prometheus, Grafana, node-exporter, kube-state-metrics and the
/// Pi health exporter, sized for 4 GB Pis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonitoringAddon {
    /// How long Prometheus keeps samples.
    pub retention: Retention,
    /// The size of Prometheus' volume.
    pub storage: StorageSize,
    /// The secret in secrets.age with Grafana's admin password; without one, pikube
    /// generates a password and keeps it in local state.
    pub grafana_password_secret: Option<SecretKey>,
}

impl MonitoringAddon {
    /// `retention` when cluster.toml says none.
    pub const DEFAULT_RETENTION: &'static str = "15d";
    /// `storage` when cluster.toml says none.
    pub const DEFAULT_STORAGE: &'static str = "8Gi";
}

/// A Prometheus duration (`15d`, `12h`, `1w2d`), more than zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retention(String);

#[derive(Debug, thiserror::Error)]
#[error(
    "{input:?} is not a retention: a Prometheus duration like 15d, 12h or 1w3d, more than zero"
)]
pub struct InvalidRetention {
    input: String,
}

impl FromStr for Retention {
    type Err = InvalidRetention;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Prometheus' units, largest first; each at most once and in this order.
        const UNITS: [&str; 7] = ["y", "w", "d", "h", "m", "s", "ms"];
        let invalid = || InvalidRetention {
            input: s.to_owned(),
        };
        let mut rest = s;
        let mut next_unit = 0;
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits == 0 || digits > 9 {
                return Err(invalid());
            }
            let amount: u64 = rest[..digits].parse().map_err(|_| invalid())?;
            rest = &rest[digits..];
            // "ms" before "m", so the longer unit is tried first.
            let unit = (next_unit..UNITS.len())
                .filter(|&i| rest.starts_with(UNITS[i]))
                .max_by_key(|&i| UNITS[i].len())
                .ok_or_else(invalid)?;
            rest = &rest[UNITS[unit].len()..];
            next_unit = unit + 1;
            total += amount;
        }
        if total == 0 {
            return Err(invalid());
        }
        Ok(Retention(s.to_owned()))
    }
}

impl Retention {
    /// As written, which is how Prometheus takes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Kubernetes quantity of bytes (`8Gi`, `500Mi`, `20G`), at least 1 GiB: Prometheus
/// needs room for its write-ahead log before the first block is cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageSize {
    text: String,
    bytes: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("{input:?} is not a storage size: {why}")]
pub struct InvalidStorageSize {
    input: String,
    why: &'static str,
}

impl FromStr for StorageSize {
    type Err = InvalidStorageSize;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const SUFFIXES: [(&str, u64); 8] = [
            ("Ki", 1 << 10),
            ("Mi", 1 << 20),
            ("Gi", 1 << 30),
            ("Ti", 1 << 40),
            ("k", 1_000),
            ("M", 1_000_000),
            ("G", 1_000_000_000),
            ("T", 1_000_000_000_000),
        ];
        let fail = |why| InvalidStorageSize {
            input: s.to_owned(),
            why,
        };
        let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (number, suffix) = s.split_at(digits);
        let unit = match suffix {
            "" => 1,
            _ => {
                SUFFIXES
                    .iter()
                    .find(|(name, _)| *name == suffix)
                    .ok_or(fail("a Kubernetes quantity like 8Gi, 500Mi or 20G"))?
                    .1
            }
        };
        let bytes = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(unit))
            .ok_or(fail("a Kubernetes quantity like 8Gi, 500Mi or 20G"))?;
        if bytes < 1 << 30 {
            return Err(fail("Prometheus needs at least 1Gi"));
        }
        Ok(StorageSize {
            text: s.to_owned(),
            bytes,
        })
    }
}

impl StorageSize {
    /// As written, which is how Kubernetes takes it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// In bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Serialize for StorageSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl fmt::Display for StorageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `None` when anything in the tables is invalid (each problem is in `report`).
pub(crate) fn lower(report: &mut Report<'_>, raw: Option<Located<RawAddons>>) -> Option<Addons> {
    let Some(raw) = raw else {
        return Some(Addons::default());
    };
    let monitoring = match raw.value.monitoring {
        None => None,
        Some(table) => monitoring(report, table.value)?,
    };
    Some(Addons { monitoring })
}

/// `Some(None)` when the table turns monitoring off.
fn monitoring(report: &mut Report<'_>, raw: RawMonitoring) -> Option<Option<MonitoringAddon>> {
    let retention = fields::optional(raw.retention.as_ref(), |r| {
        fields::parse::<Retention>(report, "addons.monitoring.retention", r)
    });
    let storage = fields::optional(raw.storage.as_ref(), |r| {
        fields::parse::<StorageSize>(report, "addons.monitoring.storage", r)
    });
    let secret = fields::optional(
        raw.grafana_password_secret.as_ref(),
        |r| match SecretKey::parse(r.get_ref()) {
            Ok(key) => Some(key),
            Err(why) => {
                report.error(
                    Some(r.span()),
                    "addons.monitoring.grafana_password_secret",
                    why,
                );
                None
            }
        },
    );
    let (retention, storage, secret) = (retention?, storage?, secret?);
    if raw.enabled.is_some_and(|e| !*e.get_ref()) {
        return Some(None);
    }
    Some(Some(MonitoringAddon {
        retention: retention
            .unwrap_or_else(|| Retention(MonitoringAddon::DEFAULT_RETENTION.into())),
        storage: match storage {
            Some(storage) => storage,
            None => MonitoringAddon::DEFAULT_STORAGE.parse().ok()?,
        },
        grafana_password_secret: secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_a_prometheus_duration_above_zero() {
        for good in [
            "15d",
            "12h",
            "1w3d",
            "1y",
            "90m",
            "1h30m",
            "500ms",
            "1d12h30m15s",
        ] {
            assert_eq!(good.parse::<Retention>().unwrap().as_str(), good, "{good}");
        }
        for bad in [
            "", "-1d", "0d", "0h0m", "15", "d", "15 d", "1d1w", "1h1h", "15days", "1.5d",
        ] {
            let err = bad.parse::<Retention>().unwrap_err().to_string();
            assert!(err.contains("is not a retention"), "{bad}: {err}");
        }
    }

    #[test]
    fn storage_is_a_quantity_of_at_least_one_gibibyte() {
        for good in ["8Gi", "1Gi", "1024Mi", "20G", "2Ti", "1073741824"] {
            assert_eq!(
                good.parse::<StorageSize>().unwrap().as_str(),
                good,
                "{good}"
            );
        }
        assert_eq!("8Gi".parse::<StorageSize>().unwrap().bytes(), 8 << 30);
        assert_eq!(
            "20G".parse::<StorageSize>().unwrap().bytes(),
            20_000_000_000
        );
        for bad in ["lots", "", "8GB", "8gi", "-8Gi", "8.5Gi", "Gi"] {
            let err = bad.parse::<StorageSize>().unwrap_err().to_string();
            assert!(
                err.contains("a Kubernetes quantity like 8Gi"),
                "{bad}: {err}"
            );
        }
        let err = "500Mi".parse::<StorageSize>().unwrap_err().to_string();
        assert!(err.contains("at least 1Gi"), "{err}");
        let err = "99999999999999999999Ti"
            .parse::<StorageSize>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("quantity"), "{err}");
    }
}
