//! Writing `HrConnectorJob` status: JSON merge patches on the status subresource, each with the
//! `metadata.resourceVersion` of the object it was computed from, so that a write based on a
//! stale copy answers 409 instead of overwriting newer status.
//!
//! A run writes through a [`RunStatus`]: on a 409 it re-reads the object and goes on only while
//! the object is still the one it claimed (same UID, `currentRun` still its claim). A deleted or
//! re-created job, or a run taken over by another operator (a new leader), fences it off.

use std::sync::Mutex;
use std::time::Duration;

use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use crate::crd::{Checkpoint as StatusCheckpoint, HrConnectorJob};
use crate::upload::{Checkpoint, CheckpointStore};

/// The field manager of every write the operator makes (`managedFields` names it).
pub const FIELD_MANAGER: &str = "hrconnector";

/// Attempts of one patch on 429 and 5xx (a busy API server), about 1.5 s in all.
const ATTEMPTS: u32 = 5;

/// Merge-patches `status` with `patch` (the value of `.status`) at `resource_version` (`None`:
/// unconditionally). Retries 429 and 5xx; a 409 is returned to the caller, who must re-read:
/// sending the same body again cannot succeed.
pub async fn patch_status(
    api: &Api<HrConnectorJob>,
    name: &str,
    resource_version: Option<&str>,
    patch: Value,
) -> Result<HrConnectorJob, kube::Error> {
    let mut body = json!({ "status": patch });
    if let Some(rv) = resource_version {
        body["metadata"] = json!({ "resourceVersion": rv });
    }
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        match api.patch_status(name, &params, &Patch::Merge(&body)).await {
            Ok(obj) => return Ok(obj),
            Err(kube::Error::Api(e))
                if attempt < ATTEMPTS && matches!(e.code, 429 | 500 | 502 | 503 | 504) =>
            {
                tracing::debug!(name, attempt, code = e.code, "status patch retried");
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A merge-patch value that replaces `old` with `new` as a whole: a JSON merge patch only adds
/// and overwrites keys, so every key of `old` (at any depth) that `new` lacks is sent as null.
/// Without it a field one record leaves out (a success has no `reason`) keeps the value of the
/// record before.
pub fn replacing(old: Option<&Value>, new: Value) -> Value {
    match (old, new) {
        (Some(Value::Object(old)), Value::Object(mut new)) => {
            for (key, old_value) in old {
                match new.remove(key) {
                    Some(value) => {
                        new.insert(key.clone(), replacing(Some(old_value), value));
                    }
                    None => {
                        new.insert(key.clone(), Value::Null);
                    }
                }
            }
            Value::Object(new)
        }
        (_, new) => new,
    }
}

/// True for the API's 409 Conflict (the object changed since it was read).
pub fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// Why a run's status write did not land.
#[derive(Debug, thiserror::Error)]
pub enum RunStatusError {
    /// The job is no longer this run's: deleted, re-created, or claimed by another operator.
    #[error("the run no longer owns the job: {0}")]
    Fenced(String),
    #[error(transparent)]
    Api(#[from] kube::Error),
}

/// The status of a job a run has claimed, written only while the claim holds.
pub struct RunStatus {
    api: Api<HrConnectorJob>,
    name: String,
    uid: String,
    claim: String,
    resource_version: Mutex<String>,
}

impl RunStatus {
    /// `claimed` is the object as the claiming patch returned it.
    pub fn new(api: Api<HrConnectorJob>, claimed: &HrConnectorJob, claim: String) -> Self {
        RunStatus {
            api,
            name: claimed.name_any(),
            uid: claimed.uid().unwrap_or_default(),
            claim,
            resource_version: Mutex::new(claimed.resource_version().unwrap_or_default()),
        }
    }

    fn current_version(&self) -> String {
        self.resource_version
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn remember(&self, obj: &HrConnectorJob) {
        if let Some(rv) = obj.resource_version() {
            *self
                .resource_version
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = rv;
        }
    }

    /// Patches status at the last version this run saw. On a conflict it re-reads the job and
    /// tries again while the job is still its own (a spec or annotation change in between).
    pub async fn patch(&self, patch: Value) -> Result<HrConnectorJob, RunStatusError> {
        for _ in 0..ATTEMPTS {
            let rv = self.current_version();
            match patch_status(&self.api, &self.name, Some(&rv), patch.clone()).await {
                Ok(obj) => {
                    self.remember(&obj);
                    return Ok(obj);
                }
                Err(e) if is_conflict(&e) => {
                    let fresh = self.reread().await?;
                    self.remember(&fresh);
                }
                Err(kube::Error::Api(e)) if e.code == 404 => {
                    return Err(RunStatusError::Fenced("the job was deleted".into()));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(RunStatusError::Fenced(
            "the job kept changing under the run".into(),
        ))
    }

    /// The job as it is now, if it is still this run's.
    pub async fn reread(&self) -> Result<HrConnectorJob, RunStatusError> {
        let fresh = match self.api.get_status(&self.name).await {
            Ok(j) => j,
            Err(kube::Error::Api(e)) if e.code == 404 => {
                return Err(RunStatusError::Fenced("the job was deleted".into()));
            }
            Err(e) => return Err(e.into()),
        };
        if fresh.uid().as_deref() != Some(self.uid.as_str()) {
            return Err(RunStatusError::Fenced(
                "the job was deleted and created again".into(),
            ));
        }
        let holder = fresh
            .status
            .as_ref()
            .and_then(|s| s.current_run.as_ref())
            .and_then(|r| r.claimed_by.clone());
        if holder.as_deref() != Some(self.claim.as_str()) {
            return Err(RunStatusError::Fenced(format!(
                "the run was taken over ({})",
                holder.as_deref().unwrap_or("no run in progress")
            )));
        }
        Ok(fresh)
    }
}

/// The upload checkpoint kept in `status.checkpoint`, so that any replica resumes a run. Writes
/// are fenced ([`RunStatus`]): a deposed leader's older checkpoint never replaces a newer one.
pub struct StatusCheckpointStore<'a> {
    pub status: &'a RunStatus,
}

impl CheckpointStore for StatusCheckpointStore<'_> {
    async fn load(&self) -> Result<Option<Checkpoint>, String> {
        let job = self
            .status
            .reread()
            .await
            .map_err(|e| format!("cannot read the checkpoint from status: {e}"))?;
        let job_id = job.spec.job_id.clone();
        Ok(job.status.and_then(|s| s.checkpoint).map(|cp| Checkpoint {
            // A checkpoint written before jobId was recorded belongs to the current job.
            job_id: cp.job_id.unwrap_or(job_id),
            source_sha256: cp.source_sha256,
            records_acknowledged: cp.records_acknowledged,
            complete: cp.complete,
            completed_at: cp.completed_time.map(|t| t.0),
        }))
    }

    async fn save(&self, checkpoint: &Checkpoint) -> Result<(), String> {
        let cp = StatusCheckpoint {
            source_sha256: checkpoint.source_sha256.clone(),
            records_acknowledged: checkpoint.records_acknowledged,
            complete: checkpoint.complete,
            job_id: Some(checkpoint.job_id.clone()),
            completed_time: checkpoint
                .completed_at
                .map(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time),
        };
        self.status
            .patch(json!({ "checkpoint": cp }))
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot write the checkpoint to status: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_nulls_what_the_new_value_leaves_out() {
        let old =
            json!({"reason": "AuthenticationFailed", "chunks": 3, "scenarios": {"Resignation": 2}});
        let new = json!({"chunks": 1, "scenarios": {"EmployeeProfile": 4}});
        assert_eq!(
            replacing(Some(&old), new),
            json!({"reason": null, "chunks": 1, "scenarios": {"Resignation": null, "EmployeeProfile": 4}})
        );
        assert_eq!(replacing(None, json!({"a": 1})), json!({"a": 1}));
    }
}
