//! Reading an upload Job back: still running, or finished with the report its pod left in the
//! termination message.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobCondition};
use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod};
use serde::{Deserialize, Serialize};

use super::build::CONTAINER_NAME;
use crate::crd::{Checkpoint, RunResult};

/// The JSON report of `hrconnector upload --output json`, as read back from a pod. A mirror of
/// [`crate::upload::UploadReport`] that owns its strings (the library's `reason` is `&'static`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodReport {
    pub result: RunResult,
    #[serde(default)]
    pub records_saved: u64,
    #[serde(default)]
    pub records_rejected: u64,
    #[serde(default)]
    pub chunks: u64,
    #[serde(default)]
    pub attempts: u64,
    #[serde(default)]
    pub source_sha256: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded_at: Option<jiff::Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scenarios: BTreeMap<String, u64>,
    /// The file a path pattern chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl PodReport {
    /// The status checkpoint this run leaves: the records acknowledged of the content it read.
    /// `None` when the run says nothing about progress (dry run, or it failed before sending
    /// anything), so the previous checkpoint is kept.
    pub fn checkpoint(&self, job_id: &str) -> Option<Checkpoint> {
        let progressed = match self.result {
            RunResult::Succeeded | RunResult::Unchanged => true,
            RunResult::Failed => self.records_saved > 0,
            RunResult::DryRun | RunResult::NothingToUpload => false,
        };
        (progressed && !self.source_sha256.is_empty()).then(|| Checkpoint {
            source_sha256: self.source_sha256.clone(),
            records_acknowledged: self.records_saved,
            complete: matches!(self.result, RunResult::Succeeded | RunResult::Unchanged),
            job_id: Some(job_id.to_string()),
            completed_time: self
                .uploaded_at
                .map(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time),
        })
    }
}

/// Parses a `--result-file` / termination message; `None` when it is not a report (e.g. the log
/// tail that `FallbackToLogsOnError` put there).
pub fn parse_report(text: &str) -> Option<PodReport> {
    serde_json::from_str(text.trim()).ok()
}

/// Where an upload Job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PvcJobState {
    /// Not finished (pending, running, or a pod being retried).
    Running,
    /// The Job completed and its pod reported Succeeded, Unchanged or DryRun.
    Succeeded(PodReport),
    /// The Job failed, or completed without a readable report. `report` is the pod's report when
    /// there is one: a failed run may still have advanced the checkpoint.
    Failed {
        message: String,
        report: Option<PodReport>,
    },
}

/// True when Kubernetes stopped the upload Job at its `activeDeadlineSeconds` (spec.runTimeout).
pub fn deadline_exceeded(upload_job: &Job) -> bool {
    true_condition(upload_job, "Failed")
        .is_some_and(|c| c.reason.as_deref() == Some("DeadlineExceeded"))
}

/// The Job's condition of `type_` when its status is `True`.
fn true_condition<'a>(upload_job: &'a Job, type_: &str) -> Option<&'a JobCondition> {
    upload_job
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|c| c.type_ == type_ && c.status == "True")
}

/// Longest piece of a non-JSON termination message (a log tail) copied into `message`.
const MAX_RAW_MESSAGE: usize = 1024;

/// Decides the state from the Job's `Complete`/`Failed` conditions and the `upload` container's
/// termination message of its newest finished pod. `pods` may be any pods in the namespace: only
/// those of this Job are read.
pub fn pvc_job_state(upload_job: &Job, pods: &[Pod]) -> PvcJobState {
    let condition = |type_: &str| true_condition(upload_job, type_);
    let terminated = newest_terminated(upload_job, pods);
    let report = terminated
        .and_then(|t| t.message.as_deref())
        .and_then(parse_report);

    if condition("Complete").is_some() {
        return match report {
            Some(r) if r.result != RunResult::Failed => PvcJobState::Succeeded(r),
            Some(r) => PvcJobState::Failed {
                message: report_message(&r),
                report: Some(r),
            },
            // Without the report the status cannot claim what was saved; the next run resumes
            // from the previous checkpoint (at least once, never lost).
            None => PvcJobState::Failed {
                message: "the upload Job completed, but its pod's report is gone (pod deleted?); \
                          the outcome is unknown"
                    .into(),
                report: None,
            },
        };
    }
    if let Some(failed) = condition("Failed") {
        let job_reason = || {
            let reason = failed.reason.as_deref().unwrap_or("Failed");
            match failed.message.as_deref() {
                Some(m) if !m.is_empty() => format!("upload Job failed ({reason}): {m}"),
                _ => format!("upload Job failed ({reason})"),
            }
        };
        let message = match (&report, terminated.and_then(|t| t.message.as_deref())) {
            (Some(r), _) => report_message(r),
            (None, Some(raw)) if !raw.trim().is_empty() => {
                format!("{}: {}", job_reason(), tail(raw.trim(), MAX_RAW_MESSAGE))
            }
            _ => job_reason(),
        };
        return PvcJobState::Failed { message, report };
    }
    PvcJobState::Running
}

fn report_message(r: &PodReport) -> String {
    match &r.reason {
        Some(reason) => format!("{reason}: {}", r.message),
        None => r.message.clone(),
    }
}

/// The last `max` bytes of `s`, on a character boundary.
fn tail(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// The `upload` container's terminated state in this Job's most recently finished pod.
fn newest_terminated<'a>(
    upload_job: &Job,
    pods: &'a [Pod],
) -> Option<&'a ContainerStateTerminated> {
    pods.iter()
        .filter(|p| belongs_to(upload_job, p))
        .filter_map(|p| {
            p.status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .iter()
                .find(|c| c.name == CONTAINER_NAME)?
                .state
                .as_ref()?
                .terminated
                .as_ref()
        })
        .max_by_key(|t| t.finished_at.as_ref().map(|f| f.0))
}

/// Owned by the Job (by UID), or, for pods without owner references, labelled with its name.
fn belongs_to(upload_job: &Job, pod: &Pod) -> bool {
    let owners = pod.metadata.owner_references.as_deref().unwrap_or_default();
    if let Some(uid) = upload_job.metadata.uid.as_deref()
        && !owners.is_empty()
    {
        return owners.iter().any(|o| o.uid == uid);
    }
    let Some(name) = upload_job.metadata.name.as_deref() else {
        return true;
    };
    let labels = pod.metadata.labels.as_ref();
    ["batch.kubernetes.io/job-name", "job-name"]
        .iter()
        .any(|k| labels.and_then(|l| l.get(*k)).map(String::as_str) == Some(name))
}
