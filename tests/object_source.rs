//! HR files in object storage, over real HTTP: Azurite (Azure Blob Storage) and moto (S3), both
//! started here, and the ingestion emulator. Upload, rerun `Unchanged`, rewrite between runs,
//! replacement mid-run (`SourceChanged`, nothing of the new content sent), interruption and
//! resume, and the command line's errors for a missing object, container or bucket, a wrong key
//! and a SAS token.

mod common;

use std::collections::HashMap;
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
