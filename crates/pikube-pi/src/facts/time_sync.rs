//! Whether the node's clock is synchronised with NTP. A Pi has no battery-backed clock:
//! without NTP it starts from its last shutdown's time and drifts from there.

/// systemd-timesyncd's flag while it runs (`yes`/`no`: its runtime directory exists, with
/// or without the `synchronized` file; what the pi-exporter reports too), else timedated's
/// `NTPSynchronized` (`timedatectl show -p NTPSynchronized --value`: `yes` or `no`), the
/// kernel's own flag, which chrony and ntpd set as well. `None` when neither tells.
pub(crate) fn ntp_synchronized(timesyncd: Option<&str>, timedatectl: Option<&str>) -> Option<bool> {
    let answer = |text: Option<&str>| match text.map(str::trim) {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => None,
    };
    answer(timesyncd).or_else(|| answer(timedatectl))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timesyncd_first_then_timedated_and_unknown_when_neither_tells() {
        assert_eq!(ntp_synchronized(Some("yes\n"), Some("no")), Some(true));
        assert_eq!(ntp_synchronized(Some("no\n"), None), Some(false));
        // No timesyncd (a chrony host): the kernel's flag, through timedated.
        assert_eq!(ntp_synchronized(None, Some("yes")), Some(true));
        assert_eq!(ntp_synchronized(None, Some("no\n")), Some(false));
        // timedatectl printed something else (it failed): unknown.
        assert_eq!(ntp_synchronized(None, Some("Failed to connect")), None);
        assert_eq!(ntp_synchronized(None, None), None);
    }
}
