//! The operating system, from /etc/os-release and /etc/rpi-issue.

use serde::Serialize;

/// What /etc/os-release says, plus the Raspberry Pi OS marker file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OsInfo {
    /// `ID`, e.g. `debian`, `raspbian`, `ubuntu` (os-release's default: `linux`).
    pub id: String,
    /// `ID_LIKE`, split on spaces.
    pub id_like: Vec<String>,
    /// `VERSION_ID`, e.g. `12`, `24.04`.
    pub version_id: Option<String>,
    /// `VERSION_CODENAME` (or `UBUNTU_CODENAME`), e.g. `bookworm`, `noble`.
    pub codename: Option<String>,
    /// `PRETTY_NAME` (os-release's default: `Linux`).
    pub pretty_name: String,
    /// First line of /etc/rpi-issue, present on Raspberry Pi OS images
    /// (e.g. `Raspberry Pi reference 2024-11-19`).
    pub rpi_issue: Option<String>,
}

/// The distribution families pikube treats differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OsFamily {
    /// Raspberry Pi OS: `ID=raspbian` (32-bit), or `ID=debian` with /etc/rpi-issue.
    RaspberryPiOs,
    /// Debian, and what says it is like Debian (`ID_LIKE`) but not like Ubuntu.
    Debian,
    /// Ubuntu, and what says it is like Ubuntu.
    Ubuntu,
    /// Anything else.
    Other,
}

impl OsInfo {
    /// The family, decided as follows:
    /// - `ID=raspbian` (32-bit Raspberry Pi OS) → Raspberry Pi OS;
    /// - `ID=debian` with /etc/rpi-issue → Raspberry Pi OS (64-bit Pi OS says
    ///   `debian`; every Pi OS image ships rpi-issue). A Pi model alone is not
    ///   enough: Debian's own Raspberry Pi images are plain Debian;
    /// - `ID=ubuntu`, or `ubuntu` in `ID_LIKE` → Ubuntu;
    /// - `ID=debian`, or `debian` in `ID_LIKE` → Debian;
    /// - anything else → Other.
    pub fn family(&self) -> OsFamily {
        let like = |name: &str| self.id_like.iter().any(|l| l == name);
        match self.id.as_str() {
            "raspbian" => OsFamily::RaspberryPiOs,
            "debian" if self.rpi_issue.is_some() => OsFamily::RaspberryPiOs,
            "ubuntu" => OsFamily::Ubuntu,
            "debian" => OsFamily::Debian,
            _ if like("ubuntu") => OsFamily::Ubuntu,
            _ if like("debian") => OsFamily::Debian,
            _ => OsFamily::Other,
        }
    }

    pub(crate) fn parse(os_release: Option<&str>, rpi_issue: Option<&str>) -> Self {
        let mut info = OsInfo {
            id: "linux".to_string(),
            id_like: Vec::new(),
            version_id: None,
            codename: None,
            pretty_name: "Linux".to_string(),
            rpi_issue: rpi_issue
                .and_then(|text| text.lines().map(str::trim).find(|l| !l.is_empty()))
                .map(str::to_string),
        };
        let mut ubuntu_codename = None;
        for line in os_release.unwrap_or("").lines() {
            let Some((key, raw)) = line.trim().split_once('=') else {
                continue;
            };
            let value = unquote(raw);
            let non_empty = || Some(value.clone()).filter(|v| !v.is_empty());
            match key {
                "ID" if !value.is_empty() => info.id = value.clone(),
                "ID_LIKE" => info.id_like = value.split_whitespace().map(str::to_string).collect(),
                "VERSION_ID" => info.version_id = non_empty(),
                "VERSION_CODENAME" => info.codename = non_empty(),
                "UBUNTU_CODENAME" => ubuntu_codename = non_empty(),
                "PRETTY_NAME" if !value.is_empty() => info.pretty_name = value.clone(),
                _ => {}
            }
        }
        if info.codename.is_none() {
            info.codename = ubuntu_codename;
        }
        info
    }
}

/// os-release values are shell-quoted: `"..."` with backslash escapes, `'...'`
/// literal, or bare.
fn unquote(raw: &str) -> String {
    let raw = raw.trim();
    if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return inner.to_string();
    }
    if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(escaped) = chars.next() {
                    out.push(escaped);
                }
            } else {
                out.push(c);
            }
        }
        return out;
    }
    raw.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookworm_pi_os_is_debian_plus_rpi_issue() {
        let release = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n";
        let pi = OsInfo::parse(Some(release), Some("Raspberry Pi reference 2024-11-19\n"));
        assert_eq!(pi.family(), OsFamily::RaspberryPiOs);
        assert_eq!(pi.codename.as_deref(), Some("bookworm"));
        assert_eq!(
            OsInfo::parse(Some(release), None).family(),
            OsFamily::Debian
        );
    }

    #[test]
    fn derivatives_and_defaults() {
        let mint = OsInfo::parse(
            Some("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\nUBUNTU_CODENAME=noble\n"),
            None,
        );
        assert_eq!(mint.family(), OsFamily::Ubuntu);
        assert_eq!(mint.codename.as_deref(), Some("noble"));
        let nothing = OsInfo::parse(None, None);
        assert_eq!(
            (nothing.id.as_str(), nothing.family()),
            ("linux", OsFamily::Other)
        );
        assert_eq!(unquote(r#""a \"b\" c""#), r#"a "b" c"#);
        assert_eq!(unquote("'x'"), "x");
    }
}
