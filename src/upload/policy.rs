//! What a run must find before it may call itself a success: a ceiling on skipped records, a
//! floor on records to send, and when identical content is sent again (employee profiles expire
//! at the service after 30 days).
//!
//! Every decision here is made on the validation report, before the first chunk is sent.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;

use super::checkpoint::Checkpoint;
use super::error::UploadError;
use crate::hrdata::{InvalidRows, ValidationReport};

/// The most records `--invalid-rows skip` may leave out: a count, or a share of the file's
/// records (`10%`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxRejected {
    Count(u64),
    /// Hundredths of a percent (`10%` is 1000), so the comparison stays in integers.
    Percent(u32),
}

/// `10%`: a file with more than one record in ten invalid is more likely a broken export.
pub const DEFAULT_MAX_REJECTED: MaxRejected = MaxRejected::Percent(1000);

impl MaxRejected {
    /// Whether `rejected` of `total` records is over the ceiling.
    pub fn exceeded_by(self, rejected: u64, total: u64) -> bool {
        match self {
            MaxRejected::Count(n) => rejected > n,
            MaxRejected::Percent(hundredths) => {
                u128::from(rejected) * 10_000 > u128::from(hundredths) * u128::from(total)
            }
        }
    }
}

impl fmt::Display for MaxRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxRejected::Count(n) => write!(f, "{n}"),
            MaxRejected::Percent(h) if h % 100 == 0 => write!(f, "{}%", h / 100),
            MaxRejected::Percent(h) => {
                let text = format!("{}.{:02}", h / 100, h % 100);
                write!(f, "{}%", text.trim_end_matches('0'))
            }
        }
    }
}

impl FromStr for MaxRejected {
    type Err = String;

    /// `N` (a count) or `P%` (0 to 100, at most two decimals).
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let wrong = || format!("{text:?} is neither a count (e.g. 5) nor a percentage (e.g. 10%)");
        let Some(percent) = text.strip_suffix('%') else {
            return text.parse().map(MaxRejected::Count).map_err(|_| wrong());
        };
        let (whole, fraction) = percent.split_once('.').unwrap_or((percent, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 2 {
            return Err(wrong());
        }
        let whole: u32 = whole.parse().map_err(|_| wrong())?;
        let fraction: u32 = format!("{fraction:0<2}").parse().map_err(|_| wrong())?;
        let hundredths = whole.saturating_mul(100).saturating_add(fraction);
        if hundredths > 10_000 {
            return Err(format!("{text:?}: a percentage is at most 100%"));
        }
        Ok(MaxRejected::Percent(hundredths))
    }
}

/// How long identical content may go without being sent again when it holds employee profiles
/// and nothing else says: the service deletes profiles after 30 days, and Microsoft asks for
/// them every 15 to 20.
pub const DEFAULT_PROFILE_RESEND: Duration = Duration::from_secs(14 * 86_400);

/// The outcome rules of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPolicy {
    /// Ceiling on records left out by `--invalid-rows skip`.
    pub max_rejected: MaxRejected,
    /// Fewer valid records than this fail the run (0: an empty file is only a warning).
    pub min_records: u64,
    /// Identical content whose last upload is older than this is sent again. `None`:
    /// [`DEFAULT_PROFILE_RESEND`] when the content holds employee profiles, else never.
    pub resend_unchanged_after: Option<Duration>,
}

impl Default for RunPolicy {
    fn default() -> Self {
        RunPolicy {
            max_rejected: DEFAULT_MAX_REJECTED,
            min_records: 0,
            resend_unchanged_after: None,
        }
    }
}

impl RunPolicy {
    /// The verdict on a validated file, the same before a run (the operator's check on apply)
    /// and in it: `Reject` and an invalid record, then the ceiling and the floor.
    pub fn check(
        &self,
        report: &ValidationReport,
        invalid_rows: InvalidRows,
    ) -> Result<(), UploadError> {
        let first_error = || report.errors.first().map(|e| e.to_string());
        if invalid_rows == InvalidRows::Reject && !report.is_valid() {
            return Err(UploadError::InvalidRecords {
                rejected: report.rejected,
                first: first_error().unwrap_or_default(),
            });
        }
        self.check_counts(report.accepted(), report.rejected, first_error())
    }

    /// Checks the counts of a validated file whose invalid records are skipped: too many left
    /// out, none left at all, or fewer than the floor.
    pub fn check_counts(
        &self,
        accepted: u64,
        rejected: u64,
        first_error: Option<String>,
    ) -> Result<(), UploadError> {
        let total = accepted + rejected;
        if rejected > 0 && (accepted == 0 || self.max_rejected.exceeded_by(rejected, total)) {
            return Err(UploadError::TooManyRejected {
                rejected,
                total,
                ceiling: self.max_rejected,
                first: first_error.unwrap_or_default(),
            });
        }
        if accepted < self.min_records {
            return Err(UploadError::TooFewRecords {
                records: accepted,
                minimum: self.min_records,
            });
        }
        Ok(())
    }

    /// How old the last upload of identical content may be before it is sent again, for content
    /// that does (or does not) hold employee profiles.
    pub fn resend_after(&self, holds_profiles: bool) -> Option<Duration> {
        self.resend_unchanged_after
            .or(holds_profiles.then_some(DEFAULT_PROFILE_RESEND))
    }
}

/// Schedules fire a few seconds late or early; a resend due within this much (at most 1% of the
/// setting) counts as due, so a job on a 14-day rhythm does not miss it by seconds and wait a
/// whole extra period.
const RESEND_SLACK: Duration = Duration::from_secs(3600);

/// The age at which content uploaded at some time is due to be sent again.
pub fn resend_due_age(resend_after: Duration) -> Duration {
    resend_after.saturating_sub(RESEND_SLACK.min(resend_after / 100))
}

/// Whether a complete `checkpoint` of identical content is too old to count as sent, at `now`.
/// A checkpoint without a completion time (written before it was recorded) is too old.
pub fn resend_due(checkpoint: &Checkpoint, resend_after: Duration, now: Timestamp) -> bool {
    let Some(completed) = checkpoint.completed_at else {
        return true;
    };
    // A completion time ahead of `now` (clocks differ between replicas) counts as fresh.
    let age = now.duration_since(completed);
    !age.is_negative() && age.unsigned_abs() >= resend_due_age(resend_after)
}

/// Parses a duration of whole numbers with units `d`, `h`, `m`, `s` (`14d`, `36h`, `1d12h`).
pub fn parse_age(text: &str) -> Result<Duration, String> {
    crate::duration::parse(text, true)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            format!(
                "{text:?} is not a duration such as 14d, 36h or 90m (whole numbers with d, h, m, s)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_parse_as_counts_and_percentages() {
        assert_eq!("5".parse(), Ok(MaxRejected::Count(5)));
        assert_eq!("10%".parse(), Ok(MaxRejected::Percent(1000)));
        assert_eq!("0.5%".parse(), Ok(MaxRejected::Percent(50)));
        assert_eq!("100%".parse(), Ok(MaxRejected::Percent(10_000)));
        for bad in ["", "%", "-1", "1.5", "101%", "1.234%", "ten", "10 %"] {
            assert!(bad.parse::<MaxRejected>().is_err(), "{bad:?}");
        }
        assert_eq!(MaxRejected::Percent(50).to_string(), "0.5%");
        assert_eq!(MaxRejected::Percent(1000).to_string(), "10%");
    }

    #[test]
    fn the_default_ceiling_lets_one_in_ten_through_and_not_three() {
        let policy = RunPolicy::default();
        assert!(policy.check_counts(9, 1, None).is_ok());
        let err = policy.check_counts(7, 3, None).unwrap_err();
        assert_eq!(err.reason(), "TooManyRejected");
        // No valid record left fails at any ceiling.
        let lenient = RunPolicy {
            max_rejected: MaxRejected::Percent(10_000),
            ..RunPolicy::default()
        };
        assert!(lenient.check_counts(0, 2, None).is_err());
    }

    #[test]
    fn a_resend_is_due_within_the_slack() {
        let day = Duration::from_secs(86_400);
        assert_eq!(resend_due_age(14 * day), 14 * day - RESEND_SLACK);
        assert_eq!(
            resend_due_age(Duration::from_secs(100)),
            Duration::from_secs(99)
        );
        let now = Timestamp::from_second(100 * 86_400).unwrap();
        let at = |secs: i64| Checkpoint {
            job_id: "j".into(),
            source_sha256: "s".into(),
            records_acknowledged: 1,
            complete: true,
            completed_at: Some(Timestamp::from_second(now.as_second() - secs).unwrap()),
        };
        assert!(!resend_due(&at(13 * 86_400), 14 * day, now));
        assert!(resend_due(&at(14 * 86_400 - 60), 14 * day, now));
        assert!(!resend_due(&at(-60), 14 * day, now));
    }
}
