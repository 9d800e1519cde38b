//! The reconcile loop of `HrConnectorJob`: check spec and source, start runs when due, write the
//! verdict and the next schedule time, and requeue exactly for the next fire time.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use serde_json::json;

use super::context::{Context, job_key};
use super::execute::{self, Trigger};
use super::object_source;
use super::preflight::{self, Poll};
use super::refresh;
use super::source::{self, SourceRef};
use super::status::{is_conflict, patch_status};
use super::verdict;
use crate::crd::conditions::reason;
use crate::crd::{HrConnectorJob, HrConnectorJobStatus, RUN_NOW_ANNOTATION};
use crate::hrdata;
use crate::schedule::{self, Decision, Schedule};

/// A reconcile that could not finish; the controller retries it with backoff.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("the object has no namespace or name")]
    NoName,
    #[error("cannot write status: {0}")]
    Status(#[source] kube::Error),
    #[error("cannot read the source: {0}")]
    Source(String),
    #[error("the job changed while it was reconciled; reconciling the newer version")]
    Stale,
}

impl ReconcileError {
    /// A metrics label for the error.
    pub fn reason(&self) -> &'static str {
        match self {
            ReconcileError::NoName => "NoName",
            ReconcileError::Status(_) => "StatusWrite",
            ReconcileError::Source(_) => "SourceRead",
            ReconcileError::Stale => "Conflict",
        }
    }
}

pub async fn reconcile(
    job: Arc<HrConnectorJob>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let (Some(namespace), Some(name)) = (job.metadata.namespace.clone(), job.metadata.name.clone())
    else {
        return Err(ReconcileError::NoName);
    };
    let key = job_key(&job);
    if job.metadata.deletion_timestamp.is_some() {
        // Being deleted (another controller's finalizer holds it): stop as for a deletion.
        ctx.forget_job(&key, &namespace, &name);
        return Ok(Action::await_change());
    }
    ctx.remember_job(&job);
    // The run's task owns the status while it runs, and asks for a reconcile when it ends.
    if ctx.runs.is_running(&key) {
        return Ok(Action::await_change());
    }
    // After a failed claim: its task requeues the job when the pause is over.
    if let Some(pause) = ctx.backoff.remaining(&key) {
        return Ok(Action::requeue(pause));
    }
    let api: Api<HrConnectorJob> = Api::namespaced(ctx.client.clone(), &namespace);
    let now = ctx.clock.now();
    let status = job.status.clone().unwrap_or_default();
    let generation = job.metadata.generation;

    let schedule = match checked_schedule(&ctx, &job) {
        Ok(s) => s,
        Err((why, message)) => {
            let mut next = status.clone();
            verdict::apply_problem(&mut next.conditions, why, &message, generation, now);
            next.next_schedule_time = None;
            next.observed_generation = generation;
            if write_if_changed(&ctx, &api, &job, &status, &next).await? {
                ctx.event(&job, true, why, message).await;
            }
            return Ok(Action::await_change());
        }
    };

    let decision = decide(&schedule, &job, &status, now);
    if let Some(trigger) = due_trigger(&job, &status, &decision)
        && execute::start(job.clone(), ctx.clone(), trigger)
    {
        return Ok(Action::await_change());
    }

    let mut next = status.clone();
    next.observed_generation = generation;
    let holds_profiles = super::metrics::JobGauges::of(&job.spec, &status).employee_profiles;
    next.warnings = refresh::profile_warning(&job.spec, &schedule, now, holds_profiles)
        .into_iter()
        .collect();
    let new_warnings: Vec<String> = next
        .warnings
        .iter()
        .filter(|w| !status.warnings.contains(w))
        .cloned()
        .collect();
    for warning in new_warnings {
        tracing::warn!(job = %name, namespace = %namespace, "{warning}");
        ctx.event(&job, true, refresh::PROFILE_REFRESH_REASON, warning)
            .await;
    }
    next.next_schedule_time = match decision {
        Decision::Wait { next } => Some(Time(next)),
        Decision::Suspended { .. } | Decision::Never | Decision::Due { .. } => None,
    };
    // The pre-flight outcome this reconcile reports, marked reported once status holds it.
    let mut outcome_id = None;
    let checked = if object_source::is_remote(&job) {
        // Object sources and report URLs are checked on a background task (credentials, a HEAD
        // or a download, validation of what is new): a slow endpoint never holds up a reconcile.
        match preflight::poll(&ctx, &job, &key) {
            Poll::Done { id, outcome } => {
                outcome_id = Some(id);
                if let Some(status) = outcome.status {
                    next.source = Some(object_source::carry_digest(status, next.source.as_ref()));
                }
                outcome.verdict.map(|verdict| match verdict {
                    Ok(input) => Prevalidation::Valid {
                        input: Some(input.map(|line| crate::crd::message::bounded(&line))),
                    },
                    Err(problem) => Prevalidation::Problem {
                        reason: problem.reason,
                        message: problem.message,
                    },
                })
            }
            Poll::Pending if says_nothing_of(&next, generation) => Some(Prevalidation::Checking),
            Poll::Pending | Poll::Reported => None,
        }
    } else {
        prevalidate(&ctx, &namespace, &job, &key).await?
    };
    match checked {
        Some(Prevalidation::Problem {
            reason: why,
            message,
        }) => {
            verdict::apply_problem(&mut next.conditions, why, &message, generation, now);
            if write_if_changed(&ctx, &api, &job, &status, &next).await? {
                ctx.event(&job, true, why, message).await;
            }
            if let Some(id) = outcome_id {
                ctx.preflights.reported(&key, id);
            }
            return Ok(requeue_for(&ctx, &job, &schedule, now, decision));
        }
        Some(Prevalidation::Valid { input }) => {
            if let Some(input) = input {
                next.input = input;
            }
            let last = status.last_run.as_ref().map(verdict::of_last_run);
            verdict::apply_source_ok(&mut next.conditions, last, generation, now);
        }
        Some(Prevalidation::Checking) => {
            verdict::apply_checking(&mut next.conditions, CHECKING_MESSAGE, generation, now);
        }
        None if next.conditions.is_empty() => {
            verdict::apply_source_ok(&mut next.conditions, None, generation, now);
        }
        None => {}
    }
    write_if_changed(&ctx, &api, &job, &status, &next).await?;
    if let Some(id) = outcome_id {
        ctx.preflights.reported(&key, id);
    }
    Ok(requeue_for(&ctx, &job, &schedule, now, decision))
}

const CHECKING_MESSAGE: &str =
    "checking the object source in the background: credentials, then its version (a HEAD)";

/// True when status says nothing yet about this generation of the spec (no Ready condition, or
/// one written for an older generation): a check under way is then worth saying.
fn says_nothing_of(status: &HrConnectorJobStatus, generation: Option<i64>) -> bool {
    crate::crd::conditions::find_condition(&status.conditions, crate::crd::conditions::READY)
        .is_none_or(|c| c.observed_generation != generation)
}

/// The job's schedule, once its spec is valid and its endpoints are allowed; else the reason and
/// message to report. Nothing runs (and nothing is sent) while this fails.
fn checked_schedule(
    ctx: &Context,
    job: &HrConnectorJob,
) -> Result<Schedule, (&'static str, String)> {
    let invalid = |e: String| (reason::INVALID_SPEC, e);
    job.spec.validate().map_err(|e| invalid(e.to_string()))?;
    job.spec
        .check_limits(ctx.config.limits)
        .map_err(|e| invalid(e.to_string()))?;
    let schedule = Schedule::parse(&job.spec.schedule, &job.spec.time_zone)
        .map_err(|e| invalid(e.to_string()))?;
    super::endpoint_policy::check_job(&ctx.config.endpoint_policy, &job.spec)
        .map_err(|e| (e.reason(), e.to_string()))?;
    // Before any TokenRequest: a token for another audience is never minted.
    ctx.config
        .audience_policy
        .check(&job.spec)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(schedule)
}

/// Retry a failed reconcile after a short, fixed pause (kube-runtime adds no backoff itself).
pub fn error_policy(
    _job: Arc<HrConnectorJob>,
    error: &ReconcileError,
    _ctx: Arc<Context>,
) -> Action {
    if let ReconcileError::Stale = error {
        // Normal on a busy object: the watch brings the newer version (this is the fallback).
        tracing::debug!("status changed under the reconcile; again in 1 s");
        return Action::requeue(Duration::from_secs(1));
    }
    tracing::warn!(error = %error, "reconcile failed; retrying in 15 s");
    Action::requeue(Duration::from_secs(15))
}

fn decide(
    schedule: &Schedule,
    job: &HrConnectorJob,
    status: &HrConnectorJobStatus,
    now: Timestamp,
) -> Decision {
    schedule::decide(
        schedule,
        status.last_schedule_time.as_ref().map(|t| t.0),
        creation_time(job, now),
        now,
        job.spec.starting_deadline_seconds,
        job.spec.suspend,
    )
}

/// What makes `job` run now, judged from `job` as given: a run re-reads the job and asks
/// again before it claims it, since the controller's cache may lag behind the API server.
pub(super) fn trigger_due(ctx: &Context, job: &HrConnectorJob, now: Timestamp) -> Option<Trigger> {
    let schedule = checked_schedule(ctx, job).ok()?;
    let status = job.status.clone().unwrap_or_default();
    due_trigger(job, &status, &decide(&schedule, job, &status, now))
}

/// What, if anything, makes the job run now: an interrupted run first (it resumes), then a new
/// run-now value, then the schedule.
fn due_trigger(
    job: &HrConnectorJob,
    status: &HrConnectorJobStatus,
    decision: &Decision,
) -> Option<Trigger> {
    if let Some(active) = &status.current_run {
        return Some(Trigger::Resume(active.clone()));
    }
    if let Some(value) = job.annotations().get(RUN_NOW_ANNOTATION)
        && status.last_run_now.as_ref() != Some(value)
    {
        return Some(Trigger::RunNow(value.clone()));
    }
    match decision {
        Decision::Due { scheduled_for } => Some(Trigger::Schedule(*scheduled_for)),
        _ => None,
    }
}

fn creation_time(job: &HrConnectorJob, now: Timestamp) -> Timestamp {
    job.metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0)
        .unwrap_or(now)
}

enum Prevalidation {
    /// `input`: what the check converted, when it says (`Some(None)`: nothing converted).
    Valid { input: Option<Option<String>> },
    /// An object source's check is under way and status says nothing of this generation yet.
    Checking,
    Problem {
        reason: &'static str,
        message: String,
    },
}

/// Validates a ConfigMap or Secret source when it (or the spec) changed since the last check.
/// `None`: nothing new to say (unchanged, or a PVC source the controller cannot read).
async fn prevalidate(
    ctx: &Context,
    namespace: &str,
    job: &HrConnectorJob,
    key: &str,
) -> Result<Option<Prevalidation>, ReconcileError> {
    // A missing service account or annotation shows at once on apply, not at the first run.
    if let Some(wi) = &job.spec.credentials.workload_identity
        && let Err(e) = super::workload_identity::resolve(&ctx.client, namespace, wi).await
    {
        forget(ctx, key);
        return Ok(Some(Prevalidation::Problem {
            reason: e.reason(),
            message: e.to_string(),
        }));
    }
    if unchanged_config_map(ctx, job, key) {
        return Ok(None);
    }
    let loaded = match source::load(&ctx.client, namespace, job).await {
        Ok(Some(l)) => l,
        Ok(None) => return Ok(None),
        Err(
            e @ (source::SourceError::NotFound { .. } | source::SourceError::MissingKey { .. }),
        ) => {
            forget(ctx, key);
            return Ok(Some(Prevalidation::Problem {
                reason: reason::SOURCE_NOT_FOUND,
                message: e.to_string(),
            }));
        }
        Err(e) => return Err(ReconcileError::Source(e.to_string())),
    };
    let fingerprint = fingerprint(job, &loaded.resource_version);
    {
        let validated = ctx.validated.lock().unwrap_or_else(|e| e.into_inner());
        if validated.get(key) == Some(&fingerprint) {
            return Ok(None);
        }
    }
    let options_invalid_rows = job.spec.validation_options().invalid_rows;
    let is_secret = matches!(source::source_ref(job), SourceRef::Secret { .. });
    let source: std::sync::Arc<dyn hrdata::CsvSource> = std::sync::Arc::new(loaded.source);
    let (owned, ceiling) = (job.clone(), ctx.config.limits);
    // Converted as spec.input declares, then validated as a run would.
    let report = tokio::task::spawn_blocking(move || {
        let conversion = super::converted(&owned, source, ceiling).map_err(Err)?;
        let mut report =
            hrdata::validate(conversion.source.as_ref(), &conversion.validation).map_err(Ok)?;
        conversion.report.explain(&mut report);
        Ok((report, conversion.report.summary()))
    })
    .await
    .map_err(|e| ReconcileError::Source(e.to_string()))?;
    let verdict = match report {
        Err(Err(e)) => Prevalidation::Problem {
            reason: reason::INVALID_CSV,
            message: e.to_string(),
        },
        Err(Ok(e)) => Prevalidation::Problem {
            reason: reason::INVALID_CSV,
            // A Secret's text never reaches status or Events; a ConfigMap's header may.
            message: if is_secret {
                e.to_string()
            } else {
                e.with_header_columns()
            },
        },
        // The run's own verdict, on apply: invalid records, the ceiling, the floor.
        Ok((r, input)) => match job.spec.run_policy().check(&r, options_invalid_rows) {
            Ok(()) => Prevalidation::Valid {
                input: Some(input.map(|line| crate::crd::message::bounded(&line))),
            },
            Err(e) => Prevalidation::Problem {
                reason: e.reason(),
                message: e.to_string(),
            },
        },
    };
    ctx.validated
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key.to_string(), fingerprint);
    Ok(Some(verdict))
}

/// What a validation verdict holds for: the spec's generation and the source's version.
fn fingerprint(job: &HrConnectorJob, source_version: &str) -> String {
    format!(
        "{}/{source_version}",
        job.metadata.generation.unwrap_or_default()
    )
}

/// True when the watch's metadata says the job's ConfigMap is still the version last
/// validated: then it is not downloaded again (a relist or a status update changes nothing).
fn unchanged_config_map(ctx: &Context, job: &HrConnectorJob, key: &str) -> bool {
    let (Some(versions), SourceRef::ConfigMap { name, .. }) =
        (ctx.config_map_versions.get(), source::source_ref(job))
    else {
        return false;
    };
    let namespace = job.metadata.namespace.as_deref().unwrap_or_default();
    let Some(meta) = versions.get(&ObjectRef::new(name).within(namespace)) else {
        return false;
    };
    let Some(rv) = meta.metadata.resource_version.as_deref() else {
        return false;
    };
    let validated = ctx.validated.lock().unwrap_or_else(|e| e.into_inner());
    validated.get(key) == Some(&fingerprint(job, rv))
}

fn forget(ctx: &Context, key: &str) {
    ctx.validated
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(key);
}

/// Requeue exactly at the next fire time; Secret-held sources are also re-checked periodically
/// because the controller may only `get` Secrets, not watch them, and object sources because
/// object storage cannot be watched.
fn requeue_for(
    ctx: &Context,
    job: &HrConnectorJob,
    schedule: &Schedule,
    now: Timestamp,
    decision: Decision,
) -> Action {
    let next = match decision {
        Decision::Wait { next } => Some(next),
        Decision::Suspended { .. } | Decision::Never => None,
        // Due, but a run of this job is already in progress: look again at the next fire time.
        Decision::Due { .. } => schedule.next_after(now),
    };
    let mut wait = next.map(|n| {
        Duration::try_from(n.duration_since(now)).unwrap_or(Duration::ZERO)
            + Duration::from_millis(5)
    });
    let recheck = if matches!(source::source_ref(job), SourceRef::Secret { .. }) {
        Some(ctx.config.secret_source_recheck)
    } else if object_source::is_remote(job) {
        // Nothing to watch in object storage or at a report URL: look again on a timer (an
        // object's ETag; a report only after a failed check).
        Some(ctx.config.object_source_recheck)
    } else {
        None
    };
    if let Some(recheck) = recheck {
        wait = Some(wait.map_or(recheck, |w| w.min(recheck)));
    }
    match wait {
        Some(w) => Action::requeue(w),
        None => Action::await_change(),
    }
}

/// Patches status only when something changed, so status updates do not loop through the watch.
/// The patch carries the resourceVersion of the copy it was computed from: when the cache was
/// stale (a run's final status not seen yet), the API answers 409 instead of letting older
/// conditions overwrite newer ones, and the reconcile runs again on the fresh copy.
async fn write_if_changed(
    ctx: &Context,
    api: &Api<HrConnectorJob>,
    job: &HrConnectorJob,
    before: &HrConnectorJobStatus,
    after: &HrConnectorJobStatus,
) -> Result<bool, ReconcileError> {
    let name = &job.name_any();
    let namespace = api.namespace().unwrap_or_default().to_string();
    ctx.metrics.job_observed(
        &namespace,
        name,
        &super::metrics::JobGauges::of(&job.spec, after),
    );
    if before == after {
        return Ok(false);
    }
    let patch = json!({
        "observedGeneration": after.observed_generation,
        "conditions": after.conditions,
        "nextScheduleTime": after.next_schedule_time,
        "source": after.source,
        "input": after.input,
        // null, not []: an empty list would still show as "Warnings:" in describe.
        "warnings": (!after.warnings.is_empty()).then_some(&after.warnings),
    });
    match patch_status(api, name, job.resource_version().as_deref(), patch).await {
        Ok(_) => Ok(true),
        Err(e) if is_conflict(&e) => Err(ReconcileError::Stale),
        Err(e) => Err(ReconcileError::Status(e)),
    }
}
