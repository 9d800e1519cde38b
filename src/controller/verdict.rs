//! From what happened to what the conditions say. Pure functions: the status a person reads.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::crd::conditions::{self, reason};
use crate::upload::{RunResult, UploadReport};

/// Reasons only a person can fix (a new file, a new secret, a corrected spec): `Stalled=True`,
/// so kstatus-based tools (Flux, Argo CD) show the job as failed rather than progressing.
pub fn needs_a_person(reason: &str) -> bool {
    matches!(
        reason,
        reason::INVALID_SPEC
            | reason::INVALID_CSV
            | reason::SOURCE_NOT_FOUND
            | reason::CREDENTIALS_NOT_FOUND
            | reason::AUTHENTICATION_FAILED
            | "InvalidCredentials"
    )
}

/// Sets Ready, Reconciling and Stalled after a run.
pub fn apply_run_outcome(
    conds: &mut Vec<Condition>,
    report: &UploadReport,
    generation: Option<i64>,
    now: Timestamp,
) {
    let set = conditions::set_condition;
    match report.result {
        RunResult::Failed => {
            let why = report.reason.unwrap_or(reason::UPLOAD_FAILED);
            set(
                conds,
                conditions::READY,
                false,
                why,
                &report.message,
                generation,
                now,
            );
            set(
                conds,
                conditions::STALLED,
                needs_a_person(why),
                why,
                &report.message,
                generation,
                now,
            );
        }
        ok => {
            let why = match ok {
                RunResult::Unchanged => reason::UNCHANGED,
                RunResult::DryRun => reason::DRY_RUN,
                _ => reason::SUCCEEDED,
            };
            set(
                conds,
                conditions::READY,
                true,
                why,
                &report.message,
                generation,
                now,
            );
            set(conds, conditions::STALLED, false, why, "", generation, now);
        }
    }
    set(
        conds,
        conditions::RECONCILING,
        false,
        reason::IDLE,
        "no run in progress",
        generation,
        now,
    );
}

/// Sets the conditions for a problem found before any run (spec, source, file).
pub fn apply_problem(
    conds: &mut Vec<Condition>,
    why: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) {
    let set = conditions::set_condition;
    set(
        conds,
        conditions::READY,
        false,
        why,
        message,
        generation,
        now,
    );
    set(
        conds,
        conditions::STALLED,
        needs_a_person(why),
        why,
        message,
        generation,
        now,
    );
    set(
        conds,
        conditions::RECONCILING,
        false,
        reason::IDLE,
        "no run in progress",
        generation,
        now,
    );
}

/// The source checks out: Ready goes back to what the last run said (or Unknown before the
/// first run), Stalled clears unless the last run needs a person.
pub fn apply_source_ok(
    conds: &mut Vec<Condition>,
    last_run: Option<(&str, bool, &str)>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let set = conditions::set_condition;
    match last_run {
        Some((why, ok, message)) => {
            set(conds, conditions::READY, ok, why, message, generation, now);
            set(
                conds,
                conditions::STALLED,
                !ok && needs_a_person(why),
                why,
                message,
                generation,
                now,
            );
        }
        None => {
            conditions::set_condition_status(
                conds,
                conditions::READY,
                "Unknown",
                reason::AWAITING_FIRST_RUN,
                "spec and source are valid; waiting for the first run",
                generation,
                now,
            );
            set(
                conds,
                conditions::STALLED,
                false,
                reason::AWAITING_FIRST_RUN,
                "",
                generation,
                now,
            );
        }
    }
    set(
        conds,
        conditions::RECONCILING,
        false,
        reason::IDLE,
        "no run in progress",
        generation,
        now,
    );
}
