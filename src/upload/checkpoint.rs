//! What has been acknowledged, so that an interrupted run resumes after its last acknowledged
//! chunk and unchanged content is not sent again.
//!
//! The checkpoint only moves forward on a 2xx answer: a transport error never advances it (the
//! sample script's does, and loses data).

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

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
    /// When the last chunk of the content was acknowledged: the date an unchanged run reports,
    /// and what a resend (`--resend-unchanged-after`) is measured from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<jiff::Timestamp>,
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

/// A checkpoint held in memory, seeded from elsewhere: the resource's status checkpoint handed to
/// an upload Job on its command line, or a test. [`MemoryCheckpointStore::current`] reads back the
/// progress the run saved.
#[derive(Debug, Default)]
pub struct MemoryCheckpointStore {
    current: Mutex<Option<Checkpoint>>,
}

impl MemoryCheckpointStore {
    pub fn new(seed: Option<Checkpoint>) -> Self {
        MemoryCheckpointStore {
            current: Mutex::new(seed),
        }
    }

    /// The last checkpoint saved (or the seed when nothing was saved yet).
    pub fn current(&self) -> Option<Checkpoint> {
        // A poisoned lock only means a panicking writer; the value itself is still whole.
        match self.current.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl CheckpointStore for MemoryCheckpointStore {
    async fn load(&self) -> Result<Option<Checkpoint>, String> {
        Ok(self.current())
    }
    async fn save(&self, checkpoint: &Checkpoint) -> Result<(), String> {
        let mut guard = match self.current.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Some(checkpoint.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(n: u64) -> Checkpoint {
        Checkpoint {
            job_id: "j".into(),
            source_sha256: "ab".into(),
            records_acknowledged: n,
            complete: false,
            completed_at: None,
        }
    }

    #[tokio::test]
    async fn memory_store_returns_its_seed_then_the_last_save() {
        let store = MemoryCheckpointStore::new(Some(cp(3)));
        assert_eq!(store.load().await, Ok(Some(cp(3))));
        store.save(&cp(7)).await.unwrap();
        assert_eq!(store.current(), Some(cp(7)));
        assert_eq!(MemoryCheckpointStore::new(None).current(), None);
    }
}
