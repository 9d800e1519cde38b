//! The employee-profile refresh warning: the service deletes profiles that were not refreshed
//! for 30 days, and Microsoft asks for them every 15 to 20 days, so a job that uploads
//! EmployeeProfile data less often than every 15 days is warned about (log, Event, status),
//! not failed: the schedule is the organisation's choice. An unchanged file is only sent again
//! once its last upload is `resendUnchangedAfter` old, so the schedule and that setting
//! together decide how often profiles are refreshed.

use jiff::{SignedDuration, Timestamp};

use crate::crd::{CrdScenario, HrConnectorJobSpec};
use crate::schedule::Schedule;
use crate::upload::policy::resend_due_age;

/// The longest time between runs that keeps employee profiles fresh.
pub const PROFILE_REFRESH: SignedDuration = SignedDuration::from_hours(15 * 24);

/// The Event reason of the warning.
pub const PROFILE_REFRESH_REASON: &str = "ProfileRefreshTooRare";

/// The warning for `spec` scheduled by `schedule`, seen at `now`; `None` when there is nothing
/// to warn about. `holds_profiles`: a Multiple job's files have held EmployeeProfile rows.
pub fn profile_warning(
    spec: &HrConnectorJobSpec,
    schedule: &Schedule,
    now: Timestamp,
    holds_profiles: bool,
) -> Option<String> {
    let profiles = match spec.scenario {
        CrdScenario::EmployeeProfile => true,
        CrdScenario::Multiple => holds_profiles,
        _ => false,
    };
    if !profiles {
        return None;
    }
    let days = |d: SignedDuration| d.as_secs().unsigned_abs().div_ceil(86_400);
    // Sampling every 6 hours finds every wait longer than 15 days and 6 hours.
    let step = SignedDuration::from_hours(6);
    let gap = match schedule.longest_wait(now, step) {
        Some(wait) if wait <= PROFILE_REFRESH => resend_gap(spec, schedule, now, step)
            .map(|(gap, after)| {
                format!(
                    "with resendUnchangedAfter {after} leaves up to {} days between uploads of an unchanged file",
                    days(gap)
                )
            })?,
        Some(wait) => format!("leaves up to {} days between runs", days(wait)),
        None => "stops running within a year".to_owned(),
    };
    Some(format!(
        "schedule {:?} {gap}: EmployeeProfile data should be uploaded at least every 15 days, \
         because the service deletes profiles not refreshed for 30 days",
        spec.schedule
    ))
}

/// The longest time an unchanged profile file waits to be sent again, with the setting that
/// decides it, when that is longer than [`PROFILE_REFRESH`].
fn resend_gap(
    spec: &HrConnectorJobSpec,
    schedule: &Schedule,
    now: Timestamp,
    step: SignedDuration,
) -> Option<(SignedDuration, String)> {
    let after = spec.run_policy().resend_after(true)?;
    let min_age = SignedDuration::try_from(resend_due_age(after)).ok()?;
    let gap = schedule.longest_gap_after(now, min_age, step)?;
    (gap > PROFILE_REFRESH).then(|| (gap, crate::duration::format(after)))
}
