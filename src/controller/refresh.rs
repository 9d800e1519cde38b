//! The employee-profile refresh warning: the service deletes profiles that were not refreshed
//! for 30 days, and Microsoft asks for them every 15 to 20 days, so a job that uploads
//! EmployeeProfile data less often than every 15 days is warned about (log, Event, status),
//! not failed: the schedule is the organisation's choice.

use jiff::{SignedDuration, Timestamp};

use crate::crd::{CrdScenario, HrConnectorJobSpec};
use crate::schedule::Schedule;

/// The longest time between runs that keeps employee profiles fresh.
pub const PROFILE_REFRESH: SignedDuration = SignedDuration::from_hours(15 * 24);

/// The Event reason of the warning.
pub const PROFILE_REFRESH_REASON: &str = "ProfileRefreshTooRare";

/// The warning for `spec` scheduled by `schedule`, seen at `now`; `None` when there is nothing
/// to warn about.
pub fn profile_warning(
    spec: &HrConnectorJobSpec,
    schedule: &Schedule,
    now: Timestamp,
) -> Option<String> {
    if spec.scenario != CrdScenario::EmployeeProfile {
        return None;
    }
    // Sampling every 6 hours finds every wait longer than 15 days and 6 hours.
    let wait = schedule.longest_wait(now, SignedDuration::from_hours(6));
    let gap = match wait {
        Some(wait) if wait <= PROFILE_REFRESH => return None,
        Some(wait) => format!(
            "leaves up to {} days between runs",
            wait.as_secs().unsigned_abs().div_ceil(86_400)
        ),
        None => "stops running within a year".to_owned(),
    };
    Some(format!(
        "schedule {:?} {gap}: EmployeeProfile data should be uploaded at least every 15 days, \
         because the service deletes profiles not refreshed for 30 days",
        spec.schedule
    ))
}
