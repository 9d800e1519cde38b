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
    /// When the last run (scheduled or run-now) started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_time: Option<Time>,
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
    /// The most recent runs, newest first, at most 10.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<RunRecord>,
    /// The value of the hrconnector.io/run-now annotation the controller last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_now: Option<String>,
    /// The object (azureBlob or s3 source) as the last pre-flight check saw it.
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
    #[serde(default)]
    pub records_rejected: u64,
    /// Upload requests (chunks) acknowledged.
    #[serde(default)]
    pub chunks: u64,
    /// SHA-256 (hex) of the source CSV this run read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sha256: Option<String>,
    /// Human-readable summary or error (at most 1024 bytes); never contains secrets or HR values.
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
    /// until it is older than resendUnchangedAfter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

impl RunRecord {
    /// The record as a history entry: everything but the message, which the run keeps once.
    pub fn without_message(mut self) -> Self {
        self.message = None;
        self
    }
}

/// Adds `run` as the newest history entry and drops the oldest beyond [`HISTORY_LIMIT`].
pub fn push_history(history: &mut Vec<RunRecord>, run: RunRecord) {
    history.insert(0, run);
    history.truncate(HISTORY_LIMIT);
}
