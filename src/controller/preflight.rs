//! Pre-flight checks of object sources as background tasks: reconcile never waits on a job's
//! outside endpoints (DESIGN §10), so a token service or store that accepts connections and never
//! answers delays only its own job, never another job's reconcile.
//!
//! Reconcile asks [`poll`]: it starts at most one check per job (per spec generation), on a task
//! bounded by `--max-concurrent-preflights`, and returns at once. The credentials and the HEAD
//! (the steps that only wait for answers) have `--preflight-timeout-seconds` together; the
//! validation of a new version (a read of the whole object) runs after them on the same task.
//! When a check ends, its outcome is kept here and the job is reconciled again, which reports it.
//! A reported outcome is kept until `--object-source-recheck-seconds` have passed, then the next
//! reconcile starts the next check.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::runtime::reflector::ObjectRef;
use tokio::sync::Semaphore;
use tokio::task::AbortHandle;

use super::context::Context;
use super::object_source::{self, ObjectProblem, Preflight, Step};
use super::report_source;
use crate::crd::HrConnectorJob;
use crate::crd::conditions::reason;
use crate::source::object::{display_url, sts_endpoint};

/// The pre-flight checks of this process, by job key.
pub struct Preflights {
    slots: Arc<Semaphore>,
    timeout: Duration,
    checks: Mutex<HashMap<String, Check>>,
    ids: AtomicU64,
}

struct Check {
    /// Tells this check's outcome from a superseded one's.
    id: u64,
    /// The spec generation the check was started for: a new one starts a new check.
    generation: Option<i64>,
    state: State,
}

enum State {
    Running(AbortHandle),
    Done {
        at: Instant,
        outcome: Preflight,
        reported: bool,
    },
}

/// What reconcile learns from [`poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// A check is under way: nothing new to say.
    Pending,
    /// A check ended and its outcome has not been written to status yet; call
    /// [`Preflights::reported`] with `id` once it has.
    Done { id: u64, outcome: Preflight },
    /// The last outcome is in status and not due for a recheck.
    Reported,
}

impl Preflights {
    pub fn new(max_concurrent: usize, timeout: Duration) -> Self {
        Preflights {
            slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
            timeout,
            checks: Mutex::new(HashMap::new()),
            ids: AtomicU64::new(1),
        }
    }

    fn checks(&self) -> std::sync::MutexGuard<'_, HashMap<String, Check>> {
        self.checks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The outcome `id` of `key` is in status: it is not reported again.
    pub fn reported(&self, key: &str, id: u64) {
        if let Some(Check {
            id: current,
            state: State::Done { reported, .. },
            ..
        }) = self.checks().get_mut(key)
            && *current == id
        {
            *reported = true;
        }
    }

    /// The job is gone: stop its check and drop its outcome.
    pub fn forget(&self, key: &str) {
        if let Some(Check {
            state: State::Running(task),
            ..
        }) = self.checks().remove(key)
        {
            task.abort();
        }
    }

    /// Keeps the outcome of check `id`, unless a newer check replaced it. Returns whether it
    /// was kept.
    fn finish(&self, key: &str, id: u64, outcome: Preflight) -> bool {
        match self.checks().get_mut(key) {
            Some(check) if check.id == id => {
                check.state = State::Done {
                    at: Instant::now(),
                    outcome,
                    reported: false,
                };
                true
            }
            _ => false,
        }
    }
}

/// The state of `job`'s pre-flight check; starts one when there is none for its generation, or
/// when the last one's outcome is older than `--object-source-recheck-seconds`. Never waits.
pub fn poll(ctx: &Arc<Context>, job: &Arc<HrConnectorJob>, key: &str) -> Poll {
    let generation = job.metadata.generation;
    let mut checks = ctx.preflights.checks();
    if let Some(check) = checks.get(key).filter(|c| c.generation == generation) {
        match &check.state {
            State::Running(_) => return Poll::Pending,
            State::Done {
                outcome,
                reported: false,
                ..
            } => {
                return Poll::Done {
                    id: check.id,
                    outcome: outcome.clone(),
                };
            }
            // A report is generated for each request: once it checks out it is not fetched again
            // on a timer (every run downloads it); a failed check is tried again like an object's.
            State::Done { outcome, .. }
                if report_source::is_report(job) && !outcome.found_a_problem() =>
            {
                return Poll::Reported;
            }
            State::Done { at, .. } if at.elapsed() < ctx.config.object_source_recheck => {
                return Poll::Reported;
            }
            State::Done { .. } => {}
        }
    }
    if let Some(Check {
        state: State::Running(old),
        ..
    }) = checks.remove(key)
    {
        // A check of an older generation: its outcome would say nothing about this one.
        old.abort();
    }
    let id = ctx.preflights.ids.fetch_add(1, Ordering::Relaxed);
    // The lock is held until the check is registered: its task cannot finish before that.
    let task = tokio::spawn(run(ctx.clone(), job.clone(), key.to_string(), id));
    checks.insert(
        key.to_string(),
        Check {
            id,
            generation,
            state: State::Running(task.abort_handle()),
        },
    );
    Poll::Pending
}

/// One check on its own task; when it ends the job is reconciled again to report it.
async fn run(ctx: Arc<Context>, job: Arc<HrConnectorJob>, key: String, id: u64) {
    let outcome = tokio::select! {
        outcome = check(&ctx, &job, &key) => outcome,
        () = ctx.shutdown.cancelled() => return,
    };
    if ctx.preflights.finish(&key, id, outcome) {
        let _ = ctx.requeue.send(ObjectRef::from_obj(job.as_ref()));
    }
}

async fn check(ctx: &Context, job: &HrConnectorJob, key: &str) -> Preflight {
    // A closed semaphore never happens (it is never closed); go on without a slot if it did.
    let _slot = ctx.preflights.slots.clone().acquire_owned().await.ok();
    if report_source::is_report(job) {
        return report_source::check(ctx, job, ctx.preflights.timeout).await;
    }
    if super::sftp_source::is_sftp(job) {
        return super::sftp_source::check(ctx, job, key, ctx.preflights.timeout).await;
    }
    let namespace = job.metadata.namespace.clone().unwrap_or_default();
    let step = Mutex::new(Step::Kubernetes);
    let note = |s: Step| *step.lock().unwrap_or_else(|e| e.into_inner()) = s;
    let timeout = ctx.preflights.timeout;
    let reached =
        tokio::time::timeout(timeout, object_source::reach(ctx, &namespace, job, &note)).await;
    let problem = match reached {
        Ok(Ok(Some((object, version)))) => {
            return object_source::check_version(ctx, job, key, object, &version).await;
        }
        Ok(Ok(None)) => {
            return Preflight {
                status: None,
                verdict: None,
            };
        }
        Ok(Err(problem)) => problem,
        Err(_) => {
            let at = *step.lock().unwrap_or_else(|e| e.into_inner());
            tracing::warn!(namespace, job = job.metadata.name.as_deref().unwrap_or_default(), step = ?at, timeout_s = timeout.as_secs(), "object source pre-flight check: no answer in time");
            ObjectProblem::new(
                reason::SOURCE_UNREACHABLE,
                no_answer(job, at, timeout, ctx.config.object_source_recheck),
            )
        }
    };
    // Validate again at the next check that reaches the object.
    ctx.validated
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(key);
    Preflight::problem(problem)
}

/// The message of a check whose deadline passed: who did not answer, named by its field.
fn no_answer(job: &HrConnectorJob, step: Step, timeout: Duration, recheck: Duration) -> String {
    format!(
        "no answer within {} s from {} (--preflight-timeout-seconds); checked again in {} s",
        timeout.as_secs(),
        waited_on(job, step),
        recheck.as_secs()
    )
}

/// Who a check waits on at `step`, with the spec field that chose it. URLs lose their query.
fn waited_on(job: &HrConnectorJob, step: Step) -> String {
    let source = &job.spec.source;
    match (step, &source.s3, &source.azure_blob) {
        (Step::Kubernetes, _, _) => {
            "the Kubernetes API (the Secret or service account the source's credentials name)"
                .into()
        }
        (Step::TokenExchange, Some(s3), _) => match s3
            .credentials
            .web_identity
            .as_ref()
            .and_then(|w| w.sts_endpoint.as_deref())
        {
            Some(url) => format!(
                "the STS endpoint {} (spec.source.s3.credentials.webIdentity.stsEndpoint)",
                display_url(url)
            ),
            None => format!(
                "the STS endpoint {} (the default of spec.source.s3.region)",
                sts_endpoint(&s3.region)
            ),
        },
        (Step::TokenExchange, None, _) => format!(
            "the Entra ID authority {} (spec.cloud, spec.endpoints.authorityUrl)",
            display_url(&job.spec.endpoints().authority_url)
        ),
        (Step::Head, Some(s3), _) => match &s3.endpoint {
            Some(url) => format!(
                "the S3 endpoint {} (spec.source.s3.endpoint)",
                display_url(url)
            ),
            None => format!(
                "the S3 endpoint of region {} (spec.source.s3.region)",
                s3.region
            ),
        },
        (Step::Head, None, Some(blob)) => format!(
            "the storage account {} (spec.source.azureBlob.accountUrl)",
            display_url(&blob.account_url)
        ),
        (Step::Head, None, None) => "the object store".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3_job(sts: Option<&str>) -> HrConnectorJob {
        let mut web_identity = serde_json::json!({
            "serviceAccountName": "hr-reader",
            "roleArn": "arn:aws-us-gov:iam::123456789012:role/hr-reader",
        });
        if let Some(url) = sts {
            web_identity["stsEndpoint"] = url.into();
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "hrconnector.io/v1alpha1",
            "kind": "HrConnectorJob",
            "metadata": {"name": "leavers", "namespace": "hr"},
            "spec": {
                "cloud": "GCCHigh",
                "jobId": "6a1c5e0b-1f2d-4c3b-9a8e-7d6c5b4a3f21",
                "credentials": {"secretRef": {"name": "hr-app"}},
                "source": {"s3": {
                    "bucket": "b", "key": "k.csv", "region": "us-gov-west-1",
                    "credentials": {"webIdentity": web_identity},
                }},
                "schedule": "0 3 * * *",
            }
        }))
        .expect("job")
    }

    #[test]
    fn a_missed_deadline_names_the_endpoint_and_its_field_without_the_query() {
        let job = s3_job(Some("http://127.0.0.1:9/sts?X-Amz-Security-Token=secret"));
        let message = no_answer(
            &job,
            Step::TokenExchange,
            Duration::from_secs(30),
            Duration::from_secs(300),
        );
        assert_eq!(
            message,
            "no answer within 30 s from the STS endpoint http://127.0.0.1:9/sts \
             (spec.source.s3.credentials.webIdentity.stsEndpoint) \
             (--preflight-timeout-seconds); checked again in 300 s"
        );
        assert!(!message.contains("secret"));
        let default = waited_on(&s3_job(None), Step::TokenExchange);
        assert!(
            default.contains("https://sts.us-gov-west-1.amazonaws.com"),
            "{default}"
        );
        let head = waited_on(&s3_job(None), Step::Head);
        assert!(head.contains("spec.source.s3.region"), "{head}");
    }
}
