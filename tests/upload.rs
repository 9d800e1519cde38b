//! The upload path over real HTTP against the emulator: request shape, chunking, checkpoint and
//! resume, certificate authentication. Retries and fail-fast errors (503, 429 with Retry-After,
//! token 500, wrong secret, 400) are in `faults.rs`, each with a delivery check.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use hrconnector::cloud::Cloud;
use hrconnector::emulator::{Fault, FaultAction, FaultTarget, RequestKind};
use hrconnector::hrdata::{BytesSource, ScenarioChoice, ValidationOptions};
use hrconnector::upload::{
    AppCredentials, CertificateCredential, ClientAuth, FileCheckpointStore, NoCheckpoint,
    RunResult, Uploader, UploaderConfig,
};

fn status_fault(target: FaultTarget, count: u32, status: u16, retry_after: Option<u64>) -> Fault {
    Fault::new(
        target,
        count,
        FaultAction::Status {
            status,
            retry_after,
            body: None,
        },
    )
}

#[tokio::test]
async fn request_shape_matches_the_protocol_for_every_cloud() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", 3);
    for cloud in Cloud::ALL {
        let defaults = cloud.endpoints();
        let emu = start_emulator_with_resource(&defaults.resource).await;
        // Trailing slashes on the overrides must not produce `//` in the paths.
        let endpoints = defaults.clone().with_overrides(
            Some(&format!("{}/", emu.url())),
            Some(&format!("{}/", emu.url())),
            None,
        );
        let uploader =
            Uploader::new(UploaderConfig::new(endpoints, secret_credentials(SECRET))).unwrap();
        let report = uploader.run(&request(&csv, 5000), &NoCheckpoint).await;
        assert_eq!(
            report.result,
            RunResult::Succeeded,
            "{cloud}: {}",
            report.message
        );

        let requests = emu.requests();
        let token = requests
            .iter()
            .find(|r| r.kind == RequestKind::Token)
            .expect("token request");
        assert_eq!(token.method, "POST");
        assert_eq!(token.path, format!("/{TENANT}/oauth2/token"));
        assert_eq!(token.query, "api-version=1.0");
        assert_eq!(
            token.content_type.as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        let field = |name: &str| {
            token
                .form
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(field("client_id"), Some(APP));
        assert_eq!(field("grant_type"), Some("client_credentials"));
        assert_eq!(
            field("resource"),
            Some(defaults.resource.as_str()),
            "{cloud}"
        );
        assert_eq!(field("tenant_id"), Some(TENANT));
        assert_eq!(field("client_secret"), Some("<redacted>"));

        let upload = requests
            .iter()
            .find(|r| r.kind == RequestKind::Upload)
            .expect("upload request");
        assert_eq!(upload.method, "POST");
        assert_eq!(upload.path, "/api/signals");
        assert_eq!(upload.query, format!("jobid={JOB}"));
        assert!(
            upload
                .content_type
                .as_deref()
                .unwrap_or("")
                .starts_with("multipart/form-data")
        );
        assert_eq!(upload.bearer_valid, Some(true));
        assert_eq!(upload.part_name.as_deref(), Some("file"));
        assert_eq!(upload.file_name.as_deref(), Some("hr.csv"));
        assert_eq!(upload.status, 200);
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn chunks_are_record_exact_with_the_header_in_each() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, records) = write_csv(dir.path(), "hr.csv", 23);
    let emu = start_emulator().await;
    let (report, _) = upload_once(&emu, &csv, 5).await;
    assert_eq!(report.result, RunResult::Succeeded, "{}", report.message);
    assert_eq!(report.chunks, 5); // ceil(23 / 5)
    assert_eq!(report.records_saved, 23);
    assert_eq!(emu.upload_requests(), 5);
    let headers = emu.received_headers(JOB);
    assert_eq!(headers.len(), 5);
    for h in &headers {
        assert_eq!(
            h,
            &["EmailAddress", "TerminationDate", "LastWorkingDate", "Note"]
        );
    }
    // Quoted multi-line fields arrive intact, every record once, in order.
    assert_eq!(emu.received_records(JOB), records);
    let saved: u64 = emu.log(JOB).iter().map(|e| e.records_saved).sum();
    assert_eq!(saved, 23);
}

#[tokio::test]
async fn bom_and_crlf_input_is_sent_clean() {
    let emu = start_emulator().await;
    let sleeper = RecordingSleeper::default();
    let body = "\u{feff}EmailAddress,TerminationDate,LastWorkingDate\r\na@contoso.com,2019-04-23T15:18:02.4675041+05:30,2019-04-29T15:18:02.4675041+05:30\r\nb@contoso.com,2019-04-24T09:15:49Z,2019-04-29T15:18:02.7117540\r\n";
    let mut req = request(std::path::Path::new("unused"), 1);
    req.source = Arc::new(BytesSource {
        name: "bom.csv".into(),
        data: bytes::Bytes::from(body),
    });
    let report = uploader(&emu, secret_credentials(SECRET), &sleeper)
        .run(&req, &NoCheckpoint)
        .await;
    assert_eq!(report.result, RunResult::Succeeded, "{}", report.message);
    assert_eq!(report.chunks, 2);
    for h in emu.received_headers(JOB) {
        assert_eq!(h, ["EmailAddress", "TerminationDate", "LastWorkingDate"]);
    }
    let emails: Vec<String> = emu
        .received_records(JOB)
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(emails, ["a@contoso.com", "b@contoso.com"]);
}

#[tokio::test]
async fn one_token_serves_every_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", 10);
    let emu = start_emulator().await;
    let (report, _) = upload_once(&emu, &csv, 2).await;
    assert_eq!(report.chunks, 5);
    assert_eq!(emu.token_requests(), 1);
}

#[tokio::test]
async fn invalid_file_sends_nothing_in_reject_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "EmailAddress,TerminationDate,LastWorkingDate\nok@contoso.com,2019-04-24T09:15:49Z,2019-04-29T15:18:02\nnot-an-email,2019-04-24T09:15:49Z,2019-04-29T15:18:02\n").unwrap();
    let emu = start_emulator().await;
    let (report, _) = upload_once(&emu, &path, 5000).await;
    assert_eq!(report.result, RunResult::Failed);
    assert_eq!(report.reason, Some("InvalidCsv"));
    assert_eq!(report.records_rejected, 1);
    assert!(report.message.contains("record 2"), "{}", report.message);
    assert!(
        !report.message.contains("not-an-email"),
        "values stay out of messages"
    );
    assert_eq!(emu.token_requests() + emu.upload_requests(), 0);
}

#[tokio::test]
async fn resumes_after_the_last_acknowledged_chunk_and_then_reports_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, records) = write_csv(dir.path(), "hr.csv", 25);
    let store = FileCheckpointStore {
        path: dir.path().join("checkpoint.json"),
    };
    let emu = start_emulator().await;
    let sleeper = RecordingSleeper::default();
    let up = uploader(&emu, secret_credentials(SECRET), &sleeper);

    // Chunks 1 and 2 go through, chunk 3 is refused.
    emu.inject(status_fault(FaultTarget::Upload, 1, 400, None).after(2));
    let first = up.run(&request(&csv, 5), &store).await;
    assert_eq!(first.result, RunResult::Failed);
    assert_eq!(first.records_saved, 10);
    let saved: hrconnector::upload::Checkpoint =
        serde_json::from_slice(&std::fs::read(&store.path).unwrap()).unwrap();
    assert_eq!(saved.records_acknowledged, 10);
    assert!(!saved.complete);

    let before = emu.upload_requests();
    let second = up.run(&request(&csv, 5), &store).await;
    assert_eq!(second.result, RunResult::Succeeded, "{}", second.message);
    assert_eq!(emu.upload_requests() - before, 3, "chunks 3 to 5 only");
    assert_eq!(second.records_saved, 25);
    assert_eq!(
        emu.received_records(JOB),
        records,
        "every record exactly once, in order"
    );

    let before = emu.upload_requests() + emu.token_requests();
    let third = up.run(&request(&csv, 5), &store).await;
    assert_eq!(third.result, RunResult::Unchanged);
    assert_eq!(third.records_saved, 25);
    assert_eq!(
        emu.upload_requests() + emu.token_requests(),
        before,
        "nothing sent"
    );

    let mut forced = request(&csv, 5);
    forced.force = true;
    assert_eq!(up.run(&forced, &store).await.result, RunResult::Succeeded);
    assert_eq!(emu.received_records(JOB).len(), 50);
}

#[tokio::test]
async fn dry_run_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", 12);
    let emu = start_emulator().await;
    let sleeper = RecordingSleeper::default();
    let mut req = request(&csv, 5);
    req.dry_run = true;
    let report = uploader(&emu, secret_credentials(SECRET), &sleeper)
        .run(&req, &NoCheckpoint)
        .await;
    assert_eq!(report.result, RunResult::DryRun);
    assert!(
        report.message.contains("12 of 12 records in 3 chunk(s)"),
        "{}",
        report.message
    );
    assert_eq!(emu.token_requests() + emu.upload_requests(), 0);
}

fn cert_credentials(key_file: &str) -> AppCredentials {
    let cert = std::fs::read(fixture("certs/test-app.crt")).unwrap();
    let key = std::fs::read(fixture(key_file)).unwrap();
    AppCredentials {
        scrubber: Default::default(),
        tenant_id: TENANT.into(),
        app_id: CERT_APP.into(),
        auth: ClientAuth::Certificate(CertificateCredential::from_pem(&cert, &key).unwrap()),
    }
}

#[tokio::test]
async fn certificate_authentication_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, records) = write_csv(dir.path(), "hr.csv", 3);
    let emu = start_emulator().await;
    let sleeper = RecordingSleeper::default();
    let report = uploader(&emu, cert_credentials("certs/test-app.key"), &sleeper)
        .run(&request(&csv, 5000), &NoCheckpoint)
        .await;
    assert_eq!(report.result, RunResult::Succeeded, "{}", report.message);
    assert_eq!(emu.received_records(JOB), records);
    let token = emu
        .requests()
        .into_iter()
        .find(|r| r.kind == RequestKind::Token)
        .unwrap();
    let field = |name: &str| {
        token
            .form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        field("client_assertion_type").as_deref(),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    assert_eq!(field("client_assertion").as_deref(), Some("<redacted>"));
    assert_eq!(field("client_secret"), None);
}

#[tokio::test]
async fn certificate_with_the_wrong_key_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", 3);
    let emu = start_emulator().await;
    let sleeper = RecordingSleeper::default();
    let report = uploader(&emu, cert_credentials("certs/other.key"), &sleeper)
        .run(&request(&csv, 5000), &NoCheckpoint)
        .await;
    assert_eq!(report.result, RunResult::Failed);
    assert_eq!(report.reason, Some("AuthenticationFailed"));
    assert!(
        report.message.contains("AADSTS700027"),
        "{}",
        report.message
    );
    assert_eq!(emu.upload_requests(), 0);
}

#[tokio::test]
async fn unreachable_service_is_reported_after_bounded_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", 2);
    // Bind and drop a listener: nothing answers on that port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut config = UploaderConfig::new(
        Cloud::Dod
            .endpoints()
            .with_overrides(Some(&url), Some(&url), None),
        secret_credentials(SECRET),
    );
    let sleeper = RecordingSleeper::default();
    config.sleeper = Arc::new(sleeper.clone());
    config.retry.max_attempts = 3;
    let report = Uploader::new(config)
        .unwrap()
        .run(&request(&csv, 5000), &NoCheckpoint)
        .await;
    assert_eq!(report.result, RunResult::Failed);
    assert!(
        report
            .message
            .contains("token endpoint unavailable after 3 attempt(s)"),
        "{}",
        report.message
    );
    assert_eq!(sleeper.waits().len(), 2);
}

/// A multi-scenario file of `n` records cycling through the five scenarios, each row leaving the
/// other scenarios' columns blank; every third remark is quoted, with a comma and a line break.
fn write_multi_scenario_csv(dir: &std::path::Path, n: usize) -> (PathBuf, Vec<Vec<String>>) {
    let header = [
        "HRScenario",
        "EmailAddress",
        "TerminationDate",
        "LastWorkingDate",
        "EffectiveDate",
        "Remarks",
        "Rating",
        "OldLevel",
        "NewLevel",
        "EmployeeFirstName",
        "EmployeeLastName",
        "EmployeeAddressLine1",
        "EmployeeZipCode",
    ];
    let mut w = csv::WriterBuilder::new().from_writer(vec![]);
    w.write_record(header).unwrap();
    let mut records = Vec::new();
    for i in 0..n {
        let remarks = if i % 3 == 0 {
            format!("moved, then\n\"reviewed\" #{i}")
        } else {
            format!("r{i}")
        };
        let date = "2026-03-01T09:00:00.1234567+05:30".to_string();
        let mut rec = vec![String::new(); header.len()];
        rec[1] = format!("person{i}@contoso.com");
        match i % 5 {
            0 => {
                rec[0] = "Resignation".into();
                rec[2] = date.clone();
                rec[3] = "2026-03-15T17:00:00Z".into();
            }
            1 => {
                rec[0] = "Job level change".into();
                rec[4] = date;
                rec[5] = remarks;
                rec[7] = "L61".into();
                rec[8] = "L62".into();
            }
            2 | 3 => {
                rec[0] = if i % 5 == 2 {
                    "Performance review"
                } else {
                    "Performance improvement plan"
                }
                .into();
                rec[4] = date;
                rec[5] = remarks;
                rec[6] = "3".into();
            }
            _ => {
                rec[0] = "Employee profile".into();
                rec[9] = "Sara".into();
                rec[10] = "Davis".into();
                rec[11] = "1 Contoso Way, Suite 5".into();
                rec[12] = "98052".into();
            }
        }
        w.write_record(&rec).unwrap();
        records.push(rec);
    }
    let path = dir.join("multi.csv");
    std::fs::write(&path, w.into_inner().unwrap()).unwrap();
    (path, records)
}

#[tokio::test]
async fn a_multi_scenario_file_goes_up_record_exact_and_is_counted_per_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, records) = write_multi_scenario_csv(dir.path(), 23);
    let emu = start_emulator().await;
    let sleeper = RecordingSleeper::default();
    let mut req = request(&csv, 5);
    req.validation = ValidationOptions {
        scenario: ScenarioChoice::Multiple,
        ..ValidationOptions::default()
    };
    let report = uploader(&emu, secret_credentials(SECRET), &sleeper)
        .run(&req, &NoCheckpoint)
        .await;
    assert_eq!(report.result, RunResult::Succeeded, "{}", report.message);
    assert_eq!((report.records_saved, report.chunks), (23, 5));
    let expected = BTreeMap::from([
        ("Resignation".to_owned(), 5),
        ("JobLevelChange".to_owned(), 5),
        ("PerformanceReview".to_owned(), 5),
        ("PerformanceImprovementPlan".to_owned(), 4),
        ("EmployeeProfile".to_owned(), 4),
    ]);
    assert_eq!(report.scenarios, expected);

    // Record-exact: every record arrived once, in order, quoted fields intact.
    assert_eq!(emu.received_records(JOB), records);
    let headers = emu.received_headers(JOB);
    assert_eq!(headers.len(), 5);
    for h in &headers {
        assert_eq!(h[0], "HRScenario", "the header row starts every chunk");
        assert_eq!(h.len(), 13);
    }
    // The service side counts the same records per scenario.
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for entry in emu.log(JOB) {
        for (text, n) in entry.scenarios {
            *counted.entry(text).or_default() += n;
        }
    }
    assert_eq!(
        counted,
        BTreeMap::from([
            ("Resignation".to_owned(), 5),
            ("Job level change".to_owned(), 5),
            ("Performance review".to_owned(), 5),
            ("Performance improvement plan".to_owned(), 4),
            ("Employee profile".to_owned(), 4),
        ])
    );
}
