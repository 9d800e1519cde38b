//! Shared set-up for the integration tests: a real emulator on loopback and real uploads.
#![allow(dead_code)]

pub mod cli;
pub mod proxy;
pub mod tls;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hrconnector::cloud::{Cloud, Endpoints};
use hrconnector::emulator::{self, AppRegistration, EmulatorConfig, EmulatorHandle};
use hrconnector::hrdata::{FileSource, ValidationOptions};
use hrconnector::upload::{
    AppCredentials, ClientAuth, NoCheckpoint, RetryPolicy, Sleeper, UploadReport, UploadRequest,
    Uploader, UploaderConfig,
};
use secrecy::SecretString;

pub mod sshd;
pub mod stores;
use tokio_util::sync::CancellationToken;

pub const TENANT: &str = "6f1d9b2e-0c7a-4d43-9a59-2b7f3c1e5a10";
pub const APP: &str = "a3c5e7f9-1b2d-4e6f-8a0b-c2d4e6f8a0b2";
pub const CERT_APP: &str = "b4d6f8a0-2c3e-4f5a-9b1c-d3e5f7a9b1c3";
pub const JOB: &str = "1e0c5a3b-7d9f-4b2a-8c6e-0f1a2b3c4d5e";
/// Recognisable, so leak checks can search every output for it.
pub const SECRET: &str = "S3cr3t-LEAKCHECK-7c1f0e";

pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// An emulator that knows the secret app, the certificate app and the test job.
pub async fn start_emulator() -> EmulatorHandle {
    start_emulator_with_resource(hrconnector::cloud::CONNECTOR_RESOURCE).await
}

pub async fn start_emulator_with_resource(resource: &str) -> EmulatorHandle {
    let cert = std::fs::read_to_string(fixture("certs/test-app.crt")).expect("test certificate");
    let config = EmulatorConfig {
        resource: resource.to_string(),
        apps: vec![
            AppRegistration {
                tenant_id: TENANT.into(),
                app_id: APP.into(),
                secret: Some(SECRET.into()),
                certificate_pem: None,
                federated_credentials: Vec::new(),
            },
            AppRegistration {
                tenant_id: TENANT.into(),
                app_id: CERT_APP.into(),
                secret: None,
                certificate_pem: Some(cert),
                federated_credentials: Vec::new(),
            },
        ],
        jobs: vec![JOB.into()],
        ..EmulatorConfig::default()
    };
    emulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("emulator starts")
}

pub fn endpoints_for(emu: &EmulatorHandle, cloud: Cloud) -> Endpoints {
    cloud
        .endpoints()
        .with_overrides(Some(&emu.url()), Some(&emu.url()), None)
}

pub fn secret_credentials(secret: &str) -> AppCredentials {
    AppCredentials {
        scrubber: Default::default(),
        tenant_id: TENANT.into(),
        app_id: APP.into(),
        auth: ClientAuth::Secret(SecretString::from(secret.to_string())),
    }
}

/// Records every wait instead of sleeping: the injected clock of the retry tests.
#[derive(Default, Clone)]
pub struct RecordingSleeper(pub Arc<Mutex<Vec<Duration>>>);

impl RecordingSleeper {
    pub fn waits(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(
        &self,
        d: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        self.0.lock().unwrap().push(d);
        Box::pin(async {})
    }
}

pub fn uploader(
    emu: &EmulatorHandle,
    credentials: AppCredentials,
    sleeper: &RecordingSleeper,
) -> Uploader {
    let mut config = UploaderConfig::new(endpoints_for(emu, Cloud::Gcc), credentials);
    config.sleeper = Arc::new(sleeper.clone());
    config.retry = RetryPolicy {
        max_attempts: 4,
        ..RetryPolicy::default()
    };
    config.request_timeout = Duration::from_secs(5);
    Uploader::new(config).expect("uploader")
}

/// One run of `csv` with the test secret and no checkpoint; the sleeper holds the waits.
pub async fn upload_once(
    emu: &EmulatorHandle,
    csv: &Path,
    records_per_call: usize,
) -> (UploadReport, RecordingSleeper) {
    let sleeper = RecordingSleeper::default();
    let report = uploader(emu, secret_credentials(SECRET), &sleeper)
        .run(&request(csv, records_per_call), &NoCheckpoint)
        .await;
    (report, sleeper)
}

pub fn request(path: &Path, records_per_call: usize) -> UploadRequest {
    UploadRequest {
        source: Arc::new(FileSource {
            path: path.to_path_buf(),
        }),
        job_id: JOB.into(),
        validation: ValidationOptions::default(),
        records_per_call,
        force: false,
        dry_run: false,
        policy: Default::default(),
        conversion: None,
        cancel: CancellationToken::new(),
    }
}

/// A valid CSV of `n` records; every tenth has a quoted multi-line, comma-holding extra column.
pub fn write_csv(dir: &Path, name: &str, n: usize) -> (PathBuf, Vec<Vec<String>>) {
    let mut text = String::from("EmailAddress,TerminationDate,LastWorkingDate,Note\n");
    let mut records = Vec::new();
    for i in 0..n {
        let note = if i % 10 == 3 {
            format!("left, then\n\"came back\" #{i}")
        } else {
            format!("n{i}")
        };
        let rec = vec![
            format!("person{i}@contoso.com"),
            "2026-03-01T09:00:00.1234567+05:30".to_string(),
            "2026-03-15T17:00:00Z".to_string(),
            note,
        ];
        let mut w = csv::WriterBuilder::new().from_writer(vec![]);
        w.write_record(&rec).unwrap();
        text.push_str(std::str::from_utf8(&w.into_inner().unwrap()).unwrap());
        records.push(rec);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    (path, records)
}

/// The crate's HTTP client, allowed to reach the published hosts and `url`'s origin (a local
/// emulator or store the test started).
pub fn http_for(url: &str) -> hrconnector::http_client::HttpClient {
    hrconnector::http_client::build(&hrconnector::http_client::HttpClientConfig {
        egress: std::sync::Arc::new(
            hrconnector::net::EgressPolicy::published_only().allowing_origin_of(url),
        ),
        ..Default::default()
    })
    .expect("HTTP client")
}

/// A loopback server that answers every connection with the same raw bytes (an HTTP answer the
/// test writes by hand: a redirect, a lying `Content-Length`) and counts the connections and
/// request bytes it received.
pub struct RawServer {
    pub url: String,
    pub connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl RawServer {
    /// `answer(request)` is the answer's head and body for a request (its first bytes, as text);
    /// `trailer_bytes` more bytes of `b'a'` follow it before the connection is closed.
    pub async fn start(
        answer: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static,
        trailer_bytes: usize,
    ) -> RawServer {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let answer = std::sync::Arc::new(answer);
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (count, seen) = (connections.clone(), received.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let (answer, seen) = (answer.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    // The request head (and a small form body) arrive in the first reads.
                    let mut request = String::new();
                    if let Ok(Ok(n)) = tokio::time::timeout(
                        std::time::Duration::from_millis(300),
                        socket.read(&mut buf),
                    )
                    .await
                    {
                        seen.lock().unwrap().extend_from_slice(&buf[..n]);
                        request = String::from_utf8_lossy(&buf[..n]).into_owned();
                    }
                    let bytes = answer(&request);
                    let _ = socket.write_all(&bytes).await;
                    let chunk = vec![b'a'; 64 * 1024];
                    let mut left = trailer_bytes;
                    while left > 0 {
                        let n = left.min(chunk.len());
                        if socket.write_all(&chunk[..n]).await.is_err() {
                            break;
                        }
                        left -= n;
                    }
                    let _ = socket.shutdown().await;
                });
            }
        });
        RawServer {
            url,
            connections,
            received,
        }
    }

    pub fn connection_count(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}
