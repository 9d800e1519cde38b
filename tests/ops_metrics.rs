//! The /metrics, /healthz and /readyz endpoints over real HTTP on loopback.

use hrconnector::controller::health::{self, Health, OPENMETRICS_CONTENT_TYPE};
use hrconnector::controller::metrics::{JobGauges, Metrics};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

struct Server {
    base: String,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let metrics = Arc::new(Metrics::new());
    let health = Health::new();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(health::serve(
        listener,
        metrics.clone(),
        health.clone(),
        shutdown.clone(),
    ));
    Server {
        base,
        metrics,
        health,
        shutdown,
        task,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

async fn scrape(server: &Server) -> String {
    let resp = client()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("scrape");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some(OPENMETRICS_CONTENT_TYPE)
    );
    resp.text().await.expect("body")
}

/// The sample line for `series` (name plus labels, exactly as encoded), if any.
fn sample<'a>(text: &'a str, series: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| {
            l.strip_prefix(series)
                .is_some_and(|rest| rest.starts_with(' '))
        })
        .map(|l| l[series.len() + 1..].trim())
}

#[tokio::test]
async fn reconcile_families_follow_controller_runtime() {
    let s = start().await;
    let before = scrape(&s).await;
    // Present at zero before anything happened, like controller-runtime.
    for result in ["success", "error", "requeue"] {
        let series = format!(
            r#"controller_runtime_reconcile_total{{controller="hrconnectorjob",result="{result}"}}"#
        );
        assert_eq!(sample(&before, &series), Some("0"), "{series}\n{before}");
    }
    assert_eq!(
        sample(
            &before,
            r#"controller_runtime_reconcile_errors_total{controller="hrconnectorjob"}"#
        ),
        Some("0")
    );
    assert!(before.trim_end().ends_with("# EOF"));

    s.metrics
        .reconcile_finished(Duration::from_millis(30), None);
    s.metrics
        .reconcile_finished(Duration::from_millis(70), None);
    s.metrics
        .reconcile_finished(Duration::from_secs(2), Some("KubeApi"));
    s.metrics.reconcile_requeued(Duration::from_millis(1));
    let text = scrape(&s).await;
    let get = |series: &str| sample(&text, series).map(str::to_owned);
    assert_eq!(
        get(r#"controller_runtime_reconcile_total{controller="hrconnectorjob",result="success"}"#)
            .as_deref(),
        Some("2")
    );
    assert_eq!(
        get(r#"controller_runtime_reconcile_total{controller="hrconnectorjob",result="error"}"#)
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        get(r#"controller_runtime_reconcile_total{controller="hrconnectorjob",result="requeue"}"#)
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        get(r#"controller_runtime_reconcile_errors_total{controller="hrconnectorjob"}"#).as_deref(),
        Some("1")
    );
    assert_eq!(
        get(r#"hrconnector_reconcile_errors_by_reason_total{reason="KubeApi"}"#).as_deref(),
        Some("1")
    );
    assert!(text.contains("# TYPE controller_runtime_reconcile_time_seconds histogram"));
    assert_eq!(
        get(r#"controller_runtime_reconcile_time_seconds_count{controller="hrconnectorjob"}"#)
            .as_deref(),
        Some("4")
    );
    assert_eq!(
        get(
            r#"controller_runtime_reconcile_time_seconds_bucket{le="0.05",controller="hrconnectorjob"}"#
        )
        .as_deref(),
        Some("2"),
        "{text}"
    );
    s.shutdown.cancel();
}

#[tokio::test]
async fn upload_families_and_per_job_series() {
    let s = start().await;
    let m = &s.metrics;
    let t1: jiff::Timestamp = "2026-03-01T12:00:00Z".parse().expect("ts");
    let t2: jiff::Timestamp = "2026-03-02T12:00:00.5Z".parse().expect("ts");

    m.upload_started();
    m.upload_started();
    assert_eq!(m.uploads_in_flight(), 2);
    let text = scrape(&s).await;
    assert_eq!(sample(&text, "hrconnector_uploads_in_flight"), Some("2"));

    m.upload_finished("Succeeded", None, 1200);
    m.upload_finished("Failed", Some("IngestRejected"), 300);
    m.upload_started();
    m.upload_finished("Unchanged", None, 0);
    m.upload_started();
    m.upload_finished("DryRun", None, 999);
    assert_eq!(m.uploads_in_flight(), 0);
    // Per-job series follow status: gcc-daily uploaded at t1 and found it unchanged at t2; the
    // dry job never uploaded anything.
    let gauges = |last_run, last_upload, next_run| JobGauges {
        ready: true,
        last_run,
        last_upload,
        next_run,
        ..JobGauges::default()
    };
    let t3 = t2 + jiff::SignedDuration::from_hours(24);
    m.job_observed(
        "hr",
        "gcc-daily",
        &JobGauges {
            last_result: Some("Unchanged"),
            last_records_saved: Some(0),
            last_duration: Some(std::time::Duration::from_millis(1500)),
            ..gauges(Some(t2), Some(t1), Some(t3))
        },
    );
    m.job_observed("hr", "dry", &gauges(Some(t2), None, Some(t3)));

    let text = scrape(&s).await;
    let get = |series: &str| sample(&text, series).map(str::to_owned);
    assert_eq!(get("hrconnector_uploads_in_flight").as_deref(), Some("0"));
    for (result, n) in [
        ("Succeeded", "1"),
        ("Failed", "1"),
        ("Unchanged", "1"),
        ("DryRun", "1"),
    ] {
        let series = format!(r#"hrconnector_upload_runs_total{{result="{result}"}}"#);
        assert_eq!(get(&series).as_deref(), Some(n), "{series}\n{text}");
    }
    assert_eq!(
        get(r#"hrconnector_upload_failures_total{reason="IngestRejected"}"#).as_deref(),
        Some("1")
    );
    // Dry runs upload nothing; partial failures count what the service took.
    assert_eq!(
        get("hrconnector_records_uploaded_total").as_deref(),
        Some("1500")
    );
    let seconds = |series: &str| -> f64 {
        get(series)
            .unwrap_or_else(|| panic!("{series} in\n{text}"))
            .parse()
            .expect("float")
    };
    assert_eq!(
        seconds(r#"hrconnector_last_upload_timestamp_seconds{namespace="hr",name="gcc-daily"}"#),
        t1.as_millisecond() as f64 / 1000.0
    );
    assert_eq!(
        seconds(r#"hrconnector_last_run_timestamp_seconds{namespace="hr",name="gcc-daily"}"#),
        t2.as_millisecond() as f64 / 1000.0
    );
    assert_eq!(
        seconds(r#"hrconnector_next_run_timestamp_seconds{namespace="hr",name="gcc-daily"}"#),
        t3.as_millisecond() as f64 / 1000.0
    );
    // The last run's result is a state set: 1 for Unchanged, 0 for the other known results.
    for (result, value) in [("Unchanged", "1"), ("Succeeded", "0"), ("Failed", "0")] {
        let series = format!(
            r#"hrconnector_job_last_run_result{{namespace="hr",name="gcc-daily",result="{result}"}}"#
        );
        assert_eq!(get(&series).as_deref(), Some(value), "{series}\n{text}");
    }
    assert!(!text.contains(r#"result="Other""#), "{text}");
    assert_eq!(
        get(r#"hrconnector_job_last_run_records_saved{namespace="hr",name="gcc-daily"}"#)
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        seconds(r#"hrconnector_job_last_run_duration_seconds{namespace="hr",name="gcc-daily"}"#),
        1.5
    );
    // A job without a finished run has none of them.
    assert!(
        !text.contains(r#"hrconnector_job_last_run_result{namespace="hr",name="dry""#),
        "{text}"
    );
    // A job that never uploaded has no last-upload series (not a zero that looks 56 years old).
    assert!(
        !text.contains(r#"hrconnector_last_upload_timestamp_seconds{namespace="hr",name="dry"}"#),
        "{text}"
    );
    // Suspended (no next schedule time): its next-run series goes, the others stay.
    m.job_observed("hr", "dry", &gauges(Some(t2), None, None));
    let text = scrape(&s).await;
    assert!(
        !text.contains(r#"hrconnector_next_run_timestamp_seconds{namespace="hr",name="dry"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"hrconnector_last_run_timestamp_seconds{namespace="hr",name="dry"}"#),
        "{text}"
    );

    // The next run failed: the state set moves, no series of the run before stays at 1.
    m.job_observed(
        "hr",
        "gcc-daily",
        &JobGauges {
            last_result: Some("Failed"),
            ..gauges(Some(t3), Some(t1), None)
        },
    );
    let text = scrape(&s).await;
    for (result, value) in [("Unchanged", "0"), ("Failed", "1")] {
        let series = format!(
            r#"hrconnector_job_last_run_result{{namespace="hr",name="gcc-daily",result="{result}"}}"#
        );
        assert_eq!(sample(&text, &series), Some(value), "{series}\n{text}");
    }

    m.forget_job("hr", "gcc-daily");
    let text = scrape(&s).await;
    assert!(!text.contains(r#"name="gcc-daily""#), "{text}");
    // Job-independent totals stay.
    assert!(text.contains(r#"hrconnector_upload_runs_total{result="Succeeded"} 1"#));
    s.shutdown.cancel();
}

#[tokio::test]
async fn health_and_readiness() {
    let s = start().await;
    let c = client();
    let healthz = c
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(healthz.status(), 200);
    assert_eq!(healthz.text().await.expect("body"), "ok");

    let readyz = c
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(readyz.status(), 503);

    s.health.set_ready(true);
    assert!(s.health.is_ready());
    let readyz = c
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(readyz.status(), 200);

    s.health.set_ready(false);
    let readyz = c
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(readyz.status(), 503);

    let missing = c.get(format!("{}/nope", s.base)).send().await.expect("404");
    assert_eq!(missing.status(), 404);
    s.shutdown.cancel();
}

#[tokio::test]
async fn graceful_shutdown_stops_the_server() {
    let s = start().await;
    assert_eq!(
        client()
            .get(format!("{}/healthz", s.base))
            .send()
            .await
            .expect("up")
            .status(),
        200
    );
    s.shutdown.cancel();
    let result = tokio::time::timeout(Duration::from_secs(5), s.task)
        .await
        .expect("server stops within 5 s")
        .expect("task not panicked");
    assert!(result.is_ok(), "{result:?}");
    // The port no longer answers.
    let after = client().get(format!("{}/healthz", s.base)).send().await;
    assert!(after.is_err(), "{after:?}");
}
