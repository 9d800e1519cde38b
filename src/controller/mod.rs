//! The operator: a kube-runtime `Controller` over `HrConnectorJob` that validates spec and
//! source as soon as they change, runs uploads at the scheduled times (and on the run-now
//! annotation) with a global bound on concurrent uploads, and reports everything in status and
//! Events.
//!
//! RBAC is kept minimal on purpose: Secrets are only ever `get` by name (never listed or
//! watched), so a Secret-held source is re-validated on a timer instead of on change.

pub mod clock;
pub mod context;
pub mod credentials;
pub mod execute;
pub mod health;
pub mod leader;
pub mod metrics;
pub mod object_source;
pub mod pvc_job;
mod pvc_run;
pub mod rbac;
pub mod reconcile;
pub mod refresh;
pub mod runs;
pub mod source;
pub mod status;
pub mod verdict;

use std::sync::Arc;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio_stream_shim::receiver_stream;

pub use clock::{Clock, ManualClock, SystemClock};
pub use context::{Context, ControllerConfig};

use crate::crd::HrConnectorJob;
use crate::hrdata::ValidationOptions;

/// The validation settings a job asks for.
pub fn validation_options(job: &HrConnectorJob) -> ValidationOptions {
    job.spec.validation_options()
}

/// Runs the controller until `ctx.shutdown` fires, then waits for runs to stop after their
/// chunk in flight.
pub async fn run(
    ctx: Arc<Context>,
    requeue: tokio::sync::mpsc::UnboundedReceiver<ObjectRef<HrConnectorJob>>,
) {
    let client: Client = ctx.client.clone();
    let (jobs, config_maps): (Api<HrConnectorJob>, Api<ConfigMap>) = match &ctx.config.namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client, ns),
        ),
        None => (Api::all(client.clone()), Api::all(client)),
    };
    let controller = Controller::new(jobs, watcher::Config::default());
    let store = controller.store();
    let shutdown = ctx.shutdown.clone();
    let driven = controller
        // A changed ConfigMap re-validates (and re-reports) every job that reads from it.
        .watches(
            config_maps,
            watcher::Config::default(),
            move |cm: ConfigMap| {
                let ns = cm.metadata.namespace.clone();
                let name = cm.metadata.name.clone();
                store
                    .state()
                    .into_iter()
                    .filter(|job| {
                        job.metadata.namespace == ns
                            && job.spec.source.config_map.as_ref().map(|c| Some(&c.name))
                                == Some(name.as_ref())
                    })
                    .map(|job| ObjectRef::from_obj(job.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
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
