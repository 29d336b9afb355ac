//! One raw value to its typed form, reporting why not at the value's position.

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::io;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use toml::Spanned;

use super::paths;
use super::proxy_jump;
use super::raw::{Int, Text};
use super::report::Report;

pub(crate) fn parse<T>(report: &mut Report<'_>, field: &str, raw: &Text) -> Option<T>
where
    T: FromStr,
    T::Err: Display,
{
    match raw.get_ref().parse() {
        Ok(value) => Some(value),
        Err(e) => {
            report.error(Some(raw.span()), field, e.to_string());
            None
        }
    }
}

/// For an optional key: `Some(None)` when absent, `None` when given but
/// invalid (already reported), so `?` on it fails only for a bad value.
pub(crate) fn optional<R, T>(
    raw: Option<&R>,
    lower: impl FnOnce(&R) -> Option<T>,
) -> Option<Option<T>> {
    match raw {
        None => Some(None),
        Some(raw) => lower(raw).map(Some),
    }
}

/// Every item of a list typed by `lower`, each problem reported at its item
/// as `field[i]`. Yields the good items with their index and span, so
/// repeats among them can still be found, and whether all were good.
pub(crate) fn items<T>(
    report: &mut Report<'_>,
    field: &str,
    raw: &[Text],
    mut lower: impl FnMut(&mut Report<'_>, &str, &Text) -> Option<T>,
) -> (Vec<(usize, Spanned<T>)>, bool) {
    let mut good = Vec::new();
    let mut ok = true;
    for (index, item) in raw.iter().enumerate() {
        match lower(report, &format!("{field}[{index}]"), item) {
            Some(value) => good.push((index, Spanned::new(item.span(), value))),
            None => ok = false,
        }
    }
    (good, ok)
}

/// Reports each item whose `key` an earlier one already has, at the repeat,
/// naming the first; `what` describes the repeated thing. True if none.
pub(crate) fn no_repeats<T, K: Eq + Hash>(
    report: &mut Report<'_>,
    field: &str,
    items: &[(usize, Spanned<T>)],
    key: impl Fn(&T) -> K,
    what: impl Fn(&T) -> String,
) -> bool {
    let mut first: HashMap<K, usize> = HashMap::new();
    let mut ok = true;
    for (index, item) in items {
        match first.get(&key(item.get_ref())) {
            Some(earlier) => {
                report.error(
                    Some(item.span()),
                    format!("{field}[{index}]"),
                    format!(
                        "duplicate {}; {field}[{earlier}] already has it",
                        what(item.get_ref())
                    ),
                );
                ok = false;
            }
            None => {
                first.insert(key(item.get_ref()), *index);
            }
        }
    }
    ok
}

/// A key as TOML would write it, so `labels."example.com/disk"` stays one segment.
pub(crate) fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

/// A required key that is absent, reported at its table (`span`).
pub(crate) fn missing(
    report: &mut Report<'_>,
    span: Option<Range<usize>>,
    field: &str,
    example: &str,
) {
    let key = field.rsplit('.').next().unwrap_or(field);
    report.error(
        span,
        field,
        format!("missing required key `{key}`, e.g. {example}"),
    );
}

fn in_range(
    report: &mut Report<'_>,
    field: &str,
    raw: &Int,
    range: RangeInclusive<i64>,
    meaning: &str,
) -> Option<i64> {
    let value = *raw.get_ref();
    if range.contains(&value) {
        return Some(value);
    }
    let (lo, hi) = (range.start(), range.end());
    report.error(
        Some(raw.span()),
        field,
        format!("{value} is out of range; {meaning} must be {lo}..={hi}"),
    );
    None
}

pub(crate) fn port(report: &mut Report<'_>, field: &str, raw: &Int) -> Option<u16> {
    in_range(report, field, raw, 1..=65535, "a port").and_then(|p| u16::try_from(p).ok())
}

pub(crate) fn seconds(report: &mut Report<'_>, field: &str, raw: &Int) -> Option<u64> {
    in_range(report, field, raw, 1..=300, "the timeout in seconds")
        .and_then(|s| u64::try_from(s).ok())
}

/// How long a node moved to a new address waits for pikube: from 20 seconds (a switch and
/// a new SSH connection on a slow Pi) to 10 minutes.
pub(crate) fn rollback_seconds(report: &mut Report<'_>, field: &str, raw: &Int) -> Option<u64> {
    in_range(
        report,
        field,
        raw,
        20..=600,
        "the rollback delay in seconds",
    )
    .and_then(|s| u64::try_from(s).ok())
}

/// How long one remote command may run: from ten seconds (less would cut off a K3s start on
/// a Pi) to a day.
pub(crate) fn command_seconds(report: &mut Report<'_>, field: &str, raw: &Int) -> Option<u64> {
    in_range(
        report,
        field,
        raw,
        10..=86_400,
        "the command timeout in seconds",
    )
    .and_then(|s| u64::try_from(s).ok())
}

pub(crate) fn parallelism(report: &mut Report<'_>, field: &str, raw: &Int) -> Option<usize> {
    in_range(
        report,
        field,
        raw,
        1..=256,
        "the number of nodes worked on at once",
    )
    .and_then(|n| usize::try_from(n).ok())
}

/// A login name: anything ssh would take as one `-l` argument.
pub(crate) fn user(report: &mut Report<'_>, field: &str, raw: &Text) -> Option<String> {
    let user = raw.get_ref();
    let problem = if user.is_empty() {
        Some("the user is empty; leave `user` out to use ssh's default")
    } else if user.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("a user name cannot contain whitespace")
    } else if user.contains('@') || user.contains(':') {
        Some("a user name cannot contain '@' or ':'; give the host in `address`")
    } else if !user
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        // OpenSSH hands a jump host's user to a shell (security review L1).
        Some("a user name here is letters, digits, '.', '_' and '-'")
    } else {
        None
    };
    match problem {
        Some(problem) => {
            report.error(Some(raw.span()), field, format!("{user:?}: {problem}"));
            None
        }
        None => Some(user.clone()),
    }
}

pub(crate) fn path(
    report: &mut Report<'_>,
    field: &str,
    raw: &Text,
    dir: &Path,
    home: Option<&Path>,
) -> Option<PathBuf> {
    match paths::resolve(raw.get_ref(), dir, home) {
        Ok(path) => Some(path),
        Err(problem) => {
            report.error(
                Some(raw.span()),
                field,
                format!("{:?}: {problem}", raw.get_ref()),
            );
            None
        }
    }
}

/// A resolved `path` that must already be a regular file (or a link to
/// one), reported at the value (`raw`) when it is not.
pub(crate) fn existing_file(
    report: &mut Report<'_>,
    field: &str,
    raw: &Text,
    path: PathBuf,
) -> Option<PathBuf> {
    let problem = match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() => return Some(path),
        Ok(meta) if meta.is_dir() => "is a directory, not a file".to_owned(),
        Ok(_) => "is not a regular file".to_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => "no such file".to_owned(),
        Err(e) => format!("cannot read: {e}"),
    };
    report.error(
        Some(raw.span()),
        field,
        format!("{}: {problem}", path.display()),
    );
    None
}

/// `Some(None)` for `""`, which switches jumping off (a node beside the gateway).
pub(crate) fn proxy_jump(
    report: &mut Report<'_>,
    field: &str,
    raw: &Text,
) -> Option<Option<String>> {
    let spec = raw.get_ref();
    if spec.is_empty() {
        return Some(None);
    }
    match proxy_jump::check(spec) {
        Ok(()) => Some(Some(spec.clone())),
        Err(why) => {
            report.error(Some(raw.span()), field, why);
            None
        }
    }
}
