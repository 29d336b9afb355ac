//! The packaged components K3s deploys by default and can be told not to,
//! checked here because K3s itself ignores a misspelt `--disable` item and
//! the component then quietly runs anyway.

use std::fmt;
use std::str::FromStr;

use super::suggest::did_you_mean;

/// One valid `--disable` item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum K3sComponent {
    /// Cluster DNS.
    Coredns,
    /// K3s' LoadBalancer for Services (klipper-lb).
    Servicelb,
    /// The ingress controller.
    Traefik,
    /// The local-path storage provisioner.
    LocalStorage,
    /// The resource metrics API (`kubectl top`).
    MetricsServer,
    /// The RuntimeClasses K3s adds for the container runtimes it finds.
    Runtimes,
}

const ALL: [K3sComponent; 6] = [
    K3sComponent::Coredns,
    K3sComponent::Servicelb,
    K3sComponent::Traefik,
    K3sComponent::LocalStorage,
    K3sComponent::MetricsServer,
    K3sComponent::Runtimes,
];

/// A `disable` item K3s does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a component K3s can disable; {hint}")]
pub struct InvalidK3sComponent {
    /// What was written.
    pub input: String,
    /// What would be accepted, or the likely meaning.
    pub hint: String,
}

impl K3sComponent {
    /// The name K3s' `--disable` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            K3sComponent::Coredns => "coredns",
            K3sComponent::Servicelb => "servicelb",
            K3sComponent::Traefik => "traefik",
            K3sComponent::LocalStorage => "local-storage",
            K3sComponent::MetricsServer => "metrics-server",
            K3sComponent::Runtimes => "runtimes",
        }
    }
}

impl FromStr for K3sComponent {
    type Err = InvalidK3sComponent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(c) = ALL.into_iter().find(|c| c.as_str() == s) {
            return Ok(c);
        }
        let names = ALL.map(K3sComponent::as_str);
        // The names people know these by: the pod or project, not K3s' item.
        let alias = match s.to_ascii_lowercase().as_str() {
            "local-path" | "local-path-provisioner" => Some("local-storage"),
            "klipper" | "klipper-lb" | "svclb" => Some("servicelb"),
            "metrics" => Some("metrics-server"),
            _ => None,
        };
        // These are switched off by flags of their own, not by --disable.
        let own_flag = match s {
            "flannel" => Some("--flannel-backend=none".to_owned()),
            "kube-proxy" | "network-policy" | "helm-controller" | "cloud-controller"
            | "scheduler" | "etcd" => Some(format!("--disable-{s}")),
            _ => None,
        };
        let hint = match (own_flag, alias.or_else(|| did_you_mean(s, &names))) {
            (Some(flag), _) => {
                format!(
                    "K3s turns {s} off with a flag of its own, {flag}, which pikube does not set"
                )
            }
            (None, Some(close)) => format!("did you mean {close:?}?"),
            (None, None) => format!(
                "expected one of {}",
                names
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Err(InvalidK3sComponent {
            input: s.to_owned(),
            hint,
        })
    }
}

impl fmt::Display for K3sComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_item() {
        for c in ALL {
            assert_eq!(c.to_string().parse::<K3sComponent>(), Ok(c));
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::Value::String(c.as_str().into())
            );
        }
    }

    #[test]
    fn hints() {
        let err = |s: &str| s.parse::<K3sComponent>().unwrap_err().to_string();
        assert_eq!(
            err("traefic"),
            "\"traefic\" is not a component K3s can disable; did you mean \"traefik\"?"
        );
        assert_eq!(
            err("Traefik"),
            "\"Traefik\" is not a component K3s can disable; did you mean \"traefik\"?"
        );
        assert_eq!(
            err("local_storage"),
            "\"local_storage\" is not a component K3s can disable; did you mean \"local-storage\"?"
        );
        assert_eq!(
            err("local-path-provisioner"),
            "\"local-path-provisioner\" is not a component K3s can disable; \
             did you mean \"local-storage\"?"
        );
        assert_eq!(
            err("flannel"),
            "\"flannel\" is not a component K3s can disable; K3s turns flannel off \
             with a flag of its own, --flannel-backend=none, which pikube does not set"
        );
        assert_eq!(
            err("nginx"),
            "\"nginx\" is not a component K3s can disable; expected one of \"coredns\", \
             \"servicelb\", \"traefik\", \"local-storage\", \"metrics-server\", \"runtimes\""
        );
    }
}
