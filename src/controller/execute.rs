//! One run of one job, on its own task: claim an upload slot, mark the run in status, upload
//! with the checkpoint in status, then write the outcome, an Event, and ask for a reconcile.

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Api;
use kube::runtime::reflector::ObjectRef;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::context::{Context, job_key};
use super::status::{StatusCheckpointStore, patch_status};
use super::{credentials, object_source, source};
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

/// Starts a run unless the job already has one in this process. Returns whether it started.
pub fn start(job: Arc<HrConnectorJob>, ctx: Arc<Context>, trigger: Trigger) -> bool {
    let key = job_key(&job);
    let Some(cancel) = ctx.runs.try_start(&key, &ctx.shutdown) else {
        return false;
    };
    tokio::spawn(async move {
        execute(&job, &ctx, trigger, cancel).await;
        ctx.runs.finish(&key);
        // The run's own status patches were seen while it was registered; look again now.
        let _ = ctx.requeue.send(ObjectRef::from_obj(job.as_ref()));
    });
    true
}

async fn execute(job: &HrConnectorJob, ctx: &Context, trigger: Trigger, cancel: CancellationToken) {
    let namespace = job.metadata.namespace.clone().unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    let api: Api<HrConnectorJob> = Api::namespaced(ctx.client.clone(), &namespace);

    let _permit = tokio::select! {
        permit = ctx.upload_slots.clone().acquire_owned() => match permit {
            Ok(p) => p,
            Err(_) => return,
        },
        _ = cancel.cancelled() => return,
    };
    let now = ctx.clock.now();
    let active = match &trigger {
        Trigger::Resume(active) => active.clone(),
        _ => ActiveRun {
            id: format!("{}", now.as_second()),
            start_time: Time(now),
            trigger: trigger.name().into(),
        },
    };
    let started = match mark_started(&api, &name, job, &trigger, &active, now).await {
        Ok(job) => job,
        Err(e) => {
            tracing::warn!(job = %name, error = %e, "could not mark the run started; not running it");
            return;
        }
    };
    ctx.event(
        job,
        false,
        "RunStarted",
        format!("upload started ({})", describe(&trigger)),
    )
    .await;
    tracing::info!(namespace, job = %name, trigger = trigger.name(), "run started");

    ctx.upload_began();
    let report = if started.spec.source.persistent_volume_claim.is_some() {
        super::pvc_run::upload_with_job(ctx, &namespace, &started, &api, &active, cancel.clone())
            .await
    } else {
        upload(ctx, &namespace, &started, &api, cancel.clone()).await
    };
    ctx.upload_ended();
    ctx.metrics.upload_finished(
        &namespace,
        &name,
        report.result.as_str(),
        report.reason,
        report.records_sent,
        ctx.clock.now(),
    );

    if report.reason == Some(reason::INTERRUPTED) && cancel.is_cancelled() {
        // Leave currentRun in status: whoever runs next resumes from the checkpoint.
        tracing::info!(job = %name, "run interrupted after its last acknowledged chunk");
        return;
    }
    let completed = ctx.clock.now();
    if let Err(e) = mark_finished(&api, &name, &started, &active, &report, completed).await {
        tracing::warn!(job = %name, error = %e, "could not write the run's outcome to status");
    }
    let failed = report.result == RunResult::Failed;
    ctx.metrics.job_ready(&namespace, &name, !failed);
    let event_reason = match report.result {
        RunResult::Succeeded => "RunSucceeded",
        RunResult::Unchanged => "RunUnchanged",
        RunResult::DryRun => "DryRun",
        RunResult::Failed => report.reason.unwrap_or("RunFailed"),
    };
    ctx.event(job, failed, event_reason, report.message.clone())
        .await;
    tracing::info!(job = %name, result = ?report.result, records = report.records_saved, "run finished");
}

/// Reads credentials and source, then uploads. Every failure becomes a `Failed` report.
async fn upload(
    ctx: &Context,
    namespace: &str,
    job: &HrConnectorJob,
    api: &Api<HrConnectorJob>,
    cancel: CancellationToken,
) -> UploadReport {
    let creds = match credentials::load(&ctx.client, namespace, job).await {
        Ok(c) => c,
        Err(e) => return UploadReport::failed(reason::CREDENTIALS_NOT_FOUND, e.to_string()),
    };
    let settings = object_source::settings(ctx);
    let source: Arc<dyn CsvSource> =
        match object_source::resolve(&ctx.client, namespace, job, settings).await {
            Ok(Some(object)) => Arc::new(object),
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
    let mut config = UploaderConfig::new(job.spec.endpoints(), creds.credentials);
    config.retry = ctx.config.retry.clone();
    config.request_timeout = ctx.config.request_timeout;
    config.ca_file = ctx.config.ca_file.clone();
    config.sleeper = ctx.sleeper.clone();
    let uploader = match Uploader::new(config) {
        Ok(u) => u,
        Err(e) => return UploadReport::failed(reason::UPLOAD_FAILED, e.to_string()),
    };
    let request = UploadRequest {
        source,
        job_id: job.spec.job_id.clone(),
        validation: super::validation_options(job),
        records_per_call: job.spec.records_per_call as usize,
        force: false,
        dry_run: job.spec.dry_run,
        cancel,
    };
    let store = StatusCheckpointStore {
        api: api.clone(),
        name: job.metadata.name.clone().unwrap_or_default(),
    };
    uploader.run(&request, &store).await
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
    name: &str,
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
    patch_status(api, name, patch).await
}

async fn mark_finished(
    api: &Api<HrConnectorJob>,
    name: &str,
    job: &HrConnectorJob,
    active: &ActiveRun,
    report: &UploadReport,
    completed: Timestamp,
) -> Result<HrConnectorJob, kube::Error> {
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
        message: Some(report.message.clone()),
        reason: report.reason.map(str::to_string),
        scenarios: report.scenarios.clone(),
    };
    push_history(&mut status.history, run.clone());
    super::verdict::apply_run_outcome(&mut status.conditions, report, generation, completed);
    let mut patch = json!({
        "currentRun": null,
        "lastRun": run,
        "history": status.history,
        "conditions": status.conditions,
        "recordsSaved": report.records_saved,
        "recordsRejected": report.records_rejected,
        "lastRunTime": active.start_time,
        "observedGeneration": generation,
    });
    if report.result != RunResult::Failed {
        patch["lastSuccessfulTime"] = json!(Time(completed));
    }
    patch_status(api, name, patch).await
}
