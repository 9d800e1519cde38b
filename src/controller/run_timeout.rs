//! `spec.runTimeout` for in-process runs (ConfigMap, Secret, azureBlob, s3): when it passes, the
//! run is stopped as a shutdown stops it (after the chunk in flight, the checkpoint kept), and
//! reported as `RunTimedOut` so the next run resumes. PVC runs get the same limit as their
//! upload Job's `activeDeadlineSeconds`.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::crd::HrConnectorJob;
use crate::crd::conditions::reason;
use crate::upload::{RunResult, UploadReport};

/// Runs `run` with a stop token that fires when `cancel` does or when the job's run timeout
/// passes, whichever comes first; a run stopped by the timeout becomes a `RunTimedOut` failure.
pub async fn within<F, Fut>(
    job: &HrConnectorJob,
    cancel: &CancellationToken,
    run: F,
) -> UploadReport
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = UploadReport>,
{
    let limit = job.spec.run_timeout();
    let stop = cancel.child_token();
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            stop.cancel();
        })
    };
    let report = run(stop.clone()).await;
    timer.abort();
    // Stopped, and not by a shutdown, lost leadership or the job's deletion: by the timeout.
    let timed_out = stop.is_cancelled() && !cancel.is_cancelled();
    if timed_out && report.reason == Some(reason::INTERRUPTED) {
        return timed_out_report(report, job, limit);
    }
    report
}

fn timed_out_report(report: UploadReport, job: &HrConnectorJob, limit: Duration) -> UploadReport {
    let limit_text = job
        .spec
        .run_timeout
        .clone()
        .unwrap_or_else(|| format!("{} s, the default", limit.as_secs()));
    UploadReport {
        result: RunResult::Failed,
        reason: Some(reason::RUN_TIMED_OUT),
        message: format!(
            "the run did not finish within spec.runTimeout ({limit_text}): it stopped after its \
             last acknowledged chunk ({} records saved); the next run resumes from the checkpoint",
            report.records_saved
        ),
        ..report
    }
}
