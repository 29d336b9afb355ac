//! Disabling swap entries in /etc/fstab (the kubelet wants swap off).

/// Prefix of a swap line this crate commented out; the original follows it,
/// so the user can see why and restore it.
const DISABLED_PREFIX: &str = "#pikube: swap disabled for Kubernetes: ";

/// Returns `fstab` with every uncommented swap entry commented out as
/// `#pikube: swap disabled for Kubernetes: <original line>`. Other lines and
/// line endings are kept byte for byte. Idempotent.
pub fn fstab_without_swap(fstab: &str) -> String {
    let mut out = String::with_capacity(fstab.len());
    for line in fstab.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        if is_swap_entry(content) {
            out.push_str(DISABLED_PREFIX);
        }
        out.push_str(line);
    }
    out
}

/// An fstab line that activates swap: not a comment, third field `swap`.
pub(crate) fn is_swap_entry(line: &str) -> bool {
    let line = line.trim();
    if line.starts_with('#') {
        return false;
    }
    line.split_whitespace().nth(2) == Some("swap")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_out_swap_lines_only() {
        let fstab = "proc            /proc           proc    defaults          0       0\nPARTUUID=4e639091-01  /boot/firmware  vfat    defaults          0       2\n/swapfile       none            swap    sw                0       0\n# /dev/sdb1 none swap sw 0 0\nUUID=abc none swap sw,pri=5 0 0";
        let once = fstab_without_swap(fstab);
        assert_eq!(
            once,
            "proc            /proc           proc    defaults          0       0\nPARTUUID=4e639091-01  /boot/firmware  vfat    defaults          0       2\n#pikube: swap disabled for Kubernetes: /swapfile       none            swap    sw                0       0\n# /dev/sdb1 none swap sw 0 0\n#pikube: swap disabled for Kubernetes: UUID=abc none swap sw,pri=5 0 0"
        );
        assert_eq!(fstab_without_swap(&once), once);
    }

    #[test]
    fn nothing_to_do() {
        for fstab in ["", "\n", "proc /proc proc defaults 0 0\r\n", "/swap"] {
            assert_eq!(fstab_without_swap(fstab), fstab);
        }
        assert_eq!(
            fstab_without_swap("/s none swap sw 0 0\r\n"),
            format!("{DISABLED_PREFIX}/s none swap sw 0 0\r\n")
        );
    }
}
