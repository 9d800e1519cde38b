//! Per-job backoff for failures around a run (claiming it in status, writing its outcome), so
//! that an API server that refuses a write (RBAC drift, an admission webhook) is asked again
//! after growing pauses instead of as fast as it answers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::upload::RetryPolicy;

/// Failures in a row and when the job may be tried again, by job UID.
#[derive(Debug)]
pub struct JobBackoff {
    policy: RetryPolicy,
    entries: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Default for JobBackoff {
    /// 1 s after the first failure, doubling up to 5 minutes, with jitter.
    fn default() -> Self {
        JobBackoff::new(RetryPolicy {
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            ..RetryPolicy::default()
        })
    }
}

impl JobBackoff {
    pub fn new(policy: RetryPolicy) -> Self {
        JobBackoff {
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failure of `key`; returns how long to wait before trying again.
    pub fn failed(&self, key: &str) -> Duration {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let failures = entries.get(key).map_or(0, |(n, _)| *n) + 1;
        let wait = self.policy.delay(failures, None);
        entries.insert(key.to_string(), (failures, Instant::now() + wait));
        wait
    }

    /// How long `key` must still wait; `None` when it may go ahead.
    pub fn remaining(&self, key: &str) -> Option<Duration> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (_, until) = entries.get(key)?;
        let left = until.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    /// A success (or a deleted job): the next failure starts from the base delay again.
    pub fn reset(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_per_job_and_reset() {
        let b = JobBackoff::default();
        assert_eq!(b.remaining("a"), None);
        let first = b.failed("a");
        let second = b.failed("a");
        assert!(first <= Duration::from_secs(1) && first >= Duration::from_millis(500));
        assert!(second >= Duration::from_secs(1) && second <= Duration::from_secs(2));
        assert!(b.remaining("a").is_some());
        assert_eq!(b.remaining("b"), None, "per job");
        b.reset("a");
        assert_eq!(b.remaining("a"), None);
        assert!(b.is_empty());
    }
}
