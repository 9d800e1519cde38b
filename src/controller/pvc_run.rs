//! A run of a PVC-sourced job: create (or find) the run's batch Job, wait for it, and turn the
//! pod's termination-message report into the run's outcome and checkpoint.
//!
//! The Job's name is derived from the run id kept in `status.currentRun`, so a controller that
//! restarts mid-run finds the same Job instead of starting a second upload.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Api;
use kube::api::{ListParams, PostParams};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::context::Context;
use super::pvc_job::{self, PodReport, PvcJobState};
use super::source::get;
use super::status::RunStatus;
use super::workload_identity;
use crate::crd::conditions::reason;
use crate::crd::{ActiveRun, HrConnectorJob, RunResult as CrdResult};
use crate::upload::{RunResult, UploadReport};

/// What the upload Job authenticates with, checked before it is created.
async fn job_auth(
    ctx: &Context,
    namespace: &str,
    hrjob: &HrConnectorJob,
) -> Result<pvc_job::AuthKind, (&'static str, String)> {
    let creds = &hrjob.spec.credentials;
    if let Some(wi) = &creds.workload_identity {
        let id = workload_identity::resolve(&ctx.client, namespace, wi)
            .await
            .map_err(|e| (e.reason(), e.to_string()))?;
        return Ok(pvc_job::AuthKind::WorkloadIdentity(
            pvc_job::FederatedIdentity {
                service_account: id.service_account,
                client_id: id.client_id,
                tenant_id: id.tenant_id,
                audience: id.audience,
            },
        ));
    }
    let not_found = |e: String| (reason::CREDENTIALS_NOT_FOUND, e);
    let name = creds
        .secret_ref
        .as_ref()
        .map(|r| r.name.as_str())
        .ok_or_else(|| not_found("spec.credentials has no secretRef".into()))?;
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let secret = get(&secrets, "Secret", namespace, name)
        .await
        .map_err(|e| not_found(e.to_string()))?;
    pvc_job::auth_kind(&secret, creds).map_err(|e| not_found(e.to_string()))
}

pub async fn upload_with_job(
    ctx: &Context,
    namespace: &str,
    hrjob: &HrConnectorJob,
    status: &RunStatus,
    active: &ActiveRun,
    cancel: CancellationToken,
) -> UploadReport {
    let Some(settings) = ctx.config.pvc_job.as_ref() else {
        return UploadReport::failed(
            reason::INVALID_SPEC,
            "persistentVolumeClaim sources need the operator's --upload-job-image".into(),
        );
    };
    // The operator's --ca-file, read again for every run: the Job trusts what the operator does.
    let with_ca;
    let settings = match &ctx.config.ca_file {
        Some(path) => match pvc_job::TrustedCa::read(path) {
            Ok(ca) => {
                with_ca = pvc_job::PvcJobSettings {
                    trusted_ca: Some(ca),
                    ..settings.clone()
                };
                &with_ca
            }
            Err(e) => return UploadReport::failed(reason::INVALID_TRUSTED_CA, e.to_string()),
        },
        None => settings,
    };
    let auth = match job_auth(ctx, namespace, hrjob).await {
        Ok(a) => a,
        Err((reason, message)) => return UploadReport::failed(reason, message),
    };
    let resume = hrjob
        .status
        .as_ref()
        .and_then(|s| s.checkpoint.clone())
        .filter(|cp| cp.job_id.as_deref().is_none_or(|j| j == hrjob.spec.job_id));
    let upload_job = match pvc_job::build_upload_job(
        hrjob,
        settings,
        &active.id,
        auth,
        resume.as_ref(),
        false,
    ) {
        Ok(j) => j,
        Err(e) => return UploadReport::failed(reason::INVALID_SPEC, e.to_string()),
    };
    let name = upload_job.metadata.name.clone().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), namespace);
    match jobs.create(&PostParams::default(), &upload_job).await {
        Ok(_) => tracing::info!(upload_job = %name, "upload Job created"),
        // Created before a restart: wait for that one.
        Err(kube::Error::Api(e)) if e.code == 409 => {
            tracing::info!(upload_job = %name, "upload Job exists; waiting for it")
        }
        Err(e) => {
            return UploadReport::failed(
                reason::UPLOAD_FAILED,
                format!("cannot create upload Job {name}: {e}"),
            );
        }
    }
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let selector = format!("job-name={name}");
    loop {
        let mut deadline_exceeded = false;
        let state = match jobs.get(&name).await {
            Ok(upload_job) => {
                deadline_exceeded = pvc_job::deadline_exceeded(&upload_job);
                let pod_list = pods
                    .list(&ListParams::default().labels(&selector))
                    .await
                    .map(|l| l.items)
                    .unwrap_or_default();
                // Some API servers ignore label selectors: keep this Job's pods only.
                let own: Vec<Pod> = pod_list
                    .into_iter()
                    .filter(|p| {
                        p.metadata.labels.as_ref().and_then(|l| l.get("job-name")) == Some(&name)
                    })
                    .collect();
                pvc_job::pvc_job_state(&upload_job, &own)
            }
            Err(kube::Error::Api(e)) if e.code == 404 => PvcJobState::Failed {
                message: format!("upload Job {name} disappeared before it finished"),
                report: None,
            },
            Err(e) => {
                tracing::warn!(upload_job = %name, error = %e, "cannot read the upload Job; retrying");
                PvcJobState::Running
            }
        };
        match state {
            PvcJobState::Running => {}
            PvcJobState::Succeeded(report) => return finish(status, hrjob, report).await,
            PvcJobState::Failed { message, report } => {
                let mut outcome = match report {
                    Some(r) => finish(status, hrjob, r).await,
                    None => UploadReport::failed(reason::UPLOAD_FAILED, message),
                };
                // The Job's activeDeadlineSeconds is spec.runTimeout: report it as such.
                if deadline_exceeded {
                    outcome.reason = Some(reason::RUN_TIMED_OUT);
                    outcome.message = format!(
                        "the upload Job did not finish within spec.runTimeout \
                         (activeDeadlineSeconds): {}",
                        outcome.message
                    );
                }
                return outcome;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(ctx.config.pvc_job_poll) => {}
            _ = cancel.cancelled() => return UploadReport::failed(reason::INTERRUPTED, "interrupted while the upload Job runs; the next controller waits for it".into()),
        }
    }
}

/// The file the upload Job chose for a path pattern, named as `spec` names files: relative to
/// the claim's root. The pod names it where it mounted the claim; a pattern matches in its own
/// directory only, so the choice is that directory and the file's name.
fn in_claim(pattern: &str, chosen_in_pod: &str) -> String {
    let file = chosen_in_pod.rsplit('/').next().unwrap_or(chosen_in_pod);
    match pattern.trim_start_matches("./").rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{file}"),
        None => file.to_owned(),
    }
}

/// Records the pod's checkpoint in status and turns its report into the run's outcome.
async fn finish(status: &RunStatus, hrjob: &HrConnectorJob, pod: PodReport) -> UploadReport {
    let name = hrjob.metadata.name.clone().unwrap_or_default();
    if let Some(cp) = pod.checkpoint(&hrjob.spec.job_id)
        && let Err(e) = status.patch(json!({ "checkpoint": cp })).await
    {
        tracing::warn!(job = %name, error = %e, "cannot record the upload Job's checkpoint");
    }
    // The file a path pattern chose, with the digest of what was read.
    if let Some(chosen) = &pod.source {
        let pattern = (hrjob.spec.source.persistent_volume_claim.as_ref()).map(|p| p.path.as_str());
        let seen = crate::crd::ObjectSourceStatus {
            chosen: Some(in_claim(pattern.unwrap_or_default(), chosen)),
            sha256: (!pod.source_sha256.is_empty()).then(|| pod.source_sha256.clone()),
            etag: None,
            last_modified: None,
            size: None,
        };
        if let Err(e) = status.patch(json!({ "source": seen })).await {
            tracing::warn!(job = %name, error = %e, "cannot record the file the upload Job chose");
        }
    }
    // What this run added on top of the checkpoint it resumed from.
    let before = hrjob
        .status
        .as_ref()
        .and_then(|s| s.checkpoint.as_ref())
        .filter(|cp| cp.source_sha256 == pod.source_sha256)
        .map_or(0, |cp| cp.records_acknowledged);
    let records_sent = match pod.result {
        CrdResult::Succeeded | CrdResult::Failed => pod.records_saved.saturating_sub(before),
        CrdResult::Unchanged | CrdResult::NothingToUpload | CrdResult::DryRun => 0,
    };
    UploadReport {
        records_sent,
        result: RunResult::from(pod.result),
        records_saved: pod.records_saved,
        records_rejected: pod.records_rejected,
        chunks: pod.chunks,
        attempts: pod.attempts,
        source_sha256: pod.source_sha256,
        message: pod.message,
        uploaded_at: pod.uploaded_at,
        reason: pod.reason.as_deref().map(known_reason),
        scenarios: pod.scenarios,
        source: pod.source,
    }
}

/// The pod's reason as one of ours (reasons are static strings in reports).
fn known_reason(r: &str) -> &'static str {
    reason::ALL
        .into_iter()
        .chain([
            reason::SOURCE_NOT_FOUND,
            reason::CREDENTIALS_NOT_FOUND,
            reason::INVALID_SPEC,
            reason::ENDPOINT_NOT_ALLOWED,
        ])
        .find(|k| *k == r)
        .unwrap_or(reason::UPLOAD_FAILED)
}

#[cfg(test)]
mod tests {
    use super::in_claim;

    #[test]
    fn the_chosen_file_is_named_relative_to_the_claim() {
        let pod = "/data/drops/terminations_2026-11-30.csv";
        assert_eq!(
            in_claim("drops/terminations_*.csv", pod),
            "drops/terminations_2026-11-30.csv"
        );
        assert_eq!(
            in_claim("./drops/terminations_*.csv", pod),
            "drops/terminations_2026-11-30.csv"
        );
        assert_eq!(
            in_claim("terminations_*.csv", "/data/terminations_2026-11-30.csv"),
            "terminations_2026-11-30.csv"
        );
    }
}
