//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several operator replicas only
//! one reconciles and uploads at a time while the others stand by.
//!
//! Built on `kube-lease-manager`'s `watch()` loop, which acquires the Lease (server-side apply),
//! renews it `renew_grace` before it expires and takes over a Lease whose holder stopped renewing.
//!
//! That loop reports leadership lost only once it *sees* another holder: a leader cut off from
//! the API server would keep believing it leads (its renewals fail silently) while a standby takes
//! over after `lease_duration`. So each term also runs a renew deadline
//! ([`super::lease_renewal`]): when no renewal of ours has landed by `renewTime + duration -
//! grace / 2`, work is cancelled, and it starts again only once the Lease shows a fresh renewal of
//! ours. What a deposed leader's chunk in flight may still write is fenced by the status
//! `resourceVersion` (see `controller::status`).
//!
//! Tests: `tests/ops_leader.rs` drives two contenders through the in-process `kube-fake-client`,
//! which needs a small shim for server-side-apply field ownership (see there); the e2e suite
//! against a real API server covers the rest.

use super::lease_renewal::RenewalCheck;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use std::future::Future;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Name of the Lease the operator replicas compete for.
pub const DEFAULT_LEASE_NAME: &str = "hrconnector-controller";
/// How long a Lease stays valid after its last renewal (client-go's default too).
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
/// How long before expiry the holder renews; also the clock skew between nodes we tolerate.
pub const DEFAULT_RENEW_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderConfig {
    pub lease_name: String,
    pub lease_namespace: String,
    /// Unique per process: see [`default_identity`].
    pub identity: String,
    /// Whole seconds, at least 2 (the Lease API counts in seconds).
    pub lease_duration: Duration,
    /// Whole seconds, at least 1 and less than `lease_duration`.
    pub renew_grace: Duration,
}

impl LeaderConfig {
    /// Defaults for the operator: [`DEFAULT_LEASE_NAME`], [`default_identity`], 15 s / 5 s.
    pub fn new(lease_namespace: impl Into<String>) -> Self {
        Self {
            lease_name: DEFAULT_LEASE_NAME.to_owned(),
            lease_namespace: lease_namespace.into(),
            identity: default_identity(),
            lease_duration: DEFAULT_LEASE_DURATION,
            renew_grace: DEFAULT_RENEW_GRACE,
        }
    }

    /// Checks the config and returns (duration, grace) in seconds. kube-lease-manager panics on
    /// some bad values, so we refuse them here with an error instead.
    pub fn lease_seconds(&self) -> Result<(u64, u64), LeaderError> {
        let invalid = |why: &str| Err(LeaderError::InvalidConfig(why.to_owned()));
        if self.lease_name.is_empty() || self.lease_namespace.is_empty() {
            return invalid("lease name and namespace must not be empty");
        }
        if self.identity.is_empty() {
            return invalid("identity must not be empty");
        }
        if self.lease_duration.subsec_nanos() != 0 || self.renew_grace.subsec_nanos() != 0 {
            return invalid("lease duration and renew grace must be whole seconds");
        }
        let (duration, grace) = (self.lease_duration.as_secs(), self.renew_grace.as_secs());
        if grace == 0 || grace >= duration {
            return invalid("renew grace must be at least 1 s and less than the lease duration");
        }
        if i32::try_from(duration).is_err() {
            return invalid("lease duration is too long");
        }
        Ok((duration, grace))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("invalid leader election config: {0}")]
    InvalidConfig(String),
    #[error("lease {namespace}/{name}: {source}")]
    Lease {
        namespace: String,
        name: String,
        // Boxed: kube errors are large and this enum travels through every `?`.
        #[source]
        source: Box<LeaseManagerError>,
    },
    #[error("the lease watcher task stopped unexpectedly")]
    WatcherStopped,
    #[error("the lease watcher task panicked or was cancelled: {0}")]
    WatcherTask(#[source] tokio::task::JoinError),
}

/// `POD_NAME` (set from the downward API) when present, else the host name plus a random suffix,
/// so two processes on one host (or a restarted process) never share an identity by accident.
pub fn default_identity() -> String {
    let pod_name = std::env::var("POD_NAME").ok();
    let hostname = std::env::var("HOSTNAME").ok().or_else(|| {
        std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|s| s.trim().to_owned())
    });
    identity_from(pod_name.as_deref(), hostname.as_deref())
}

fn identity_from(pod_name: Option<&str>, hostname: Option<&str>) -> String {
    if let Some(pod) = pod_name.map(str::trim).filter(|p| !p.is_empty()) {
        return pod.to_owned();
    }
    let host = hostname
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .unwrap_or("hrconnector");
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}", &suffix[..8])
}

/// Campaigns for the Lease and runs `work` while this process holds it.
///
/// `work` gets a token that is cancelled when leadership is lost or `shutdown` fires; it should
/// then wind down and return. After a loss (without shutdown) this campaigns again and calls
/// `work` anew once re-elected. It returns after `shutdown` (or after `work` returns on its own),
/// releasing the Lease so a standby takes it at its next check instead of first waiting for it to
/// expire. kube-lease-manager polls rather than watches: a standby checks when the lease it last
/// saw would expire, so a handover takes up to `lease_duration` even after a release.
///
/// Errors: an invalid config, the API server refusing the initial Lease get/create (RBAC, network),
/// or the background watcher dying.
pub async fn run_as_leader<F, Fut>(
    client: kube::Client,
    config: LeaderConfig,
    shutdown: CancellationToken,
    mut work: F,
) -> Result<(), LeaderError>
where
    F: FnMut(CancellationToken) -> Fut,
    Fut: Future<Output = ()>,
{
    let (duration, grace) = config.lease_seconds()?;
    let lease_error = |source| LeaderError::Lease {
        namespace: config.lease_namespace.clone(),
        name: config.lease_name.clone(),
        source: Box::new(source),
    };
    let renewals = RenewalCheck::new(
        Api::<Lease>::namespaced(client.clone(), &config.lease_namespace),
        &config.lease_name,
        &config.identity,
        config.lease_duration,
        config.renew_grace,
    );
    let manager = LeaseManagerBuilder::new(client, &config.lease_name)
        .with_namespace(&config.lease_namespace)
        .with_identity(&config.identity)
        .with_duration(duration)
        .with_grace(grace)
        .build()
        .await
        .map_err(lease_error)?;
    let (mut leading, watcher) = manager.watch().await;

    let outcome = campaign(&config, &renewals, &shutdown, &mut leading, &mut work).await;

    // Closing the channel makes the watcher release the Lease (if we hold it) and finish.
    drop(leading);
    let released = match watcher.await {
        Ok(Ok(_manager)) => Ok(()),
        Ok(Err(e)) => Err(lease_error(e)),
        Err(join) => Err(LeaderError::WatcherTask(join)),
    };
    match (outcome, released) {
        // The watcher's own error says more than "it stopped".
        (Err(LeaderError::WatcherStopped), Err(e)) => Err(e),
        (Err(e), _) => Err(e),
        (Ok(()), released) => {
            if released.is_ok() {
                info!(lease = %config.lease_name, identity = %config.identity, "left the election; lease released");
            }
            released
        }
    }
}

async fn campaign<F, Fut>(
    config: &LeaderConfig,
    renewals: &RenewalCheck,
    shutdown: &CancellationToken,
    leading: &mut watch::Receiver<bool>,
    work: &mut F,
) -> Result<(), LeaderError>
where
    F: FnMut(CancellationToken) -> Fut,
    Fut: Future<Output = ()>,
{
    let (lease, identity) = (&config.lease_name, &config.identity);
    // After a missed renew deadline the lease manager may still say "leader": work starts again
    // only once the Lease itself shows a fresh renewal of ours.
    let mut needs_confirmation = false;
    loop {
        info!(%lease, %identity, "waiting for leadership");
        while !*leading.borrow_and_update() {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                changed = leading.changed() => {
                    if changed.is_err() {
                        return Err(LeaderError::WatcherStopped);
                    }
                }
            }
        }
        if needs_confirmation {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                changed = leading.changed() => {
                    if changed.is_err() {
                        return Err(LeaderError::WatcherStopped);
                    }
                    continue;
                }
                () = renewals.confirmed() => {
                    info!(%lease, %identity, "the lease shows a fresh renewal of ours again");
                    needs_confirmation = false;
                }
            }
        }

        info!(%lease, %identity, "acquired leadership; starting work");
        let lost = shutdown.child_token();
        let run = work(lost.clone());
        tokio::pin!(run);
        let lapsed = renewals.lapsed(SystemTime::now());
        tokio::pin!(lapsed);
        let mut still_leader = true;
        let mut watcher_gone = false;
        loop {
            tokio::select! {
                () = &mut run => break,
                changed = leading.changed(), if still_leader => {
                    // A dead watcher can no longer renew: treat it as a loss.
                    watcher_gone = changed.is_err();
                    if watcher_gone || !*leading.borrow_and_update() {
                        still_leader = false;
                        warn!(%lease, %identity, "lost leadership; stopping work");
                        lost.cancel();
                    }
                }
                lapse = &mut lapsed, if still_leader => {
                    still_leader = false;
                    needs_confirmation = true;
                    warn!(%lease, %identity, reason = %lapse, "renew deadline passed; stopping work");
                    lost.cancel();
                }
            }
        }

        if shutdown.is_cancelled() {
            info!(%lease, %identity, "work stopped for shutdown; releasing leadership");
            return Ok(());
        }
        if watcher_gone {
            return Err(LeaderError::WatcherStopped);
        }
        if still_leader {
            info!(%lease, %identity, "work returned on its own; releasing leadership");
            return Ok(());
        }
        info!(%lease, %identity, "work stopped after losing leadership; campaigning again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_name_wins_else_host_plus_suffix() {
        assert_eq!(
            identity_from(Some("op-7f9c-x2"), Some("node")),
            "op-7f9c-x2"
        );
        let a = identity_from(Some("  "), Some("node-1"));
        let b = identity_from(None, Some("node-1"));
        assert!(
            a.starts_with("node-1-") && a.len() == "node-1-".len() + 8,
            "{a}"
        );
        assert_ne!(a, b);
        assert!(identity_from(None, None).starts_with("hrconnector-"));
    }
}
