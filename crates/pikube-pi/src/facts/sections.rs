//! Splitting the script's output into named raw sections (see the format
//! description at the top of `script.sh`).

use std::collections::HashMap;

use super::FactsError;

const HEADER: &str = "@@pikube-facts v1";
const HEADER_PREFIX: &str = "@@pikube-facts v";
const TRAILER: &str = "@@pikube-facts end";

/// One fact as printed by the script: exact content and exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub text: String,
    pub rc: i32,
}

/// All present sections by name; absent ones are simply not in the map.
#[derive(Debug, Default)]
pub struct Sections {
    by_name: HashMap<String, Section>,
}

impl Sections {
    /// Splits a framed script's stdout into its sections; fails when it is not one
    /// (no header, another version, cut off, broken markers).
    pub fn parse(stdout: &str) -> Result<Self, FactsError> {
        let mut lines = stdout.split('\n').enumerate();
        // Skip whatever a login shell printed before the header.
        let crlf = loop {
            match lines.next() {
                Some((_, line)) => {
                    let trimmed = line.trim_end_matches('\r');
                    if trimmed == HEADER {
                        // Output that went through a terminal gets CRLF line
                        // ends everywhere; undo that consistently.
                        break line.ends_with('\r');
                    }
                    if trimmed.starts_with(HEADER_PREFIX) {
                        return Err(FactsError::UnsupportedVersion {
                            found: shorten(trimmed),
                        });
                    }
                }
                None => {
                    return Err(FactsError::MissingHeader {
                        first_line: first_line(stdout),
                    })
                }
            }
        };

        let mut by_name = HashMap::new();
        let mut open: Option<(String, Vec<&str>)> = None;
        for (index, raw_line) in lines {
            let line = if crlf {
                raw_line.strip_suffix('\r').unwrap_or(raw_line)
            } else {
                raw_line
            };
            let line_no = index + 1;
            if let Some(content) = line.strip_prefix('|') {
                if let Some((_, body)) = open.as_mut() {
                    body.push(content);
                }
                continue;
            }
            if line == TRAILER {
                if let Some((name, _)) = open {
                    return Err(malformed(line_no, format!("section {name:?} not closed")));
                }
                return Ok(Self { by_name });
            }
            if let Some(name) = line.strip_prefix("@@begin ") {
                if let Some((open_name, _)) = &open {
                    return Err(malformed(
                        line_no,
                        format!("section {name:?} starts inside {open_name:?}"),
                    ));
                }
                open = Some((name.to_string(), Vec::new()));
            } else if let Some(rest) = line.strip_prefix("@@end ") {
                let Some((name, body)) = open.take() else {
                    return Err(malformed(line_no, "end marker outside a section".into()));
                };
                let (end_name, eol, rc) = parse_end(rest)
                    .ok_or_else(|| malformed(line_no, format!("bad end marker {rest:?}")))?;
                if end_name != name {
                    return Err(malformed(
                        line_no,
                        format!("section {name:?} closed as {end_name:?}"),
                    ));
                }
                let mut text = body.join("\n");
                if eol {
                    text.push('\n');
                }
                by_name.insert(name, Section { text, rc });
            } else if let Some(name) = line.strip_prefix("@@absent ") {
                if open.is_some() {
                    return Err(malformed(line_no, "absent marker inside a section".into()));
                }
                by_name.remove(name);
            }
            // Anything else (stray stderr merged into stdout, a shell
            // message) cannot be content, which is always "|"-prefixed.
        }
        Err(FactsError::Truncated {
            section: open.map(|(name, _)| name),
        })
    }

    /// The section's content, whatever the exit status.
    pub fn get(&self, name: &str) -> Option<&Section> {
        self.by_name.get(name)
    }

    /// The content of a section whose command succeeded (files always do).
    pub fn ok_text(&self, name: &str) -> Option<&str> {
        self.get(name)
            .filter(|s| s.rc == 0)
            .map(|s| s.text.as_str())
    }

    /// First line of a successful section, trimmed; `None` when empty.
    pub fn ok_line(&self, name: &str) -> Option<&str> {
        first_nonempty_line(self.ok_text(name)?)
    }

    /// First line of a section whatever its exit status (`systemctl
    /// is-enabled` exits non-zero for "disabled" but its answer matters).
    pub fn any_line(&self, name: &str) -> Option<&str> {
        first_nonempty_line(&self.get(name)?.text)
    }

    /// The script printed `name` (not `@@absent`), whatever its status.
    pub fn is_present(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }
}

fn first_nonempty_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|l| !l.is_empty())
}

/// `NAME eol=0|1 rc=N`
fn parse_end(rest: &str) -> Option<(&str, bool, i32)> {
    let mut parts = rest.split(' ');
    let name = parts.next()?;
    let eol = match parts.next()? {
        "eol=1" => true,
        "eol=0" => false,
        _ => return None,
    };
    let rc = parts.next()?.strip_prefix("rc=")?.parse().ok()?;
    Some((name, eol, rc))
}

fn malformed(line: usize, reason: String) -> FactsError {
    FactsError::Malformed { line, reason }
}

fn first_line(stdout: &str) -> String {
    match stdout.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(line) => shorten(line),
        None => "(empty output)".to_string(),
    }
}

/// Keeps error messages readable when a node answers with something huge.
fn shorten(line: &str) -> String {
    const MAX_CHARS: usize = 120;
    if line.chars().count() <= MAX_CHARS {
        line.to_string()
    } else {
        let mut short: String = line.chars().take(MAX_CHARS).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_exact_content_and_newline_state() {
        let out = "motd\n@@pikube-facts v1\n@@begin a\n|x\n|\n@@end a eol=1 rc=0\n@@begin b\n|y\n@@end b eol=0 rc=3\n@@absent c\n@@pikube-facts end\n";
        let s = Sections::parse(out).unwrap();
        assert_eq!(s.get("a").unwrap().text, "x\n\n");
        assert_eq!(
            s.get("b").unwrap(),
            &Section {
                text: "y".into(),
                rc: 3
            }
        );
        assert!(s.ok_text("b").is_none());
        assert!(!s.is_present("c"));
    }

    #[test]
    fn empty_section_is_present_and_empty() {
        let out = "@@pikube-facts v1\n@@begin a\n@@end a eol=0 rc=0\n@@pikube-facts end";
        let s = Sections::parse(out).unwrap();
        assert_eq!(s.ok_text("a"), Some(""));
    }

    #[test]
    fn crlf_output_is_undone() {
        let out =
            "@@pikube-facts v1\r\n@@begin a\r\n|x\r\n@@end a eol=1 rc=0\r\n@@pikube-facts end\r\n";
        assert_eq!(Sections::parse(out).unwrap().ok_text("a"), Some("x\n"));
    }

    #[test]
    fn structural_errors() {
        assert!(matches!(
            Sections::parse("Welcome to Ubuntu\n"),
            Err(FactsError::MissingHeader { first_line }) if first_line == "Welcome to Ubuntu"
        ));
        assert!(matches!(
            Sections::parse("@@pikube-facts v9\n"),
            Err(FactsError::UnsupportedVersion { .. })
        ));
        assert_eq!(
            Sections::parse("@@pikube-facts v1\n@@begin a\n|x\n").unwrap_err(),
            FactsError::Truncated {
                section: Some("a".into())
            }
        );
        assert!(matches!(
            Sections::parse(
                "@@pikube-facts v1\n@@begin a\n@@end b eol=0 rc=0\n@@pikube-facts end\n"
            ),
            Err(FactsError::Malformed { line: 3, .. })
        ));
        assert!(matches!(
            Sections::parse("@@pikube-facts v1\n@@begin a\n@@end a eol=7 rc=0\n"),
            Err(FactsError::Malformed { .. })
        ));
    }
}
