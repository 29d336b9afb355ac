//! systemd units' states from one `systemctl show`: one process for every unit a script
//! asks about, where `systemctl is-enabled` and `is-active` took two per unit (each a
//! systemctl start-up and a D-Bus round trip, on every node, on every plan).

use std::collections::BTreeMap;

use serde::Serialize;

/// The properties a script asks `systemctl show` for (`--property=`), in its own words:
/// `systemctl show --property=Id,LoadState,UnitFileState,ActiveState UNIT...`.
pub const UNIT_PROPERTIES: &str = "Id,LoadState,UnitFileState,ActiveState";

/// What systemctl answered about one unit; `None` when systemctl is missing or said
/// nothing about it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServiceState {
    /// As `systemctl is-enabled` says it: `enabled`, `disabled`, `masked`, `static`,
    /// `not-found`...
    pub enabled: Option<String>,
    /// As `systemctl is-active` says it: `active`, `inactive`, `failed`, `activating`...
    pub active: Option<String>,
}

impl ServiceState {
    /// Running now.
    pub fn is_active(&self) -> bool {
        self.active.as_deref() == Some("active")
    }

    /// Started at boot (`enabled` exactly; `static` and `enabled-runtime` are not).
    pub fn is_enabled(&self) -> bool {
        self.enabled.as_deref() == Some("enabled")
    }
}

/// Every unit of one `systemctl show`, by its name without `.service`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitStates {
    units: BTreeMap<String, ServiceState>,
}

impl UnitStates {
    /// `output`: what `systemctl show --property=UNIT_PROPERTIES ...` printed (a block
    /// of `Key=value` lines per unit, blocks apart by an empty line, keys in systemd's
    /// order, not the asked one); `None` when it failed or was not run.
    pub fn parse(output: Option<&str>) -> UnitStates {
        let mut units = BTreeMap::new();
        for block in output.unwrap_or("").split("\n\n") {
            let mut properties = BTreeMap::new();
            for line in block.lines() {
                if let Some((key, value)) = line.split_once('=') {
                    properties.insert(key, value.trim_end_matches('\r'));
                }
            }
            let Some(id) = properties.get("Id").filter(|id| !id.is_empty()) else {
                continue;
            };
            let name = id.strip_suffix(".service").unwrap_or(id).to_owned();
            let load = properties.get("LoadState").copied().unwrap_or("");
            let file = properties.get("UnitFileState").copied().unwrap_or("");
            // is-enabled prints the unit file's state, and "not-found" for a unit that
            // has no file (UnitFileState is then empty).
            let enabled = match (file, load) {
                ("", "") => None,
                ("", load) => Some(load),
                (file, _) => Some(file),
            };
            let active = properties.get("ActiveState").filter(|a| !a.is_empty());
            units.insert(
                name,
                ServiceState {
                    enabled: enabled.map(str::to_owned),
                    active: active.map(|a| (*a).to_owned()),
                },
            );
        }
        UnitStates { units }
    }

    /// `unit`'s state (`k3s`, `dphys-swapfile`), all `None` when systemctl said nothing
    /// of it.
    pub fn get(&self, unit: &str) -> ServiceState {
        self.units.get(unit).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// systemd 252's answer for a running k3s, a unit with no file, and a masked one.
    const SHOW: &str = "Id=k3s.service\nLoadState=loaded\nActiveState=active\n\
                        UnitFileState=enabled\n\n\
                        Id=k3s-agent.service\nLoadState=not-found\nActiveState=inactive\n\
                        UnitFileState=\n\n\
                        Id=dphys-swapfile.service\nLoadState=masked\nActiveState=inactive\n\
                        UnitFileState=masked\n";

    fn state(enabled: &str, active: &str) -> ServiceState {
        ServiceState {
            enabled: Some(enabled.to_owned()),
            active: Some(active.to_owned()),
        }
    }

    #[test]
    fn each_unit_reads_as_is_enabled_and_is_active_would_say() {
        let units = UnitStates::parse(Some(SHOW));
        assert_eq!(units.get("k3s"), state("enabled", "active"));
        assert!(units.get("k3s").is_enabled() && units.get("k3s").is_active());
        assert_eq!(units.get("k3s-agent"), state("not-found", "inactive"));
        assert_eq!(units.get("dphys-swapfile"), state("masked", "inactive"));
    }

    #[test]
    fn keys_in_any_order_and_crlf_are_read() {
        let units = UnitStates::parse(Some(
            "ActiveState=failed\r\nUnitFileState=disabled\r\nId=k3s.service\r\n",
        ));
        assert_eq!(units.get("k3s"), state("disabled", "failed"));
    }

    #[test]
    fn the_scripts_ask_for_the_properties_read_here() {
        let asked = format!("systemctl show --property={UNIT_PROPERTIES}");
        assert!(include_str!("script.sh").contains(&asked));
    }

    #[test]
    fn nothing_said_is_nothing_known() {
        for output in [
            None,
            Some(""),
            Some("Failed to connect to bus: Host is down\n"),
        ] {
            let units = UnitStates::parse(output);
            assert_eq!(units.get("k3s"), ServiceState::default(), "{output:?}");
            assert!(!units.get("k3s").is_active());
        }
    }
}
