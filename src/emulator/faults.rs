//! Injected failures: each target (token, upload) has its own FIFO queue; a fault applies to the
//! next `count` requests of its target, then the next queued fault takes over.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which endpoint a fault applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultTarget {
    Token,
    Upload,
}

/// What happens to a faulted request.
///
/// JSON form (control surface): `{"status":{"status":503,"retry_after":5,"body":null}}`,
/// `{"delay":1500}` (milliseconds), `{"delay_answer":1500}`, `"reset_mid_body"`,
/// `"drop_response"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer with this status (and `Retry-After` seconds, and this body; default a JSON error).
    Status {
        status: u16,
        #[serde(default)]
        retry_after: Option<u64>,
        #[serde(default)]
        body: Option<String>,
    },
    /// Sleep, then handle the request normally. A client that times out first closes the
    /// connection, and the emulator drops the request unhandled: nothing is stored.
    Delay(#[serde(with = "millis")] Duration),
    /// Handle (and store) the request, then sleep before answering: a service that is slow to
    /// acknowledge. A client that times out meanwhile loses an acknowledgement of stored data.
    DelayAnswer(#[serde(with = "millis")] Duration),
    /// Read part of the request body, then reset the connection; nothing is stored.
    ResetMidBody,
    /// Handle (and store) the request, then reset the connection instead of answering.
    DropResponse,
}

/// A failure to inject into the next `count` requests of `target`, after letting `after`
/// requests of that target pass untouched (e.g. "refuse chunk 3": after 2, count 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub target: FaultTarget,
    #[serde(default = "one")]
    pub count: u32,
    pub action: FaultAction,
    #[serde(default)]
    pub after: u32,
}

impl Fault {
    /// A fault for the next `count` requests of `target`.
    pub fn new(target: FaultTarget, count: u32, action: FaultAction) -> Self {
        Fault {
            target,
            count,
            action,
            after: 0,
        }
    }

    /// Lets `n` requests of the target pass untouched before the fault applies.
    pub fn after(mut self, n: u32) -> Self {
        self.after = n;
        self
    }
}

fn one() -> u32 {
    1
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[derive(Default, Debug)]
pub(crate) struct FaultQueues {
    token: Mutex<VecDeque<Fault>>,
    upload: Mutex<VecDeque<Fault>>,
}

impl FaultQueues {
    fn queue(&self, target: FaultTarget) -> &Mutex<VecDeque<Fault>> {
        match target {
            FaultTarget::Token => &self.token,
            FaultTarget::Upload => &self.upload,
        }
    }

    pub fn push(&self, fault: Fault) {
        if fault.count == 0 {
            return;
        }
        lock(self.queue(fault.target)).push_back(fault);
    }

    /// The action for the request that just arrived, consuming one use of the head fault.
    pub fn take(&self, target: FaultTarget) -> Option<FaultAction> {
        let mut q = lock(self.queue(target));
        let head = q.front_mut()?;
        if head.after > 0 {
            head.after -= 1;
            return None;
        }
        let action = head.action.clone();
        head.count -= 1;
        if head.count == 0 {
            q.pop_front();
        }
        Some(action)
    }
}

/// Locks a mutex, ignoring poisoning: a panicking handler must not take the emulator down.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_per_target_with_counts() {
        let q = FaultQueues::default();
        q.push(Fault {
            target: FaultTarget::Upload,
            count: 2,
            action: FaultAction::ResetMidBody,
            after: 0,
        });
        q.push(Fault {
            target: FaultTarget::Upload,
            count: 1,
            action: FaultAction::DropResponse,
            after: 0,
        });
        assert_eq!(q.take(FaultTarget::Token), None);
        assert_eq!(q.take(FaultTarget::Upload), Some(FaultAction::ResetMidBody));
        assert_eq!(q.take(FaultTarget::Upload), Some(FaultAction::ResetMidBody));
        assert_eq!(q.take(FaultTarget::Upload), Some(FaultAction::DropResponse));
        assert_eq!(q.take(FaultTarget::Upload), None);
    }

    #[test]
    fn json_shape() {
        let f: Fault = serde_json::from_str(
            r#"{"target":"upload","action":{"status":{"status":503,"retry_after":7}}}"#,
        )
        .unwrap();
        assert_eq!(f.count, 1);
        assert_eq!(
            f.action,
            FaultAction::Status {
                status: 503,
                retry_after: Some(7),
                body: None
            }
        );
        let d: FaultAction = serde_json::from_str(r#"{"delay":1500}"#).unwrap();
        assert_eq!(d, FaultAction::Delay(Duration::from_millis(1500)));
        let a: FaultAction = serde_json::from_str(r#"{"delay_answer":250}"#).unwrap();
        assert_eq!(a, FaultAction::DelayAnswer(Duration::from_millis(250)));
        let r: FaultAction = serde_json::from_str(r#""reset_mid_body""#).unwrap();
        assert_eq!(r, FaultAction::ResetMidBody);
    }
}
