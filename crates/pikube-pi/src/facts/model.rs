//! The board, from the device-tree model string.

use serde::Serialize;

/// A device-tree board model. Absent on machines without a device tree
/// (x86 mini PCs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PiModel {
    /// The model string, NUL stripped and trimmed,
    /// e.g. `Raspberry Pi 4 Model B Rev 1.4`.
    pub raw: String,
    /// The generation, from the model string.
    pub family: PiFamily,
}

/// Raspberry Pi generations that behave differently for K3s purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PiFamily {
    /// Raspberry Pi 1 (Model A, B, A+, B+): ARMv6, no K3s build.
    Pi1,
    /// Raspberry Pi Zero and Zero W: ARMv6, no K3s build.
    PiZero,
    /// Raspberry Pi Zero 2 W.
    PiZero2,
    /// Raspberry Pi 2 Model B.
    Pi2,
    /// Raspberry Pi 3 Model B.
    Pi3,
    /// Raspberry Pi 3 Model A+ and B+.
    Pi3Plus,
    /// Raspberry Pi 4 Model B.
    Pi4,
    /// Raspberry Pi 400 (the keyboard computer).
    Pi400,
    /// Raspberry Pi 5.
    Pi5,
    /// Raspberry Pi 500 (the keyboard computer).
    Pi500,
    /// Compute Module 3 and 3+.
    Cm3,
    /// Compute Module 4.
    Cm4,
    /// Compute Module 4S.
    Cm4s,
    /// Compute Module 5.
    Cm5,
    /// A Raspberry Pi this crate does not know yet.
    OtherPi,
    /// A device-tree board that is not a Raspberry Pi.
    NotRaspberryPi,
}

impl PiModel {
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim_matches(|c: char| c == '\0' || c.is_whitespace());
        if raw.is_empty() {
            return None;
        }
        Some(PiModel {
            raw: raw.to_string(),
            family: family_of(raw),
        })
    }

    /// Any Raspberry Pi, known to this crate or not.
    pub fn is_raspberry_pi(&self) -> bool {
        self.family != PiFamily::NotRaspberryPi
    }
}

fn family_of(raw: &str) -> PiFamily {
    // Compute Modules say "Raspberry Pi Compute Module 4 Rev 1.0", and some
    // sources quote them without the "Raspberry Pi" prefix.
    if let Some((_, after)) = raw.split_once("Compute Module") {
        return match after.split_whitespace().next() {
            Some("3" | "3+") => PiFamily::Cm3,
            Some("4") => PiFamily::Cm4,
            Some("4S") => PiFamily::Cm4s,
            Some("5") => PiFamily::Cm5,
            _ => PiFamily::OtherPi,
        };
    }
    let Some(rest) = raw.strip_prefix("Raspberry Pi") else {
        return PiFamily::NotRaspberryPi;
    };
    let mut words = rest.split_whitespace();
    // Whole words, so that "500" is not taken for "5".
    match words.next() {
        Some("5") => PiFamily::Pi5,
        Some(w) if w.starts_with("500") => PiFamily::Pi500,
        Some("4") => PiFamily::Pi4,
        Some("400") => PiFamily::Pi400,
        Some("3") if rest.contains("Plus") => PiFamily::Pi3Plus,
        Some("3") => PiFamily::Pi3,
        Some("2") => PiFamily::Pi2,
        Some("Zero") => match words.next() {
            Some("2") => PiFamily::PiZero2,
            _ => PiFamily::PiZero,
        },
        // The first generation has no number: "Raspberry Pi Model B Plus Rev 1.2".
        Some("Model") => PiFamily::Pi1,
        _ => PiFamily::OtherPi,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(raw: &str) -> Option<PiFamily> {
        PiModel::parse(raw).map(|m| m.family)
    }

    #[test]
    fn known_model_strings() {
        assert_eq!(
            family("Raspberry Pi 5 Model B Rev 1.0\0"),
            Some(PiFamily::Pi5)
        );
        assert_eq!(family("Raspberry Pi 500 Rev 1.0"), Some(PiFamily::Pi500));
        assert_eq!(
            family("Raspberry Pi 4 Model B Rev 1.4"),
            Some(PiFamily::Pi4)
        );
        assert_eq!(family("Raspberry Pi 400 Rev 1.0"), Some(PiFamily::Pi400));
        assert_eq!(
            family("Raspberry Pi 3 Model B Plus Rev 1.3"),
            Some(PiFamily::Pi3Plus)
        );
        assert_eq!(
            family("Raspberry Pi 3 Model B Rev 1.2"),
            Some(PiFamily::Pi3)
        );
        assert_eq!(
            family("Raspberry Pi 2 Model B Rev 1.1"),
            Some(PiFamily::Pi2)
        );
        assert_eq!(
            family("Raspberry Pi Zero 2 W Rev 1.0"),
            Some(PiFamily::PiZero2)
        );
        assert_eq!(
            family("Raspberry Pi Zero W Rev 1.1"),
            Some(PiFamily::PiZero)
        );
        assert_eq!(
            family("Raspberry Pi Model B Plus Rev 1.2"),
            Some(PiFamily::Pi1)
        );
        assert_eq!(
            family("Raspberry Pi Compute Module 4 Rev 1.0"),
            Some(PiFamily::Cm4)
        );
        assert_eq!(family("Compute Module 4S Rev 1.0"), Some(PiFamily::Cm4s));
        assert_eq!(
            family("Raspberry Pi Compute Module 5 Rev 1.0"),
            Some(PiFamily::Cm5)
        );
        assert_eq!(family("Raspberry Pi 7 Model Z"), Some(PiFamily::OtherPi));
        assert_eq!(family("Radxa ROCK 5B"), Some(PiFamily::NotRaspberryPi));
        assert_eq!(family("\0 \n"), None);
    }
}
