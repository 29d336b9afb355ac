//! Secrets kept out of what plan shows. A node installed by k3s-ansible keeps `token:` in
//! config.yaml, one installed with `INSTALL_K3S_EXEC="--token …"` keeps it in the unit, and
//! `datastore-endpoint` may hold a database password: the diff and `plan -o json` would
//! print them (often into CI logs). Their values become `<redacted>`; the lines stay, so the
//! diff still shows that they change or go.

const REDACTED: &str = "<redacted>";

/// Whether a key (`token`, `K3S_TOKEN`, `datastore-endpoint`, ...) names a secret.
pub(crate) fn is_secret(key: &str) -> bool {
    let key = key
        .trim()
        .trim_start_matches('-')
        .to_ascii_lowercase()
        .replace('_', "-");
    [
        "token",
        "password",
        "secret",
        "datastore-endpoint",
        "access-key",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// `text` with the password of every URL in it (`scheme://user:password@host`) redacted,
/// whatever surrounds it: for K3s' journal lines, which pikube shows in its errors and
/// which may quote a datastore endpoint.
pub fn redact_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The URL's authority: up to whitespace, a quote, or the end.
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`'))
            .unwrap_or(after.len());
        let url = &after[..end];
        match (url.rfind('@'), url.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&url[..=colon]);
                out.push_str(REDACTED);
                out.push_str(&url[at..]);
            }
            _ => out.push_str(url),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// `text` with the value of every secret key redacted: YAML `key: value`, environment
/// `KEY=value`, and command-line `--key=value` or `--key value`.
pub fn redact_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // install.sh writes each argument of ExecStart on a line of its own (`'--token' \`,
    // then `'value' \`): a flag's value may come on the next line.
    let mut hide_next = false;
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        out.push_str(&redact_line(body, &mut hide_next));
        out.push_str(end);
        if !body.trim_end().ends_with('\\') {
            hide_next = false;
        }
    }
    out
}

/// `line` with its secrets redacted; `hide_next`: the next word is a secret flag's value
/// (carried over from a continued line, and left set when this line ends in the flag).
fn redact_line(line: &str, hide_next: &mut bool) -> String {
    // YAML: `token: value`, `- token: value` is not K3s' shape, so the key starts the line.
    if let Some((key, value)) = line.split_once(':') {
        let bare = key.trim();
        if !value.trim().is_empty()
            && !bare.is_empty()
            && bare
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '"')
            && is_secret(bare.trim_matches('"'))
        {
            return format!("{key}: {REDACTED}");
        }
    }
    // Words: `KEY=value`, `--key=value`, `--key value` (a unit's ExecStart, Environment=),
    // quoted or not.
    let mut redacted: Vec<String> = Vec::new();
    for word in line.split(' ') {
        let core = word.trim().trim_matches(|c| c == '"' || c == '\'');
        if core.is_empty() || core == "\\" {
            redacted.push(word.to_owned());
            continue;
        }
        // Whatever surrounds the value (indentation, quotes) stays.
        let core_at = word.find(core).unwrap_or(0);
        let around =
            |start: usize, end: usize| format!("{}{REDACTED}{}", &word[..start], &word[end..]);
        if *hide_next {
            redacted.push(around(core_at, core_at + core.len()));
            *hide_next = false;
            continue;
        }
        let assignment = core.strip_prefix("Environment=").unwrap_or(core);
        match assignment.split_once('=') {
            Some((key, value)) if is_secret(key) && !value.is_empty() => {
                let end = core_at + core.len();
                redacted.push(around(end - value.len(), end));
            }
            // `-t` is K3s' short form of `--token`.
            None if (core.starts_with("--") && is_secret(core)) || core == "-t" => {
                redacted.push(word.to_owned());
                *hide_next = true;
            }
            _ => redacted.push(word.to_owned()),
        }
    }
    redacted.join(" ")
}

/// For serde: a file's text with its secrets redacted.
pub(crate) fn serialize_redacted<S: serde::Serializer>(
    text: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match text {
        Some(text) => s.serialize_some(&redact_secrets(text)),
        None => s.serialize_none(),
    }
}

/// For serde: see [`serialize_redacted`].
pub(crate) fn serialize_redacted_str<S: serde::Serializer>(
    text: &str,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_secrets(text))
}

#[cfg(test)]
mod tests {
    use super::{redact_secrets, redact_url_passwords};

    #[test]
    fn config_yaml_keys_env_lines_and_flags_lose_their_secret_values_only() {
        let config = "token: K10abc::server:s3cret\nnode-name: pi-1\n\
                      datastore-endpoint: postgres://k3s:pw@db/k3s\nagent-token: a9\n\
                      tls-san:\n  - 10.0.0.1\n";
        let redacted = redact_secrets(config);
        assert_eq!(
            redacted,
            "token: <redacted>\nnode-name: pi-1\ndatastore-endpoint: <redacted>\n\
             agent-token: <redacted>\ntls-san:\n  - 10.0.0.1\n"
        );
        let unit = "Environment=K3S_TOKEN=s3cret\nExecStart=/usr/local/bin/k3s \\\n    server \\\n\
                    \t'--token' 's3cret' --token=s3cret --datastore-endpoint postgres://k3s:pw@db \\\n";
        let redacted = redact_secrets(unit);
        for secret in ["s3cret", "pw@db"] {
            assert!(!redacted.contains(secret), "{redacted}");
        }
        assert!(
            redacted.contains("Environment=K3S_TOKEN=<redacted>"),
            "{redacted}"
        );
        assert!(redacted.contains("--token=<redacted>"), "{redacted}");
        assert!(
            redacted.contains("ExecStart=/usr/local/bin/k3s \\"),
            "{redacted}"
        );
        // K3s' short form of --token too.
        assert_eq!(
            redact_secrets("k3s agent -t s3cret -s https://10.0.0.1:6443"),
            "k3s agent -t <redacted> -s https://10.0.0.1:6443"
        );
        // install.sh's shape: one quoted argument a line, a flag's value on the next; the
        // quotes and indentation stay, and a flag ending a line without `\` hides nothing.
        let install_sh = "ExecStart=/usr/local/bin/k3s \\\n    server \\\n\t'--token' \\\n\
                          \t'hunter2' \\\n\t'--datastore-endpoint=postgres://u:pw@db' \\\n\
                          \t'--disable=traefik' \\\nother --token\nvisible\n";
        assert_eq!(
            redact_secrets(install_sh),
            "ExecStart=/usr/local/bin/k3s \\\n    server \\\n\t'--token' \\\n\
             \t'<redacted>' \\\n\t'--datastore-endpoint=<redacted>' \\\n\
             \t'--disable=traefik' \\\nother --token\nvisible\n"
        );
        // Nothing else moves.
        let plain = "hostname pi-1\nswap: off\n";
        assert_eq!(redact_secrets(plain), plain);
    }

    #[test]
    fn url_passwords_are_redacted_wherever_they_stand() {
        assert_eq!(
            redact_url_passwords(
                "level=info msg=\"datastore postgres://k3s:hunter2@db:5432/k3s ready\" x"
            ),
            "level=info msg=\"datastore postgres://k3s:<redacted>@db:5432/k3s ready\" x"
        );
        assert_eq!(
            redact_url_passwords("a mysql://u:p/w@tcp(db)/k3s and https://plain.example/x"),
            "a mysql://u:<redacted>@tcp(db)/k3s and https://plain.example/x"
        );
        for untouched in [
            "https://10.0.0.1:6443/v1-k3s/readyz: 503",
            "Node password rejected, duplicate hostname",
            "postgres://user@db/x",
            "",
        ] {
            assert_eq!(redact_url_passwords(untouched), untouched);
        }
    }
}
