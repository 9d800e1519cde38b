//! Which jobs have a run in progress in this process: at most one per job, ever.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

/// The runs in progress, by job UID.
#[derive(Debug, Default)]
pub struct RunRegistry {
    runs: Mutex<HashMap<String, CancellationToken>>,
}

impl RunRegistry {
    /// Claims the job for a new run; `None` when a run is already in progress.
    pub fn try_start(&self, key: &str, parent: &CancellationToken) -> Option<CancellationToken> {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        if runs.contains_key(key) {
            return None;
        }
        let token = parent.child_token();
        runs.insert(key.to_string(), token.clone());
        Some(token)
    }

    pub fn finish(&self, key: &str) {
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// Cancels the run of `key`, if there is one; it stops after its chunk in flight.
    pub fn cancel(&self, key: &str) -> bool {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.get(key).map(CancellationToken::cancel).is_some()
    }

    /// The keys of the runs in progress.
    pub fn keys(&self) -> Vec<String> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.keys().cloned().collect()
    }

    pub fn is_running(&self, key: &str) -> bool {
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.runs.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
