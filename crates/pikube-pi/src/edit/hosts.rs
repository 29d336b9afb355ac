//! Pointing 127.0.1.1 at the node's name in /etc/hosts (Debian's convention,
//! so that the host name resolves without DNS; sudo stalls otherwise).

const LOOPBACK_NAME_ADDRESS: &str = "127.0.1.1";

/// Returns `hosts` with `127.0.1.1` mapping to exactly `hostname`: the first
/// 127.0.1.1 line gets its names replaced (address, separator and a trailing
/// comment are kept), further 127.0.1.1 lines are dropped, and when there is
/// none, `127.0.1.1\t<hostname>` is added after the first 127.0.0.1 line (or
/// at the end). Everything else is kept byte for byte, including whether the
/// file ends with a newline. Idempotent. Validate `hostname` first
/// ([`crate::is_valid_hostname`]).
pub fn hosts_with_hostname(hosts: &str, hostname: &str) -> String {
    let mut out = String::with_capacity(hosts.len() + hostname.len() + 12);
    let mut replaced = false;
    for line in hosts.split_inclusive('\n') {
        if address_of(line) != Some(LOOPBACK_NAME_ADDRESS) {
            out.push_str(line);
            continue;
        }
        if !replaced {
            out.push_str(&with_names(line, hostname));
            replaced = true;
        }
    }
    if replaced {
        return out;
    }
    let new_line = format!("{LOOPBACK_NAME_ADDRESS}\t{hostname}");
    insert_after_localhost(hosts, &new_line)
}

/// The address field of a hosts line, `None` for comments and blank lines.
fn address_of(line: &str) -> Option<&str> {
    let line = line.trim_start();
    if line.starts_with('#') {
        return None;
    }
    line.split_whitespace().next()
}

/// `line` with its names replaced by `hostname`, unchanged if already so.
fn with_names(line: &str, hostname: &str) -> String {
    let content = line.trim_end_matches(['\n', '\r']);
    let ending = &line[content.len()..];
    let (entry, comment) = match content.find('#') {
        Some(at) => content.split_at(at),
        None => (content, ""),
    };
    let names: Vec<&str> = entry.split_whitespace().skip(1).collect();
    if names == [hostname] {
        return line.to_string();
    }
    let indent_len = entry.len() - entry.trim_start().len();
    let after_indent = &entry[indent_len..];
    let address_len = after_indent
        .find(char::is_whitespace)
        .unwrap_or(after_indent.len());
    let after_address = &after_indent[address_len..];
    let separator_len = after_address.len() - after_address.trim_start().len();
    let separator = match &after_address[..separator_len] {
        "" => "\t",
        existing => existing,
    };
    let mut out = String::new();
    out.push_str(&entry[..indent_len + address_len]);
    out.push_str(separator);
    out.push_str(hostname);
    if !comment.is_empty() {
        out.push(' ');
        out.push_str(comment);
    }
    out.push_str(ending);
    out
}

fn insert_after_localhost(hosts: &str, new_line: &str) -> String {
    let mut out = String::with_capacity(hosts.len() + new_line.len() + 2);
    let mut inserted = false;
    for line in hosts.split_inclusive('\n') {
        out.push_str(line);
        if !inserted && address_of(line) == Some("127.0.0.1") {
            if line.ends_with('\n') {
                out.push_str(new_line);
                out.push('\n');
            } else {
                // The anchor was the unterminated last line: keep the file unterminated.
                out.push('\n');
                out.push_str(new_line);
            }
            inserted = true;
        }
    }
    if !inserted {
        if out.is_empty() || out.ends_with('\n') {
            out.push_str(new_line);
            out.push('\n');
        } else {
            out.push('\n');
            out.push_str(new_line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PI_OS: &str = "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n\n127.0.1.1\t\traspberrypi\n";

    fn assert_idempotent(hosts: &str, name: &str) -> String {
        let once = hosts_with_hostname(hosts, name);
        assert_eq!(
            hosts_with_hostname(&once, name),
            once,
            "not idempotent for {hosts:?}"
        );
        once
    }

    #[test]
    fn replaces_the_names_keeping_the_separator() {
        assert_eq!(
            assert_idempotent(PI_OS, "pi1"),
            PI_OS.replace("raspberrypi", "pi1")
        );
        assert_eq!(assert_idempotent(PI_OS, "raspberrypi"), PI_OS);
        assert_eq!(
            assert_idempotent("127.0.1.1 old old.lan # set by installer\n", "pi1"),
            "127.0.1.1 pi1 # set by installer\n"
        );
        assert_eq!(assert_idempotent("127.0.1.1\n", "pi1"), "127.0.1.1\tpi1\n");
    }

    #[test]
    fn drops_duplicates_and_ignores_comments() {
        assert_eq!(
            assert_idempotent(
                "# 127.0.1.1 commented\n127.0.1.1 a\n10.0.0.1 nas\n127.0.1.1 b\n",
                "pi1"
            ),
            "# 127.0.1.1 commented\n127.0.1.1 pi1\n10.0.0.1 nas\n"
        );
    }

    #[test]
    fn adds_a_line_when_missing() {
        assert_eq!(
            assert_idempotent("127.0.0.1 localhost\n::1 localhost\n", "pi1"),
            "127.0.0.1 localhost\n127.0.1.1\tpi1\n::1 localhost\n"
        );
        assert_eq!(
            assert_idempotent("127.0.0.1 localhost", "pi1"),
            "127.0.0.1 localhost\n127.0.1.1\tpi1"
        );
        assert_eq!(assert_idempotent("", "pi1"), "127.0.1.1\tpi1\n");
        assert_eq!(
            assert_idempotent("10.0.0.1 nas", "pi1"),
            "10.0.0.1 nas\n127.0.1.1\tpi1"
        );
        assert_eq!(
            assert_idempotent("10.0.0.1 nas\r\n", "pi1"),
            "10.0.0.1 nas\r\n127.0.1.1\tpi1\n"
        );
    }
}
