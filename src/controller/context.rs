//! What every reconcile and every run shares.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::Resource;
use kube::core::PartialObjectMeta;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::reflector::Store;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::backoff::JobBackoff;
use super::clock::Clock;
use super::metrics::Metrics;
use super::runs::RunRegistry;
use crate::crd::HrConnectorJob;
use crate::upload::{RetryPolicy, Sleeper};

/// Settings of `hrconnector controller`.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// The namespaces watched (each on its own, so a Role per namespace is enough); empty
    /// watches all, cluster-wide.
    pub namespaces: Vec<String>,
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
    /// Reconciles in flight at once (each may download and validate a source).
    pub max_concurrent_reconciles: u16,
    /// PVC runs in flight at once: they only poll their batch Job, so they do not take one of
    /// the `max_concurrent_uploads` slots.
    pub max_concurrent_upload_jobs: usize,
    /// The egress policy: where requests for jobs may go besides the published hosts.
    pub endpoint_policy: super::endpoint_policy::EndpointPolicy,
    /// Which audiences service account tokens may be requested for.
    pub audience_policy: super::audience_policy::AudiencePolicy,
    /// CSV limits: the default of a job without `spec.limits`, and the most it may set.
    pub limits: crate::hrdata::Limits,
    /// Object-source pre-flight checks (background tasks) in flight at once.
    pub max_concurrent_preflights: usize,
    /// How long a pre-flight check may wait for credentials and the HEAD together.
    pub preflight_timeout: Duration,
    /// Upload slots one namespace may hold; `None`: half of `max_concurrent_uploads`, at least 1.
    pub max_concurrent_uploads_per_namespace: Option<usize>,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            namespaces: Vec::new(),
            max_concurrent_uploads: 4,
            secret_source_recheck: Duration::from_secs(300),
            object_source_recheck: Duration::from_secs(300),
            request_timeout: crate::upload::DEFAULT_REQUEST_TIMEOUT,
            ca_file: None,
            retry: RetryPolicy::default(),
            identity: "hrconnector".into(),
            pvc_job: None,
            pvc_job_poll: Duration::from_secs(5),
            max_concurrent_reconciles: 4,
            max_concurrent_upload_jobs: 16,
            endpoint_policy: Default::default(),
            audience_policy: Default::default(),
            limits: Default::default(),
            max_concurrent_preflights: 8,
            preflight_timeout: Duration::from_secs(30),
            max_concurrent_uploads_per_namespace: None,
        }
    }
}

impl ControllerConfig {
    /// Upload slots one namespace may hold: the flag, else half of the total, at least 1.
    pub fn uploads_per_namespace(&self) -> usize {
        self.max_concurrent_uploads_per_namespace
            .unwrap_or(self.max_concurrent_uploads / 2)
            .clamp(1, self.max_concurrent_uploads.max(1))
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
    /// Each namespace's share of `upload_slots`, taken before one of them.
    pub namespace_slots: super::upload_share::NamespaceSlots,
    /// Object-source pre-flight checks, run in the background.
    pub preflights: super::preflight::Preflights,
    /// Slots of PVC runs (batch Jobs), apart from the in-process uploads'.
    pub upload_job_slots: Arc<Semaphore>,
    /// ConfigMaps' metadata as the controller's watch last saw it (unset when no controller
    /// runs, as in tests that call `reconcile` directly): a source whose resourceVersion did not
    /// change is not downloaded again.
    pub config_map_versions: OnceLock<Store<PartialObjectMeta<ConfigMap>>>,
    /// Turns true once the job watch has listed every job (what `/readyz` waits for).
    pub synced: tokio::sync::watch::Sender<bool>,
    /// The jobs this process holds state for: UID → (namespace, name).
    known_jobs: Mutex<HashMap<String, (String, String)>>,
    /// Cancelled on shutdown or lost leadership: runs stop after the chunk in flight.
    pub shutdown: CancellationToken,
    /// job UID → fingerprint of the spec + source last validated, so an unchanged
    /// source is not validated again on every status update.
    pub validated: Mutex<HashMap<String, String>>,
    /// job UID → its report source's last download (spec.source.https), for conditional
    /// requests.
    pub report_caches: Mutex<HashMap<String, Arc<crate::source::https::ReportCache>>>,
    /// Asks the controller to reconcile a job again (after a run ends).
    pub requeue: mpsc::UnboundedSender<ObjectRef<HrConnectorJob>>,
    pub in_flight: AtomicUsize,
    /// The most uploads ever in flight at once (checked by tests and the scale benchmark).
    pub max_in_flight: AtomicUsize,
    pub metrics: Arc<Metrics>,
    /// Who claims runs in `status.currentRun.claimedBy`: this instance and this term, so that a
    /// later term (or another leader) fences off this one's writes.
    pub claim: String,
    /// Per-job pauses after a run could not be claimed or its outcome not written.
    pub backoff: JobBackoff,
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
        let claim = format!(
            "{}/{}",
            config.identity,
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let ctx = Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            upload_slots: Arc::new(Semaphore::new(config.max_concurrent_uploads.max(1))),
            upload_job_slots: Arc::new(Semaphore::new(config.max_concurrent_upload_jobs.max(1))),
            namespace_slots: super::upload_share::NamespaceSlots::new(
                config.uploads_per_namespace(),
            ),
            preflights: super::preflight::Preflights::new(
                config.max_concurrent_preflights,
                config.preflight_timeout,
            ),
            config_map_versions: OnceLock::new(),
            known_jobs: Mutex::new(HashMap::new()),
            synced: tokio::sync::watch::Sender::new(false),
            config,
            clock,
            sleeper,
            runs: RunRegistry::default(),
            shutdown,
            validated: Mutex::new(HashMap::new()),
            report_caches: Mutex::new(HashMap::new()),
            requeue: tx,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            metrics,
            claim,
            backoff: JobBackoff::default(),
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
            // events.k8s.io refuses a note over 1 kB (and the Event would be lost).
            note: Some(crate::crd::message::bounded(&note)),
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

impl Context {
    /// A job is gone (deleted, or no longer in the watched set): cancel its run (which stops
    /// after the chunk in flight and writes nothing more), and drop every per-job cache entry and
    /// metric series, so nothing of it lingers or raises alerts.
    /// Notes that this process holds state for `job` (see [`Context::forget_job`]).
    pub fn remember_job(&self, job: &HrConnectorJob) {
        let entry = (
            job.metadata.namespace.clone().unwrap_or_default(),
            job.metadata.name.clone().unwrap_or_default(),
        );
        self.known_jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(job_key(job), entry);
    }

    /// The jobs this process holds state for, by key.
    pub fn known_jobs(&self) -> Vec<(String, (String, String))> {
        let known = self.known_jobs.lock().unwrap_or_else(|e| e.into_inner());
        known.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Drops the per-job state and series of every job (a term of leadership ended).
    pub fn forget_all_jobs(&self) {
        for (key, (namespace, name)) in self.known_jobs() {
            self.forget_job(&key, &namespace, &name);
        }
    }

    /// The report cache of the job with `key`, made on first use.
    pub fn report_cache(&self, key: &str) -> Arc<crate::source::https::ReportCache> {
        self.report_caches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_owned())
            .or_default()
            .clone()
    }

    pub fn forget_job(&self, key: &str, namespace: &str, name: &str) {
        if self.runs.cancel(key) {
            tracing::info!(
                namespace,
                job = name,
                "job deleted: stopping its run after the chunk in flight"
            );
        }
        self.validated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        // Its download's temporary file goes with it.
        self.report_caches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        self.backoff.reset(key);
        self.preflights.forget(key);
        self.known_jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        self.metrics.forget_job(namespace, name);
    }
}

/// The key of a job's per-process state: its UID, so that a job deleted and created again
/// under the same name never shares a run, cache entry or backoff with the old one.
pub fn job_key(job: &HrConnectorJob) -> String {
    match &job.metadata.uid {
        Some(uid) => uid.clone(),
        None => format!(
            "{}/{}",
            job.metadata.namespace.as_deref().unwrap_or_default(),
            job.metadata.name.as_deref().unwrap_or_default()
        ),
    }
}
