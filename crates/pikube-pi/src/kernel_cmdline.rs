//! Tokenising a kernel command line the way the kernel does, so that the
//! cgroup checks and the cmdline.txt edit agree on what a parameter is.

/// Whitespace as the kernel's `isspace` sees it.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Byte spans `(start, end)` of the parameters in `line`. Double quotes group
/// whitespace into one parameter (`opt="a b"`), as in the kernel's parser.
pub(crate) fn param_spans(line: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start: Option<usize> = None;
    let mut in_quotes = false;
    for (i, c) in line.char_indices() {
        if c == '"' {
            in_quotes = !in_quotes;
        }
        if is_space(c) && !in_quotes {
            if let Some(s) = start.take() {
                spans.push((s, i));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        spans.push((s, line.len()));
    }
    spans
}

/// Whether `param` is a `key=list` parameter whose comma-separated list names
/// `item` (the kernel splits `cgroup_enable=`/`cgroup_disable=` on commas).
pub(crate) fn list_param_has(param: &str, key: &str, item: &str) -> bool {
    match param
        .strip_prefix(key)
        .and_then(|rest| rest.strip_prefix('='))
    {
        Some(list) => list.split(',').any(|v| v == item),
        None => false,
    }
}

/// Whether the memory cgroup ends up requested by this command line.
/// Parameters apply in order, so the last `cgroup_enable=memory` or
/// `cgroup_disable=memory` wins; everything after `--` belongs to init.
pub(crate) fn requests_memory_cgroup(cmdline: &str) -> bool {
    let mut requested = false;
    for (start, end) in param_spans(cmdline) {
        let param = cmdline.get(start..end).unwrap_or("");
        if param == "--" {
            break;
        }
        if list_param_has(param, "cgroup_disable", "memory") {
            requested = false;
        } else if list_param_has(param, "cgroup_enable", "memory") {
            requested = true;
        }
    }
    requested
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_respect_quotes() {
        let line = r#"a b="x y"  c"#;
        let params: Vec<&str> = param_spans(line)
            .iter()
            .map(|&(s, e)| &line[s..e])
            .collect();
        assert_eq!(params, vec!["a", r#"b="x y""#, "c"]);
    }

    #[test]
    fn last_memory_switch_wins() {
        assert!(!requests_memory_cgroup(
            "cgroup_enable=memory cgroup_disable=memory"
        ));
        assert!(requests_memory_cgroup(
            "cgroup_disable=memory cgroup_enable=memory"
        ));
        assert!(requests_memory_cgroup("cgroup_enable=cpuset,memory"));
        assert!(!requests_memory_cgroup("quiet -- cgroup_enable=memory"));
        assert!(!requests_memory_cgroup(""));
    }
}
