//! `[backup]` to [`BackupSettings`]: the etcd snapshots K3s takes by itself on every
//! server (`etcd-snapshot-schedule-cron`, `-retention`), optionally sent to S3. Each value
//! is typed here, so a schedule K3s would refuse is a cluster.toml error at its line and
//! not a server that fails to start.

use std::fmt;
use std::str::FromStr;

use croner::parser::{CronParser, Seconds, Year};
use serde::Serialize;

use super::fields;
use super::located::Located;
use super::raw::{RawBackup, RawS3};
use super::report::Report;
use crate::secrets::SecretKey;

/// `[backup]`: scheduled snapshots on the servers, and where else they go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupSettings {
    /// When the servers take a snapshot.
    pub schedule: SnapshotSchedule,
    /// Scheduled snapshots each server keeps (K3s' default is 5); S3 keeps as many.
    pub retention: Option<u32>,
    /// `[backup.s3]`, when snapshots are copied to a bucket too.
    pub s3: Option<S3Target>,
}

/// When K3s takes its scheduled snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotSchedule {
    /// A cron schedule as K3s reads it.
    Cron(CronSchedule),
    /// `schedule = "off"`: no scheduled snapshots (`etcd-disable-snapshots`).
    Off,
}

/// A schedule K3s' cron accepts: five fields (minute hour day-of-month month day-of-week,
/// names like MON and JAN allowed), a descriptor (`@daily`, `@hourly`…) or `@every <Go
/// duration>`. Quartz extensions (`L`, `W`, `#`) and a seconds field are refused, as K3s
/// refuses them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CronSchedule(String);

#[derive(Debug, thiserror::Error)]
#[error(
    "{input:?} is not a schedule: {why} (five cron fields like \"0 */6 * * *\", a descriptor \
     like @daily, @every 6h, or \"off\")"
)]
pub struct InvalidSchedule {
    input: String,
    why: String,
}

impl FromStr for SnapshotSchedule {
    type Err = InvalidSchedule;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "off" {
            return Ok(SnapshotSchedule::Off);
        }
        let fail = |why: &str| InvalidSchedule {
            input: s.to_owned(),
            why: why.to_owned(),
        };
        if let Some(every) = s.strip_prefix("@every ") {
            go_duration(every.trim()).ok_or_else(|| {
                fail("@every takes a duration like 6h, 90m or 1h30m, more than zero")
            })?;
            return Ok(SnapshotSchedule::Cron(CronSchedule(s.to_owned())));
        }
        if s.starts_with('@') {
            const DESCRIPTORS: [&str; 7] = [
                "@yearly",
                "@annually",
                "@monthly",
                "@weekly",
                "@daily",
                "@midnight",
                "@hourly",
            ];
            return if DESCRIPTORS.contains(&s) {
                Ok(SnapshotSchedule::Cron(CronSchedule(s.to_owned())))
            } else {
                Err(fail("unknown descriptor"))
            };
        }
        let fields: Vec<&str> = s.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(fail(&format!(
                "K3s takes five fields, this has {}",
                fields.len()
            )));
        }
        if let Some(field) = fields.iter().find(|f| quartz_only(f)) {
            return Err(fail(&format!(
                "{field:?} uses L, W or #, which K3s' cron does not know"
            )));
        }
        standard_cron(s).map_err(|e| fail(&e.to_string()))?;
        Ok(SnapshotSchedule::Cron(CronSchedule(s.to_owned())))
    }
}

/// Five fields (or a descriptor croner knows), as K3s' cron reads them.
fn standard_cron(text: &str) -> Result<croner::Cron, croner::errors::CronError> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(text)
}

/// Quartz's `L` (last), `W` (weekday) and `#` (nth): croner reads them, K3s does not.
/// Month and day names (JUL, WED) contain those letters too, so only a letter next to a
/// digit, or alone, counts.
fn quartz_only(field: &str) -> bool {
    field.contains('#')
        || field.split([',', '/', '-']).any(|part| {
            let upper = part.to_ascii_uppercase();
            upper == "L"
                || upper == "LW"
                || ((upper.ends_with('L') || upper.ends_with('W'))
                    && upper[..upper.len() - 1].chars().all(|c| c.is_ascii_digit())
                    && upper.len() > 1)
        })
}

/// A Go duration of whole units (`6h`, `1h30m`, `90s`), more than zero; fractions and
/// sub-second units are left out on purpose, snapshots being minutes apart at least.
fn go_duration(text: &str) -> Option<u64> {
    let mut rest = text;
    let mut seconds: u64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 || digits > 9 {
            return None;
        }
        let amount: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = match rest.chars().next()? {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        rest = &rest[1..];
        seconds = seconds.checked_add(amount.checked_mul(unit)?)?;
    }
    (seconds > 0).then_some(seconds)
}

impl CronSchedule {
    /// The five fields, as K3s takes them.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl SnapshotSchedule {
    /// What K3s does without `[backup]`.
    pub fn k3s_default() -> SnapshotSchedule {
        SnapshotSchedule::Cron(CronSchedule("0 */12 * * *".into()))
    }

    /// The longest wait between two snapshots over the coming week (a weekday-only
    /// schedule waits longest over the weekend); `None` when they are off.
    pub fn longest_gap(&self) -> Option<std::time::Duration> {
        let SnapshotSchedule::Cron(cron) = self else {
            return None;
        };
        let text = cron.as_str();
        if let Some(every) = text.strip_prefix("@every ") {
            return go_duration(every.trim()).map(std::time::Duration::from_secs);
        }
        let text = if text == "@midnight" { "@daily" } else { text };
        let cron = standard_cron(text).ok()?;
        let start = chrono::Utc::now();
        let horizon = start + chrono::Duration::days(8);
        let mut previous = cron.find_next_occurrence(&start, false).ok()?;
        let mut longest = chrono::Duration::zero();
        for _ in 0..2000 {
            let Ok(next) = cron.find_next_occurrence(&previous, false) else {
                break;
            };
            longest = longest.max(next - previous);
            if next > horizon {
                break;
            }
            previous = next;
        }
        longest.to_std().ok().filter(|gap| !gap.is_zero())
    }
}

impl fmt::Display for SnapshotSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotSchedule::Cron(cron) => f.write_str(&cron.0),
            SnapshotSchedule::Off => f.write_str("off"),
        }
    }
}

/// `[backup.s3]`: an S3 bucket (AWS, MinIO, Garage…) every scheduled snapshot is copied to.
/// The keys are not here: they are looked up in secrets.age, else in pikube's environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct S3Target {
    /// `host` or `host:port`, no scheme (K3s' default: s3.amazonaws.com).
    pub endpoint: Option<String>,
    /// The bucket.
    pub bucket: String,
    /// The bucket's region, when the endpoint needs one.
    pub region: Option<String>,
    /// A prefix inside the bucket.
    pub folder: Option<String>,
    /// Plain HTTP to the endpoint (a MinIO on the LAN without TLS).
    pub insecure: bool,
    /// The secret in secrets.age holding the access key id.
    pub access_key_secret: SecretKey,
    /// The secret in secrets.age holding the secret access key.
    pub secret_key_secret: SecretKey,
}

impl S3Target {
    /// The secret's name for the access key id when cluster.toml names none.
    pub const DEFAULT_ACCESS_KEY_SECRET: &'static str = "backup.s3.access_key";
    /// The secret's name for the secret access key when cluster.toml names none.
    pub const DEFAULT_SECRET_KEY_SECRET: &'static str = "backup.s3.secret_key";
}

/// `None` when anything in the table is invalid (each problem is in `report`).
pub(crate) fn lower(
    report: &mut Report<'_>,
    raw: Option<Located<RawBackup>>,
) -> Option<Option<BackupSettings>> {
    let Some(raw) = raw else {
        return Some(None);
    };
    let raw = raw.value;
    let schedule = match &raw.schedule {
        Some(text) => fields::parse::<SnapshotSchedule>(report, "backup.schedule", text),
        // K3s' own default, said out loud so that retention and S3 apply to it.
        None => Some(SnapshotSchedule::k3s_default()),
    };
    let retention = fields::optional(raw.retention.as_ref(), |r| {
        match u32::try_from(*r.get_ref()) {
            Ok(n) if (1..=1000).contains(&n) => Some(n),
            _ => {
                report.error(
                    Some(r.span()),
                    "backup.retention",
                    format!(
                        "{} is not a retention: the number of snapshots each server keeps, \
                         from 1 to 1000",
                        r.get_ref()
                    ),
                );
                None
            }
        }
    });
    let s3 = fields::optional(raw.s3.as_ref(), |table| s3(report, table));
    let (schedule, retention, s3) = (schedule?, retention?, s3?);
    Some(Some(BackupSettings {
        schedule,
        retention,
        s3,
    }))
}

fn s3(report: &mut Report<'_>, table: &Located<RawS3>) -> Option<S3Target> {
    let raw = &table.value;
    let endpoint = fields::optional(raw.endpoint.as_ref(), |e| {
        let text = e.get_ref();
        let why = if text.contains("://") {
            Some("write the host (and port) without a scheme; insecure = true for plain http")
        } else if text.is_empty() || text.contains(['/', ' ', '?', '#', '@']) {
            Some("a host or host:port, like minio.lan:9000")
        } else {
            None
        };
        match why {
            Some(why) => {
                report.error(
                    Some(e.span()),
                    "backup.s3.endpoint",
                    format!("{text:?} is not an S3 endpoint: {why}"),
                );
                None
            }
            None => Some(text.clone()),
        }
    });
    let bucket = match &raw.bucket {
        None => {
            fields::missing(
                report,
                table.span.clone(),
                "backup.s3.bucket",
                "bucket = \"k3s-snapshots\"",
            );
            None
        }
        Some(b) => {
            let text = b.get_ref();
            let valid = (3..=63).contains(&text.len())
                && text
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
                && text.starts_with(|c: char| c.is_ascii_alphanumeric())
                && text.ends_with(|c: char| c.is_ascii_alphanumeric());
            if valid {
                Some(text.clone())
            } else {
                report.error(
                    Some(b.span()),
                    "backup.s3.bucket",
                    format!(
                        "{text:?} is not a bucket name: 3 to 63 lowercase letters, digits, '-' \
                         and '.', starting and ending with a letter or digit"
                    ),
                );
                None
            }
        }
    };
    let folder = fields::optional(raw.folder.as_ref(), |f| {
        let text = f.get_ref().trim_matches('/');
        if text.is_empty() || text.contains("//") || text.chars().any(char::is_control) {
            report.error(
                Some(f.span()),
                "backup.s3.folder",
                format!(
                    "{:?} is not a folder: a path inside the bucket like \"homelab\" or \
                     \"k3s/homelab\"",
                    f.get_ref()
                ),
            );
            None
        } else {
            Some(text.to_owned())
        }
    });
    let region = raw.region.as_ref().map(|r| r.get_ref().clone());
    let secret =
        |report: &mut Report<'_>, raw: Option<&super::raw::Text>, field, default: &str| match raw {
            None => SecretKey::parse(default).ok(),
            Some(r) => match SecretKey::parse(r.get_ref()) {
                Ok(key) => Some(key),
                Err(why) => {
                    report.error(Some(r.span()), field, why);
                    None
                }
            },
        };
    let access = secret(
        report,
        raw.access_key_secret.as_ref(),
        "backup.s3.access_key_secret",
        S3Target::DEFAULT_ACCESS_KEY_SECRET,
    );
    let secret_key = secret(
        report,
        raw.secret_key_secret.as_ref(),
        "backup.s3.secret_key_secret",
        S3Target::DEFAULT_SECRET_KEY_SECRET,
    );
    Some(S3Target {
        endpoint: endpoint?,
        bucket: bucket?,
        region,
        folder: folder?,
        insecure: raw.insecure.as_ref().is_some_and(|i| *i.get_ref()),
        access_key_secret: access?,
        secret_key_secret: secret_key?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_k3s_accepts_are_taken_and_the_others_say_why() {
        for good in [
            "0 */6 * * *",
            "30 2 * * MON-FRI",
            "0 0 1 JAN,JUL *",
            "*/15 * * * *",
            "@daily",
            "@hourly",
            "@every 6h",
            "@every 1h30m",
            "@every 10s",
        ] {
            assert_eq!(
                good.parse::<SnapshotSchedule>().unwrap().to_string(),
                good,
                "{good}"
            );
        }
        assert_eq!(
            "off".parse::<SnapshotSchedule>().unwrap(),
            SnapshotSchedule::Off
        );
        for (bad, why) in [
            ("0 0 */6 * * *", "five fields, this has 6"),
            ("0 */6 * *", "five fields, this has 4"),
            ("", "five fields, this has 0"),
            ("0 0 L * *", "uses L, W or #"),
            ("0 0 15W * *", "uses L, W or #"),
            ("0 0 * * 5#3", "uses L, W or #"),
            ("61 * * * *", "is not a schedule"),
            ("0 25 * * *", "is not a schedule"),
            ("@sometimes", "unknown descriptor"),
            ("@every 0s", "@every takes a duration"),
            ("@every 1.5h", "@every takes a duration"),
            ("@every soon", "@every takes a duration"),
        ] {
            let err = bad.parse::<SnapshotSchedule>().unwrap_err().to_string();
            assert!(
                err.contains(why) && err.contains("five cron fields like"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_longest_gap_between_snapshots() {
        let gap = |text: &str| {
            text.parse::<SnapshotSchedule>()
                .unwrap()
                .longest_gap()
                .map(|d| d.as_secs())
        };
        assert_eq!(gap("0 */6 * * *"), Some(6 * 3600));
        assert_eq!(gap("@every 1h30m"), Some(5400));
        assert_eq!(gap("@daily"), Some(86_400));
        assert_eq!(gap("@midnight"), Some(86_400));
        // Weekdays at 02:00: Friday to Monday is the longest wait.
        assert_eq!(gap("0 2 * * MON-FRI"), Some(3 * 86_400));
        assert_eq!(gap("off"), None);
        assert_eq!(
            SnapshotSchedule::k3s_default().longest_gap(),
            Some(std::time::Duration::from_secs(12 * 3600))
        );
    }
}
