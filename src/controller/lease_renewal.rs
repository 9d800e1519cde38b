//! The leader's own check that its Lease renewals land: a renew deadline.
//!
//! kube-lease-manager reports leadership lost only when it *sees* another holder. A leader cut
//! off from the API server (or whose renewals are refused) keeps believing it leads while a
//! standby takes the Lease once it expires. So the leader reads the Lease itself, once just after
//! each renewal is due, and stops work when no renewal of its own has landed by the deadline
//! `renewTime + duration - grace / 2`: after kube-lease-manager's renewal point
//! (`renewTime + duration - grace`), and before a standby may take over (`renewTime + duration`,
//! on a clock up to `grace / 2` ahead of ours).
//!
//! `renewTime` is written by this process from its own clock, so comparing it with
//! `SystemTime::now()` needs no clock agreement with the API server or another node.

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use std::time::{Duration, SystemTime};
use tracing::debug;

/// Why work must stop although the lease manager still says we lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lapse {
    /// No renewal of ours was seen by the deadline (API unreachable, or renewals refused).
    NotRenewed {
        /// How long after the last renewal seen the deadline passed.
        after: Duration,
    },
    /// The Lease names another holder (or none): someone moved on without us.
    Held { by: Option<String> },
}

impl std::fmt::Display for Lapse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotRenewed { after } => write!(
                f,
                "no renewal of the lease was seen {:.1} s after the last one (the API server is unreachable or refuses the renewal)",
                after.as_secs_f64()
            ),
            Self::Held { by: Some(holder) } => write!(f, "the lease is held by {holder}"),
            Self::Held { by: None } => write!(f, "the lease has no holder"),
        }
    }
}

/// Reads one Lease and judges whether this identity's renewals keep landing.
pub struct RenewalCheck {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
    grace: Duration,
}

/// What one read of the Lease showed.
enum Seen {
    /// Held by us, last renewed at this time (our clock).
    Ours(SystemTime),
    Other(Option<String>),
    /// The read failed: nothing learnt.
    Unknown,
}

impl RenewalCheck {
    pub fn new(
        api: Api<Lease>,
        name: &str,
        identity: &str,
        duration: Duration,
        grace: Duration,
    ) -> Self {
        Self {
            api,
            name: name.to_owned(),
            identity: identity.to_owned(),
            duration,
            grace,
        }
    }

    /// The time past which work must stop unless a later renewal than `renewed` is seen.
    fn deadline(&self, renewed: SystemTime) -> SystemTime {
        renewed + self.duration - self.grace / 2
    }

    /// How often to read again while a due renewal has not shown up yet.
    fn step(&self) -> Duration {
        (self.grace / 4).max(Duration::from_millis(100))
    }

    async fn read(&self) -> Seen {
        match self.api.get(&self.name).await {
            Ok(lease) => {
                let spec = lease.spec.unwrap_or_default();
                let renewed = spec.renew_time.map(|t| SystemTime::from(t.0));
                match (spec.holder_identity, renewed) {
                    (Some(holder), Some(renewed)) if holder == self.identity => Seen::Ours(renewed),
                    (Some(holder), _) if holder != self.identity => Seen::Other(Some(holder)),
                    _ => Seen::Other(None),
                }
            }
            Err(e) => {
                debug!(lease = %self.name, error = %e, "could not read the lease to confirm its renewal");
                Seen::Unknown
            }
        }
    }

    /// Returns once work must stop: no renewal of ours seen by the deadline, or another holder.
    /// `since` is when the term began (the lease was acquired just before).
    pub async fn lapsed(&self, since: SystemTime) -> Lapse {
        let mut renewed = match self.read().await {
            Seen::Ours(at) => at,
            Seen::Other(by) => return Lapse::Held { by },
            // Acquired just now, so its renewTime is no later than this.
            Seen::Unknown => since,
        };
        loop {
            let deadline = self.deadline(renewed);
            let due = renewed + self.duration - self.grace + self.step();
            let now = SystemTime::now();
            if now >= deadline {
                return Lapse::NotRenewed {
                    after: now.duration_since(renewed).unwrap_or_default(),
                };
            }
            let wake = if now < due { due } else { now + self.step() };
            sleep_until(wake.min(deadline)).await;
            match self.read().await {
                Seen::Ours(at) if at > renewed => renewed = at,
                Seen::Ours(_) | Seen::Unknown => {}
                Seen::Other(by) => return Lapse::Held { by },
            }
        }
    }

    /// Returns once the Lease shows a renewal of ours whose deadline is still ahead: after a
    /// lapse, work starts again only on that evidence.
    pub async fn confirmed(&self) {
        loop {
            if let Seen::Ours(at) = self.read().await
                && SystemTime::now() < self.deadline(at)
            {
                return;
            }
            tokio::time::sleep(self.step()).await;
        }
    }
}

async fn sleep_until(at: SystemTime) {
    let wait = at
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    tokio::time::sleep(wait).await;
}
