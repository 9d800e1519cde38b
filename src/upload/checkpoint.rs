//! What has been acknowledged, so that an interrupted run resumes after its last acknowledged
//! chunk and unchanged content is not sent again.
//!
//! The checkpoint only moves forward on a 2xx answer: a transport error never advances it (the
//! sample script's does, and loses data).

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Progress of one job over one content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// The connector job the records were sent to.
    pub job_id: String,
    /// SHA-256 (hex) of the source bytes.
    pub source_sha256: String,
    /// Accepted records the service has acknowledged, counted from the start of the content.
    pub records_acknowledged: u64,
    /// Every accepted record of the content has been acknowledged.
    pub complete: bool,
}

/// Where checkpoints are kept: a file for the CLI, the resource's status for the operator.
pub trait CheckpointStore: Send + Sync {
    fn load(&self) -> impl Future<Output = Result<Option<Checkpoint>, String>> + Send;
    fn save(&self, checkpoint: &Checkpoint) -> impl Future<Output = Result<(), String>> + Send;
}

/// No checkpoint at all: every run sends everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCheckpoint;

impl CheckpointStore for NoCheckpoint {
    async fn load(&self) -> Result<Option<Checkpoint>, String> {
        Ok(None)
    }
    async fn save(&self, _: &Checkpoint) -> Result<(), String> {
        Ok(())
    }
}

/// A JSON file, replaced atomically (write to a temporary file beside it, fsync, rename), so a
/// crash leaves either the old or the new checkpoint, never half of one.
#[derive(Debug, Clone)]
pub struct FileCheckpointStore {
    pub path: PathBuf,
}

impl CheckpointStore for FileCheckpointStore {
    async fn load(&self) -> Result<Option<Checkpoint>, String> {
        let path = self.path.clone();
        match tokio::fs::read(&path).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                format!(
                    "{} is not a checkpoint file ({e}); delete it or pass --force",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    async fn save(&self, checkpoint: &Checkpoint) -> Result<(), String> {
        let path = self.path.clone();
        let json = serde_json::to_vec_pretty(checkpoint).map_err(|e| e.to_string())?;
        tokio::task::spawn_blocking(move || write_atomically(&path, &json))
            .await
            .map_err(|e| e.to_string())?
    }
}

fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}
