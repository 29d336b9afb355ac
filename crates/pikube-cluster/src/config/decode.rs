//! TOML text to the raw shape, turning parser and serde errors into diagnostics.
//!
//! Syntax and type errors stop the parse (serde cannot go on after one), so
//! this yields at most one diagnostic; semantic checks later report them all.

use serde_path_to_error::{Path as FieldPath, Segment};

use super::located::PRIVATE_SEGMENT_PREFIX;
use super::raw::RawFile;
use super::report::Report;
use super::suggest::did_you_mean;
use super::S3Target;

pub(crate) fn decode(text: &str, report: &mut Report<'_>) -> Option<RawFile> {
    match serde_path_to_error::deserialize(toml::Deserializer::new(text)) {
        Ok(raw) => Some(raw),
        Err(err) => {
            let mut field = field_path(err.path());
            let mut message = explain(&field, err.inner().message());
            // `[[cluster]]` (or `cluster = [...]`) where a single table belongs.
            if let Some(table) = ["cluster", "ssh", "k3s"].into_iter().find(|t| {
                field
                    .strip_prefix(t)
                    .is_some_and(|rest| rest.starts_with('['))
            }) {
                message = format!("this is an array; write one [{table}] table (single brackets)");
                field = table.to_owned();
            }
            report.error(err.inner().span(), field, message);
            None
        }
    }
}

/// `nodes[1].address`, without the span plumbing's own segments.
fn field_path(path: &FieldPath) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } if key.starts_with(PRIVATE_SEGMENT_PREFIX) => {}
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            // A label key, whose text serde does not keep; the map's path is enough.
            Segment::Unknown => {}
        }
    }
    out
}

/// Rewrites serde's and toml's wording into the user's terms: TOML keys and
/// tables, not Rust fields and structs.
fn explain(field: &str, message: &str) -> String {
    // toml puts the detail of a syntax error on following lines.
    let message = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    if let Some(unknown) = unknown_key(&message) {
        return s3_key_in_clear(field).unwrap_or(unknown);
    }
    let mut message = message
        .replace("expected i64", "expected an integer")
        .replace("expected a map", "expected a table");
    if let Some(at) = message.find("expected struct Raw") {
        message.replace_range(at.., "expected a table");
    }
    if message.contains("expected a sequence") {
        if field == "nodes" {
            message.push_str("; write each node as its own [[nodes]] table (double brackets)");
        } else if let Some(key) = field.rsplit('.').next().filter(|k| !k.is_empty()) {
            // `disable = "traefik"`: one item where a list belongs.
            message.push_str(&format!("; write a list, e.g. {key} = [\"...\"]"));
        }
    }
    message
}

/// A bucket's key written into `[backup.s3]` itself: said for what it is and where it
/// belongs. As an unknown key it would be told to become `access_key_secret`, which names a
/// secret and does not hold one. The value is never repeated.
fn s3_key_in_clear(field: &str) -> Option<String> {
    let key = field.strip_prefix("backup.s3.")?;
    let (secret, variable) = match key.to_ascii_lowercase().replace('-', "_").as_str() {
        "access_key" | "access_key_id" | "aws_access_key_id" | "accesskey" => {
            (S3Target::DEFAULT_ACCESS_KEY_SECRET, "AWS_ACCESS_KEY_ID")
        }
        "secret_key" | "secret_access_key" | "aws_secret_access_key" | "secretkey" => {
            (S3Target::DEFAULT_SECRET_KEY_SECRET, "AWS_SECRET_ACCESS_KEY")
        }
        _ => return None,
    };
    Some(format!(
        "the bucket's keys are never read from cluster.toml, where they would sit in clear \
         (and in git): remove `{key}` and keep it in the encrypted secrets file with `pikube \
         secrets set {secret}` (or export {variable} where pikube runs)"
    ))
}

/// serde's `unknown field `x`, expected one of `a`, `b`` as a did-you-mean.
fn unknown_key(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field ")?;
    let mut quoted = rest.split('`').skip(1).step_by(2);
    let key = quoted.next()?;
    let known: Vec<&str> = quoted.collect();
    Some(match did_you_mean(key, &known) {
        Some(close) => format!("unknown key `{key}`; did you mean `{close}`?"),
        None if known.is_empty() => format!("unknown key `{key}`; this table takes no keys"),
        None if known.len() == 1 => {
            format!("unknown key `{key}`; the only key here is `{}`", known[0])
        }
        None => format!(
            "unknown key `{key}`; expected one of {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_suggests_close_name() {
        assert_eq!(
            unknown_key("unknown field `adress`, expected one of `name`, `address`, `role`"),
            Some("unknown key `adress`; did you mean `address`?".to_owned())
        );
        assert_eq!(
            unknown_key("unknown field `zzz`, expected `cluster` or `nodes`"),
            Some("unknown key `zzz`; expected one of `cluster`, `nodes`".to_owned())
        );
        assert_eq!(unknown_key("invalid type"), None);
    }

    #[test]
    fn syntax_detail_is_kept_on_one_line() {
        assert_eq!(
            explain("", "invalid table header\nexpected `.`, `]`\n"),
            "invalid table header: expected `.`, `]`"
        );
    }
}
