//! Enabling the memory cgroup in cmdline.txt.

use crate::kernel_cmdline::{list_param_has, param_spans};

/// What k3s asks to add on a Raspberry Pi. Newer kernels ignore
/// `cgroup_memory=1` (logging it as unknown), which is harmless.
pub const CGROUP_PARAMS: &str = "cgroup_memory=1 cgroup_enable=memory";

/// Returns `cmdline` (a cmdline.txt's exact content) with
/// [`CGROUP_PARAMS`] present and every `memory` entry of a
/// `cgroup_disable=` parameter removed (parameters apply in order, so a
/// disable anywhere could win). Only the first line is touched — the firmware
/// reads a single line — and it stays one line; new parameters go at its end,
/// or before a `--` (what follows that goes to init, not the kernel).
/// Everything else is kept byte for byte. Idempotent.
pub fn cmdline_with_cgroups(cmdline: &str) -> String {
    let line_end = cmdline.find('\n').unwrap_or(cmdline.len());
    let (mut line, mut rest) = cmdline.split_at(line_end);
    if let Some(without_cr) = line.strip_suffix('\r') {
        rest = &cmdline[without_cr.len()..];
        line = without_cr;
    }
    let mut out = without_memory_disable(line);
    append_missing(&mut out);
    out.push_str(rest);
    out
}

/// True when [`cmdline_with_cgroups`] would change nothing, e.g. to tell
/// whether a cmdline.txt edit is still pending.
pub fn cmdline_has_cgroups(cmdline: &str) -> bool {
    cmdline_with_cgroups(cmdline) == cmdline
}

/// Drops `memory` from `cgroup_disable=` lists in the kernel part of `line`,
/// removing the whole parameter (and the gap before it) when nothing is left.
fn without_memory_disable(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut pos = 0;
    let mut emitted_any = false;
    // After dropping the first parameter, its leading whitespace was kept,
    // so the gap after it goes instead.
    let mut skip_next_gap = false;
    let mut in_kernel_part = true;
    for (start, end) in param_spans(line) {
        let gap = &line[pos..start];
        let param = &line[start..end];
        pos = end;
        if param == "--" {
            in_kernel_part = false;
        }
        match replacement(param, in_kernel_part) {
            Some(text) => {
                if !skip_next_gap {
                    out.push_str(gap);
                }
                skip_next_gap = false;
                out.push_str(&text);
                emitted_any = true;
            }
            None if !emitted_any => {
                if !skip_next_gap {
                    out.push_str(gap);
                }
                skip_next_gap = true;
            }
            None => {}
        }
    }
    if !skip_next_gap {
        out.push_str(&line[pos..]);
    }
    out
}

/// `param` with `memory` removed from a `cgroup_disable=` list; `None` when
/// the parameter disappears entirely.
fn replacement(param: &str, in_kernel_part: bool) -> Option<String> {
    if !(in_kernel_part && list_param_has(param, "cgroup_disable", "memory")) {
        return Some(param.to_string());
    }
    let kept: Vec<&str> = param
        .get("cgroup_disable=".len()..)
        .unwrap_or("")
        .split(',')
        .filter(|item| *item != "memory" && !item.is_empty())
        .collect();
    if kept.is_empty() {
        None
    } else {
        Some(format!("cgroup_disable={}", kept.join(",")))
    }
}

/// Adds the parameters of [`CGROUP_PARAMS`] the kernel part does not have yet.
fn append_missing(line: &mut String) {
    let spans = param_spans(line);
    let dashes = spans.iter().position(|&(s, e)| &line[s..e] == "--");
    let kernel_params: Vec<&str> = spans[..dashes.unwrap_or(spans.len())]
        .iter()
        .map(|&(s, e)| &line[s..e])
        .collect();
    let last_cgroup_memory = kernel_params
        .iter()
        .rev()
        .find_map(|p| p.strip_prefix("cgroup_memory="));
    let mut missing = Vec::new();
    if last_cgroup_memory != Some("1") {
        missing.push("cgroup_memory=1");
    }
    if !kernel_params
        .iter()
        .any(|p| list_param_has(p, "cgroup_enable", "memory"))
    {
        missing.push("cgroup_enable=memory");
    }
    if missing.is_empty() {
        return;
    }
    let addition = missing.join(" ");
    match dashes.map(|i| spans[i].0) {
        Some(at) => line.insert_str(at, &format!("{addition} ")),
        None => {
            if !line.is_empty() && !line.ends_with(|c: char| c.is_whitespace()) {
                line.push(' ');
            }
            line.push_str(&addition);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOKWORM: &str = "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet splash plymouth.ignore-serial-consoles cfg80211.ieee80211_regdom=GB\n";

    fn assert_idempotent(input: &str) -> String {
        let once = cmdline_with_cgroups(input);
        assert_eq!(
            cmdline_with_cgroups(&once),
            once,
            "not idempotent for {input:?}"
        );
        assert!(cmdline_has_cgroups(&once));
        once
    }

    #[test]
    fn appends_to_the_single_line() {
        let out = assert_idempotent(BOOKWORM);
        assert_eq!(
            out,
            BOOKWORM.replace("=GB\n", "=GB cgroup_memory=1 cgroup_enable=memory\n")
        );
        assert!(!cmdline_has_cgroups(BOOKWORM));
    }

    #[test]
    fn keeps_missing_newline_and_crlf() {
        assert_eq!(
            assert_idempotent("quiet"),
            "quiet cgroup_memory=1 cgroup_enable=memory"
        );
        assert_eq!(
            assert_idempotent("quiet\r\n"),
            "quiet cgroup_memory=1 cgroup_enable=memory\r\n"
        );
        assert_eq!(assert_idempotent(""), CGROUP_PARAMS);
        assert_eq!(
            assert_idempotent("quiet  \n"),
            "quiet  cgroup_memory=1 cgroup_enable=memory\n"
        );
    }

    #[test]
    fn removes_memory_disable_wherever_it_is() {
        assert_eq!(
            assert_idempotent("cgroup_disable=memory console=tty1 rootwait\n"),
            "console=tty1 rootwait cgroup_memory=1 cgroup_enable=memory\n"
        );
        assert_eq!(
            assert_idempotent(
                "console=tty1 cgroup_enable=memory cgroup_memory=1 cgroup_disable=memory\n"
            ),
            "console=tty1 cgroup_enable=memory cgroup_memory=1\n"
        );
        assert_eq!(
            assert_idempotent("a cgroup_disable=cpuset,memory b\n"),
            "a cgroup_disable=cpuset b cgroup_memory=1 cgroup_enable=memory\n"
        );
        assert_eq!(assert_idempotent("cgroup_disable=memory"), CGROUP_PARAMS);
        assert_eq!(
            assert_idempotent(
                "cgroup_disable=memory cgroup_disable=memory x cgroup_disable=memory\n"
            ),
            "x cgroup_memory=1 cgroup_enable=memory\n"
        );
        assert_eq!(
            assert_idempotent("  cgroup_disable=memory  x"),
            "  x cgroup_memory=1 cgroup_enable=memory"
        );
    }

    #[test]
    fn present_params_are_left_alone() {
        let line = "cgroup_enable=memory console=tty1 cgroup_memory=1 rootwait\n";
        assert_eq!(assert_idempotent(line), line);
        assert_eq!(
            assert_idempotent("cgroup_memory=0 x\n"),
            "cgroup_memory=0 x cgroup_memory=1 cgroup_enable=memory\n"
        );
    }

    #[test]
    fn only_the_first_line_and_the_kernel_part() {
        assert_eq!(
            assert_idempotent("quiet\n# second line\n"),
            "quiet cgroup_memory=1 cgroup_enable=memory\n# second line\n"
        );
        assert_eq!(
            assert_idempotent("quiet -- cgroup_disable=memory\n"),
            "quiet cgroup_memory=1 cgroup_enable=memory -- cgroup_disable=memory\n"
        );
        let quoted = "dyndbg=\"file x +p\" quiet\n";
        assert_eq!(
            assert_idempotent(quoted),
            "dyndbg=\"file x +p\" quiet cgroup_memory=1 cgroup_enable=memory\n"
        );
    }
}
