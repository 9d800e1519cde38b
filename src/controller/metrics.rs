//! Prometheus metrics of the operator.
//!
//! The reconcile families copy controller-runtime's names and labels so the dashboards and alerts
//! people already have for Go operators work unchanged; ours carry the `hrconnector_` prefix.
//!
//! Labels only ever hold fixed codes (result, reason) or Kubernetes object names: never CSV
//! contents, e-mail addresses, tenant or app ids, or error messages.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::time::Duration;

/// The `controller` label value of the reconcile families.
pub const CONTROLLER_NAME: &str = "hrconnectorjob";

/// controller-runtime's default reconcile-time buckets, in seconds.
const RECONCILE_BUCKETS: [f64; 40] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 60.0,
];

/// Upload results we label with; anything else is counted as `Other` so a caller bug cannot
/// grow the series without bound.
const UPLOAD_RESULTS: [&str; 5] = [
    "Succeeded",
    "Unchanged",
    "NothingToUpload",
    "DryRun",
    "Failed",
];

/// Longest reason code kept as a label value; longer ones are cut.
const MAX_REASON_LEN: usize = 64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    controller: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    namespace: String,
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobResultLabels {
    namespace: String,
    name: String,
    result: &'static str,
}

fn reconcile_histogram() -> Histogram {
    Histogram::new(RECONCILE_BUCKETS)
}

/// All metric families of the operator, and the registry that encodes them.
///
/// Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Metrics {
    registry: Registry,
    reconcile_total: Family<ReconcileLabels, Counter>,
    reconcile_errors: Family<ControllerLabels, Counter>,
    reconcile_error_reasons: Family<ReasonLabels, Counter>,
    reconcile_time: Family<ControllerLabels, Histogram, fn() -> Histogram>,
    uploads_in_flight: Gauge<i64, AtomicI64>,
    upload_runs: Family<ResultLabels, Counter>,
    upload_failures: Family<ReasonLabels, Counter>,
    records_uploaded: Counter,
    last_run: Family<JobLabels, Gauge<f64, AtomicU64>>,
    last_upload: Family<JobLabels, Gauge<f64, AtomicU64>>,
    next_run: Family<JobLabels, Gauge<f64, AtomicU64>>,
    job_ready: Family<JobLabels, Gauge>,
    employee_profiles: Family<JobLabels, Gauge>,
    last_result: Family<JobResultLabels, Gauge>,
    last_records_saved: Family<JobLabels, Gauge>,
    last_duration: Family<JobLabels, Gauge<f64, AtomicU64>>,
}

/// A job's per-job series, as its status says: every value is read from the object, so a
/// restarted operator exports the same values before any run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct JobGauges {
    pub ready: bool,
    /// When the last run finished, whatever its result.
    pub last_run: Option<jiff::Timestamp>,
    /// When records last reached the service (`status.lastUploadTime`).
    pub last_upload: Option<jiff::Timestamp>,
    /// When the schedule fires next (`status.nextScheduleTime`; none while suspended).
    pub next_run: Option<jiff::Timestamp>,
    /// The job uploads employee profiles, which the service deletes after 30 days.
    pub employee_profiles: bool,
    /// The last run's result (`Succeeded`, `Unchanged`, `NothingToUpload`, `DryRun`, `Failed`).
    pub last_result: Option<&'static str>,
    /// Data rows the service acknowledged in the last run.
    pub last_records_saved: Option<u64>,
    /// How long the last run took, start to finish.
    pub last_duration: Option<Duration>,
}

impl JobGauges {
    pub fn of(
        spec: &crate::crd::HrConnectorJobSpec,
        status: &crate::crd::HrConnectorJobStatus,
    ) -> Self {
        use crate::crd::conditions::{READY, is_condition_true};
        let profile = crate::hrdata::Scenario::EmployeeProfile.name();
        JobGauges {
            ready: is_condition_true(&status.conditions, READY),
            last_run: status
                .last_run
                .as_ref()
                .and_then(|r| r.completion_time.as_ref())
                .map(|t| t.0),
            last_upload: status.last_upload_time.as_ref().map(|t| t.0),
            next_run: status.next_schedule_time.as_ref().map(|t| t.0),
            // A Multiple job: whether the last validated file held profile rows.
            employee_profiles: spec.scenario == crate::crd::CrdScenario::EmployeeProfile
                || status
                    .last_run
                    .as_ref()
                    .and_then(|run| run.scenarios.get(profile))
                    .is_some_and(|n| *n > 0),
            last_result: status
                .last_run
                .as_ref()
                .and_then(|run| run.result)
                .map(|r| known_result(crate::upload::RunResult::from(r).as_str())),
            last_records_saved: status.last_run.as_ref().map(|run| run.records_saved),
            last_duration: status.last_run.as_ref().and_then(|run| {
                let end = run.completion_time.as_ref()?;
                Duration::try_from(end.0.duration_since(run.start_time.0)).ok()
            }),
        }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();

        // prometheus-client appends `_total` to counters itself.
        let reconcile_total = Family::<ReconcileLabels, Counter>::default();
        registry.register(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller",
            reconcile_total.clone(),
        );
        let reconcile_errors = Family::<ControllerLabels, Counter>::default();
        registry.register(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller",
            reconcile_errors.clone(),
        );
        let reconcile_time: Family<ControllerLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(reconcile_histogram);
        registry.register(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            reconcile_time.clone(),
        );

        let ours = registry.sub_registry_with_prefix("hrconnector");
        let reconcile_error_reasons = Family::<ReasonLabels, Counter>::default();
        ours.register(
            "reconcile_errors_by_reason",
            "Reconciliation errors by reason code",
            reconcile_error_reasons.clone(),
        );
        let uploads_in_flight = Gauge::<i64, AtomicI64>::default();
        ours.register(
            "uploads_in_flight",
            "Uploads running right now",
            uploads_in_flight.clone(),
        );
        let upload_runs = Family::<ResultLabels, Counter>::default();
        ours.register(
            "upload_runs",
            "Finished upload runs by result",
            upload_runs.clone(),
        );
        let upload_failures = Family::<ReasonLabels, Counter>::default();
        ours.register(
            "upload_failures",
            "Failed upload runs by reason code",
            upload_failures.clone(),
        );
        let records_uploaded = Counter::default();
        ours.register(
            "records_uploaded",
            "HR data records accepted by the ingestion service",
            records_uploaded.clone(),
        );
        let last_run = Family::<JobLabels, Gauge<f64, AtomicU64>>::default();
        ours.register(
            "last_run_timestamp_seconds",
            "Unix time the last run of an HrConnectorJob finished, whatever its result",
            last_run.clone(),
        );
        let last_upload = Family::<JobLabels, Gauge<f64, AtomicU64>>::default();
        ours.register(
            "last_upload_timestamp_seconds",
            "Unix time records of an HrConnectorJob last reached the service (not moved by Unchanged or empty runs)",
            last_upload.clone(),
        );
        let next_run = Family::<JobLabels, Gauge<f64, AtomicU64>>::default();
        ours.register(
            "next_run_timestamp_seconds",
            "Unix time the schedule of an HrConnectorJob fires next (absent while suspended or never again)",
            next_run.clone(),
        );
        let employee_profiles = Family::<JobLabels, Gauge>::default();
        ours.register(
            "job_employee_profiles",
            "1 when an HrConnectorJob uploads employee profiles (deleted by the service after 30 days without a refresh)",
            employee_profiles.clone(),
        );
        let job_ready = Family::<JobLabels, Gauge>::default();
        ours.register(
            "job_ready",
            "1 while an HrConnectorJob's Ready condition is True, 0 otherwise",
            job_ready.clone(),
        );

        let last_result = Family::<JobResultLabels, Gauge>::default();
        ours.register(
            "job_last_run_result",
            "1 for the result of an HrConnectorJob's last run, 0 for the other results (a state set)",
            last_result.clone(),
        );
        let last_records_saved = Family::<JobLabels, Gauge>::default();
        ours.register(
            "job_last_run_records_saved",
            "Data rows the service acknowledged in an HrConnectorJob's last run",
            last_records_saved.clone(),
        );
        let last_duration = Family::<JobLabels, Gauge<f64, AtomicU64>>::default();
        ours.register(
            "job_last_run_duration_seconds",
            "How long an HrConnectorJob's last run took, from its start to its end",
            last_duration.clone(),
        );

        let metrics = Self {
            registry,
            reconcile_total,
            reconcile_errors,
            reconcile_error_reasons,
            reconcile_time,
            uploads_in_flight,
            upload_runs,
            upload_failures,
            records_uploaded,
            last_run,
            last_upload,
            next_run,
            job_ready,
            employee_profiles,
            last_result,
            last_records_saved,
            last_duration,
        };
        metrics.init_reconcile_series();
        metrics
    }

    /// controller-runtime exports every reconcile series at 0 from the start, so `rate()` and
    /// "errors > 0" alerts work before the first error happens.
    fn init_reconcile_series(&self) {
        for result in ["success", "error", "requeue"] {
            let _ = self.reconcile_total.get_or_create(&ReconcileLabels {
                controller: CONTROLLER_NAME,
                result,
            });
        }
        let _ = self.reconcile_errors.get_or_create(&ControllerLabels {
            controller: CONTROLLER_NAME,
        });
        let _ = self.reconcile_time.get_or_create(&ControllerLabels {
            controller: CONTROLLER_NAME,
        });
    }

    /// Records one finished reconciliation: `error_reason` is `None` on success, else a short
    /// fixed reason code (e.g. `KubeApi`), never an error message.
    pub fn reconcile_finished(&self, duration: Duration, error_reason: Option<&str>) {
        let result = if error_reason.is_some() {
            "error"
        } else {
            "success"
        };
        self.record_reconcile(duration, result);
        if let Some(reason) = error_reason {
            self.reconcile_errors
                .get_or_create(&ControllerLabels {
                    controller: CONTROLLER_NAME,
                })
                .inc();
            self.reconcile_error_reasons
                .get_or_create(&ReasonLabels {
                    reason: reason_label(reason),
                })
                .inc();
        }
    }

    /// Records a reconciliation that asked to be retried without an error
    /// (controller-runtime's `result="requeue"`).
    pub fn reconcile_requeued(&self, duration: Duration) {
        self.record_reconcile(duration, "requeue");
    }

    fn record_reconcile(&self, duration: Duration, result: &'static str) {
        self.reconcile_total
            .get_or_create(&ReconcileLabels {
                controller: CONTROLLER_NAME,
                result,
            })
            .inc();
        self.reconcile_time
            .get_or_create(&ControllerLabels {
                controller: CONTROLLER_NAME,
            })
            .observe(duration.as_secs_f64());
    }

    /// An upload run began; pair every call with one [`Metrics::upload_finished`].
    pub fn upload_started(&self) {
        self.uploads_in_flight.inc();
    }

    /// An upload run ended.
    ///
    /// `result` is `Succeeded`, `Unchanged`, `NothingToUpload`, `DryRun` or `Failed`; `reason`
    /// is the failure's reason code (counted only for failures, `Unknown` if missing).
    /// `records` are the data rows the service accepted in this run, which a failed run may
    /// also have (chunks before the failure); a dry run uploads nothing, so its records are not
    /// counted. The per-job series follow the job's status ([`Metrics::job_observed`]).
    pub fn upload_finished(&self, result: &str, reason: Option<&str>, records: u64) {
        self.uploads_in_flight.dec();
        let result = known_result(result);
        self.upload_runs
            .get_or_create(&ResultLabels { result })
            .inc();
        if result != "DryRun" {
            self.records_uploaded.inc_by(records);
        }
        if matches!(result, "Failed" | "Other") {
            self.upload_failures
                .get_or_create(&ReasonLabels {
                    reason: reason_label(reason.unwrap_or("Unknown")),
                })
                .inc();
        }
    }

    /// An upload run stopped without an outcome to count (its job was deleted).
    pub fn upload_abandoned(&self) {
        self.uploads_in_flight.dec();
    }

    /// Current value of `hrconnector_uploads_in_flight`.
    pub fn uploads_in_flight(&self) -> i64 {
        self.uploads_in_flight.get()
    }

    /// Drops the per-job series of a deleted HrConnectorJob, so deleted jobs neither linger on
    /// dashboards nor trip staleness alerts.
    pub fn forget_job(&self, namespace: &str, name: &str) {
        let labels = job_labels(namespace, name);
        self.last_run.remove(&labels);
        self.last_upload.remove(&labels);
        self.next_run.remove(&labels);
        self.job_ready.remove(&labels);
        self.employee_profiles.remove(&labels);
        self.last_records_saved.remove(&labels);
        self.last_duration.remove(&labels);
        for result in UPLOAD_RESULTS.iter().copied().chain(["Other"]) {
            self.last_result
                .remove(&job_result_labels(namespace, name, result));
        }
    }

    /// Sets a job's series from what its status says: Ready (the "job not Ready" alert), the
    /// last run (its end, result, records saved and duration), the last upload that reached the
    /// service (the no-recent-upload alerts), the next scheduled run, and whether it carries
    /// employee profiles. A time never reached
    /// leaves its series absent.
    pub fn job_observed(&self, namespace: &str, name: &str, job: &JobGauges) {
        let labels = job_labels(namespace, name);
        self.job_ready
            .get_or_create(&labels)
            .set(i64::from(job.ready));
        self.employee_profiles
            .get_or_create(&labels)
            .set(i64::from(job.employee_profiles));
        for (family, at) in [
            (&self.last_run, job.last_run),
            (&self.last_upload, job.last_upload),
        ] {
            if let Some(at) = at {
                family
                    .get_or_create(&labels)
                    .set(at.as_millisecond() as f64 / 1000.0);
            }
        }
        if let Some(current) = job.last_result {
            // Every known result is a series, 1 for the last one: a state set, so a panel or
            // alert can select `== 1` without the series of the run before lingering at 1.
            for result in UPLOAD_RESULTS.iter().copied().chain(["Other"]) {
                let value = i64::from(result == current);
                // "Other" appears only when it is the result.
                if result == "Other" && value == 0 {
                    self.last_result
                        .remove(&job_result_labels(namespace, name, result));
                    continue;
                }
                self.last_result
                    .get_or_create(&job_result_labels(namespace, name, result))
                    .set(value);
            }
        }
        if let Some(records) = job.last_records_saved {
            self.last_records_saved
                .get_or_create(&labels)
                .set(i64::try_from(records).unwrap_or(i64::MAX));
        }
        if let Some(took) = job.last_duration {
            self.last_duration
                .get_or_create(&labels)
                .set(took.as_secs_f64());
        }
        // Unlike the last run's and last upload's times, the next run can go away (a suspended job): then so does its
        // series, rather than a stale time that looks overdue.
        match job.next_run {
            Some(at) => {
                self.next_run
                    .get_or_create(&labels)
                    .set(at.as_millisecond() as f64 / 1000.0);
            }
            None => {
                self.next_run.remove(&labels);
            }
        }
    }

    /// The whole registry in OpenMetrics text format (ends with `# EOF`).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an encoder error would only truncate the scrape.
        if let Err(e) = encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        out
    }
}

/// `result` if it is one we label with, else `Other`: a caller bug cannot grow the series.
fn known_result(result: &str) -> &'static str {
    UPLOAD_RESULTS
        .iter()
        .copied()
        .find(|known| *known == result)
        .unwrap_or("Other")
}

fn job_result_labels(namespace: &str, name: &str, result: &'static str) -> JobResultLabels {
    JobResultLabels {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        result,
    }
}

fn job_labels(namespace: &str, name: &str) -> JobLabels {
    JobLabels {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}

/// Keeps reason labels short and in the `[A-Za-z0-9_]` alphabet: they are meant to be fixed
/// codes, and this stops a mistaken free-text reason from carrying odd bytes into the scrape.
fn reason_label(reason: &str) -> String {
    let cleaned: String = reason
        .chars()
        .take(MAX_REASON_LEN)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if cleaned.is_empty() {
        "Unknown".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_labels_are_short_codes() {
        assert_eq!(reason_label("TokenRejected"), "TokenRejected");
        assert_eq!(reason_label("a b/c"), "a_b_c");
        assert_eq!(reason_label(""), "Unknown");
        assert_eq!(reason_label(&"x".repeat(100)).len(), MAX_REASON_LEN);
    }

    #[test]
    fn unknown_results_fold_into_other() {
        let m = Metrics::new();
        m.upload_started();
        m.upload_finished("Weird", None, 0);
        let text = m.encode();
        assert!(text.contains(r#"hrconnector_upload_runs_total{result="Other"} 1"#));
        assert!(text.contains(r#"hrconnector_upload_failures_total{reason="Unknown"} 1"#));
    }
}
