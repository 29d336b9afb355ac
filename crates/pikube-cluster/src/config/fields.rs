//! One raw value to its typed form, reporting why not at the value's position.

use std::fmt::Display;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::str::FromStr;

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
