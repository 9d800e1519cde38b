//! When an `HrConnectorJob` runs: a 5-field cron expression in an IANA time zone, with the
//! missed-run rules of a Kubernetes CronJob.
//!
//! Everything here is pure: the current time is always a parameter, so the controller decides
//! with the API server's view of the clock and tests use fixed instants.
//!
//! Daylight saving time follows croner's documented behaviour:
//! - spring forward: a fixed-time job whose wall time does not exist that day (02:30 in
//!   America/New_York) runs once, at the first valid time after the gap (03:00 local);
//!   interval/wildcard jobs simply skip the missing times;
//! - fall back: a fixed-time job whose wall time occurs twice runs once, at the first occurrence;
//!   interval/wildcard jobs match each wall-clock occurrence.

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};

/// A schedule that cannot be used; the message is meant for `status.conditions`.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "invalid cron schedule {expr:?}: {reason} (expected 5 fields: minute hour day-of-month month day-of-week)"
    )]
    InvalidCron { expr: String, reason: String },
    #[error("unknown time zone {name:?}: expected an IANA name such as UTC or America/New_York")]
    UnknownTimeZone { name: String },
}

/// A parsed cron expression together with the time zone it is read in.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    tz: TimeZone,
    expr: String,
    tz_name: String,
}

impl Schedule {
    /// Parses a 5-field cron expression (or a nickname such as `@daily`) and an IANA zone name.
    pub fn parse(cron: &str, time_zone: &str) -> Result<Schedule, ScheduleError> {
        // Five fields only, like a Kubernetes CronJob: seconds or years would silently change
        // what users expect from the familiar format.
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let parsed = parser.parse(cron).map_err(|e| ScheduleError::InvalidCron {
            expr: cron.to_string(),
            reason: e.to_string(),
        })?;
        let name = time_zone.trim();
        // An empty name would otherwise be some library default; be explicit instead.
        if name.is_empty() {
            return Err(ScheduleError::UnknownTimeZone {
                name: time_zone.to_string(),
            });
        }
        let tz = TimeZone::get(name).map_err(|_| ScheduleError::UnknownTimeZone {
            name: time_zone.to_string(),
        })?;
        Ok(Schedule {
            cron: parsed,
            tz,
            expr: cron.to_string(),
            tz_name: name.to_string(),
        })
    }

    /// The cron expression as given.
    pub fn expression(&self) -> &str {
        &self.expr
    }

    /// The time zone name as given (trimmed).
    pub fn time_zone(&self) -> &str {
        &self.tz_name
    }

    /// The first fire time strictly after `after`, or `None` when the schedule never fires again.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        // Cron works in whole seconds; flooring keeps "strictly after" exact for sub-second input.
        let start = self.zoned_floor(after)?;
        self.cron
            .find_next_occurrence(&start, false)
            .ok()
            .map(|z| z.timestamp())
            .filter(|t| *t > after)
    }

    /// The latest fire time `t` with `since < t <= now`, if any.
    pub fn most_recent_missed(&self, since: Timestamp, now: Timestamp) -> Option<Timestamp> {
        if now <= since {
            return None;
        }
        // Cheap check first: nothing fires in (since, now] at all.
        let first = self.next_after(since)?;
        if first > now {
            return None;
        }
        let end = self.zoned_floor(now)?;
        let latest = self
            .cron
            .find_previous_occurrence(&end, true)
            .ok()
            .map(|z| z.timestamp())?;
        // Accept only times the forward search would also produce, so a fixed-time job never
        // fires twice for one wall-clock time in a fall-back hour. croner 4.0's backward search
        // already agrees (see tests/schedule.rs); this guards against it ever not doing so.
        if latest > since && self.is_forward_fire(latest) {
            return Some(latest);
        }
        // Defensive fallback: walk forward from the first missed time, bounded.
        let mut best = first;
        let mut cursor = first;
        for _ in 0..10_000 {
            match self.next_after(cursor) {
                Some(t) if t <= now => {
                    best = t;
                    cursor = t;
                }
                _ => break,
            }
        }
        Some(best)
    }

    fn is_forward_fire(&self, t: Timestamp) -> bool {
        let before = t.checked_sub(SignedDuration::from_secs(1)).ok();
        before.and_then(|b| self.next_after(b)) == Some(t)
    }

    /// The longest time between runs in the year after `from` (to within `step`): `None` when
    /// the schedule stops firing within that year. Dense schedules are sampled every `step`,
    /// sparse ones are walked fire by fire, so this takes at most a year's worth of steps.
    pub fn longest_wait(&self, from: Timestamp, step: SignedDuration) -> Option<SignedDuration> {
        let end = from
            .checked_add(SignedDuration::from_hours(24 * 366))
            .ok()?;
        let step = step.max(SignedDuration::from_secs(60));
        let (mut at, mut longest) = (from, SignedDuration::ZERO);
        while at < end {
            let next = self.next_after(at)?;
            longest = longest.max(next.duration_since(at));
            at = next.max(at.checked_add(step).ok()?);
        }
        Some(longest)
    }

    /// The longest wait from a fire time to the first fire time at least `min_age` after it,
    /// over the next year from `from` (fire times sampled at most every `step`): how long
    /// unchanged content that is sent again once it is `min_age` old goes between uploads.
    /// `None` when the schedule stops firing within that year.
    pub fn longest_gap_after(
        &self,
        from: Timestamp,
        min_age: SignedDuration,
        step: SignedDuration,
    ) -> Option<SignedDuration> {
        let end = from
            .checked_add(SignedDuration::from_hours(24 * 366))
            .ok()?;
        let step = step.max(SignedDuration::from_secs(60));
        let just_before = |t: Timestamp| t.checked_sub(SignedDuration::from_secs(1)).ok();
        let (mut at, mut longest) = (self.next_after(from)?, SignedDuration::ZERO);
        while at < end {
            let due = at.checked_add(min_age).ok()?;
            let next = self.next_after(just_before(due)?)?;
            longest = longest.max(next.duration_since(at));
            at = self.next_after(just_before(at.checked_add(step).ok()?)?)?;
        }
        Some(longest)
    }

    fn zoned_floor(&self, t: Timestamp) -> Option<Zoned> {
        let floored = Timestamp::from_second(t.as_second()).ok()?;
        Some(floored.to_zoned(self.tz.clone()))
    }
}

/// What the controller should do about the schedule at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start one run now for the scheduled time `scheduled_for` (record it as `lastScheduleTime`).
    Due { scheduled_for: Timestamp },
    /// Nothing is due; requeue at `next`.
    Wait { next: Timestamp },
    /// `spec.suspend` is true; `next` is when the schedule would fire if resumed.
    Suspended { next: Option<Timestamp> },
    /// The schedule never fires again (e.g. a date that does not occur); nothing to requeue.
    Never,
}

/// Decides with Kubernetes CronJob semantics.
///
/// The reference point is `last_schedule_time`, or `creation_time` for a job that never ran. If
/// fire times were missed between it and `now`, the job runs once, for the most recent one, and
/// only if it is at most `starting_deadline_seconds` late (no deadline: always). Older missed
/// times are never run.
pub fn decide(
    schedule: &Schedule,
    last_schedule_time: Option<Timestamp>,
    creation_time: Timestamp,
    now: Timestamp,
    starting_deadline_seconds: Option<i64>,
    suspend: bool,
) -> Decision {
    let since = last_schedule_time.unwrap_or(creation_time);
    if suspend {
        return Decision::Suspended {
            next: schedule.next_after(now),
        };
    }
    if let Some(missed) = schedule.most_recent_missed(since, now) {
        let in_time = match starting_deadline_seconds {
            None => true,
            Some(limit) => now.duration_since(missed) <= SignedDuration::from_secs(limit.max(0)),
        };
        if in_time {
            return Decision::Due {
                scheduled_for: missed,
            };
        }
    }
    match schedule.next_after(now) {
        Some(next) => Decision::Wait { next },
        None => Decision::Never,
    }
}
