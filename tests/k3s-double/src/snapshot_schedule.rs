//! K3s' scheduled etcd snapshots on a server with embedded etcd. They are on by default
//! (schedule `0 */12 * * *`, 5 kept, named `etcd-snapshot-<node>-<unix time>`);
//! `etcd-disable-snapshots` turns them off, and `etcd-snapshot-schedule-cron`, `-retention`,
//! `-name` and `-dir` change them. The schedule is read like K3s' cron reads it (five
//! fields, descriptors, `@every`), and one it cannot read stops the server at start, as it
//! stops K3s.
//!
//! S3 (`etcd-s3*`) is not modelled: the settings are checked for a bucket and the keys'
//! presence is logged (never their values) after each snapshot, nothing is uploaded.

use crate::config::Settings;
use crate::log;
use crate::snapshot::{prune_named, save_named, Place};
use croner::parser::{CronParser, Seconds, Year};
use std::path::Path;
use std::time::Duration;

enum Schedule {
    Every(Duration),
    Cron(Box<croner::Cron>),
}

impl Schedule {
    fn parse(text: &str) -> Result<Schedule, String> {
        let fail =
            |why: &str| format!("failed to parse etcd-snapshot-schedule-cron {text:?}: {why}");
        if let Some(every) = text.strip_prefix("@every ") {
            return go_duration(every.trim())
                .map(Schedule::Every)
                .ok_or_else(|| fail("not a duration"));
        }
        // croner knows every descriptor but this one.
        let text = if text == "@midnight" { "@daily" } else { text };
        if !text.starts_with('@') && text.split_whitespace().count() != 5 {
            return Err(fail("expected exactly 5 fields"));
        }
        // K3s' cron has no Quartz extensions (L, W, #), which croner would take; names
        // such as JUL or WED hold those letters too, so only one beside a digit counts.
        let quartz = text.split([' ', ',', '/', '-']).any(|part| {
            let digits = part.trim_end_matches(['L', 'W', 'l', 'w']);
            part.contains('#')
                || (digits.len() < part.len() && digits.chars().all(|c| c.is_ascii_digit()))
        });
        if quartz {
            return Err(fail("unsupported character"));
        }
        CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(text)
            .map(|cron| Schedule::Cron(Box::new(cron)))
            .map_err(|e| fail(&e.to_string()))
    }

    /// How long from now until the next snapshot.
    fn wait(&self) -> Duration {
        match self {
            Schedule::Every(every) => *every,
            Schedule::Cron(cron) => {
                let now = chrono::Local::now();
                cron.find_next_occurrence(&now, false)
                    .ok()
                    .and_then(|next| (next - now).to_std().ok())
                    .unwrap_or(Duration::from_secs(60))
            }
        }
    }
}

/// A Go duration of whole h, m and s units, as `@every` takes it (fractions left out).
fn go_duration(text: &str) -> Option<Duration> {
    let mut rest = text;
    let mut seconds = 0u64;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
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
    (seconds > 0).then(|| Duration::from_secs(seconds))
}

/// Starts the schedule for this server, or says why the settings are refused.
pub fn start(settings: &Settings, data_dir: &Path, node_name: &str) -> Result<(), String> {
    if settings.bool("etcd-disable-snapshots") {
        return Ok(());
    }
    let schedule = Schedule::parse(
        settings
            .str("etcd-snapshot-schedule-cron")
            .unwrap_or("0 */12 * * *"),
    )?;
    let retention: usize = match settings.str("etcd-snapshot-retention") {
        None => 5,
        Some(text) => text
            .parse()
            .map_err(|_| format!("invalid value {text:?} for flag -etcd-snapshot-retention"))?,
    };
    let s3 = if settings.bool("etcd-s3") {
        let bucket = settings
            .str("etcd-s3-bucket")
            .filter(|b| !b.is_empty())
            .ok_or("etcd-s3 is set but etcd-s3-bucket is not: s3 bucket name was not set")?;
        Some(format!(
            "bucket {bucket} at {}{}; access key {}, secret key {}",
            settings
                .str("etcd-s3-endpoint")
                .unwrap_or("s3.amazonaws.com"),
            settings
                .str("etcd-s3-folder")
                .map(|f| format!(", folder {f}"))
                .unwrap_or_default(),
            presence(settings.str("etcd-s3-access-key")),
            presence(settings.str("etcd-s3-secret-key")),
        ))
    } else {
        None
    };
    let prefix = settings
        .str("etcd-snapshot-name")
        .unwrap_or("etcd-snapshot")
        .to_owned();
    let place = Place {
        data_dir: data_dir.to_path_buf(),
        snapshots: settings
            .str("etcd-snapshot-dir")
            .map(Into::into)
            .unwrap_or_else(|| data_dir.join("server/db/snapshots")),
        node_name: node_name.to_owned(),
    };
    std::thread::spawn(move || loop {
        std::thread::sleep(schedule.wait());
        match save_named(&place, &prefix) {
            Ok(name) => {
                if let Some(s3) = &s3 {
                    log::info(&format!(
                        "S3 upload of {name} not modelled by the double ({s3})"
                    ));
                }
                if let Err(e) = prune_named(&place, &prefix, retention) {
                    log::error(&format!("Failed to prune snapshots: {e}"));
                }
            }
            Err(e) => log::error(&format!("Failed to take scheduled snapshot: {e}")),
        }
    });
    Ok(())
}

fn presence(value: Option<&str>) -> &'static str {
    if value.is_some_and(|v| !v.is_empty()) {
        "set"
    } else {
        "not set"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_as_k3s_reads_them() {
        for good in [
            "0 */12 * * *",
            "@daily",
            "@midnight",
            "*/5 * * * MON-FRI",
            "0 0 1 JAN,JUL WED",
        ] {
            assert!(
                matches!(Schedule::parse(good), Ok(Schedule::Cron(_))),
                "{good}"
            );
        }
        assert!(matches!(
            Schedule::parse("@every 1h30m"),
            Ok(Schedule::Every(d)) if d == Duration::from_secs(5400)
        ));
        for bad in [
            "0 0 */12 * * *",
            "0 0 L * *",
            "0 0 15W * *",
            "0 0 * * 5#3",
            "@every never",
            "99 * * * *",
        ] {
            let err = Schedule::parse(bad).err().unwrap();
            assert!(
                err.contains("failed to parse etcd-snapshot-schedule-cron"),
                "{bad}: {err}"
            );
        }
        let cron = Schedule::parse("* * * * *").unwrap();
        assert!(cron.wait() <= Duration::from_secs(60));
    }
}
