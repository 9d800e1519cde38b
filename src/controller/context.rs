//! What every reconcile and every run shares.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::Client;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use super::metrics::Metrics;
use super::runs::RunRegistry;
use crate::crd::HrConnectorJob;
use crate::upload::{RetryPolicy, Sleeper};

/// Settings of `hrconnector controller`.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Watch one namespace only; `None` watches all.
    pub namespace: Option<String>,
    /// Uploads in flight at once, across all jobs.
    pub max_concurrent_uploads: usize,
    /// How often a Secret-held source is re-validated: the controller may not watch Secrets.
    pub secret_source_recheck: Duration,
    /// How often an object source's ETag is read (a HEAD) to notice new content.
    pub object_source_recheck: Duration,
    /// Timeout of one HTTP request to Entra ID or the ingestion service.
    pub request_timeout: Duration,
    /// Extra trusted CA bundle for Entra ID and the ingestion service (--ca-file).
    pub ca_file: Option<std::path::PathBuf>,
    pub retry: RetryPolicy,
    /// Who publishes Events (the pod name in a cluster).
    pub identity: String,
    /// How PVC-sourced uploads run as batch Jobs; `None` when no image was configured.
    pub pvc_job: Option<super::pvc_job::PvcJobSettings>,
    /// How often a running PVC upload Job is looked at.
    pub pvc_job_poll: Duration,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            namespace: None,
            max_concurrent_uploads: 4,
            secret_source_recheck: Duration::from_secs(300),
            object_source_recheck: Duration::from_secs(300),
            request_timeout: crate::upload::DEFAULT_REQUEST_TIMEOUT,
            ca_file: None,
            retry: RetryPolicy::default(),
            identity: "hrconnector".into(),
            pvc_job: None,
            pvc_job_poll: Duration::from_secs(5),
        }
    }
}

/// Shared state of the controller.
pub struct Context {
    pub client: Client,
    pub config: ControllerConfig,
    pub clock: Arc<dyn Clock>,
    pub sleeper: Arc<dyn Sleeper>,
    pub recorder: Recorder,
    pub runs: RunRegistry,
    pub upload_slots: Arc<Semaphore>,
    /// Cancelled on shutdown or lost leadership: runs stop after the chunk in flight.
    pub shutdown: CancellationToken,
    /// `namespace/name` → fingerprint of the spec + source last validated, so an unchanged
    /// source is not validated again on every status update.
    pub validated: Mutex<HashMap<String, String>>,
    /// Asks the controller to reconcile a job again (after a run ends).
    pub requeue: mpsc::UnboundedSender<ObjectRef<HrConnectorJob>>,
    pub in_flight: AtomicUsize,
    /// The most uploads ever in flight at once (checked by tests and the scale benchmark).
    pub max_in_flight: AtomicUsize,
    pub metrics: Arc<Metrics>,
}

impl Context {
    pub fn new(
        client: Client,
        config: ControllerConfig,
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
        shutdown: CancellationToken,
        metrics: Arc<Metrics>,
    ) -> (
        Arc<Self>,
        mpsc::UnboundedReceiver<ObjectRef<HrConnectorJob>>,
    ) {
        let reporter = Reporter {
            controller: "hrconnector".into(),
            instance: Some(config.identity.clone()),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let ctx = Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            upload_slots: Arc::new(Semaphore::new(config.max_concurrent_uploads.max(1))),
            config,
            clock,
            sleeper,
            runs: RunRegistry::default(),
            shutdown,
            validated: Mutex::new(HashMap::new()),
            requeue: tx,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            metrics,
        };
        (Arc::new(ctx), rx)
    }

    /// Publishes an Event on the job. Failures are logged: an Event is never worth a failed run.
    pub async fn event(&self, job: &HrConnectorJob, warning: bool, reason: &str, note: String) {
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.to_string(),
            note: Some(note),
            action: "Upload".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &job.object_ref(&())).await {
            tracing::warn!(error = %e, reason, "could not publish an Event");
        }
    }

    pub(crate) fn upload_began(&self) {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        self.metrics.upload_started();
    }

    pub(crate) fn upload_ended(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `namespace/name` of a job.
pub fn job_key(job: &HrConnectorJob) -> String {
    format!(
        "{}/{}",
        job.metadata.namespace.as_deref().unwrap_or_default(),
        job.metadata.name.as_deref().unwrap_or_default()
    )
}
