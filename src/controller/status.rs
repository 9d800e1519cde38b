//! Writing `HrConnectorJob` status: JSON merge patches on the status subresource, retried on
//! conflicts and transient API errors so that a checkpoint is never lost to a busy API server.

use std::time::Duration;

use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use crate::crd::{Checkpoint as StatusCheckpoint, HrConnectorJob};
use crate::upload::{Checkpoint, CheckpointStore};

const ATTEMPTS: u32 = 5;

/// Merge-patches `status` with `patch` (the value of `.status`), retrying 409, 429 and 5xx.
pub async fn patch_status(
    api: &Api<HrConnectorJob>,
    name: &str,
    patch: Value,
) -> Result<HrConnectorJob, kube::Error> {
    let body = json!({ "status": patch });
    let mut attempt = 0;
    loop {
        attempt += 1;
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&body))
            .await
        {
            Ok(obj) => return Ok(obj),
            Err(kube::Error::Api(e))
                if attempt < ATTEMPTS && matches!(e.code, 409 | 429 | 500 | 502 | 503 | 504) =>
            {
                tracing::debug!(name, attempt, code = e.code, "status patch retried");
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The upload checkpoint kept in `status.checkpoint`, so that any replica resumes a run.
pub struct StatusCheckpointStore {
    pub api: Api<HrConnectorJob>,
    pub name: String,
}

impl CheckpointStore for StatusCheckpointStore {
    async fn load(&self) -> Result<Option<Checkpoint>, String> {
        let job = self
            .api
            .get_status(&self.name)
            .await
            .map_err(|e| format!("cannot read the checkpoint from status: {e}"))?;
        let job_id = job.spec.job_id.clone();
        Ok(job.status.and_then(|s| s.checkpoint).map(|cp| Checkpoint {
            // A checkpoint written before jobId was recorded belongs to the current job.
            job_id: cp.job_id.unwrap_or(job_id),
            source_sha256: cp.source_sha256,
            records_acknowledged: cp.records_acknowledged,
            complete: cp.complete,
        }))
    }

    async fn save(&self, checkpoint: &Checkpoint) -> Result<(), String> {
        let cp = StatusCheckpoint {
            source_sha256: checkpoint.source_sha256.clone(),
            records_acknowledged: checkpoint.records_acknowledged,
            complete: checkpoint.complete,
            job_id: Some(checkpoint.job_id.clone()),
        };
        patch_status(&self.api, &self.name, json!({ "checkpoint": cp }))
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot write the checkpoint to status: {e}"))
    }
}
