//! Each namespace's share of the in-process upload slots (`--max-concurrent-uploads-per-namespace`):
//! one team's many jobs cannot take every slot and hold the other teams' uploads back.
//!
//! A run takes its namespace's permit first and only then one of the global slots, so a job
//! waiting for its namespace's share holds no global slot: other namespaces go past it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The per-namespace semaphores, made on first use.
#[derive(Debug)]
pub struct NamespaceSlots {
    per_namespace: usize,
    namespaces: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl NamespaceSlots {
    pub fn new(per_namespace: usize) -> Self {
        NamespaceSlots {
            per_namespace: per_namespace.max(1),
            namespaces: Mutex::new(HashMap::new()),
        }
    }

    /// Slots one namespace may hold.
    pub fn share(&self) -> usize {
        self.per_namespace
    }

    /// Waits for one of `namespace`'s slots (fair: first come, first served).
    pub async fn acquire(&self, namespace: &str) -> Option<OwnedSemaphorePermit> {
        let semaphore = {
            let mut namespaces = self.namespaces.lock().unwrap_or_else(|e| e.into_inner());
            namespaces
                .entry(namespace.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_namespace)))
                .clone()
        };
        semaphore.acquire_owned().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_share_defaults_to_half_the_slots_and_at_least_one() {
        let config = |total, share| crate::controller::ControllerConfig {
            max_concurrent_uploads: total,
            max_concurrent_uploads_per_namespace: share,
            ..Default::default()
        };
        assert_eq!(config(4, None).uploads_per_namespace(), 2);
        assert_eq!(config(5, None).uploads_per_namespace(), 2);
        assert_eq!(config(1, None).uploads_per_namespace(), 1);
        assert_eq!(config(4, Some(3)).uploads_per_namespace(), 3);
        // A share above the total is the total.
        assert_eq!(config(2, Some(8)).uploads_per_namespace(), 2);
    }

    #[tokio::test]
    async fn a_full_namespace_waits_and_another_does_not() {
        let slots = NamespaceSlots::new(1);
        let a1 = slots.acquire("a").await.expect("a's first slot");
        let waiting = tokio::time::timeout(Duration::from_millis(50), slots.acquire("a")).await;
        assert!(waiting.is_err(), "a's second upload waits for a's share");
        let b1 = tokio::time::timeout(Duration::from_millis(50), slots.acquire("b")).await;
        assert!(b1.is_ok_and(|p| p.is_some()), "b is not held back by a");
        drop(a1);
        let a2 = tokio::time::timeout(Duration::from_millis(50), slots.acquire("a")).await;
        assert!(
            a2.is_ok_and(|p| p.is_some()),
            "a's next upload goes once a slot frees"
        );
    }
}
