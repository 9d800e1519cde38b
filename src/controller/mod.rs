//! The operator: a kube-runtime `Controller` over `HrConnectorJob` that validates spec and
//! source as soon as they change, runs uploads at the scheduled times (and on the run-now
//! annotation) with a global bound on concurrent uploads, and reports everything in status and
//! Events.
//!
//! RBAC is kept minimal on purpose: Secrets are only ever `get` by name (never listed or
//! watched), so a Secret-held source is re-validated on a timer instead of on change.

pub mod audience_policy;
pub mod backoff;
pub mod clock;
pub mod context;
pub mod credentials;
pub mod endpoint_policy;
pub mod execute;
pub mod health;
pub mod leader;
pub mod lease_renewal;
pub mod metrics;
pub mod namespaces;
pub mod object_credentials;
pub mod object_source;
pub mod preflight;
pub mod pvc_job;
mod pvc_run;
pub mod rbac;
pub mod reconcile;
pub mod refresh;
pub mod report_source;
pub mod run_timeout;
pub mod runs;
pub mod sftp_source;
pub mod source;
pub mod status;
pub mod upload_share;
pub mod verdict;
pub mod workload_identity;

use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use tokio_stream_shim::receiver_stream;

pub use clock::{Clock, ManualClock, SystemClock};
pub use context::{Context, ControllerConfig};

use crate::crd::HrConnectorJob;
use crate::hrdata::{Limits, ValidationOptions};

/// The validation settings a job asks for, with its CSV limits within the operator's
/// `ceiling` (see [`ControllerConfig::limits`]).
pub fn validation_options(job: &HrConnectorJob, ceiling: Limits) -> ValidationOptions {
    ValidationOptions {
        limits: job.spec.limits(ceiling),
        ..job.spec.validation_options()
    }
}

/// `source` as the job's `spec.input` converts it, with the options to validate the result.
/// Blocking: it reads the whole source (call it off the async threads).
pub fn converted(
    job: &HrConnectorJob,
    source: std::sync::Arc<dyn crate::hrdata::CsvSource>,
    ceiling: Limits,
) -> Result<crate::convert::Conversion, crate::convert::ConvertError> {
    crate::convert::convert(
        source,
        &job.spec.input_options(),
        &validation_options(job, ceiling),
        job.spec.records_per_call as usize,
    )
}

/// Runs the controller until `ctx.shutdown` fires, then waits for runs to stop after their
/// chunk in flight.
///
/// The job watch is our own stream (not `Controller::new`) so that deletions are seen: kube-runtime
/// reconciles only objects still in its cache. A `Delete` event, and after every (re)list any job
/// we hold state for that is no longer listed, cancels the job's run and drops its state and
/// metric series ([`Context::forget_job`]). No finalizer: nothing outside this process needs
/// cleaning up (the upload Job is garbage-collected through its owner reference), and a
/// finalizer would leave jobs undeletable while the operator is uninstalled.
///
/// With a list of namespaces each is watched on its own (a Role per namespace is enough); one
/// namespace's relist reaches the store as `Apply`s and `Delete`s ([`namespaces::Merge`]).
///
/// ConfigMaps are watched as metadata only: the mapping to jobs needs names, and the
/// resourceVersions tell the reconcile when a source must be read again; the data itself is read
/// by name when a job needs it.
pub async fn run(
    ctx: Arc<Context>,
    requeue: tokio::sync::mpsc::UnboundedReceiver<ObjectRef<HrConnectorJob>>,
) {
    let client: Client = ctx.client.clone();
    let namespaces = &ctx.config.namespaces;
    let (store, writer) = reflector::store::<HrConnectorJob>();
    let observer = (ctx.clone(), store.clone());
    let job_events =
        namespaces::watch::<HrConnectorJob>(client.clone(), namespaces, watcher::Config::default())
            .reflect(writer)
            .inspect_ok(move |event| deletions::observe(&observer.0, &observer.1, event))
            .touched_objects();
    let (cm_store, cm_writer) = reflector::store::<PartialObjectMeta<ConfigMap>>();
    let _ = ctx.config_map_versions.set(cm_store);
    // `PartialObjectMeta` makes every list and watch of ConfigMaps a metadata-only request.
    let cm_events = namespaces::watch::<PartialObjectMeta<ConfigMap>>(
        client,
        namespaces,
        watcher::Config::default(),
    )
    .reflect(cm_writer)
    .touched_objects();
    let jobs_of = store.clone();
    let controller = Controller::for_stream(job_events, store)
        .with_config(
            controller::Config::default().concurrency(ctx.config.max_concurrent_reconciles),
        )
        // A changed ConfigMap re-validates (and re-reports) every job that reads from it.
        .watches_stream(cm_events, move |cm: PartialObjectMeta<ConfigMap>| {
            let ns = cm.metadata.namespace.clone();
            let name = cm.metadata.name.clone();
            jobs_of
                .state()
                .into_iter()
                .filter(|job| {
                    job.metadata.namespace == ns
                        && job.spec.source.config_map.as_ref().map(|c| Some(&c.name))
                            == Some(name.as_ref())
                })
                .map(|job| ObjectRef::from_obj(job.as_ref()))
                .collect::<Vec<_>>()
        });
    let shutdown = ctx.shutdown.clone();
    let driven = controller
        .reconcile_on(receiver_stream(requeue))
        .graceful_shutdown_on(async move { shutdown.cancelled().await })
        .run(measured_reconcile, reconcile::error_policy, ctx.clone())
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile error");
            }
        });
    tokio::pin!(driven);
    tokio::select! {
        () = &mut driven => {}
        () = ctx.shutdown.cancelled() => {
            // kube-runtime's graceful shutdown waits for its caches to sync, which never happens
            // while the API server is unreachable. Give in-flight reconciles a moment, then stop
            // driving it: runs are their own tasks and are awaited below either way.
            if tokio::time::timeout(std::time::Duration::from_secs(5), &mut driven).await.is_err() {
                tracing::info!("stopped waiting for the controller's graceful shutdown");
            }
        }
    }
    // Runs were cancelled with the same token; wait until they have checkpointed and stopped.
    while !ctx.runs.is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // A term ends (shutdown, or leadership lost): a standby must not export frozen per-job
    // series that would raise alerts while the new leader exports its own.
    ctx.forget_all_jobs();
}

mod deletions {
    use kube::ResourceExt;
    use kube::runtime::reflector::Store;
    use kube::runtime::watcher::Event;

    use super::Context;
    use super::context::job_key;
    use crate::crd::HrConnectorJob;

    /// Forgets a deleted job; after a (re)list, forgets every known job that is not listed
    /// any more (deleted while the watch was down: no `Delete` event is ever sent for those).
    /// The first complete list also marks the controller synced (`/readyz`).
    pub fn observe(ctx: &Context, store: &Store<HrConnectorJob>, event: &Event<HrConnectorJob>) {
        match event {
            Event::Delete(job) => ctx.forget_job(
                &job_key(job),
                &job.namespace().unwrap_or_default(),
                &job.name_any(),
            ),
            Event::InitDone => {
                if !*ctx.synced.borrow() {
                    tracing::info!("job watch synced: every job listed");
                    ctx.synced.send_replace(true);
                }
                let listed: std::collections::HashSet<String> =
                    store.state().iter().map(|j| job_key(j)).collect();
                for (key, (namespace, name)) in ctx.known_jobs() {
                    if !listed.contains(&key) {
                        ctx.forget_job(&key, &namespace, &name);
                    }
                }
            }
            _ => {}
        }
    }
}

/// [`reconcile::reconcile`], timed and counted in the controller-runtime metrics.
async fn measured_reconcile(
    job: Arc<HrConnectorJob>,
    ctx: Arc<Context>,
) -> Result<kube::runtime::controller::Action, reconcile::ReconcileError> {
    let started = std::time::Instant::now();
    let result = reconcile::reconcile(job, ctx.clone()).await;
    let reason = result.as_ref().err().map(reconcile::ReconcileError::reason);
    ctx.metrics.reconcile_finished(started.elapsed(), reason);
    result
}

mod tokio_stream_shim {
    use futures_util::Stream;
    use tokio::sync::mpsc::UnboundedReceiver;

    /// An mpsc receiver as a `Stream` (what tokio-stream's wrapper does, without the crate).
    pub fn receiver_stream<T>(rx: UnboundedReceiver<T>) -> impl Stream<Item = T> {
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
    }
}
