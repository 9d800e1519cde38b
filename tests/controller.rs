//! The reconcile loop and runs against an in-process API with real semantics
//! (kube-fake-client: resourceVersions, 409 conflicts, status subresource) and the real
//! emulator over HTTP. Time is a `ManualClock`, so schedule decisions are exact.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hrconnector::controller::endpoint_policy::EndpointPolicy;
use hrconnector::controller::metrics::Metrics;
use hrconnector::controller::reconcile::reconcile;
use hrconnector::controller::{Context, ControllerConfig, ManualClock};
use hrconnector::crd::{HrConnectorJob, HrConnectorJobStatus};
use hrconnector::emulator::EmulatorHandle;
use jiff::Timestamp;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Api;
use kube::runtime::controller::Action;
use kube_fake_client::ClientBuilder;
use tokio_util::sync::CancellationToken;

/// kube-fake-client learns which kinds have a status subresource from a `Default` instance;
/// our `HrConnectorJob` has no default on purpose (there is no default cloud), so a spec-less
/// stand-in with the same group, version and kind tells it.
mod status_subresource {
    #[derive(
        kube::CustomResource,
        serde::Serialize,
        serde::Deserialize,
        Clone,
        Debug,
        Default,
        schemars::JsonSchema,
    )]
    #[kube(
        group = "hrconnector.io",
        version = "v1alpha1",
        kind = "HrConnectorJob",
        namespaced,
        derive = "Default"
    )]
    pub struct Spec {}
}

const NS: &str = "hr";
const NAME: &str = "termination-upload";

fn csv_text(n: usize) -> String {
    let mut s = String::from("EmailAddress,TerminationDate,LastWorkingDate\n");
    for i in 0..n {
        s.push_str(&format!(
            "p{i}@contoso.com,2026-03-01T09:00:00Z,2026-03-15T17:00:00.1234567+02:00\n"
        ));
    }
    s
}

fn config_map(name: &str, csv: &str) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    cm.metadata.namespace = Some(NS.into());
    cm.data = Some(BTreeMap::from([("data.csv".to_string(), csv.to_string())]));
    cm
}

fn credentials_secret(secret: &str) -> Secret {
    let mut s = Secret::default();
    s.metadata.name = Some("hr-app".into());
    s.metadata.namespace = Some(NS.into());
    s.data = Some(BTreeMap::from([
        (
            "tenantId".to_string(),
            ByteString(TENANT.as_bytes().to_vec()),
        ),
        ("appId".to_string(), ByteString(APP.as_bytes().to_vec())),
        (
            "appSecret".to_string(),
            ByteString(secret.as_bytes().to_vec()),
        ),
    ]));
    s
}

fn hr_job(emu: &EmulatorHandle, extra: serde_json::Value) -> HrConnectorJob {
    let mut spec = serde_json::json!({
        "cloud": "GCC",
        "jobId": JOB,
        "credentials": {"secretRef": {"name": "hr-app"}},
        "source": {"configMap": {"name": "hr-data", "key": "data.csv"}},
        "schedule": "0 3 * * *",
        "recordsPerCall": 5,
        "endpoints": {"authorityUrl": emu.url(), "ingestionUrl": emu.url()},
    });
    if let (Some(base), Some(more)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in more {
            base.insert(k.clone(), v.clone());
        }
    }
    let mut job = HrConnectorJob::new(NAME, serde_json::from_value(spec).expect("spec"));
    job.metadata.namespace = Some(NS.into());
    job.metadata.generation = Some(1);
    job.metadata.creation_timestamp = Some(Time(ts("2026-11-24T00:30:00Z")));
    job
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

struct Harness {
    emu: EmulatorHandle,
    api: Api<HrConnectorJob>,
    ctx: Arc<Context>,
    clock: Arc<ManualClock>,
    sleeper: RecordingSleeper,
}

async fn harness(
    job_extra: serde_json::Value,
    csv: &str,
    secret: &str,
    builder: ClientBuilder,
) -> Harness {
    harness_with(job_extra, csv, secret, builder, ControllerConfig::default()).await
}

async fn harness_with(
    job_extra: serde_json::Value,
    csv: &str,
    secret: &str,
    builder: ClientBuilder,
    config: ControllerConfig,
) -> Harness {
    harness_through(job_extra, csv, secret, builder, config, |client| client).await
}

/// [`harness_with`], the operator reaching the fake API through `front` (a layer in front of
/// it, for answers the fake cannot give).
async fn harness_through(
    job_extra: serde_json::Value,
    csv: &str,
    secret: &str,
    builder: ClientBuilder,
    config: ControllerConfig,
    front: impl FnOnce(kube::Client) -> kube::Client,
) -> Harness {
    let emu = start_emulator().await;
    let job = hr_job(&emu, job_extra);
    let client = builder
        .with_resource::<HrConnectorJob>()
        .with_status_subresource::<status_subresource::HrConnectorJob>()
        .with_object(job)
        .with_object(config_map("hr-data", csv))
        .with_object(credentials_secret(secret))
        .build()
        .await
        .expect("fake client");
    let client = front(client);
    let clock = Arc::new(ManualClock::new(ts("2026-11-24T01:00:00Z")));
    let sleeper = RecordingSleeper::default();
    let config = ControllerConfig {
        request_timeout: Duration::from_secs(5),
        // The emulator is not a published cloud host: allowed as an administrator would.
        endpoint_policy: if config.endpoint_policy == EndpointPolicy::default() {
            EndpointPolicy::new(&[emu.url()]).expect("prefix")
        } else {
            config.endpoint_policy.clone()
        },
        ..config
    };
    let (ctx, _requeue) = Context::new(
        client.clone(),
        config,
        clock.clone(),
        Arc::new(sleeper.clone()),
        CancellationToken::new(),
        Arc::new(Metrics::new()),
    );
    Harness {
        emu,
        api: Api::namespaced(client, NS),
        ctx,
        clock,
        sleeper,
    }
}

impl Harness {
    async fn job(&self) -> HrConnectorJob {
        self.api.get(NAME).await.expect("job")
    }

    async fn status(&self) -> HrConnectorJobStatus {
        self.job().await.status.unwrap_or_default()
    }

    async fn reconcile(&self) -> Action {
        reconcile(Arc::new(self.job().await), self.ctx.clone())
            .await
            .expect("reconcile")
    }

    /// Waits (bounded) until no run is in progress.
    async fn runs_done(&self) {
        for _ in 0..500 {
            if self.ctx.runs.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the run did not finish");
    }

    /// The Events recorded in the namespace.
    async fn events(&self) -> Vec<Event> {
        let events: Api<Event> = Api::namespaced(self.api.clone().into_client(), NS);
        events
            .list(&Default::default())
            .await
            .expect("events")
            .items
    }

    async fn annotate_run_now(&self, value: &str) {
        self.merge_patch(
            serde_json::json!({"metadata": {"annotations": {"hrconnector.io/run-now": value}}}),
        )
        .await;
    }

    /// A JSON merge patch of the job, as `kubectl patch --type merge` sends it.
    async fn merge_patch(&self, patch: serde_json::Value) {
        self.api
            .patch(
                NAME,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .expect("patch");
    }
}

fn condition<'a>(
    status: &'a HrConnectorJobStatus,
    type_: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {:?}", status.conditions))
}

#[tokio::test]
async fn valid_source_is_reported_with_the_next_schedule_time_and_an_exact_requeue() {
    let h = harness(
        serde_json::json!({}),
        &csv_text(3),
        SECRET,
        ClientBuilder::new(),
    )
    .await;
    let action = h.reconcile().await;
    let status = h.status().await;
    assert_eq!(condition(&status, "Ready").status, "Unknown");
    assert_eq!(condition(&status, "Ready").reason, "AwaitingFirstRun");
    // Abnormal-true conditions (kstatus) are absent while they do not hold.
    assert!(!status.conditions.iter().any(|c| c.type_ == "Stalled"));
    assert_eq!(
        status.next_schedule_time.map(|t| t.0),
        Some(ts("2026-11-24T03:00:00Z"))
    );
    assert_eq!(status.observed_generation, Some(1));
    // Two hours to 03:00 (plus the few milliseconds of margin), not a polling interval.
    let expected = format!(
        "{:?}",
        Action::requeue(Duration::from_secs(7200) + Duration::from_millis(5))
    );
    assert_eq!(format!("{action:?}"), expected);
    assert_eq!(h.emu.token_requests() + h.emu.upload_requests(), 0);
}

#[tokio::test]
async fn an_endpoint_the_administrator_did_not_allow_stalls_the_job_and_sends_nothing() {
    // Another port on the same host: the emulator's own address is not covered.
    let config = ControllerConfig {
        endpoint_policy: EndpointPolicy::new(&["http://127.0.0.1:1"]).expect("prefix"),
        ..ControllerConfig::default()
    };
    let h = harness_with(
        serde_json::json!({}),
        &csv_text(3),
        SECRET,
        ClientBuilder::new(),
        config,
    )
    .await;
    h.reconcile().await;
    let status = h.status().await;
    let ready = condition(&status, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "EndpointNotAllowed")
    );
    assert!(
        ready.message.contains("spec.endpoints.authorityUrl"),
        "{}",
        ready.message
    );
    assert_eq!(condition(&status, "Stalled").status, "True");
    // Asked to run now, it still starts nothing and sends nothing.
    h.annotate_run_now("now").await;
    h.reconcile().await;
    h.runs_done().await;
    let status = h.status().await;
    assert!(status.history.is_empty() && status.current_run.is_none());
    assert_eq!(h.emu.token_requests() + h.emu.upload_requests(), 0);
}

/// A Secret named as the source that is not a CSV at all (a token): the missing-columns error
/// must not quote its "header", which is the Secret's first line.
#[tokio::test]
async fn a_secret_source_that_is_not_a_csv_never_reaches_status_or_events() {
    const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2VuLXZhbHVl.c2lnbmF0dXJl";
    let h = harness(
        serde_json::json!({"source": {"secret": {"name": "not-a-csv", "key": "token"}}}),
        &csv_text(1),
        SECRET,
        ClientBuilder::new(),
    )
    .await;
    let mut secret = Secret::default();
    secret.metadata.name = Some("not-a-csv".into());
    secret.metadata.namespace = Some(NS.into());
    secret.data = Some(BTreeMap::from([(
        "token".to_string(),
        ByteString(format!("{TOKEN}\n").into_bytes()),
    )]));
    let secrets: Api<Secret> = Api::namespaced(h.api.clone().into_client(), NS);
    secrets
        .create(&Default::default(), &secret)
        .await
        .expect("secret");
    h.reconcile().await;
    let status = h.status().await;
    let ready = condition(&status, "Ready");
    assert_eq!(ready.reason, "InvalidCsv");
    assert!(ready.message.contains("has no column"), "{}", ready.message);
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(h.api.clone().into_client(), NS);
    let events = serde_json::to_string(
        &events
            .list(&Default::default())
            .await
            .expect("events")
            .items,
    )
    .expect("json");
    let job = serde_json::to_string(&h.job().await).expect("json");
    for (what, text) in [("status", &job), ("events", &events)] {
        assert!(
            !text.contains(TOKEN),
            "the Secret's content reached the {what}: {text}"
        );
        assert!(
            !text.contains("c2VjcmV0"),
            "part of the Secret reached the {what}"
        );
    }
}

/// A ConfigMap is not secret: its header's column names help whoever fixes the file.
#[tokio::test]
async fn a_configmap_missing_a_column_names_the_header_columns() {
    let h = harness(
        serde_json::json!({}),
        "Email,Terminated,LastDay\np@contoso.com,2026-03-01T09:00:00Z,2026-03-15T17:00:00Z\n",
        SECRET,
        ClientBuilder::new(),
    )
    .await;
    h.reconcile().await;
    let ready = h.status().await;
    let message = &condition(&ready, "Ready").message;
    assert!(
        message.contains("\"Email\", \"Terminated\", \"LastDay\""),
        "{message}"
    );
}

#[tokio::test]
async fn run_now_uploads_everything_and_reports_in_status() {
    let h = harness(
        serde_json::json!({}),
        &csv_text(12),
        SECRET,
        ClientBuilder::new(),
    )
    .await;
    h.annotate_run_now("first").await;
    h.reconcile().await;
    h.runs_done().await;
    let status = h.status().await;
    assert_eq!(status.records_saved, Some(12));
    assert_eq!(status.records_rejected, None, "nothing rejected: no field");
    assert_eq!(condition(&status, "Ready").status, "True");
    assert_eq!(condition(&status, "Ready").reason, "Succeeded");
    assert!(!status.conditions.iter().any(|c| c.type_ == "Reconciling"));
    assert_eq!(status.last_run_now.as_deref(), Some("first"));
    assert!(status.current_run.is_none());
    let last = status.last_run.expect("lastRun");
    assert_eq!(last.chunks, 3);
    assert_eq!(last.records_saved, 12);
    assert_eq!(status.history.len(), 1);
    let cp = status.checkpoint.expect("checkpoint");
    assert_eq!(cp.records_acknowledged, 12);
    assert!(cp.complete);
    assert_eq!(Some(cp.source_sha256.clone()), last.source_sha256);
    assert!(status.last_successful_time.is_some());
    assert_eq!(h.emu.received_records(JOB).len(), 12);
    let reasons: Vec<String> = h
        .events()
        .await
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    assert!(
        reasons.contains(&"RunStarted".to_string())
            && reasons.contains(&"RunSucceeded".to_string()),
        "{reasons:?}"
    );
    let metrics = h.ctx.metrics.encode();
    for line in [
        "hrconnector_records_uploaded_total 12",
        "hrconnector_upload_runs_total{result=\"Succeeded\"} 1",
        "hrconnector_uploads_in_flight 0",
        "hrconnector_job_ready{namespace=\"hr\",name=\"termination-upload\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }
    for series in ["last_upload", "last_run"] {
        let series = format!(
            "hrconnector_{series}_timestamp_seconds{{namespace=\"hr\",name=\"termination-upload\"}}"
        );
        assert!(metrics.contains(&series), "{series} not in\n{metrics}");
    }
    assert_eq!(
        status.last_upload_time.as_ref().map(|t| t.0),
        cp.completed_time.as_ref().map(|t| t.0),
        "the last upload is when the file's last chunk was acknowledged"
    );

    // The same value never fires twice; a new value with unchanged content is `Unchanged`.
    h.reconcile().await;
    h.runs_done().await;
    assert_eq!(h.emu.upload_requests(), 3);
    h.annotate_run_now("second").await;
    h.reconcile().await;
    h.runs_done().await;
    let status = h.status().await;
    assert_eq!(condition(&status, "Ready").reason, "Unchanged");
    assert_eq!(status.history.len(), 2);
    assert_eq!(
        h.emu.upload_requests(),
        3,
        "unchanged content is not sent again"
    );
    // lastRun is this run, whole: nothing of the previous run's record lingers in it.
    let last = status.last_run.expect("lastRun");
    assert_eq!(last.result, Some(hrconnector::crd::RunResult::Unchanged));
    assert_eq!(last.chunks, 0, "the unchanged run sent no chunk");
}

#[tokio::test]
async fn an_invalid_file_is_reported_at_once_without_a_run() {
    let csv = "EmailAddress,TerminationDate,LastWorkingDate\na@contoso.com,2026-03-01T09:00:00Z,2026-03-02T09:00:00Z\nb@contoso.com,2026-03-01T09:00:00Z,yesterday\n";
    let h = harness(serde_json::json!({}), csv, SECRET, ClientBuilder::new()).await;
    h.reconcile().await;
    let status = h.status().await;
    let ready = condition(&status, "Ready");
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason, "InvalidCsv");
    assert!(
        ready
            .message
            .contains("record 2 (line 3), column LastWorkingDate"),
        "{}",
        ready.message
    );
    assert!(
        !ready.message.contains("yesterday") && !ready.message.contains("b@contoso.com"),
        "no personal data in status"
    );
    assert_eq!(condition(&status, "Stalled").status, "True");
    assert!(status.next_schedule_time.is_some());
    assert_eq!(h.emu.token_requests() + h.emu.upload_requests(), 0);
}

#[tokio::test]
async fn a_missing_config_map_is_source_not_found() {
    let h = harness(
        serde_json::json!({"source": {"configMap": {"name": "nope", "key": "data.csv"}}}),
        &csv_text(1),
        SECRET,
        ClientBuilder::new(),
    )
    .await;
    h.reconcile().await;
    let status = h.status().await;
    assert_eq!(condition(&status, "Ready").reason, "SourceNotFound");
    assert!(
        condition(&status, "Ready")
            .message
            .contains("ConfigMap hr/nope not found")
    );
}

#[tokio::test]
async fn an_invalid_spec_is_stalled_with_the_problem_named() {
    let h = harness(
        serde_json::json!({"schedule": "every day", "timeZone": "Mars/Olympus"}),
        &csv_text(1),
        SECRET,
        ClientBuilder::new(),
    )
    .await;
    let action = h.reconcile().await;
    let status = h.status().await;
    let ready = condition(&status, "Ready");
    assert_eq!(ready.reason, "InvalidSpec");
    assert!(
        ready.message.contains("\"every day\"") && ready.message.contains("5 fields"),
        "{}",
        ready.message
    );
    assert_eq!(condition(&status, "Stalled").status, "True");
    assert_eq!(
        format!("{action:?}"),
        format!("{:?}", Action::await_change())
    );
}

#[tokio::test]
async fn a_wrong_secret_is_authentication_failed_after_one_token_request() {
    let h = harness(
        serde_json::json!({}),
        &csv_text(3),
        "wrong-secret",
        ClientBuilder::new(),
    )
    .await;
    h.annotate_run_now("1").await;
    h.reconcile().await;
    h.runs_done().await;
    let status = h.status().await;
    let ready = condition(&status, "Ready");
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason, "AuthenticationFailed");
    assert!(ready.message.contains("AADSTS7000215"), "{}", ready.message);
    assert!(!ready.message.contains("wrong-secret"));
    assert_eq!(condition(&status, "Stalled").status, "True");
    assert_eq!(h.emu.token_requests(), 1);
    assert_eq!(h.emu.upload_requests(), 0);
    assert!(h.sleeper.waits().is_empty());
    let metrics = h.ctx.metrics.encode();
    for line in [
        "hrconnector_job_ready{namespace=\"hr\",name=\"termination-upload\"} 0",
        "hrconnector_upload_failures_total{reason=\"AuthenticationFailed\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }
}

#[tokio::test]
async fn runs_at_the_scheduled_time_and_records_last_schedule_time() {
    let h = harness(
        serde_json::json!({}),
        &csv_text(4),
        SECRET,
        ClientBuilder::new(),
    )
    .await;
    h.reconcile().await;
    assert_eq!(h.emu.upload_requests(), 0);
    h.clock.set(ts("2026-11-24T03:00:00.010Z"));
    h.reconcile().await;
    h.runs_done().await;
    let status = h.status().await;
    assert_eq!(
        status.last_schedule_time.map(|t| t.0),
        Some(ts("2026-11-24T03:00:00Z"))
    );
    assert_eq!(status.records_saved, Some(4));
    // Once run, the same fire time does not run again; the next one is tomorrow.
    h.reconcile().await;
    h.runs_done().await;
    let status = h.status().await;
    assert_eq!(status.history.len(), 1);
    assert_eq!(
        status.next_schedule_time.map(|t| t.0),
        Some(ts("2026-11-25T03:00:00Z"))
    );
}

#[tokio::test]
async fn a_missed_run_past_its_starting_deadline_is_skipped() {
    let h = harness(
        serde_json::json!({"startingDeadlineSeconds": 600}),
        &csv_text(2),
        SECRET,
        ClientBuilder::new(),
    )
    .await;
    h.clock.set(ts("2026-11-24T04:00:00Z")); // 60 minutes late, deadline 10
    h.reconcile().await;
    h.runs_done().await;
    assert_eq!(h.emu.upload_requests(), 0);
    assert!(h.status().await.history.is_empty());
    h.clock.set(ts("2026-11-25T03:05:00Z")); // 5 minutes late: inside the deadline
    h.reconcile().await;
    h.runs_done().await;
    assert_eq!(
        h.status().await.last_schedule_time.map(|t| t.0),
        Some(ts("2026-11-25T03:00:00Z"))
    );
    assert_eq!(h.emu.upload_requests(), 1);
}

#[tokio::test]
async fn suspend_stops_scheduled_runs() {
    let h = harness(
        serde_json::json!({"suspend": true}),
        &csv_text(2),
        SECRET,
        ClientBuilder::new(),
    )
    .await;
    h.clock.set(ts("2026-11-24T03:01:00Z"));
    h.reconcile().await;
    h.runs_done().await;
    assert_eq!(h.emu.upload_requests(), 0);
    assert!(h.status().await.next_schedule_time.is_none());
}

#[tokio::test]
async fn an_interrupted_run_resumes_from_the_status_checkpoint() {
    let h = harness(
        serde_json::json!({}),
        &csv_text(20),
        SECRET,
        ClientBuilder::new(),
    )
    .await;
    // First run: chunk 3 of 4 is refused, so 10 records are acknowledged.
    h.emu.inject(
        hrconnector::emulator::Fault::new(
            hrconnector::emulator::FaultTarget::Upload,
            1,
            hrconnector::emulator::FaultAction::Status {
                status: 400,
                retry_after: None,
                body: None,
            },
        )
        .after(2),
    );
    h.annotate_run_now("a").await;
    h.reconcile().await;
    h.runs_done().await;
    let status = h.status().await;
    assert_eq!(condition(&status, "Ready").reason, "UploadFailed");
    assert_eq!(
        status.checkpoint.as_ref().map(|c| c.records_acknowledged),
        Some(10)
    );
    // Simulate a crash in the middle of the next run: status says a run is in progress.
    let patch = serde_json::json!({"status": {"currentRun": {"id": "1", "startTime": "2026-11-24T01:00:00Z", "trigger": "RunNow"}}});
    h.api
        .patch_status(
            NAME,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    h.reconcile().await;
    h.runs_done().await;
    let status = h.status().await;
    assert_eq!(
        condition(&status, "Ready").reason,
        "Succeeded",
        "{:?}",
        status.last_run
    );
    assert_eq!(status.records_saved, Some(20));
    assert!(status.current_run.is_none());
    let received: Vec<String> = h
        .emu
        .received_records(JOB)
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let expected: Vec<String> = (0..20).map(|i| format!("p{i}@contoso.com")).collect();
    assert_eq!(received, expected, "every record exactly once");
}

#[tokio::test]
async fn status_conflicts_during_a_run_are_retried_without_losing_the_checkpoint() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    // Every other status patch answers 409 Conflict.
    let builder = ClientBuilder::new().with_interceptor_funcs(
        kube_fake_client::interceptor::Funcs::new().patch_status(move |_ctx| {
            if seen.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                return Err(kube_fake_client::Error::Conflict("injected".into()));
            }
            Ok(None)
        }),
    );
    let h = harness(serde_json::json!({}), &csv_text(15), SECRET, builder).await;
    h.annotate_run_now("x").await;
    // A conflicting claim is not retried blindly: the run's task asks for a reconcile, which
    // claims again from a fresh read (the test plays the requeue).
    for _ in 0..4 {
        // An injected 409 on the reconcile's own status write is an error it is retried for.
        let _ = reconcile(Arc::new(h.job().await), h.ctx.clone()).await;
        h.runs_done().await;
    }
    let status = h.status().await;
    assert_eq!(status.records_saved, Some(15), "{:?}", status.last_run);
    assert_eq!(
        status
            .checkpoint
            .map(|c| (c.records_acknowledged, c.complete)),
        Some((15, true))
    );
    assert!(
        calls.load(Ordering::SeqCst) >= 8,
        "conflicts were injected and retried"
    );
    assert_eq!(h.emu.received_records(JOB).len(), 15);
}

/// kube-runtime dispatches from its cache, which may not yet hold a run's final status patch
/// when the run's task asks for the next reconcile. Reconciling that stale copy must not run the
/// job again: the claim re-reads status first.
#[tokio::test]
async fn a_stale_copy_after_a_run_starts_no_second_run() {
    let h = harness(
        serde_json::json!({}),
        &csv_text(4),
        SECRET,
        ClientBuilder::new(),
    )
    .await;
    h.annotate_run_now("once").await;
    let stale = h.job().await; // what the cache holds: run-now set, no run recorded yet
    h.reconcile().await;
    h.runs_done().await;
    assert_eq!(h.status().await.history.len(), 1);
    for _ in 0..3 {
        reconcile(Arc::new(stale.clone()), h.ctx.clone()).await.ok();
        h.runs_done().await;
    }
    let status = h.status().await;
    assert_eq!(status.history.len(), 1, "{:?}", status.history);
    assert_eq!(condition(&status, "Ready").reason, "Succeeded");
    assert_eq!(h.emu.upload_requests(), 1);
}

/// A claiming patch the API refuses (an admission webhook's 422, a 500) backs off per job
/// instead of looping as fast as the API answers, and says why in the Ready condition.
/// Twenty triggers of a job whose claiming patch the API refuses, `claims` counting the refused
/// claims: one claim (retried inside the status writer for a 500), never one per trigger, and
/// the refusal shown as the condition.
async fn refused_claims_back_off(h: Harness, claims: &std::sync::atomic::AtomicUsize, code: &str) {
    h.annotate_run_now("refused").await;
    // Twenty triggers in quick succession (watch events, requeues).
    for _ in 0..20 {
        h.reconcile().await;
        h.runs_done().await;
    }
    let attempts = claims.load(std::sync::atomic::Ordering::SeqCst);
    // One claim, retried inside the status writer for a 500 (5 attempts), never once per trigger.
    assert!(
        (1..=5).contains(&attempts),
        "{code}: {attempts} claiming patches"
    );
    let status = h.status().await;
    let ready = condition(&status, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "RunNotStarted"),
        "{code}"
    );
    assert!(ready.message.contains("injected"), "{}", ready.message);
    assert!(
        ready.message.contains("trying again in"),
        "{}",
        ready.message
    );
    assert_eq!(h.emu.upload_requests(), 0);
    assert!(status.current_run.is_none());
}

/// The fake API refusing the claiming patch with `error`.
async fn refusing_claims_with(
    error: fn() -> kube_fake_client::Error,
) -> (Harness, Arc<std::sync::atomic::AtomicUsize>) {
    let claims = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = claims.clone();
    let builder = ClientBuilder::new().with_interceptor_funcs(
        kube_fake_client::interceptor::Funcs::new().patch_status(move |ctx| {
            if ctx.patch.pointer("/status/currentRun").is_some() {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                return Err(error());
            }
            Ok(None)
        }),
    );
    let h = harness(serde_json::json!({}), &csv_text(2), SECRET, builder).await;
    (h, claims)
}

#[tokio::test]
async fn a_claim_refused_by_an_admission_webhook_backs_off() {
    let (h, claims) = refusing_claims_with(|| {
        kube_fake_client::Error::InvalidRequest("injected webhook denial".into())
    })
    .await;
    refused_claims_back_off(h, &claims, "422").await;
}

#[tokio::test]
async fn a_claim_failing_with_a_server_error_backs_off() {
    let (h, claims) =
        refusing_claims_with(|| kube_fake_client::Error::Internal("injected".into())).await;
    refused_claims_back_off(h, &claims, "500").await;
}

/// RBAC drift: the API server answers the claiming status patch 403 Forbidden. kube-fake-client
/// has no 403 to give, so a tower service in front of it answers that one request with the API
/// server's Forbidden Status (its exact shape) and passes every other request through.
#[tokio::test]
async fn a_claim_forbidden_by_rbac_backs_off() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let claims = Arc::new(AtomicUsize::new(0));
    let seen = claims.clone();
    let forbid_claims = move |fake: kube::Client| {
        let service = tower::service_fn(move |req: hyper::Request<kube::client::Body>| {
            let (fake, seen) = (fake.clone(), seen.clone());
            async move {
                let (parts, body) = req.into_parts();
                let body = body.collect_bytes().await?;
                let claiming = parts.method == hyper::Method::PATCH
                    && parts.uri.path().ends_with("/status")
                    && serde_json::from_slice::<serde_json::Value>(&body)
                        .is_ok_and(|p| p.pointer("/status/currentRun").is_some());
                if !claiming {
                    let req = hyper::Request::from_parts(parts, kube::client::Body::from(body));
                    return fake.send(req).await;
                }
                seen.fetch_add(1, Ordering::SeqCst);
                let forbidden = serde_json::json!({
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "hrconnectorjobs.hrconnector.io \"termination-upload\" is forbidden: User \"system:serviceaccount:hrconnector-system:hrconnector\" cannot patch resource \"hrconnectorjobs/status\" (injected)",
                    "reason": "Forbidden", "code": 403,
                });
                Ok(hyper::Response::builder()
                    .status(403)
                    .header("content-type", "application/json")
                    .body(kube::client::Body::from(forbidden.to_string().into_bytes()))
                    .expect("response"))
            }
        });
        kube::Client::new(service, NS)
    };
    let h = harness_through(
        serde_json::json!({}),
        &csv_text(2),
        SECRET,
        ClientBuilder::new(),
        ControllerConfig::default(),
        forbid_claims,
    )
    .await;
    refused_claims_back_off(h, &claims, "403").await;
}

#[tokio::test]
async fn the_global_bound_on_concurrent_uploads_holds() {
    let config = ControllerConfig {
        max_concurrent_uploads: 2,
        ..ControllerConfig::default()
    };
    let h = harness_with(
        serde_json::json!({}),
        &csv_text(2),
        SECRET,
        ClientBuilder::new(),
        config,
    )
    .await;
    // Six jobs asked to run at once, each upload held 100 ms by the service.
    h.emu.set_upload_delay(Duration::from_millis(100));
    let mut names = vec![NAME.to_string()];
    for i in 1..6 {
        let mut job = hr_job(&h.emu, serde_json::json!({}));
        job.metadata.name = Some(format!("{NAME}-{i}"));
        h.api.create(&Default::default(), &job).await.unwrap();
        names.push(format!("{NAME}-{i}"));
    }
    let patch = serde_json::json!({"metadata": {"annotations": {"hrconnector.io/run-now": "all"}}});
    for name in &names {
        h.api
            .patch(
                name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .unwrap();
        reconcile(Arc::new(h.api.get(name).await.unwrap()), h.ctx.clone())
            .await
            .unwrap();
    }
    h.runs_done().await;
    for name in &names {
        let status = h.api.get(name).await.unwrap().status.unwrap_or_default();
        assert_eq!(
            status.records_saved,
            Some(2),
            "{name}: {:?}",
            status.last_run
        );
    }
    // Seen by the operator and, independently, by the service: never more than two at once.
    let in_flight = h
        .ctx
        .max_in_flight
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(in_flight <= 2, "{in_flight} uploads ran at once");
    assert!(h.emu.max_concurrent_uploads() <= 2);
    assert_eq!(h.emu.upload_requests(), 6);
}

#[tokio::test]
async fn a_run_missed_while_the_operator_was_down_runs_once_on_return() {
    let h = harness(
        serde_json::json!({}),
        &csv_text(2),
        SECRET,
        ClientBuilder::new(),
    )
    .await;
    // Created days ago, never reconciled since: three fire times were missed.
    let patch = serde_json::json!({"status": {"lastScheduleTime": "2026-11-21T03:00:00Z"}});
    h.api
        .patch_status(
            NAME,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    h.reconcile().await;
    h.runs_done().await;
    h.reconcile().await;
    h.runs_done().await;
    let status = h.status().await;
    assert_eq!(status.history.len(), 1, "one catch-up run, not three");
    assert_eq!(
        status.last_schedule_time.map(|t| t.0),
        Some(ts("2026-11-23T03:00:00Z"))
    );
    assert_eq!(h.emu.upload_requests(), 1);
}

/// A PVC source runs as a batch Job. The fake API has no Job controller or kubelet, so the test
/// plays them: it runs the real binary with the Job's own arguments (paths moved into a temp
/// dir), then reports the pod's termination message and the Job's completion as they would.
#[tokio::test]
async fn a_pvc_source_runs_as_an_owned_job_whose_report_lands_in_status() {
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::Pod;

    let config = ControllerConfig {
        pvc_job: Some(hrconnector::controller::pvc_job::PvcJobSettings::new(
            "registry.example/hrconnector:test",
        )),
        pvc_job_poll: Duration::from_millis(20),
        ..ControllerConfig::default()
    };
    let h = harness_with(
        serde_json::json!({"source": {"persistentVolumeClaim": {"claimName": "hr-exports", "path": "exports/hr.csv"}}}),
        "",
        SECRET,
        ClientBuilder::new(),
        config,
    )
    .await;
    h.annotate_run_now("pvc").await;
    h.reconcile().await;
    let (emu, api, ctx) = (&h.emu, &h.api, &h.ctx);
    let client = api.clone().into_client();

    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let mut created = None;
    for _ in 0..200 {
        if let Some(j) = jobs
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .next()
        {
            created = Some(j);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let created = created.expect("the controller created an upload Job");
    let owner = &created.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("HrConnectorJob", NAME, Some(true))
    );
    let name = created.metadata.name.clone().unwrap();

    // The kubelet: mount the claim and the Secret, run the container's command line.
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let creds = root.path().join("creds");
    std::fs::create_dir_all(data.join("exports")).unwrap();
    std::fs::create_dir_all(&creds).unwrap();
    let (_, records) = write_csv(&data.join("exports"), "hr.csv", 7);
    let pod_spec = created
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let items = pod_spec
        .volumes
        .iter()
        .flatten()
        .find_map(|v| v.secret.as_ref())
        .and_then(|s| s.items.clone())
        .unwrap();
    let secret_values = [("tenantId", TENANT), ("appId", APP), ("appSecret", SECRET)];
    for item in items {
        let value = secret_values
            .iter()
            .find(|(k, _)| *k == item.key)
            .unwrap()
            .1;
        std::fs::write(creds.join(&item.path), value).unwrap();
    }
    let result_file = root.path().join("termination-log");
    let container = &pod_spec.containers[0];
    let args: Vec<String> = container
        .args
        .iter()
        .flatten()
        .map(|a| {
            a.replace("/var/run/secrets/hrconnector", &creds.to_string_lossy())
                .replace("/dev/termination-log", &result_file.to_string_lossy())
                .replace("/data", &data.to_string_lossy())
        })
        .collect();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hrconnector"))
        .args(&args)
        .env_remove("HRCONNECTOR_APP_SECRET")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let message = std::fs::read_to_string(&result_file).unwrap();

    // The Job controller: a finished pod with the termination message, the Job complete.
    let uid = created.metadata.uid.clone().unwrap_or_default();
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{name}-abcde"), "namespace": NS, "labels": {"job-name": name, "controller-uid": uid}},
        "status": {"phase": "Succeeded", "containerStatuses": [{
            "name": container.name, "image": "x", "imageID": "x", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "message": message, "reason": "Completed", "finishedAt": "2026-11-24T01:01:00Z"}}}]}
    })).unwrap();
    Api::<Pod>::namespaced(client.clone(), NS)
        .create(&Default::default(), &pod)
        .await
        .unwrap();
    let done = serde_json::json!({"status": {"succeeded": 1, "conditions": [
        {"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True", "reason": "CompletionsReached"}]}});
    jobs.patch(
        &name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&done),
    )
    .await
    .unwrap();

    for _ in 0..500 {
        if ctx.runs.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = api.get(NAME).await.unwrap().status.unwrap_or_default();
    assert_eq!(status.records_saved, Some(7), "{:?}", status.last_run);
    assert_eq!(condition(&status, "Ready").reason, "Succeeded");
    let cp = status.checkpoint.expect("checkpoint from the pod's report");
    assert_eq!((cp.records_acknowledged, cp.complete), (7, true));
    assert_eq!(emu.received_records(JOB), records);
}

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/csv")
        .join(name);
    std::fs::read_to_string(path).expect("fixture")
}

/// Each scenario's example file, the spec fields it needs, and its name in status.
fn scenario_jobs() -> Vec<(&'static str, serde_json::Value, &'static str, u64)> {
    use serde_json::json;
    vec![
        ("sample.csv", json!({}), "Resignation", 2),
        (
            "job_level_change.csv",
            json!({"scenario": "JobLevelChange"}),
            "JobLevelChange",
            2,
        ),
        (
            "performance_review.csv",
            json!({"scenario": "PerformanceReview"}),
            "PerformanceReview",
            2,
        ),
        (
            "performance_improvement_plan.csv",
            json!({"scenario": "PerformanceImprovementPlan",
                   "columns": {"remarks": "ImprovementRemarks", "rating": "PerformanceRating"}}),
            "PerformanceImprovementPlan",
            2,
        ),
        (
            "employee_profile.csv",
            json!({"scenario": "EmployeeProfile", "schedule": "0 3 * * 1"}),
            "EmployeeProfile",
            2,
        ),
        (
            "multiple.csv",
            json!({"scenario": "Multiple", "scenarioColumn": "HRScenarios"}),
            "Multiple",
            4,
        ),
    ]
}

#[tokio::test]
async fn a_job_of_every_scenario_goes_ready_on_valid_data() {
    for (file, spec, name, records) in scenario_jobs() {
        let h = harness(spec, &fixture(file), SECRET, ClientBuilder::new()).await;
        h.reconcile().await;
        let status = h.status().await;
        assert_eq!(
            condition(&status, "Ready").reason,
            "AwaitingFirstRun",
            "{name}"
        );
        assert!(status.warnings.is_empty(), "{name}: {:?}", status.warnings);
        h.annotate_run_now("now").await;
        h.reconcile().await;
        h.runs_done().await;
        let status = h.status().await;
        let ready = condition(&status, "Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("True", "Succeeded"),
            "{name}: {}",
            ready.message
        );
        assert_eq!(status.records_saved, Some(records), "{name}");
        assert_eq!(h.emu.received_records(JOB).len() as u64, records, "{name}");
        let scenarios = status.last_run.expect("lastRun").scenarios;
        if name == "Multiple" {
            assert_eq!(
                scenarios,
                BTreeMap::from(
                    [
                        "Resignation",
                        "JobLevelChange",
                        "PerformanceReview",
                        "PerformanceImprovementPlan"
                    ]
                    .map(|s| (s.to_owned(), 1))
                )
            );
        } else {
            // One scenario: its count is recordsSaved, not repeated per scenario.
            assert!(scenarios.is_empty(), "{name}: {scenarios:?}");
        }
    }
}

#[tokio::test]
async fn a_job_of_every_scenario_is_stalled_on_invalid_data() {
    for (file, spec, name, _) in scenario_jobs() {
        // The first record's email address, on line 2 of every example.
        let csv = fixture(file).replacen("sarad@contoso.com", "not-an-email", 1);
        let h = harness(spec, &csv, SECRET, ClientBuilder::new()).await;
        h.reconcile().await;
        let status = h.status().await;
        let ready = condition(&status, "Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "InvalidCsv"),
            "{name}"
        );
        assert!(
            ready
                .message
                .contains("record 1 (line 2), column EmailAddress: not a valid email address"),
            "{name}: {}",
            ready.message
        );
        assert!(
            !ready.message.contains("not-an-email"),
            "{name}: value leaked"
        );
        assert_eq!(condition(&status, "Stalled").status, "True", "{name}");
        assert_eq!(h.emu.token_requests() + h.emu.upload_requests(), 0);
    }
}

#[tokio::test]
async fn an_employee_profile_job_scheduled_monthly_is_warned_about() {
    let h = harness(
        serde_json::json!({"scenario": "EmployeeProfile", "schedule": "0 3 1 * *"}),
        &fixture("employee_profile.csv"),
        SECRET,
        ClientBuilder::new(),
    )
    .await;
    h.reconcile().await;
    let status = h.status().await;
    assert_eq!(
        status.warnings,
        [
            "schedule \"0 3 1 * *\" leaves up to 31 days between runs: EmployeeProfile data \
          should be uploaded at least every 15 days, because the service deletes profiles not \
          refreshed for 30 days"
        ]
    );
    // A warning, not a failure.
    assert_eq!(condition(&status, "Ready").reason, "AwaitingFirstRun");
    // Abnormal-true conditions (kstatus) are absent while they do not hold.
    assert!(!status.conditions.iter().any(|c| c.type_ == "Stalled"));
    let refresh = |e: &Event| e.reason.as_deref() == Some("ProfileRefreshTooRare");
    let warnings: Vec<_> = h.events().await.into_iter().filter(refresh).collect();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].type_.as_deref(), Some("Warning"));

    // Reconciling again does not repeat the Event; a fortnightly schedule clears the warning.
    h.reconcile().await;
    h.merge_patch(serde_json::json!({"spec": {"schedule": "0 3 * * 1"}}))
        .await;
    h.reconcile().await;
    assert!(h.status().await.warnings.is_empty());
    assert_eq!(h.events().await.iter().filter(|e| refresh(e)).count(), 1);

    // Runs often enough, but an unchanged file is only sent again every 20 days: warned too.
    h.merge_patch(serde_json::json!({"spec": {"resendUnchangedAfter": "20d"}}))
        .await;
    h.reconcile().await;
    assert_eq!(
        h.status().await.warnings,
        [
            "schedule \"0 3 * * 1\" with resendUnchangedAfter 20d leaves up to 21 days between \
             uploads of an unchanged file: EmployeeProfile data should be uploaded at least every \
             15 days, because the service deletes profiles not refreshed for 30 days"
        ]
    );
    // Every ten days with the default 14d leaves 20 days; daily with it, 14: no warning.
    h.merge_patch(
        serde_json::json!({"spec": {"resendUnchangedAfter": null, "schedule": "0 3 */10 * *"}}),
    )
    .await;
    h.reconcile().await;
    assert!(
        h.status().await.warnings[0].contains("with resendUnchangedAfter 14d leaves up to 2"),
        "{:?}",
        h.status().await.warnings
    );
    h.merge_patch(serde_json::json!({"spec": {"schedule": "0 3 * * *"}}))
        .await;
    h.reconcile().await;
    assert!(h.status().await.warnings.is_empty());
}

#[tokio::test]
async fn a_missing_service_account_or_annotation_is_ready_false_at_once_on_apply() {
    use k8s_openapi::api::core::v1::ServiceAccount;
    let h = harness(
        serde_json::json!({"credentials": {"workloadIdentity": {"serviceAccountName": "hr-uploader"}}}),
        &csv_text(3),
        SECRET,
        ClientBuilder::new().with_resource::<ServiceAccount>(),
    )
    .await;
    h.reconcile().await;
    let status = h.status().await;
    let ready = condition(&status, "Ready");
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason, "ServiceAccountNotFound");
    assert!(
        ready.message.contains("hr/hr-uploader"),
        "{}",
        ready.message
    );

    let accounts: Api<ServiceAccount> = Api::namespaced(h.ctx.client.clone(), NS);
    let mut sa = ServiceAccount::default();
    sa.metadata.name = Some("hr-uploader".into());
    sa.metadata.annotations = Some(BTreeMap::from([(
        "azure.workload.identity/tenant-id".to_string(),
        TENANT.to_string(),
    )]));
    accounts
        .create(&kube::api::PostParams::default(), &sa)
        .await
        .expect("create service account");
    h.reconcile().await;
    let status = h.status().await;
    let ready = condition(&status, "Ready");
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason, "WorkloadIdentityAnnotationMissing");
    assert!(
        ready.message.contains("azure.workload.identity/client-id")
            && ready.message.contains("clientId"),
        "{}",
        ready.message
    );

    // With the client ID in the spec instead, the job is valid: nothing was sent meanwhile.
    h.merge_patch(
        serde_json::json!({"spec": {"credentials": {"workloadIdentity": {
        "serviceAccountName": "hr-uploader", "clientId": APP}}}}),
    )
    .await;
    h.reconcile().await;
    let status = h.status().await;
    assert_eq!(condition(&status, "Ready").reason, "AwaitingFirstRun");
    assert_eq!(h.emu.token_requests() + h.emu.upload_requests(), 0);
}

#[tokio::test]
async fn spec_limits_above_the_operators_ceiling_are_an_invalid_spec() {
    let h = harness(
        serde_json::json!({"limits": {"maxFieldBytes": 2097152}}),
        &csv_text(1),
        SECRET,
        ClientBuilder::new(),
    )
    .await;
    h.reconcile().await;
    let status = h.status().await;
    let ready = condition(&status, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "InvalidSpec")
    );
    assert!(
        ready.message.contains(
            "spec.limits.maxFieldBytes 2097152 is above the operator's ceiling of 1048576"
        ),
        "{}",
        ready.message
    );
    assert_eq!(h.emu.token_requests() + h.emu.upload_requests(), 0);
}

#[tokio::test]
async fn a_config_map_over_the_limits_is_invalid_csv_naming_the_limit() {
    // The operator's ceiling is the limit of a job that sets none.
    let config = ControllerConfig {
        limits: hrconnector::hrdata::Limits {
            max_columns: 3,
            ..Default::default()
        },
        ..ControllerConfig::default()
    };
    let csv = "EmailAddress,TerminationDate,LastWorkingDate,Extra\n\
               a@contoso.com,2026-03-01T09:00:00Z,2026-03-02T09:00:00Z,x\n";
    let h = harness_with(
        serde_json::json!({}),
        csv,
        SECRET,
        ClientBuilder::new(),
        config,
    )
    .await;
    h.reconcile().await;
    let status = h.status().await;
    let ready = condition(&status, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "InvalidCsv")
    );
    assert!(
        ready
            .message
            .contains("the header (line 1) has more than the limit of 3 columns")
            && ready.message.contains("spec.limits.maxColumns"),
        "{}: {}",
        ready.reason,
        ready.message
    );
    assert_eq!(h.emu.token_requests() + h.emu.upload_requests(), 0);

    // A job's own, lower limit applies within the default ceiling.
    let h = harness(
        serde_json::json!({"limits": {"maxFieldBytes": 5}}),
        &csv_text(1),
        SECRET,
        ClientBuilder::new(),
    )
    .await;
    h.reconcile().await;
    let status = h.status().await;
    let ready = condition(&status, "Ready");
    assert!(
        ready
            .message
            .contains("the field is longer than the limit of 5 bytes"),
        "{}: {}",
        ready.reason,
        ready.message
    );
}

/// An object store that accepts connections and never answers (issue 18): reconcile returns at
/// once with Ready=Unknown Checking, and once `--preflight-timeout-seconds` pass on the check's
/// own task, the next reconcile reports SourceUnreachable naming the endpoint and its field.
#[tokio::test]
async fn an_object_store_that_never_answers_does_not_hold_up_reconcile() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let url = format!("http://{}", silent.local_addr().expect("address"));
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            open.push(connection); // never read, never answered
        }
    });
    let mut store_keys = Secret::default();
    store_keys.metadata.name = Some("hr-s3".into());
    store_keys.metadata.namespace = Some(NS.into());
    store_keys.data = Some(BTreeMap::from([
        (
            "accessKeyId".to_string(),
            ByteString(b"AKIDEXAMPLE".to_vec()),
        ),
        (
            "secretAccessKey".to_string(),
            ByteString(b"not-a-real-key".to_vec()),
        ),
    ]));
    // The silent server is allowed (as an administrator would allow a VPC endpoint), and the
    // job's other endpoints point at it too: nothing but the store is reached here.
    let config = ControllerConfig {
        preflight_timeout: Duration::from_secs(1),
        endpoint_policy: EndpointPolicy::new(std::slice::from_ref(&url)).expect("prefix"),
        ..ControllerConfig::default()
    };
    let h = harness_with(
        serde_json::json!({"source": {"s3": {
            "bucket": "hr-exports", "key": "leavers.csv", "region": "us-gov-west-1",
            "endpoint": url, "credentials": {"secretRef": {"name": "hr-s3"}}}},
            "endpoints": {"authorityUrl": url, "ingestionUrl": url}}),
        &csv_text(2),
        SECRET,
        ClientBuilder::new().with_object(store_keys),
        config,
    )
    .await;

    let started = std::time::Instant::now();
    h.reconcile().await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "reconcile waited {:?} on the store",
        started.elapsed()
    );
    let status = h.status().await;
    let ready = condition(&status, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("Unknown", "Checking")
    );

    let mut ready = ready.clone();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        h.reconcile().await;
        ready = condition(&h.status().await, "Ready").clone();
        if ready.reason != "Checking" {
            break;
        }
    }
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason, "SourceUnreachable");
    let expected =
        format!("no answer within 1 s from the S3 endpoint {url} (spec.source.s3.endpoint)");
    assert!(ready.message.contains(&expected), "{}", ready.message);
    assert!(!ready.message.contains("not-a-real-key"));
    held.abort();
}
