//! `vcgencmd get_throttled`: under-voltage and thermal throttling, the usual
//! cause of a Pi that is "randomly" slow or corrupts its SD card.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// The raw `get_throttled` bit field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled(pub u32);

/// One condition the firmware reports, both "now" (bits 0–3) and "has
/// occurred since boot" (bits 16–19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThrottleFlag {
    /// Under-voltage: the supply sagged below what the board needs (bits 0 and 16).
    UnderVoltage,
    /// The ARM clock was capped (bits 1 and 17).
    ArmFrequencyCapped,
    /// The firmware throttled the SoC (bits 2 and 18).
    Throttled,
    /// The soft temperature limit was reached (bits 3 and 19).
    SoftTemperatureLimit,
}

const FLAGS: [ThrottleFlag; 4] = [
    ThrottleFlag::UnderVoltage,
    ThrottleFlag::ArmFrequencyCapped,
    ThrottleFlag::Throttled,
    ThrottleFlag::SoftTemperatureLimit,
];
const SINCE_BOOT_SHIFT: u32 = 16;

impl ThrottleFlag {
    fn label(self, now: bool) -> &'static str {
        match (self, now) {
            (ThrottleFlag::UnderVoltage, _) => "under-voltage",
            (ThrottleFlag::ArmFrequencyCapped, true) => "arm frequency capped",
            (ThrottleFlag::ArmFrequencyCapped, false) => "arm frequency capping",
            (ThrottleFlag::Throttled, true) => "throttled",
            (ThrottleFlag::Throttled, false) => "throttling",
            (ThrottleFlag::SoftTemperatureLimit, _) => "soft temperature limit",
        }
    }
}

impl Throttled {
    /// Parses `vcgencmd get_throttled`'s answer, `throttled=0x50005`.
    pub fn parse(output: &str) -> Option<Self> {
        let value = output.trim().strip_prefix("throttled=")?.trim();
        let hex = value
            .strip_prefix("0x")
            .or_else(|| value.strip_prefix("0X"))?;
        u32::from_str_radix(hex, 16).ok().map(Throttled)
    }

    fn flags(self, shift: u32) -> Vec<ThrottleFlag> {
        FLAGS
            .iter()
            .enumerate()
            .filter(|(bit, _)| self.0 & (1 << (*bit as u32 + shift)) != 0)
            .map(|(_, flag)| *flag)
            .collect()
    }

    /// Conditions active right now.
    pub fn now(self) -> Vec<ThrottleFlag> {
        self.flags(0)
    }

    /// Conditions that have occurred since boot (including now).
    pub fn since_boot(self) -> Vec<ThrottleFlag> {
        self.flags(SINCE_BOOT_SHIFT)
    }

    /// Nothing now and nothing since boot.
    pub fn is_ok(self) -> bool {
        self.now().is_empty() && self.since_boot().is_empty()
    }

    /// `ok`, or e.g. `under-voltage, throttled now; under-voltage, throttling
    /// occurred since boot`.
    pub fn describe(self) -> String {
        let join = |flags: Vec<ThrottleFlag>, now: bool| {
            flags
                .iter()
                .map(|f| f.label(now))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = Vec::new();
        if !self.now().is_empty() {
            parts.push(format!("{} now", join(self.now(), true)));
        }
        if !self.since_boot().is_empty() {
            parts.push(format!(
                "{} occurred since boot",
                join(self.since_boot(), false)
            ));
        }
        if parts.is_empty() {
            "ok".to_string()
        } else {
            parts.join("; ")
        }
    }
}

impl Serialize for Throttled {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Throttled", 4)?;
        s.serialize_field("raw", &format!("{:#x}", self.0))?;
        s.serialize_field("now", &self.now())?;
        s.serialize_field("since_boot", &self.since_boot())?;
        s.serialize_field("description", &self.describe())?;
        s.end()
    }
}

/// SoC temperature in °C: the thermal zone reports millidegrees
/// (`52345` → 52.345); `vcgencmd measure_temp` (`temp=52.1'C`) is the
/// fallback when there is no thermal zone.
pub(crate) fn soc_temp_celsius(thermal_zone: Option<&str>, vcgencmd: Option<&str>) -> Option<f64> {
    let from_zone = thermal_zone
        .and_then(|text| text.trim().parse::<i64>().ok())
        .map(|milli| milli as f64 / 1000.0);
    let from_vcgencmd = || {
        let value = vcgencmd?.trim().strip_prefix("temp=")?;
        value.trim_end_matches(['C', '\'', '°']).parse::<f64>().ok()
    };
    from_zone.or_else(from_vcgencmd).filter(|t| t.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_documented_values() {
        let clear = Throttled::parse("throttled=0x0\n").unwrap();
        assert!(clear.is_ok());
        assert_eq!(clear.describe(), "ok");

        let earlier = Throttled::parse("throttled=0x50000").unwrap();
        assert!(earlier.now().is_empty());
        assert_eq!(
            earlier.since_boot(),
            vec![ThrottleFlag::UnderVoltage, ThrottleFlag::Throttled]
        );
        assert_eq!(
            earlier.describe(),
            "under-voltage, throttling occurred since boot"
        );

        let now = Throttled::parse("throttled=0x50005").unwrap();
        assert_eq!(
            now.now(),
            vec![ThrottleFlag::UnderVoltage, ThrottleFlag::Throttled]
        );
        assert_eq!(
            now.describe(),
            "under-voltage, throttled now; under-voltage, throttling occurred since boot"
        );
        assert_eq!(Throttled::parse("throttled=0xe0008").unwrap().describe(),
            "soft temperature limit now; arm frequency capping, throttling, soft temperature limit occurred since boot");
    }

    #[test]
    fn rejects_non_answers() {
        assert_eq!(Throttled::parse("VCHI initialization failed"), None);
        assert_eq!(Throttled::parse("throttled=zz"), None);
        assert_eq!(Throttled::parse("throttled=0x1ffffffff"), None);
    }

    #[test]
    fn temperatures() {
        assert_eq!(soc_temp_celsius(Some("52345\n"), None), Some(52.345));
        assert_eq!(soc_temp_celsius(None, Some("temp=48.3'C\n")), Some(48.3));
        assert_eq!(soc_temp_celsius(Some("garbage"), None), None);
        assert_eq!(soc_temp_celsius(None, None), None);
    }
}
