//! HR files in object storage, over real HTTP: Azurite (Azure Blob Storage) and moto (S3), both
//! started here, and the ingestion emulator. Upload, rerun `Unchanged`, rewrite between runs,
//! replacement mid-run (`SourceChanged`, nothing of the new content sent), interruption and
//! resume, the newest of a pattern, and the command line's errors for a missing object,
//! container or bucket, a wrong key and a SAS token.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::stores::{AZURITE_KEY, Server, account_sas, start_azurite, start_moto};
use common::*;
use hrconnector::emulator::EmulatorHandle;
use hrconnector::source::{
    CsvSource, ObjectCredentials, ObjectLocation, ObjectSource, StoreConfig,
};
use hrconnector::upload::{FileCheckpointStore, RunResult, UploadReport};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

const CONTAINER: &str = "hr-exports";
const BLOB: &str = "2026/leavers.csv";

/// Azurite with the test container.
async fn azurite() -> Server {
    let azurite = start_azurite();
    azurite.create_container(CONTAINER).await;
    azurite
}

/// moto with the test bucket `hr-bucket`.
async fn moto() -> Server {
    let moto = start_moto();
    moto.create_bucket("hr-bucket").await;
    moto
}

fn azure_config(azurite: &Server, blob: &str) -> StoreConfig {
    let mut config = StoreConfig::new(ObjectLocation::AzureBlob {
        account_url: Some(azurite.azure_account_url()),
        container: CONTAINER.into(),
        blob: blob.into(),
    });
    config.credentials = ObjectCredentials::AzureAccountKey(AZURITE_KEY.to_owned().into());
    config
}

fn s3_config(moto: &Server, bucket: &str, key: &str) -> StoreConfig {
    let mut config = StoreConfig::new(ObjectLocation::S3 {
        bucket: bucket.into(),
        key: key.into(),
    });
    config.region = Some("us-gov-west-1".into());
    config.endpoint = Some(moto.url());
    config.credentials = ObjectCredentials::S3Keys {
        access_key_id: "AKIATESTHRCONNECTOR".to_owned().into(),
        secret_access_key: "test-secret-key".to_owned().into(),
        session_token: None,
    };
    config
}

/// Writes `text` as the object of `config` (through object_store, as any writer would).
async fn put(config: &StoreConfig, text: &str) {
    let store = config.build().expect("store");
    store
        .put(
            &ObjectPath::from(config.location.object()),
            text.to_owned().into(),
        )
        .await
        .expect("put");
}

/// `n` valid records whose addresses start with `tag`.
fn csv_text(tag: &str, n: usize) -> String {
    let mut text = String::from("EmailAddress,TerminationDate,LastWorkingDate\n");
    for i in 0..n {
        text.push_str(&format!(
            "{tag}{i}@contoso.com,2026-03-01T09:00:00Z,2026-03-15T17:00:00.1234567-05:00\n"
        ));
    }
    text
}

fn object_request(
    config: &StoreConfig,
    records_per_call: usize,
) -> hrconnector::upload::UploadRequest {
    let source = ObjectSource::new(config, Handle::current()).expect("source");
    let mut request = request(std::path::Path::new("unused.csv"), records_per_call);
    request.source = Arc::new(source);
    request
}

async fn run(
    emu: &EmulatorHandle,
    request: &hrconnector::upload::UploadRequest,
    checkpoint: &std::path::Path,
) -> UploadReport {
    let sleeper = RecordingSleeper::default();
    uploader(emu, secret_credentials(SECRET), &sleeper)
        .run(
            request,
            &FileCheckpointStore {
                path: checkpoint.to_path_buf(),
            },
        )
        .await
}

/// How many times each address reached the ingestion emulator.
fn received(emu: &EmulatorHandle) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for record in emu.received_records(JOB) {
        *counts.entry(record[0].clone()).or_default() += 1;
    }
    counts
}

/// Upload, rerun (`Unchanged`), rewrite (sent again), for one store's `config`.
async fn upload_rerun_rewrite(config: StoreConfig) {
    let emu = start_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("checkpoint.json");
    put(&config, &csv_text("first", 1200)).await;

    let report = run(&emu, &object_request(&config, 500), &checkpoint).await;
    assert_eq!(report.result, RunResult::Succeeded, "{}", report.message);
    assert_eq!((report.records_saved, report.chunks), (1200, 3));
    let counts = received(&emu);
    assert_eq!(counts.len(), 1200);
    assert!(counts.values().all(|&n| n == 1));
    // The service sees the object's base name as the file name.
    let log = emu.log(JOB);
    assert!(
        log.iter().all(|entry| entry.file_name == "leavers.csv"),
        "{log:?}"
    );

    let again = run(&emu, &object_request(&config, 500), &checkpoint).await;
    assert_eq!(again.result, RunResult::Unchanged, "{}", again.message);
    assert_eq!(emu.received_records(JOB).len(), 1200, "nothing sent again");

    put(&config, &csv_text("second", 700)).await;
    let rewritten = run(&emu, &object_request(&config, 500), &checkpoint).await;
    assert_eq!(
        rewritten.result,
        RunResult::Succeeded,
        "{}",
        rewritten.message
    );
    assert_eq!(rewritten.records_saved, 700);
    let counts = received(&emu);
    assert_eq!(counts.len(), 1900);
    assert!((0..700).all(|i| counts.get(&format!("second{i}@contoso.com")) == Some(&1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_blob_upload_rerun_and_rewrite() {
    let azurite = azurite().await;
    upload_rerun_rewrite(azure_config(&azurite, BLOB)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_upload_rerun_and_rewrite() {
    let moto = moto().await;
    upload_rerun_rewrite(s3_config(&moto, "hr-bucket", "in/leavers.csv")).await;
}

/// The newest of a pattern, for one store: dated drops (the greatest name is not the newest),
/// a newer one under a deeper prefix (not listed) and a newer one that does not match; the run
/// sends the newest match under its own name, and a later drop is chosen by the next run.
async fn newest_of_a_pattern(config_of: impl Fn(&str) -> StoreConfig) {
    // The stores keep modification times to the second.
    let later = || tokio::time::sleep(Duration::from_millis(1100));
    put(
        &config_of("drops/terminations_2026-12-01.csv"),
        &csv_text("dec", 3),
    )
    .await;
    later().await;
    put(
        &config_of("drops/terminations_2026-11-30.csv"),
        &csv_text("nov", 4),
    )
    .await;
    later().await;
    put(
        &config_of("drops/archive/terminations_2026-12-09.csv"),
        &csv_text("arc", 2),
    )
    .await;
    put(
        &config_of("drops/leavers_2026-12-09.csv"),
        &csv_text("lea", 2),
    )
    .await;

    let pattern = config_of("drops/terminations_*.csv");
    let source = ObjectSource::new(&pattern, Handle::current()).expect("source");
    let version = source.head().await.expect("a match");
    assert_eq!(
        version.chosen.as_deref(),
        Some("drops/terminations_2026-11-30.csv")
    );
    assert!(version.size > 0 && !version.last_modified.is_empty());

    let emu = start_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("checkpoint.json");
    let report = run(&emu, &object_request(&pattern, 500), &checkpoint).await;
    assert_eq!(report.result, RunResult::Succeeded, "{}", report.message);
    let counts = received(&emu);
    let mut sent: Vec<&String> = counts.keys().collect();
    sent.sort();
    assert_eq!(
        sent,
        [
            "nov0@contoso.com",
            "nov1@contoso.com",
            "nov2@contoso.com",
            "nov3@contoso.com"
        ]
    );
    let log = emu.log(JOB);
    assert!(
        log.iter()
            .all(|entry| entry.file_name == "terminations_2026-11-30.csv"),
        "{log:?}"
    );

    later().await;
    put(
        &config_of("drops/terminations_2026-12-02.csv"),
        &csv_text("new", 2),
    )
    .await;
    let next = run(&emu, &object_request(&pattern, 500), &checkpoint).await;
    assert_eq!(next.result, RunResult::Succeeded, "{}", next.message);
    assert_eq!(next.records_saved, 2);
    assert!(received(&emu).contains_key("new1@contoso.com"));

    // No match: the pattern, where it looked and what is there (objects only, no deeper ones).
    let none = ObjectSource::new(&config_of("drops/hires_*.csv"), Handle::current())
        .expect("source")
        .head()
        .await
        .expect_err("no match");
    assert_eq!(none.reason(), "SourceNotFound");
    let text = none.to_string();
    assert!(text.contains("\"drops/hires_*.csv\""), "{text}");
    assert!(text.contains("/drops/: it holds "), "{text}");
    assert!(text.contains("terminations_2026-12-02.csv"), "{text}");
    assert!(!text.contains("archive"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_blob_newest_of_a_pattern() {
    let azurite = azurite().await;
    newest_of_a_pattern(|blob| azure_config(&azurite, blob)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_newest_of_a_pattern() {
    let moto = moto().await;
    newest_of_a_pattern(|key| s3_config(&moto, "hr-bucket", key)).await;
}

/// The object is replaced while chunks are being sent: the run stops with `SourceChanged`, and
/// every record the service got is one of the validated content.
async fn replaced_mid_run(mut config: StoreConfig) {
    let emu = start_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    // Small ranges and a slow service: the sending pass is still reading when the object is
    // replaced (it reads at most a few MiB ahead of the network).
    config.range_len = 64 * 1024;
    let total = 120_000;
    put(&config, &csv_text("old", total)).await;
    emu.set_upload_delay(Duration::from_millis(150));
    let request = object_request(&config, 2000);
    let checkpoint = dir.path().join("checkpoint.json");
    let running = run(&emu, &request, &checkpoint);
    let replace = async {
        while emu.received_records(JOB).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        put(&config, &csv_text("new", total)).await;
    };
    let (report, ()) = tokio::join!(running, replace);
    assert_eq!(report.result, RunResult::Failed, "{}", report.message);
    assert_eq!(report.reason, Some("SourceChanged"), "{}", report.message);
    let counts = received(&emu);
    assert!(
        counts.keys().all(|k| k.starts_with("old")),
        "new content was sent"
    );
    assert!(counts.len() < total, "the run stopped before the end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_blob_replaced_mid_run_is_source_changed() {
    let azurite = azurite().await;
    replaced_mid_run(azure_config(&azurite, BLOB)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_object_replaced_mid_run_is_source_changed() {
    let moto = moto().await;
    replaced_mid_run(s3_config(&moto, "hr-bucket", "leavers.csv")).await;
}

/// Replaced after validation pinned it and before the sending pass: the first ranged read
/// fails its `If-Match`, so not one chunk is handed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_between_validation_and_sending_hands_out_nothing() {
    let azurite = azurite().await;
    let config = azure_config(&azurite, BLOB);
    put(&config, &csv_text("old", 50)).await;
    let source = ObjectSource::new(&config, Handle::current()).unwrap();
    let options = hrconnector::hrdata::ValidationOptions::default();
    let (pinned, plan) = tokio::task::spawn_blocking(move || {
        let pinned = source.pin().unwrap();
        let (report, plan) =
            hrconnector::hrdata::validate_and_plan(pinned.as_ref(), &options, 10).unwrap();
        assert_eq!(report.records, 50);
        (pinned, plan)
    })
    .await
    .unwrap();
    put(&config, &csv_text("new", 50)).await;
    let outcome = tokio::task::spawn_blocking(move || {
        let options = hrconnector::hrdata::ValidationOptions::default();
        let mut chunks =
            hrconnector::hrdata::ChunkReader::open_planned(pinned.as_ref(), &options, plan, 10, 0)?;
        chunks.next_chunk()
    })
    .await
    .unwrap();
    assert!(
        matches!(outcome, Err(hrconnector::hrdata::CsvError::Changed { .. })),
        "{outcome:?}"
    );
}

/// Interrupted after some chunks (as a stop would), the next run sends the rest, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_run_resumes_and_sends_the_rest_once() {
    let azurite = azurite().await;
    let config = azure_config(&azurite, BLOB);
    put(&config, &csv_text("p", 5000)).await;
    let emu = start_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("checkpoint.json");
    emu.set_upload_delay(Duration::from_millis(100));

    let mut request = object_request(&config, 500);
    request.cancel = CancellationToken::new();
    let cancel = request.cancel.clone();
    let stop = async {
        while emu.received_records(JOB).len() < 1500 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.cancel();
    };
    let (first, ()) = tokio::join!(run(&emu, &request, &checkpoint), stop);
    assert_eq!(first.reason, Some("Interrupted"), "{}", first.message);
    let sent_first = emu.received_records(JOB).len();
    assert!(sent_first < 5000);

    emu.set_upload_delay(Duration::ZERO);
    let second = run(&emu, &object_request(&config, 500), &checkpoint).await;
    assert_eq!(second.result, RunResult::Succeeded, "{}", second.message);
    assert_eq!(second.records_saved, 5000);
    let counts = received(&emu);
    assert_eq!(counts.len(), 5000);
    assert!(counts.values().all(|&n| n == 1), "a record was sent twice");
}

/// A store answering 503 (busy, restarting) is retried with backoff; nothing is lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_from_the_store_is_retried() {
    let azurite = azurite().await;
    put(&azure_config(&azurite, BLOB), &csv_text("r", 800)).await;
    // Three 503s: the HEAD of pinning and the ranged reads that follow see them.
    let (proxy, served) = common::stores::flaky_proxy(azurite.url(), 3).await;
    let mut config = azure_config(&azurite, BLOB);
    config.location = ObjectLocation::AzureBlob {
        account_url: Some(format!("{proxy}/{}", common::stores::AZURITE_ACCOUNT)),
        container: CONTAINER.into(),
        blob: BLOB.into(),
    };
    let emu = start_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let report = run(
        &emu,
        &object_request(&config, 300),
        &dir.path().join("cp.json"),
    )
    .await;
    assert_eq!(report.result, RunResult::Succeeded, "{}", report.message);
    assert_eq!(
        served.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "the 503s were served"
    );
    let counts = received(&emu);
    assert_eq!(counts.len(), 800);
    assert!(counts.values().all(|&n| n == 1));
}

// --- the command line: URL forms, environment variables, errors -----------------------------

fn hrconnector() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hrconnector"));
    // Nothing from the developer's own environment.
    for (key, _) in std::env::vars() {
        if key.starts_with("AZURE_") || key.starts_with("AWS_") || key.starts_with("AZURITE") {
            command.env_remove(key);
        }
    }
    command
}

fn azurite_env(command: &mut Command, azurite: &Server) {
    command
        .env("AZURE_STORAGE_USE_EMULATOR", "true")
        .env("AZURITE_BLOB_STORAGE_URL", azurite.url())
        .env("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1");
}

fn moto_env(command: &mut Command, moto: &Server) {
    command
        .env("AWS_ENDPOINT_URL", moto.url())
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_REGION", "us-gov-west-1")
        .env("AWS_ACCESS_KEY_ID", "AKIATESTHRCONNECTOR")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret-key");
}

fn output(command: &mut Command) -> (i32, String, String) {
    let out = command.output().expect("hrconnector runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_validate_and_upload_from_azurite_with_key_and_sas() {
    let azurite = azurite().await;
    put(&azure_config(&azurite, BLOB), &csv_text("cli", 30)).await;
    let url = format!("az://{CONTAINER}/{BLOB}");

    let mut validate = hrconnector();
    azurite_env(&mut validate, &azurite);
    let (code, stdout, stderr) = output(validate.args(["validate", "--source", &url]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("az://hr-exports/2026/leavers.csv: 30 records, valid"),
        "{stdout}"
    );

    // A SAS token instead of the key; it never shows in the output.
    let sas = account_sas("r");
    let emu = start_emulator().await;
    let mut upload = hrconnector();
    azurite_env(&mut upload, &azurite);
    upload
        .env("AZURE_STORAGE_SAS_TOKEN", &sas)
        .env("HRCONNECTOR_APP_SECRET", SECRET);
    let (code, stdout, stderr) = output(upload.args([
        "upload",
        "--cloud",
        "gcc",
        "--tenant-id",
        TENANT,
        "--app-id",
        APP,
        "--job-id",
        JOB,
        "--authority-url",
        &emu.url(),
        "--ingestion-url",
        &emu.url(),
        "--source",
        &url,
        "--output",
        "json",
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("\"recordsSaved\":30"), "{stdout}");
    assert_eq!(received(&emu).len(), 30);
    let signature = sas.split("sig=").nth(1).unwrap();
    assert!(!stdout.contains(signature) && !stderr.contains(signature));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_names_the_missing_blob_container_key_and_denied_permission() {
    let azurite = azurite().await;

    let cases = [
        (
            format!("az://{CONTAINER}/no-such.csv"),
            None,
            "does not exist (BlobNotFound)",
        ),
        (
            "az://no-such-container/a.csv".to_owned(),
            None,
            "container \"no-such-container\" does not exist (ContainerNotFound)",
        ),
        (
            format!("az://{CONTAINER}/{BLOB}"),
            Some((
                "AZURE_STORAGE_ACCOUNT_KEY",
                "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=".to_owned(),
            )),
            // Azure says AuthenticationFailed; Azurite says AuthorizationFailure.
            "access to az://hr-exports/2026/leavers.csv denied (AuthorizationFailure): the account key or SAS token is not valid",
        ),
        (
            format!("az://{CONTAINER}/{BLOB}"),
            // A SAS that may list but not read.
            Some(("AZURE_STORAGE_SAS_TOKEN", account_sas("l"))),
            "Storage Blob Data Reader",
        ),
    ];
    put(&azure_config(&azurite, BLOB), &csv_text("x", 3)).await;
    for (url, env, expected) in cases {
        let mut validate = hrconnector();
        azurite_env(&mut validate, &azurite);
        if let Some((key, value)) = &env {
            validate.env(key, value);
        }
        let (code, stdout, stderr) = output(validate.args(["validate", "--source", &url]));
        assert_eq!(code, 2, "{url}: {stdout}{stderr}");
        assert!(stderr.contains(expected), "{url}: {stderr}");
        if let Some((_, value)) = env {
            assert!(
                !stderr.contains(&value),
                "a secret reached the output: {stderr}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_names_the_missing_bucket_and_key_on_s3() {
    let moto = moto().await;
    put(&s3_config(&moto, "hr-bucket", "ok.csv"), &csv_text("s", 5)).await;
    for (url, code_wanted, expected) in [
        (
            "s3://hr-bucket/ok.csv",
            0,
            "s3://hr-bucket/ok.csv: 5 records, valid",
        ),
        (
            "s3://hr-bucket/missing.csv",
            2,
            "s3://hr-bucket/missing.csv does not exist (NoSuchKey)",
        ),
        (
            "s3://no-such-bucket/a.csv",
            2,
            "bucket \"no-such-bucket\" does not exist (NoSuchBucket)",
        ),
    ] {
        let mut validate = hrconnector();
        moto_env(&mut validate, &moto);
        let (code, stdout, stderr) = output(validate.args(["validate", "--source", url]));
        assert_eq!(code, code_wanted, "{url}: {stdout}{stderr}");
        assert!(
            stdout.contains(expected) || stderr.contains(expected),
            "{url}: {stdout}{stderr}"
        );
    }
}

#[test]
fn cli_refuses_a_bad_url_and_two_sources() {
    let (code, _, stderr) = output(hrconnector().args(["validate", "--source", "ftp://x/y.csv"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("expected az://CONTAINER/BLOB"), "{stderr}");
    let (code, _, stderr) = output(hrconnector().args([
        "validate",
        "--source",
        "s3://b/k.csv",
        "--csv-file-path",
        "x.csv",
    ]));
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

// --- retries: Retry-After honoured, 403 and 404 at once -------------------------------------

/// A store that answers 503 with `Retry-After: 7` is asked again after exactly the seven
/// seconds it asked for (object_store's own retries would ignore the header), and the read
/// then gets every byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_with_retry_after_is_retried_after_the_wait_the_store_asked_for() {
    let azurite = azurite().await;
    let text = csv_text("ra", 50);
    put(&azure_config(&azurite, BLOB), &text).await;
    let proxy = common::stores::FaultProxy::start(azurite.url(), 2, Some(7)).await;
    let sleeper = RecordingSleeper::default();
    let mut config = azure_config(&azurite, BLOB);
    config.location = ObjectLocation::AzureBlob {
        account_url: Some(format!("{}/{}", proxy.url, common::stores::AZURITE_ACCOUNT)),
        container: CONTAINER.into(),
        blob: BLOB.into(),
    };
    config.sleeper = Arc::new(sleeper.clone());
    let source = ObjectSource::new(&config, Handle::current()).expect("source");
    let read = tokio::task::spawn_blocking(move || {
        let mut out = String::new();
        source.open()?.read_to_string(&mut out).map(|_| out)
    })
    .await
    .unwrap()
    .expect("read after the 503s");
    assert_eq!(read, text);
    assert_eq!(
        sleeper.waits(),
        [Duration::from_secs(7), Duration::from_secs(7)],
        "each retry waited what Retry-After said"
    );
    // The two 503s and the attempts after them are separate requests over TCP.
    let requests = proxy.requests();
    assert!(requests.len() >= 3, "{requests:?}");
}

/// 404 and 403 are not retried: the person who must fix the name or the key hears at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_and_denied_fail_without_retries() {
    let azurite = azurite().await;
    put(&azure_config(&azurite, BLOB), &csv_text("nf", 5)).await;
    let proxy = common::stores::FaultProxy::start(azurite.url(), 0, None).await;
    for (blob, key, reason) in [
        ("missing.csv", AZURITE_KEY.to_owned(), "SourceNotFound"),
        (
            BLOB,
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                b"not the account key, not at all",
            ),
            "SourceAccessDenied",
        ),
    ] {
        let sleeper = RecordingSleeper::default();
        let mut config = azure_config(&azurite, blob);
        config.location = ObjectLocation::AzureBlob {
            account_url: Some(format!("{}/{}", proxy.url, common::stores::AZURITE_ACCOUNT)),
            container: CONTAINER.into(),
            blob: blob.into(),
        };
        config.credentials = ObjectCredentials::AzureAccountKey(key.into());
        config.sleeper = Arc::new(sleeper.clone());
        let before = proxy.requests().len();
        let error = ObjectSource::new(&config, Handle::current())
            .expect("source")
            .head()
            .await
            .expect_err("refused");
        assert_eq!(error.reason(), reason, "{error}");
        assert!(
            sleeper.waits().is_empty(),
            "{blob}: retried {:?}",
            sleeper.waits()
        );
        // The HEAD and the one-byte GET that names the error code: no repeats.
        assert_eq!(proxy.requests().len() - before, 2, "{blob}");
    }
}

// --- secret-less credentials: STS web identity (moto) and Entra ID workload identity ---------

/// A service account token (signed by a test cluster issuer) exchanged with moto's STS
/// `AssumeRoleWithWebIdentity`; the object is read with the temporary credentials STS gave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_web_identity_reads_with_credentials_from_sts() {
    use common::tls::TokenIssuer;
    use hrconnector::source::object::{StsWebIdentity, StsWebIdentityConfig};
    use hrconnector::upload::{FederatedTokenFile, RetryPolicy, TokioSleeper};

    let moto = moto().await;
    let text = csv_text("sts", 40);
    put(&s3_config(&moto, "hr-bucket", "in/leavers.csv"), &text).await;
    // Every request, STS's and S3's, through a recording proxy in front of moto.
    let proxy = common::stores::FaultProxy::start(moto.url(), 0, None).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    let token = TokenIssuer::new().token("hr", "hr-reader", "sts.amazonaws.com", 3600);
    std::fs::write(&token_file, &token).unwrap();
    let role = "arn:aws-us-gov:iam::123456789012:role/hr-reader";
    let provider = StsWebIdentity::new(StsWebIdentityConfig {
        http: common::http_for(&proxy.url),
        endpoint: proxy.url.clone(),
        role_arn: role.into(),
        session_name: "hrconnector.hr.leavers".into(),
        assertion: Arc::new(FederatedTokenFile { path: token_file }),
        retry: RetryPolicy::default(),
        sleeper: Arc::new(TokioSleeper),
    });
    let mut config = s3_config(&moto, "hr-bucket", "in/leavers.csv");
    config.endpoint = Some(proxy.url.clone());
    config.credentials = ObjectCredentials::S3Provider(Arc::new(provider));
    let source = ObjectSource::new(&config, Handle::current()).expect("source");
    let read = tokio::task::spawn_blocking(move || {
        let mut out = String::new();
        let mut reader = source.pin()?.open()?;
        reader.read_to_string(&mut out).map(|_| out)
    })
    .await
    .unwrap()
    .expect("read with STS credentials");
    assert_eq!(read, text);

    let requests = proxy.requests();
    let sts: Vec<_> = requests
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("AssumeRoleWithWebIdentity"))
        .collect();
    assert_eq!(sts.len(), 1, "one exchange serves every read: {requests:?}");
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&sts[0].body).unwrap();
    assert_eq!(form["WebIdentityToken"], token);
    assert_eq!(form["RoleArn"], role);
    assert_eq!(form["RoleSessionName"], "hrconnector.hr.leavers");
    // The S3 requests are signed with the key STS issued (moto's are ASIA… like AWS's) and
    // carry its session token.
    let reads: Vec<_> = requests.iter().filter(|r| r.method != "POST").collect();
    assert!(!reads.is_empty());
    for read in reads {
        let authorization = read.header("authorization").unwrap_or_default();
        assert!(authorization.contains("Credential=ASIA"), "{authorization}");
        assert!(!authorization.contains("AKIATESTHRCONNECTOR"));
        assert!(
            read.header("x-amz-security-token")
                .is_some_and(|t| !t.is_empty())
        );
    }
}

/// A token that is not a JWT (a broken projected volume) is a clear denial before STS is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_web_identity_with_a_broken_token_file_is_access_denied() {
    use hrconnector::source::object::{StsWebIdentity, StsWebIdentityConfig};
    use hrconnector::upload::{FederatedTokenFile, RetryPolicy, TokioSleeper};

    let moto = moto().await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "not-a-jwt").unwrap();
    let provider = StsWebIdentity::new(StsWebIdentityConfig {
        http: common::http_for(&moto.url()),
        endpoint: moto.url(),
        role_arn: "arn:aws:iam::123456789012:role/hr-reader".into(),
        session_name: "s".into(),
        assertion: Arc::new(FederatedTokenFile { path: token_file }),
        retry: RetryPolicy::default(),
        sleeper: Arc::new(TokioSleeper),
    });
    let mut config = s3_config(&moto, "hr-bucket", "in/leavers.csv");
    config.credentials = ObjectCredentials::S3Provider(Arc::new(provider));
    let error = ObjectSource::new(&config, Handle::current())
        .expect("source")
        .head()
        .await
        .expect_err("no credentials");
    assert_eq!(error.reason(), "SourceAccessDenied", "{error}");
    assert!(
        error.to_string().contains("federated token file"),
        "{error}"
    );
}

/// Azurite over HTTPS (a test CA) with `--oauth basic` takes the Entra ID token the emulator
/// issued for `https://storage.azure.com/.default` in exchange for a service account token:
/// the blob is read with no key and no SAS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_workload_identity_reads_from_azurite_with_an_entra_token() {
    let setup = WorkloadIdentityBlob::start().await;
    let text = csv_text("wi", 60);
    put(&setup.key_config(), &text).await;
    let issued = setup.emulator.issued_tokens().len();
    let source = ObjectSource::new(
        &setup.token_config(common::tls::FED_NAMESPACE),
        Handle::current(),
    )
    .expect("source");
    let version = source.head().await.expect("HEAD with a bearer token");
    assert_eq!(version.size, text.len() as u64);
    let read = tokio::task::spawn_blocking(move || {
        let mut out = String::new();
        source.pin()?.open()?.read_to_string(&mut out).map(|_| out)
    })
    .await
    .unwrap()
    .expect("read with a bearer token");
    assert_eq!(read, text);
    // One token for the HEAD and every ranged read after it (cached until near its expiry).
    assert_eq!(setup.emulator.issued_tokens().len(), issued + 1);

    // The control: Azurite does check bearer tokens (a token not issued for storage is refused).
    let mut forged = setup.key_config();
    let not_storage = setup.emulator.issued_tokens()[0].replace('.', "x");
    forged.credentials =
        ObjectCredentials::AzureProvider(Arc::new(object_store::StaticCredentialProvider::new(
            object_store::azure::AzureCredential::BearerToken(not_storage),
        )));
    let error = ObjectSource::new(&forged, Handle::current())
        .expect("source")
        .head()
        .await
        .expect_err("a token that is not a JWT is refused");
    assert_eq!(error.reason(), "SourceAccessDenied", "{error}");
}

/// A service account the app has no federated credential for: Entra ID's AADSTS70021 reaches
/// the message, and nothing is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_workload_identity_of_an_unfederated_account_is_denied() {
    let setup = WorkloadIdentityBlob::start().await;
    put(&setup.key_config(), &csv_text("wi", 3)).await;
    let error = ObjectSource::new(&setup.token_config("other-namespace"), Handle::current())
        .expect("source")
        .head()
        .await
        .expect_err("refused");
    assert_eq!(error.reason(), "SourceAccessDenied", "{error}");
    assert!(error.to_string().contains("AADSTS70021"), "{error}");
}

/// Azurite over HTTPS with OAuth, the Entra ID emulator issuing storage tokens for the
/// federated app, and a token issuer the emulator trusts.
struct WorkloadIdentityBlob {
    azurite: Server,
    emulator: EmulatorHandle,
    issuer: common::tls::TokenIssuer,
    ca: std::path::PathBuf,
    dir: tempfile::TempDir,
}

impl WorkloadIdentityBlob {
    async fn start() -> Self {
        use common::tls::{ServerCert, TestPki, TokenIssuer, config_with_federation};
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::new();
        let ca = pki.write_ca(dir.path());
        let identity = pki.server(ServerCert::Good);
        let (cert, key) = (
            dir.path().join("azurite.crt"),
            dir.path().join("azurite.key"),
        );
        std::fs::write(&cert, &identity.cert_chain_pem).unwrap();
        std::fs::write(&key, &identity.key_pem).unwrap();
        let azurite = common::stores::start_azurite_https_oauth(&cert, &key);
        let trusting = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
            .build()
            .unwrap();
        azurite.create_container_with(&trusting, CONTAINER).await;
        let issuer = TokenIssuer::new();
        let mut config = config_with_federation(&issuer);
        config.resource = hrconnector::source::object::STORAGE_RESOURCE.into();
        let emulator = hrconnector::emulator::start(config, ([127, 0, 0, 1], 0).into())
            .await
            .expect("emulator");
        WorkloadIdentityBlob {
            azurite,
            emulator,
            issuer,
            ca,
            dir,
        }
    }

    fn location(&self) -> ObjectLocation {
        ObjectLocation::AzureBlob {
            account_url: Some(self.azurite.azure_account_url()),
            container: CONTAINER.into(),
            blob: BLOB.into(),
        }
    }

    /// The account key, to write the blob.
    fn key_config(&self) -> StoreConfig {
        let mut config = StoreConfig::new(self.location());
        config.credentials = ObjectCredentials::AzureAccountKey(AZURITE_KEY.to_owned().into());
        config.ca_file = Some(self.ca.clone());
        config
    }

    /// Workload identity of service account `namespace/hr-uploader`.
    fn token_config(&self, namespace: &str) -> StoreConfig {
        use common::tls::{AUDIENCE, FED_ACCOUNT, FED_APP};
        use hrconnector::source::object::{EntraStorageToken, STORAGE_RESOURCE};
        use hrconnector::upload::token::TokenClient;
        use hrconnector::upload::{
            AppCredentials, ClientAuth, FederatedTokenFile, RetryPolicy, TokioSleeper,
        };
        let token_file = self.dir.path().join(format!("{namespace}.token"));
        std::fs::write(
            &token_file,
            self.issuer.token(namespace, FED_ACCOUNT, AUDIENCE, 3600),
        )
        .unwrap();
        let token_url =
            endpoints_for(&self.emulator, hrconnector::cloud::Cloud::GccHigh).token_url_v2(TENANT);
        let tokens = TokenClient::new(
            common::http_for(&token_url),
            token_url.clone(),
            STORAGE_RESOURCE.into(),
            AppCredentials {
                scrubber: Default::default(),
                tenant_id: TENANT.into(),
                app_id: FED_APP.into(),
                auth: ClientAuth::Federated(Arc::new(FederatedTokenFile { path: token_file })),
            },
            RetryPolicy::default(),
            Arc::new(TokioSleeper),
        );
        let mut config = self.key_config();
        config.credentials =
            ObjectCredentials::AzureProvider(Arc::new(EntraStorageToken::new(tokens, token_url)));
        config
    }
}

/// A plain-HTTP S3 endpoint without AWS_ALLOW_HTTP is refused before anything is sent, with a
/// message that says how to allow it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_refuses_plain_http_without_aws_allow_http() {
    let moto = moto().await;
    put(
        &s3_config(&moto, "hr-bucket", "in/leavers.csv"),
        &csv_text("h", 3),
    )
    .await;
    let mut command = hrconnector();
    moto_env(&mut command, &moto);
    command.env_remove("AWS_ALLOW_HTTP");
    command.args(["validate", "--source", "s3://hr-bucket/in/leavers.csv"]);
    let (code, stdout, stderr) = output(&mut command);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("AWS_ALLOW_HTTP=true"), "{stderr}");
    assert!(stderr.contains("plain HTTP"), "{stderr}");
    assert!(!stderr.contains("test-secret-key"));
    // With it, the same command reads the object.
    let mut command = hrconnector();
    moto_env(&mut command, &moto);
    command.args(["validate", "--source", "s3://hr-bucket/in/leavers.csv"]);
    let (code, stdout, stderr) = output(&mut command);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

/// The command line's workload identity is object_store's own handling of the variables the
/// Azure Workload Identity webhook injects: the token file is exchanged at
/// AZURE_AUTHORITY_HOST for a storage token, which Azurite (HTTPS, `--oauth basic`) accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_reads_a_blob_with_the_workload_identity_variables() {
    use common::tls::{AUDIENCE, FED_ACCOUNT, FED_APP, FED_NAMESPACE};
    let setup = WorkloadIdentityBlob::start().await;
    put(&setup.key_config(), &csv_text("cliwi", 25)).await;
    let token_file = setup.dir.path().join("cli.token");
    std::fs::write(
        &token_file,
        setup
            .issuer
            .token(FED_NAMESPACE, FED_ACCOUNT, AUDIENCE, 3600),
    )
    .unwrap();
    let issued = setup.emulator.issued_tokens().len();
    let mut command = hrconnector();
    command
        .env(
            "AZURE_STORAGE_ACCOUNT_NAME",
            common::stores::AZURITE_ACCOUNT,
        )
        .env("AZURE_STORAGE_ENDPOINT", setup.azurite.azure_account_url())
        .env("AZURE_CLIENT_ID", FED_APP)
        .env("AZURE_TENANT_ID", TENANT)
        .env("AZURE_FEDERATED_TOKEN_FILE", &token_file)
        .env("AZURE_AUTHORITY_HOST", setup.emulator.url())
        // The test's Entra ID emulator is plain HTTP; Azurite is HTTPS with the test CA.
        .env("AZURE_ALLOW_HTTP", "true")
        .env("SSL_CERT_FILE", &setup.ca)
        .args(["validate", "--source", &format!("az://{CONTAINER}/{BLOB}")]);
    let (code, stdout, stderr) = output(&mut command);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("25"), "{stdout}");
    assert!(
        setup.emulator.issued_tokens().len() > issued,
        "the storage token came from the emulator"
    );
}
