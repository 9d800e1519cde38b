//! metav1.Condition helpers with the kstatus types (Ready, Reconciling, Stalled).

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The resource did what its spec asks (last run succeeded or nothing was due).
pub const READY: &str = "Ready";
/// The controller is working towards the spec (e.g. a run is under way).
pub const RECONCILING: &str = "Reconciling";
/// The controller cannot make progress without a change (bad spec, missing Secret...).
pub const STALLED: &str = "Stalled";
/// The last run found a source without records (present only while that holds).
pub const SOURCE_EMPTY: &str = "SourceEmpty";

/// Condition reasons (CamelCase, as metav1.Condition requires).
pub mod reason {
    /// A failed upload's own reasons (the uploader defines them).
    pub use crate::upload::reason::*;

    pub const SUCCEEDED: &str = "Succeeded";
    pub const UNCHANGED: &str = "Unchanged";
    /// The source held no records: nothing was sent (a Warning, not a failure).
    pub const NOTHING_TO_UPLOAD: &str = "NothingToUpload";
    /// A SourceEmpty condition that no longer holds is removed; this is its reason while True.
    pub const HEADER_ONLY: &str = "HeaderOnly";
    pub const DRY_RUN: &str = "DryRun";
    pub const INVALID_SPEC: &str = "InvalidSpec";
    pub const SOURCE_NOT_FOUND: &str = "SourceNotFound";
    pub const CREDENTIALS_NOT_FOUND: &str = "CredentialsNotFound";
    /// `spec.endpoints` names a host the operator may not send to (`--allow-endpoint-prefix`).
    pub const ENDPOINT_NOT_ALLOWED: &str = "EndpointNotAllowed";
    pub const RUNNING: &str = "Running";
    pub const SCHEDULED: &str = "Scheduled";
    pub const SUSPENDED: &str = "Suspended";
    pub const RESOLVED: &str = "Resolved";
    pub const AWAITING_FIRST_RUN: &str = "AwaitingFirstRun";
    pub const IDLE: &str = "Idle";
    /// The API server refused to record a run's start (RBAC, an admission webhook); retried
    /// with backoff.
    pub const RUN_NOT_STARTED: &str = "RunNotStarted";
    /// An object source's credentials or the object store refused the read.
    pub const SOURCE_ACCESS_DENIED: &str = "SourceAccessDenied";
    /// An SFTP server presented a host key its known hosts do not list (or revoke): refused
    /// before login, until a person checks the key.
    pub const HOST_KEY_NOT_TRUSTED: &str = "HostKeyNotTrusted";
    /// No answer from an object source's endpoint (DNS, connection, TLS, timeout).
    pub const SOURCE_UNREACHABLE: &str = "SourceUnreachable";
    /// A credential kind this build cannot use yet.
    pub const CREDENTIALS_UNSUPPORTED: &str = "CredentialsUnsupported";
    /// An object source's pre-flight check (credentials, HEAD) is under way, in the background.
    pub const CHECKING: &str = "Checking";
    /// A run did not finish within `spec.runTimeout`; it stopped after its last acknowledged
    /// chunk, and the next run resumes from the checkpoint.
    pub const RUN_TIMED_OUT: &str = "RunTimedOut";
}

/// Event reasons of a run (its failures use the condition reasons above).
pub mod event {
    pub const RUN_STARTED: &str = "RunStarted";
    pub const RUN_SUCCEEDED: &str = "RunSucceeded";
    pub const RUN_UNCHANGED: &str = "RunUnchanged";
    pub const RUN_FAILED: &str = "RunFailed";
}

/// Sets the condition `type_`, adding it when missing. `lastTransitionTime` only moves when the
/// status flips, so watchers can tell how long a state has held.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    observed_generation: Option<i64>,
    now: Timestamp,
) {
    let status = if status { "True" } else { "False" };
    set_condition_status(
        conditions,
        type_,
        status,
        reason,
        message,
        observed_generation,
        now,
    );
}

/// Like [`set_condition`], for any of `True`, `False` and `Unknown`.
pub fn set_condition_status(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    observed_generation: Option<i64>,
    now: Timestamp,
) {
    let status = status.to_string();
    let message = super::message::bounded(message);
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_time = Time(now);
                c.status = status;
            }
            c.reason = reason.to_string();
            c.message = message;
            c.observed_generation = observed_generation;
        }
        None => conditions.push(Condition {
            type_: type_.to_string(),
            status,
            reason: reason.to_string(),
            message,
            observed_generation,
            last_transition_time: Time(now),
        }),
    }
}

/// Removes the condition of type `type_`, if present.
pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// The condition of type `type_`, if present.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// True when the condition `type_` is present with status "True".
pub fn is_condition_true(conditions: &[Condition], type_: &str) -> bool {
    find_condition(conditions, type_).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_moves_only_on_flip() {
        let t0 = Timestamp::from_second(1_000).unwrap();
        let t1 = Timestamp::from_second(2_000).unwrap();
        let t2 = Timestamp::from_second(3_000).unwrap();
        let mut cs = Vec::new();
        set_condition(&mut cs, READY, true, reason::SUCCEEDED, "ok", Some(1), t0);
        set_condition(&mut cs, READY, true, reason::UNCHANGED, "same", Some(2), t1);
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].last_transition_time, Time(t0));
        assert_eq!(cs[0].reason, reason::UNCHANGED);
        assert_eq!(cs[0].observed_generation, Some(2));
        set_condition(
            &mut cs,
            READY,
            false,
            reason::UPLOAD_FAILED,
            "503",
            Some(2),
            t2,
        );
        assert_eq!(cs[0].last_transition_time, Time(t2));
        assert_eq!(cs[0].status, "False");
        assert!(!is_condition_true(&cs, READY));
    }
}
