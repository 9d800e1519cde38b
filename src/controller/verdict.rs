//! From what happened to what the conditions say. Pure functions: the status a person reads.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::crd::RunRecord;
use crate::crd::conditions::{self, READY, RECONCILING, STALLED, reason};
use crate::upload::{RunResult, UploadReport};

/// Reasons only a person can fix (a new file, a new secret, a corrected spec): `Stalled=True`,
/// so kstatus-based tools (Flux, Argo CD) show the job as failed rather than progressing.
pub fn needs_a_person(reason: &str) -> bool {
    matches!(
        reason,
        reason::INVALID_SPEC
            | reason::INVALID_CSV
            | reason::TOO_MANY_REJECTED
            | reason::TOO_FEW_RECORDS
            | reason::SOURCE_NOT_FOUND
            | reason::CREDENTIALS_NOT_FOUND
            | reason::AUTHENTICATION_FAILED
            | reason::ENDPOINT_NOT_ALLOWED
            | reason::INVALID_CREDENTIALS
            | reason::SOURCE_ACCESS_DENIED
            | reason::HOST_KEY_NOT_TRUSTED
            | reason::CREDENTIALS_UNSUPPORTED
            | "InvalidSource"
    )
}

/// Writes conditions for one generation at one instant.
struct Writer<'a> {
    conds: &'a mut Vec<Condition>,
    generation: Option<i64>,
    now: Timestamp,
}

impl Writer<'_> {
    fn set(&mut self, type_: &str, status: &str, why: &str, message: &str) {
        conditions::set_condition_status(
            self.conds,
            type_,
            status,
            why,
            message,
            self.generation,
            self.now,
        );
    }

    fn flag(&mut self, type_: &str, on: bool, why: &str, message: &str) {
        self.set(type_, if on { "True" } else { "False" }, why, message);
    }

    /// Reconciling and Stalled are "abnormal-true" (kstatus): present while they hold, removed
    /// when they do not, so a healthy job's status carries only Ready.
    fn abnormal(&mut self, type_: &str, on: bool, why: &str, message: &str) {
        if on {
            self.set(type_, "True", why, message);
        } else {
            conditions::remove_condition(self.conds, type_);
        }
    }

    /// Ready and Stalled for a failure (`ok == false`) or a success with reason `why`.
    fn verdict(&mut self, ok: bool, why: &str, message: &str) {
        self.flag(READY, ok, why, message);
        let stalled = !ok && needs_a_person(why);
        // The message is Ready's; Stalled only says that a person has to act on it.
        let pointer = "a person must act: the Ready condition says what";
        self.abnormal(STALLED, stalled, why, pointer);
    }

    fn idle(&mut self) {
        self.abnormal(RECONCILING, false, reason::IDLE, "");
    }
}

/// The reason a result is reported with: a failure's own reason, or the kind of success.
fn reason_of(result: RunResult, failure: Option<&str>) -> &str {
    match result {
        RunResult::Failed => failure.unwrap_or(reason::UPLOAD_FAILED),
        RunResult::Unchanged => reason::UNCHANGED,
        RunResult::NothingToUpload => reason::NOTHING_TO_UPLOAD,
        RunResult::DryRun => reason::DRY_RUN,
        RunResult::Succeeded => reason::SUCCEEDED,
    }
}

/// What the last run recorded in status says: (reason, succeeded, message). The run's own
/// message lives in the Ready condition alone; this one (its history line) only stands in when
/// Ready says something else by now (a source problem that has cleared).
pub fn of_last_run(run: &RunRecord) -> (&str, bool, String) {
    let result = run.result.map_or(RunResult::Succeeded, RunResult::from);
    let message = match &run.message {
        // Written by a version that kept the message in lastRun too.
        Some(message) => message.clone(),
        None => format!("last run: {}", run.summary()),
    };
    (
        reason_of(result, run.reason.as_deref()),
        result != RunResult::Failed,
        message,
    )
}

/// Sets Ready, Reconciling and Stalled after a run.
pub fn apply_run_outcome(
    conds: &mut Vec<Condition>,
    report: &UploadReport,
    generation: Option<i64>,
    now: Timestamp,
) {
    let mut w = Writer {
        conds,
        generation,
        now,
    };
    let why = reason_of(report.result, report.reason);
    w.verdict(report.result != RunResult::Failed, why, &report.message);
    w.idle();
    match report.result {
        RunResult::NothingToUpload => w.set(
            conditions::SOURCE_EMPTY,
            "True",
            reason::HEADER_ONLY,
            "the last run found a header and no records",
        ),
        RunResult::Succeeded | RunResult::Unchanged | RunResult::DryRun => {
            conditions::remove_condition(w.conds, conditions::SOURCE_EMPTY)
        }
        // A failure may not have read the source at all: what it last said still holds.
        RunResult::Failed => {}
    }
}

/// Sets the conditions for a problem found before any run (spec, source, file).
pub fn apply_problem(
    conds: &mut Vec<Condition>,
    why: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) {
    let mut w = Writer {
        conds,
        generation,
        now,
    };
    w.verdict(false, why, message);
    w.idle();
}

/// The source checks out: Ready goes back to what the last run said (or Unknown before the
/// first run), Stalled clears unless the last run needs a person.
pub fn apply_source_ok(
    conds: &mut Vec<Condition>,
    last_run: Option<(&str, bool, String)>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let said = conditions::find_condition(conds, READY)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()));
    let mut w = Writer {
        conds,
        generation,
        now,
    };
    match last_run {
        Some((why, ok, stand_in)) => {
            // Ready still holds the run's verdict: keep its message, the run's own.
            let message = match said {
                Some((status, reason, message)) if reason == why && (status == "True") == ok => {
                    message
                }
                _ => stand_in,
            };
            w.verdict(ok, why, &message)
        }
        None => {
            w.set(
                READY,
                "Unknown",
                reason::AWAITING_FIRST_RUN,
                "spec and source are valid; waiting for the first run",
            );
            w.abnormal(STALLED, false, reason::AWAITING_FIRST_RUN, "");
        }
    }
    w.idle();
}

/// An object source's pre-flight check is under way (in the background) and nothing has been
/// said yet for this generation: Ready=Unknown, so no one reads an old verdict as the new one.
pub fn apply_checking(
    conds: &mut Vec<Condition>,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) {
    let mut w = Writer {
        conds,
        generation,
        now,
    };
    w.set(READY, "Unknown", reason::CHECKING, message);
    w.abnormal(STALLED, false, reason::CHECKING, "");
    w.abnormal(RECONCILING, true, reason::CHECKING, message);
}
