//! The observed state of an `HrConnectorJob`, written only by the controller.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// metav1.Condition's schema, as a list keyed by `type` (so server-side apply merges by type)
/// with our bound on `message`.
fn conditions_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut schema = <Vec<Condition>>::json_schema(generator);
    schema.insert("x-kubernetes-list-type".into(), "map".into());
    schema.insert(
        "x-kubernetes-list-map-keys".into(),
        serde_json::json!(["type"]),
    );
    if let Some(message) = schema.pointer_mut("/items/properties/message") {
        message["maxLength"] = serde_json::json!(super::message::MAX_MESSAGE_BYTES);
    }
    schema
}

/// How many past runs `status.history` keeps; bounded so the object stays small.
pub const HISTORY_LIMIT: usize = 10;

/// What the controller last observed and did.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HrConnectorJobStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling and Stalled conditions (kstatus-compatible), one per type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// Data rows the service acknowledged in the last run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_saved: Option<u64>,
    /// Data rows rejected as invalid in the last run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_rejected: Option<u64>,
    /// The scheduled time of the last run started by the schedule (not by run-now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    /// When the last successful run (Succeeded or Unchanged) finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_time: Option<Time>,
    /// When records last reached the service: the end of the last run that sent its file in
    /// full. Unchanged and empty runs do not move it; the no-recent-upload alerts read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_upload_time: Option<Time>,
    /// The next time the schedule fires (unset while suspended or when it never fires again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<Time>,
    /// Details of the last run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunRecord>,
    /// Progress through the current source file, updated after every acknowledged chunk so an
    /// interrupted upload resumes instead of re-sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
    /// The most recent runs, newest first, at most 10, one line each: start time, result,
    /// reason of a failure, records saved and rejected, duration. The newest run's message is
    /// in lastRun; a line never repeats it.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "history_lines"
    )]
    #[schemars(length(max = 10), inner(length(max = 256)))]
    pub history: Vec<String>,
    /// The value of the hrconnector.io/run-now annotation the controller last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_now: Option<String>,
    /// What the last check on apply converted (spec.input, a workbook, a UTF-16 file): the
    /// input read and, per date-time column, the values converted and the format used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The object (azureBlob or s3 source) or the report (https source) as the last pre-flight
    /// check saw it; for a persistentVolumeClaim path pattern, the file the last run chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ObjectSourceStatus>,
    /// Things about the spec that do not stop the job but likely need a person, e.g. an
    /// EmployeeProfile job scheduled less often than every 15 days.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The run in progress, if any. A controller that finds this set without a run of its own
    /// (after a crash or a fail-over) resumes it from `checkpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_run: Option<ActiveRun>,
}

/// One version of an object source, from a HEAD request (no download).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectSourceStatus {
    /// The object or file the source's pattern chose (the newest match; for a
    /// persistentVolumeClaim, its path relative to the claim's root, as `spec` names it); absent
    /// when the source names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
    /// SHA-256 (hex) of what the last validation of this version read: the object's bytes, or
    /// the converted file when `spec.input` converts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The object's ETag; a new one means new content, validated again before the next run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// When the object was last written (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The object's size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// A run that has started and not yet finished.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveRun {
    /// Identifies the run (and names its batch Job for PVC sources).
    pub id: String,
    /// When the run started.
    pub start_time: Time,
    /// What started it: `Schedule`, `RunNow` or `Resume`.
    pub trigger: String,
    /// The operator instance (pod name and term) that runs it now; a resuming operator claims
    /// it anew, which fences off the status writes of the one before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
}

/// One upload run.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// When the run started.
    pub start_time: Time,
    /// When the run finished; unset while it is running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Outcome: Succeeded, Unchanged (same file as already uploaded), NothingToUpload (a file
    /// without records), DryRun or Failed.
    // Plain enum schema: an Option<enum> would put `null` into the enum list, which is never
    // sent anyway because None is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "RunResult")]
    pub result: Option<RunResult>,
    /// Data rows the service acknowledged.
    #[serde(default)]
    pub records_saved: u64,
    /// Data rows rejected as invalid.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub records_rejected: u64,
    /// Upload requests (chunks) acknowledged in this run.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub chunks: u64,
    /// SHA-256 (hex) of the source CSV this run read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sha256: Option<String>,
    /// Unused since the run's message moved to the Ready condition alone (read from older
    /// status only). At most 1024 bytes; never contains secrets or HR values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub message: Option<String>,
    /// One-word CamelCase reason of a failed run (`AuthenticationFailed`, `InvalidCsv`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The file's accepted records per scenario (Resignation, JobLevelChange, PerformanceReview,
    /// PerformanceImprovementPlan, EmployeeProfile), once it was validated.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scenarios: BTreeMap<String, u64>,
}

/// Outcome of a run: Succeeded, Unchanged, NothingToUpload, DryRun or Failed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
pub enum RunResult {
    Succeeded,
    Unchanged,
    NothingToUpload,
    DryRun,
    Failed,
}

/// How far the upload of one source file got.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// SHA-256 (hex) of the source CSV being uploaded.
    pub source_sha256: String,
    /// Data rows of that file the service has acknowledged so far.
    pub records_acknowledged: u64,
    /// Every record of that file has been acknowledged: unchanged content is not sent again.
    #[serde(default)]
    pub complete: bool,
    /// The connector job ID the records went to; a new jobId starts over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// When the last record of the file was acknowledged: unchanged content counts as sent
    /// until it is older than resendUnchangedAfter. Written as null while the file is
    /// incomplete, so a merge patch never leaves an earlier file's time in place.
    #[serde(default)]
    pub completed_time: Option<Time>,
}

// The status enum mirrors the uploader's own; these are the only conversions between them.
impl From<crate::upload::RunResult> for RunResult {
    fn from(r: crate::upload::RunResult) -> Self {
        use crate::upload::RunResult as U;
        match r {
            U::Succeeded => RunResult::Succeeded,
            U::Unchanged => RunResult::Unchanged,
            U::NothingToUpload => RunResult::NothingToUpload,
            U::DryRun => RunResult::DryRun,
            U::Failed => RunResult::Failed,
        }
    }
}

impl From<RunResult> for crate::upload::RunResult {
    fn from(r: RunResult) -> Self {
        use crate::upload::RunResult as U;
        match r {
            RunResult::Succeeded => U::Succeeded,
            RunResult::Unchanged => U::Unchanged,
            RunResult::NothingToUpload => U::NothingToUpload,
            RunResult::DryRun => U::DryRun,
            RunResult::Failed => U::Failed,
        }
    }
}

/// History as lines, also from a status written before history was lines (one object per run):
/// such an entry becomes its line, so an upgraded operator reads every existing job.
fn history_lines<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let entries = Vec::<serde_json::Value>::deserialize(d)?;
    Ok(entries
        .into_iter()
        .filter_map(|entry| match entry {
            serde_json::Value::String(line) => Some(line),
            object => serde_json::from_value::<RunRecord>(object)
                .ok()
                .map(|run| run.summary()),
        })
        .collect())
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl RunRecord {
    /// The run as one history line: `2026-12-02T03:00:00Z Failed (AuthenticationFailed), 0
    /// saved, 0 rejected, 2s`. Never the message: the run keeps that once, in lastRun.
    pub fn summary(&self) -> String {
        let result = self
            .result
            .map_or("Unknown", |r| crate::upload::RunResult::from(r).as_str());
        let reason = self
            .reason
            .as_deref()
            .map_or(String::new(), |r| format!(" ({r})"));
        let took = self
            .completion_time
            .as_ref()
            .map(|end| end.0.duration_since(self.start_time.0).as_secs().max(0))
            .map_or(String::new(), |secs| format!(", {secs}s"));
        format!(
            "{} {result}{reason}, {} saved, {} rejected{took}",
            self.start_time.0.strftime("%Y-%m-%dT%H:%M:%SZ"),
            self.records_saved,
            self.records_rejected
        )
    }
}

/// Adds `run` as the newest history line and drops the oldest beyond [`HISTORY_LIMIT`].
pub fn push_history(history: &mut Vec<String>, run: &RunRecord) {
    history.insert(0, run.summary());
    history.truncate(HISTORY_LIMIT);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_written_as_objects_reads_as_lines() {
        let status: HrConnectorJobStatus = serde_json::from_value(serde_json::json!({
            "history": [
                "2026-12-02T03:00:00Z Succeeded, 5 saved, 0 rejected, 1s",
                {"startTime": "2026-12-01T03:00:00Z", "completionTime": "2026-12-01T03:00:02Z",
                 "result": "Failed", "reason": "AuthenticationFailed", "recordsSaved": 0,
                 "message": "authentication failed"}
            ]
        }))
        .unwrap();
        assert_eq!(
            status.history,
            [
                "2026-12-02T03:00:00Z Succeeded, 5 saved, 0 rejected, 1s",
                "2026-12-01T03:00:00Z Failed (AuthenticationFailed), 0 saved, 0 rejected, 2s"
            ]
        );
    }
}
