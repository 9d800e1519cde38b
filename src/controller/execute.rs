//! One run of one job, on its own task: claim an upload slot, mark the run in status, upload
//! with the checkpoint in status, then write the outcome, an Event, and ask for a reconcile.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::context::{Context, job_key};
use super::status::{RunStatus, RunStatusError, StatusCheckpointStore, is_conflict, patch_status};
use super::{credentials, object_source, run_timeout, source};
use crate::crd::conditions::{self, reason};
use crate::crd::{
    ActiveRun, HrConnectorJob, HrConnectorJobStatus, RunRecord, RunResult as CrdResult,
    push_history,
};
use crate::source::CsvSource;
use crate::upload::{RunResult, UploadReport, UploadRequest, Uploader, UploaderConfig};

/// What started a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The schedule fired (or a missed fire time is caught up).
    Schedule(Timestamp),
    /// The run-now annotation got a new value.
    RunNow(String),
    /// A run found in status that no process is running (crash, restart, fail-over).
    Resume(ActiveRun),
}

impl Trigger {
    fn name(&self) -> &'static str {
        match self {
            Trigger::Schedule(_) => "Schedule",
            Trigger::RunNow(_) => "RunNow",
            Trigger::Resume(_) => "Resume",
        }
    }
}

/// Starts a run unless the job already has one in this process, or is backing off after a
/// failure. Returns whether it started.
pub fn start(job: Arc<HrConnectorJob>, ctx: Arc<Context>, trigger: Trigger) -> bool {
    let key = job_key(&job);
    if ctx.backoff.remaining(&key).is_some() {
        return false;
    }
    let Some(cancel) = ctx.runs.try_start(&key, &ctx.shutdown) else {
        return false;
    };
    tokio::spawn(async move {
        let pause = execute(&job, &ctx, trigger, cancel).await;
        ctx.runs.finish(&key);
        if let Some(pause) = pause {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = ctx.shutdown.cancelled() => return,
            }
        }
        // The run's own status patches were seen while it was registered; look again now.
        let _ = ctx.requeue.send(ObjectRef::from_obj(job.as_ref()));
    });
    true
}

/// How long a job whose cached copy was stale waits before it is looked at again.
const STALE_PAUSE: Duration = Duration::from_secs(1);

/// How a claim went.
enum Claim {
    /// This run owns the job now: `job` as the claiming patch returned it.
    Claimed {
        job: Box<HrConnectorJob>,
        trigger: Trigger,
        active: ActiveRun,
    },
    /// Nothing is due on a fresh read (the cache was stale), or someone else moved the job on
    /// first (409): nothing to do but look again.
    NothingDue,
    /// The API refused the claim: back off.
    Failed(kube::Error),
}

/// Claims a run optimistically: re-reads the job (the controller's cache may lag behind the
/// last run's own writes), decides again from that, and marks the run started with the
/// resourceVersion it read, so a concurrent change answers 409 instead of being overwritten.
async fn claim(api: &Api<HrConnectorJob>, cached: &HrConnectorJob, ctx: &Context) -> Claim {
    let name = cached.name_any();
    let fresh = match api.get_status(&name).await {
        Ok(j) => j,
        Err(kube::Error::Api(e)) if e.code == 404 => return Claim::NothingDue,
        Err(e) => return Claim::Failed(e),
    };
    if fresh.uid() != cached.uid() {
        return Claim::NothingDue;
    }
    let now = ctx.clock.now();
    let Some(trigger) = super::reconcile::trigger_due(ctx, &fresh, now) else {
        return Claim::NothingDue;
    };
    let active = match &trigger {
        Trigger::Resume(active) => ActiveRun {
            claimed_by: Some(ctx.claim.clone()),
            ..active.clone()
        },
        _ => ActiveRun {
            id: format!("{}", now.as_second()),
            start_time: Time(now),
            trigger: trigger.name().into(),
            claimed_by: Some(ctx.claim.clone()),
        },
    };
    match mark_started(api, &fresh, &trigger, &active, now).await {
        Ok(job) => Claim::Claimed {
            job: Box::new(job),
            trigger,
            active,
        },
        Err(e) if is_conflict(&e) => Claim::NothingDue,
        Err(e) => Claim::Failed(e),
    }
}

/// Runs one claimed run to its end. Returns how long to pause before the job is looked at
/// again (after a failure to claim it or to record its outcome).
async fn execute(
    job: &HrConnectorJob,
    ctx: &Context,
    trigger: Trigger,
    cancel: CancellationToken,
) -> Option<Duration> {
    let namespace = job.metadata.namespace.clone().unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    let key = job_key(job);
    let api: Api<HrConnectorJob> = Api::namespaced(ctx.client.clone(), &namespace);

    // A PVC run only polls its batch Job: it has its own bound, apart from in-process uploads.
    let pvc = job.spec.source.persistent_volume_claim.is_some();
    let slots = if pvc {
        &ctx.upload_job_slots
    } else {
        &ctx.upload_slots
    };
    // In-process uploads first wait for their namespace's share, holding no global slot
    // meanwhile, so that one namespace's queue never holds back another's uploads.
    let _share = if pvc {
        None
    } else {
        tokio::select! {
            permit = ctx.namespace_slots.acquire(&namespace) => match permit {
                Some(p) => Some(p),
                None => return None,
            },
            _ = cancel.cancelled() => return None,
        }
    };
    let _permit = tokio::select! {
        permit = slots.clone().acquire_owned() => match permit {
            Ok(p) => p,
            Err(_) => return None,
        },
        _ = cancel.cancelled() => return None,
    };
    let (started, trigger, active) = match claim(&api, job, ctx).await {
        Claim::Claimed {
            job,
            trigger: fresh_trigger,
            active,
        } => {
            if fresh_trigger != trigger {
                tracing::debug!(job = %name, cached = trigger.name(), fresh = fresh_trigger.name(), "the cache was stale; running what a fresh read says");
            }
            (*job, fresh_trigger, active)
        }
        // The watch brings the newer version; the pause keeps a cache that stays stale from
        // turning this into a busy loop of re-reads.
        Claim::NothingDue => return Some(STALE_PAUSE),
        Claim::Failed(e) => {
            let pause = ctx.backoff.failed(&key);
            report_claim_failure(ctx, &api, job, &e, pause).await;
            return Some(pause);
        }
    };
    ctx.backoff.reset(&key);
    let status = RunStatus::new(api.clone(), &started, ctx.claim.clone());
    ctx.event(
        job,
        false,
        conditions::event::RUN_STARTED,
        format!("upload started ({})", describe(&trigger)),
    )
    .await;
    tracing::info!(namespace, job = %name, trigger = trigger.name(), "run started");

    ctx.upload_began();
    let report = if let Err(e) =
        super::endpoint_policy::check_job(&ctx.config.endpoint_policy, &started.spec)
    {
        // Reconcile refuses such a spec before any run; this holds if the spec changed since.
        UploadReport::failed(e.reason(), e.to_string())
    } else if let Err(e) = ctx.config.audience_policy.check(&started.spec) {
        UploadReport::failed(reason::INVALID_SPEC, e.to_string())
    } else if started.spec.source.persistent_volume_claim.is_some() {
        super::pvc_run::upload_with_job(ctx, &namespace, &started, &status, &active, cancel.clone())
            .await
    } else {
        run_timeout::within(&started, &cancel, |stop| {
            upload(ctx, &namespace, &started, &status, stop)
        })
        .await
    };
    ctx.upload_ended();
    let deleted = cancel.is_cancelled() && !ctx.shutdown.is_cancelled();
    if deleted {
        // Cancelled by the job's deletion: nothing more to write, no series to keep.
        ctx.metrics.upload_abandoned();
        ctx.metrics.forget_job(&namespace, &name);
        tracing::info!(job = %name, "run stopped: the job was deleted");
        return None;
    }
    ctx.metrics
        .upload_finished(report.result.as_str(), report.reason, report.records_sent);

    if report.reason == Some(reason::INTERRUPTED) && cancel.is_cancelled() {
        // Leave currentRun in status: whoever runs next resumes from the checkpoint.
        tracing::info!(job = %name, "run interrupted after its last acknowledged chunk");
        return None;
    }
    let completed = ctx.clock.now();
    match mark_finished(ctx, &status, &started, &active, &report, completed).await {
        Ok(finished) => ctx.metrics.job_observed(
            &namespace,
            &name,
            &super::metrics::JobGauges::of(&finished.spec, &finished.status.unwrap_or_default()),
        ),
        Err(e) => {
            tracing::warn!(job = %name, error = %e, "could not write the run's outcome to status");
            if let RunStatusError::Fenced(_) = e {
                return None;
            }
            // currentRun stays set: the next lap resumes (and finds the content already sent).
            return Some(ctx.backoff.failed(&key));
        }
    }
    let (warning, event_reason) = match report.result {
        RunResult::Succeeded => (false, conditions::event::RUN_SUCCEEDED),
        RunResult::Unchanged => (false, conditions::event::RUN_UNCHANGED),
        RunResult::NothingToUpload => (true, reason::NOTHING_TO_UPLOAD),
        RunResult::DryRun => (false, reason::DRY_RUN),
        RunResult::Failed => (true, report.reason.unwrap_or(conditions::event::RUN_FAILED)),
    };
    ctx.event(job, warning, event_reason, report.message.clone())
        .await;
    tracing::info!(job = %name, result = ?report.result, records = report.records_saved, "run finished");
    None
}

/// Shows why a run could not be claimed: Ready=False with the API's error, and a Warning
/// Event. Both best effort: the API that refused the claim may refuse these too.
async fn report_claim_failure(
    ctx: &Context,
    api: &Api<HrConnectorJob>,
    job: &HrConnectorJob,
    error: &kube::Error,
    pause: Duration,
) {
    let message = format!(
        "cannot mark the run started in status: {error}; trying again in {} s",
        pause.as_secs().max(1)
    );
    tracing::warn!(job = %job.name_any(), error = %error, pause_ms = pause.as_millis() as u64, "could not claim the run; backing off");
    let mut conditions = job.status.clone().unwrap_or_default().conditions;
    super::verdict::apply_problem(
        &mut conditions,
        reason::RUN_NOT_STARTED,
        &message,
        job.metadata.generation,
        ctx.clock.now(),
    );
    if let Err(e) = patch_status(
        api,
        &job.name_any(),
        None,
        json!({ "conditions": conditions }),
    )
    .await
    {
        tracing::debug!(error = %e, "could not write the claim failure to status either");
    }
    ctx.event(job, true, reason::RUN_NOT_STARTED, message).await;
}

/// Reads credentials and source, then uploads. Every failure becomes a `Failed` report.
async fn upload(
    ctx: &Context,
    namespace: &str,
    job: &HrConnectorJob,
    status: &RunStatus,
    cancel: CancellationToken,
) -> UploadReport {
    let creds = match credentials::load(&ctx.client, namespace, job).await {
        Ok(c) => c,
        Err(e) => return UploadReport::failed(e.reason(), e.to_string()),
    };
    let source: Arc<dyn CsvSource> = match remote_source(ctx, namespace, job).await {
        Ok(Some(remote)) => remote,
        Err(problem) => return UploadReport::failed(problem.reason, problem.message),
        Ok(None) => match source::load(&ctx.client, namespace, job).await {
            Ok(Some(s)) => Arc::new(s.source),
            Ok(None) => {
                return UploadReport::failed(
                    reason::INVALID_SPEC,
                    "persistentVolumeClaim sources are uploaded by a batch Job".into(),
                );
            }
            Err(e) => return UploadReport::failed(reason::SOURCE_NOT_FOUND, e.to_string()),
        },
    };
    // The export as spec.input declares it, converted off the async threads.
    let (owned, ceiling) = (job.clone(), ctx.config.limits);
    let conversion = match tokio::task::spawn_blocking(move || {
        super::converted(&owned, source, ceiling)
    })
    .await
    {
        Ok(Ok(conversion)) => conversion,
        Ok(Err(e @ crate::convert::ConvertError::Io { .. })) => {
            return UploadReport::failed(reason::SOURCE_UNREADABLE, e.to_string());
        }
        Ok(Err(e)) => return UploadReport::failed(reason::INVALID_CSV, e.to_string()),
        Err(e) => return UploadReport::failed(reason::INTERNAL_ERROR, e.to_string()),
    };
    let mut config = UploaderConfig::new(job.spec.endpoints(), creds.credentials);
    config.retry = ctx.config.retry.clone();
    config.request_timeout = ctx.config.request_timeout;
    config.ca_file = ctx.config.ca_file.clone();
    config.sleeper = ctx.sleeper.clone();
    // The operator's policy, not only the job's own endpoints: redirects and anything else.
    config.egress = std::sync::Arc::new(ctx.config.endpoint_policy.clone());
    let uploader = match Uploader::new(config) {
        Ok(u) => u,
        // A tenant or app ID of the wrong form (from annotations) is InvalidCredentials.
        Err(e) => return UploadReport::from_error(&e),
    };
    let request = UploadRequest {
        source: conversion.source,
        job_id: job.spec.job_id.clone(),
        validation: conversion.validation,
        records_per_call: job.spec.records_per_call as usize,
        force: false,
        dry_run: job.spec.dry_run,
        policy: job.spec.run_policy(),
        cancel,
        conversion: conversion
            .report
            .converted
            .then(|| Arc::new(conversion.report)),
    };
    uploader
        .run(&request, &StatusCheckpointStore { status })
        .await
}

fn describe(trigger: &Trigger) -> String {
    match trigger {
        Trigger::Schedule(at) => format!("scheduled for {at}"),
        Trigger::RunNow(_) => "run-now annotation".into(),
        Trigger::Resume(a) => format!("resuming run {} after an interruption", a.id),
    }
}

async fn mark_started(
    api: &Api<HrConnectorJob>,
    job: &HrConnectorJob,
    trigger: &Trigger,
    active: &ActiveRun,
    now: Timestamp,
) -> Result<HrConnectorJob, kube::Error> {
    let mut status = job.status.clone().unwrap_or_default();
    conditions::set_condition(
        &mut status.conditions,
        conditions::RECONCILING,
        true,
        reason::RUNNING,
        &format!("upload in progress ({})", describe(trigger)),
        job.metadata.generation,
        now,
    );
    let mut patch = json!({
        "currentRun": active,
        "conditions": status.conditions,
    });
    match trigger {
        Trigger::Schedule(at) => patch["lastScheduleTime"] = json!(Time(*at)),
        Trigger::RunNow(value) => patch["lastRunNow"] = json!(value),
        Trigger::Resume(_) => {}
    }
    let rv = job.resource_version();
    patch_status(api, &job.name_any(), rv.as_deref(), patch).await
}

/// How long the outcome of a run is retried before the run gives up on writing it.
const FINISH_RETRY: Duration = Duration::from_secs(60);

async fn mark_finished(
    ctx: &Context,
    status: &RunStatus,
    job: &HrConnectorJob,
    active: &ActiveRun,
    report: &UploadReport,
    completed: Timestamp,
) -> Result<HrConnectorJob, RunStatusError> {
    let patch = finished_patch(job, active, report, completed);
    // The outcome is worth tens of seconds of retries: without it currentRun stays set.
    let policy = crate::upload::RetryPolicy {
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(15),
        ..crate::upload::RetryPolicy::default()
    };
    let deadline = tokio::time::Instant::now() + FINISH_RETRY;
    let mut failures = 0;
    loop {
        match status.patch(patch.clone()).await {
            Ok(obj) => return Ok(obj),
            Err(e @ RunStatusError::Fenced(_)) => return Err(e),
            Err(e) => {
                failures += 1;
                let wait = policy.delay(failures, None);
                if tokio::time::Instant::now() + wait > deadline {
                    return Err(e);
                }
                tracing::debug!(error = %e, failures, "writing the run's outcome failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = ctx.shutdown.cancelled() => return Err(e),
                }
            }
        }
    }
}

fn finished_patch(
    job: &HrConnectorJob,
    active: &ActiveRun,
    report: &UploadReport,
    completed: Timestamp,
) -> serde_json::Value {
    let mut status: HrConnectorJobStatus = job.status.clone().unwrap_or_default();
    let generation = job.metadata.generation;
    let run = RunRecord {
        start_time: active.start_time.clone(),
        completion_time: Some(Time(completed)),
        result: Some(CrdResult::from(report.result)),
        records_saved: report.records_saved,
        records_rejected: report.records_rejected,
        chunks: report.chunks,
        source_sha256: (!report.source_sha256.is_empty()).then(|| report.source_sha256.clone()),
        // The run's message is the Ready condition's alone (one message per run).
        message: None,
        reason: report.reason.map(str::to_string),
        // Per scenario only where a file holds several: otherwise it is recordsSaved again.
        scenarios: if job.spec.scenario == crate::crd::CrdScenario::Multiple {
            report.scenarios.clone()
        } else {
            Default::default()
        },
    };
    // The run's message lives in the Ready condition alone; lastRun and the history lines
    // refer to the run by time, result, reason and counts, never repeating it.
    push_history(&mut status.history, &run);
    super::verdict::apply_run_outcome(&mut status.conditions, report, generation, completed);
    let mut patch = json!({
        "currentRun": null,
        "lastRun": super::status::replacing(
            job.status.as_ref().and_then(|s| s.last_run.as_ref()).map(|r| json!(r)).as_ref(),
            json!(run),
        ),
        "history": status.history,
        "conditions": status.conditions,
        "recordsSaved": report.records_saved,
        // null rather than 0: nothing rejected needs no line in describe.
        "recordsRejected": (report.records_rejected > 0).then_some(report.records_rejected),
        // Folded into lastRun.startTime; null clears it from a status written before.
        "lastRunTime": null,
        "observedGeneration": generation,
    });
    if matches!(report.result, RunResult::Succeeded | RunResult::Unchanged) {
        patch["lastSuccessfulTime"] = json!(Time(completed));
    }
    if report.result == RunResult::Succeeded {
        let uploaded = report.uploaded_at.unwrap_or(completed);
        patch["lastUploadTime"] = json!(Time(uploaded));
    }
    patch
}

/// The job's source when the operator reads it over the network: an object, a report URL, or
/// a file on an SFTP server.
async fn remote_source(
    ctx: &Context,
    namespace: &str,
    job: &HrConnectorJob,
) -> Result<Option<Arc<dyn CsvSource>>, object_source::ObjectProblem> {
    if let Some(object) = object_source::resolve(ctx, namespace, job).await? {
        return Ok(Some(Arc::new(object)));
    }
    if let Some(drop) = super::sftp_source::resolve(ctx, namespace, job).await? {
        return Ok(Some(Arc::new(drop)));
    }
    Ok(super::report_source::resolve(ctx, namespace, job)
        .await?
        .map(|report| Arc::new(report) as Arc<dyn CsvSource>))
}
