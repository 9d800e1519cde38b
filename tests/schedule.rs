//! Schedule semantics with fixed instants: no test reads the wall clock.

use hrconnector::schedule::{Decision, Schedule, ScheduleError, decide};
use jiff::Timestamp;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

fn sched(cron: &str, tz: &str) -> Schedule {
    Schedule::parse(cron, tz).expect("test schedule")
}

#[test]
fn next_fire_in_utc_is_strictly_after() {
    let s = sched("0 3 * * *", "UTC");
    assert_eq!(
        s.next_after(ts("2026-05-10T12:00:00Z")),
        Some(ts("2026-05-11T03:00:00Z"))
    );
    // Exactly on a fire time: the next one, not the same one.
    assert_eq!(
        s.next_after(ts("2026-05-11T03:00:00Z")),
        Some(ts("2026-05-12T03:00:00Z"))
    );
    // Sub-second input just after a fire time does not return that fire time again.
    assert_eq!(
        s.next_after(ts("2026-05-11T03:00:00.5Z")),
        Some(ts("2026-05-12T03:00:00Z"))
    );
    // Default time zone spelling.
    assert_eq!(s.time_zone(), "UTC");
    assert_eq!(s.expression(), "0 3 * * *");
}

#[test]
fn next_fire_in_a_non_utc_zone() {
    // Weekdays 09:00 New York: Friday 10:00 EDT -> Monday 09:00 EDT (13:00Z).
    let s = sched("0 9 * * 1-5", "America/New_York");
    assert_eq!(
        s.next_after(ts("2026-07-03T14:00:00Z")),
        Some(ts("2026-07-06T13:00:00Z"))
    );
    // Half-hour offset zone: 09:00 in Kolkata is 03:30Z.
    let k = sched("0 9 * * *", "Asia/Kolkata");
    assert_eq!(
        k.next_after(ts("2026-01-01T00:00:00Z")),
        Some(ts("2026-01-01T03:30:00Z"))
    );
    // Nicknames work like in a CronJob.
    let d = sched("@daily", "Europe/Berlin");
    assert_eq!(
        d.next_after(ts("2026-01-01T12:00:00Z")),
        Some(ts("2026-01-01T23:00:00Z"))
    );
}

#[test]
fn spring_forward_runs_once_right_after_the_gap() {
    // 2026-03-08 in New York: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist.
    // croner runs a fixed-time job at the first valid time after the gap (03:00 EDT = 07:00Z).
    let s = sched("30 2 * * *", "America/New_York");
    let day_before = ts("2026-03-07T07:30:00Z"); // 02:30 EST on March 7
    assert_eq!(s.next_after(day_before), Some(ts("2026-03-08T07:00:00Z")));
    assert_eq!(
        s.next_after(ts("2026-03-08T07:00:00Z")),
        Some(ts("2026-03-09T06:30:00Z")) // 02:30 EDT on March 9
    );
    // Exactly one fire on the transition day.
    assert_eq!(
        s.most_recent_missed(day_before, ts("2026-03-09T06:00:00Z")),
        Some(ts("2026-03-08T07:00:00Z"))
    );
}

#[test]
fn fall_back_fixed_time_job_runs_once() {
    // 2026-11-01 in New York: 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST).
    let s = sched("30 1 * * *", "America/New_York");
    let first = ts("2026-11-01T05:30:00Z");
    assert_eq!(s.next_after(ts("2026-10-31T12:00:00Z")), Some(first));
    // The repeated 01:30 is skipped: the next run is the next day.
    assert_eq!(s.next_after(first), Some(ts("2026-11-02T06:30:00Z")));
    assert_eq!(
        s.most_recent_missed(first, ts("2026-11-01T07:00:00Z")),
        None
    );

    // The controller, having run at the first 01:30, is told to wait until the next day.
    let d = decide(
        &s,
        Some(first),
        first,
        ts("2026-11-01T06:45:00Z"),
        None,
        false,
    );
    assert_eq!(
        d,
        Decision::Wait {
            next: ts("2026-11-02T06:30:00Z")
        }
    );
}

#[test]
fn fall_back_interval_job_follows_real_time() {
    // Interval jobs match every wall-clock occurrence: the hourly job fires at 01:00 EDT and
    // 01:00 EST, which are an hour apart in real time, as an hourly job should.
    let s = sched("0 * * * *", "America/New_York");
    assert_eq!(
        s.next_after(ts("2026-11-01T04:30:00Z")),
        Some(ts("2026-11-01T05:00:00Z"))
    );
    assert_eq!(
        s.next_after(ts("2026-11-01T05:00:00Z")),
        Some(ts("2026-11-01T06:00:00Z"))
    );
    assert_eq!(
        s.next_after(ts("2026-11-01T06:00:00Z")),
        Some(ts("2026-11-01T07:00:00Z"))
    );
}

#[test]
fn missed_run_within_deadline_runs_once_then_waits() {
    let s = sched("0 * * * *", "UTC");
    let created = ts("2026-01-01T00:00:00Z");
    let last = ts("2026-05-10T10:00:00Z");
    let now = ts("2026-05-10T11:00:30Z");
    let d = decide(&s, Some(last), created, now, Some(60), false);
    assert_eq!(
        d,
        Decision::RunNow {
            scheduled_for: ts("2026-05-10T11:00:00Z")
        }
    );
    // The controller records lastScheduleTime = 11:00; the same instant must not run again.
    let d = decide(
        &s,
        Some(ts("2026-05-10T11:00:00Z")),
        created,
        now,
        Some(60),
        false,
    );
    assert_eq!(
        d,
        Decision::Wait {
            next: ts("2026-05-10T12:00:00Z")
        }
    );
}

#[test]
fn deadline_boundary_is_inclusive() {
    let s = sched("0 * * * *", "UTC");
    let last = ts("2026-05-10T10:00:00Z");
    let on_edge = decide(
        &s,
        Some(last),
        last,
        ts("2026-05-10T11:01:00Z"),
        Some(60),
        false,
    );
    assert!(matches!(on_edge, Decision::RunNow { .. }));
    let past_edge = decide(
        &s,
        Some(last),
        last,
        ts("2026-05-10T11:01:01Z"),
        Some(60),
        false,
    );
    assert!(matches!(past_edge, Decision::Wait { .. }));
}

#[test]
fn missed_run_beyond_deadline_waits() {
    let s = sched("0 * * * *", "UTC");
    let last = ts("2026-05-10T10:00:00Z");
    let d = decide(
        &s,
        Some(last),
        last,
        ts("2026-05-10T11:05:00Z"),
        Some(60),
        false,
    );
    assert_eq!(
        d,
        Decision::Wait {
            next: ts("2026-05-10T12:00:00Z")
        }
    );
}

#[test]
fn without_deadline_a_missed_run_is_always_caught_up() {
    let s = sched("0 * * * *", "UTC");
    let last = ts("2026-05-10T10:00:00Z");
    let d = decide(
        &s,
        Some(last),
        last,
        ts("2026-05-10T11:59:59Z"),
        None,
        false,
    );
    assert_eq!(
        d,
        Decision::RunNow {
            scheduled_for: ts("2026-05-10T11:00:00Z")
        }
    );
}

#[test]
fn many_missed_runs_give_a_single_run_for_the_most_recent() {
    let s = sched("0 * * * *", "UTC");
    let last = ts("2026-01-01T00:00:00Z");
    let now = ts("2026-01-03T10:30:00Z");
    let d = decide(&s, Some(last), last, now, None, false);
    let scheduled_for = ts("2026-01-03T10:00:00Z");
    assert_eq!(d, Decision::RunNow { scheduled_for });
    assert_eq!(
        decide(&s, Some(scheduled_for), last, now, None, false),
        Decision::Wait {
            next: ts("2026-01-03T11:00:00Z")
        }
    );
}

#[test]
fn creation_time_is_the_reference_for_a_new_job() {
    let s = sched("0 * * * *", "UTC");
    let created = ts("2026-05-10T10:30:00Z");
    assert_eq!(
        decide(&s, None, created, ts("2026-05-10T10:45:00Z"), None, false),
        Decision::Wait {
            next: ts("2026-05-10T11:00:00Z")
        }
    );
    assert_eq!(
        decide(&s, None, created, ts("2026-05-10T11:10:00Z"), None, false),
        Decision::RunNow {
            scheduled_for: ts("2026-05-10T11:00:00Z")
        }
    );
}

#[test]
fn suspended_job_never_runs_but_reports_next() {
    let s = sched("0 * * * *", "UTC");
    let last = ts("2026-05-10T10:00:00Z");
    let d = decide(&s, Some(last), last, ts("2026-05-10T12:30:00Z"), None, true);
    assert_eq!(
        d,
        Decision::Suspended {
            next: Some(ts("2026-05-10T13:00:00Z"))
        }
    );
}

#[test]
fn invalid_cron_is_a_clear_error() {
    for bad in ["61 * * * *", "* * * *", "0 0 * * * *", "", "every day"] {
        let err = Schedule::parse(bad, "UTC").expect_err(bad);
        assert!(
            matches!(err, ScheduleError::InvalidCron { .. }),
            "{bad}: {err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("invalid cron schedule"), "{msg}");
        assert!(msg.contains(&format!("{bad:?}")), "{msg}");
    }
}

#[test]
fn invalid_time_zone_is_a_clear_error() {
    for bad in ["Mars/Olympus_Mons", "", "EST5EDT,M3.2.0"] {
        let err = Schedule::parse("0 * * * *", bad).expect_err(bad);
        assert!(
            matches!(err, ScheduleError::UnknownTimeZone { .. }),
            "{bad}: {err}"
        );
        assert!(err.to_string().contains("unknown time zone"), "{err}");
    }
}

#[test]
fn fall_back_catch_up_picks_the_first_pass_only() {
    // A controller that was down across the repeated hour catches up the 01:30 EDT run, and
    // afterwards does not run the repeated 01:30 EST.
    let s = sched("30 1 * * *", "America/New_York");
    let before = ts("2026-10-31T12:00:00Z");
    let now = ts("2026-11-01T07:00:00Z");
    let first = ts("2026-11-01T05:30:00Z");
    assert_eq!(s.most_recent_missed(before, now), Some(first));
    assert_eq!(
        decide(&s, Some(before), before, now, None, false),
        Decision::RunNow {
            scheduled_for: first
        }
    );
    assert!(matches!(
        decide(&s, Some(first), before, now, None, false),
        Decision::Wait { .. }
    ));
}

#[test]
fn a_date_that_never_occurs_never_fires() {
    match Schedule::parse("0 0 30 2 *", "UTC") {
        // Either rejected up front or accepted with no fire time; never a busy loop.
        Err(e) => assert!(matches!(e, ScheduleError::InvalidCron { .. })),
        Ok(s) => {
            let now = ts("2026-01-01T00:00:00Z");
            assert_eq!(s.next_after(now), None);
            assert_eq!(decide(&s, None, now, now, None, false), Decision::Never);
        }
    }
}

#[test]
fn longest_wait_between_runs_over_a_year() {
    let from = ts("2026-12-01T00:00:00Z");
    let step = jiff::SignedDuration::from_hours(6);
    let days = |cron: &str| {
        sched(cron, "UTC")
            .longest_wait(from, step)
            .map(|d| d.as_secs() / 86_400)
    };
    assert_eq!(days("0 3 * * *"), Some(1));
    assert_eq!(days("0 3 * * 1"), Some(7));
    assert_eq!(
        days("0 3 1,15 * *"),
        Some(17),
        "the 15th to the 1st of a 31-day month"
    );
    assert_eq!(days("0 3 1 * *"), Some(31));
    // Every minute, but only on the first of the month: dense, with month-long gaps.
    assert_eq!(days("* * 1 * *"), Some(30));
    // Once a year; once in four years (the next 29 February is in 2028).
    assert!(
        days("0 3 1 6 *").is_some_and(|d| d >= 180),
        "{:?}",
        days("0 3 1 6 *")
    );
    assert!(
        days("0 0 29 2 *").is_some_and(|d| d > 366),
        "{:?}",
        days("0 0 29 2 *")
    );
}
