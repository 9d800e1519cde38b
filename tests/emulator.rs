//! The emulator over real HTTP on loopback: token grants and refusals, certificate assertions,
//! uploads and refusals, every fault, the control surface and the request records.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hrconnector::emulator::{
    self, AppRegistration, EmulatorConfig, EmulatorHandle, Fault, FaultAction, FaultTarget,
    JWT_BEARER, RequestKind,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

const TENANT: &str = "11111111-2222-4333-8444-555555555555";
const APP: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
const SECRET: &str = "test-secret-value";
const CERT_APP: &str = "cccccccc-bbbb-4ccc-8ddd-eeeeeeeeeeee";
const JOB: &str = "99999999-8888-4777-8666-555555555555";

const CERT_PEM: &str = include_str!("fixtures/certs/test-app.crt");
const CERT_KEY: &str = include_str!("fixtures/certs/test-app.key");
const OTHER_KEY: &str = include_str!("fixtures/certs/other.key");

const CSV: &str = "EmailAddress,TerminationDate,LastWorkingDate\r\n\
a@contoso.com,2024-01-02T00:00:00Z,2024-01-01T00:00:00Z\r\n\
\"b@contoso.com\",2024-02-02T00:00:00.0000000+01:00,\"2024-02-01T00:00:00\n(multi-line)\"\r\n\
c@contoso.com,2024-03-02T00:00:00,2024-03-01T00:00:00\r\n";

fn config() -> EmulatorConfig {
    EmulatorConfig {
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
                certificate_pem: Some(CERT_PEM.into()),
                federated_credentials: Vec::new(),
            },
        ],
        jobs: vec![JOB.into()],
        ..EmulatorConfig::default()
    }
}

async fn start(config: EmulatorConfig) -> EmulatorHandle {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    emulator::start(config, listen).await.unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn token_url(emu: &EmulatorHandle, tenant: &str) -> String {
    format!("{}/{tenant}/oauth2/token?api-version=1.0", emu.url())
}

fn secret_form() -> Vec<(&'static str, String)> {
    vec![
        ("client_id", APP.into()),
        ("client_secret", SECRET.into()),
        ("grant_type", "client_credentials".into()),
        ("resource", hrconnector::cloud::CONNECTOR_RESOURCE.into()),
        ("tenant_id", TENANT.into()),
    ]
}

fn set(form: &mut Vec<(&'static str, String)>, key: &'static str, value: Option<&str>) {
    form.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        form.push((key, v.to_string()));
    }
}

async fn post_form(url: &str, form: &[(&'static str, String)]) -> (u16, Value) {
    let r = client().post(url).form(form).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn get_token(emu: &EmulatorHandle) -> String {
    let (status, body) = post_form(&token_url(emu, TENANT), &secret_form()).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// Asserts an Entra-style error: status, `error`, `error_codes` and the AADSTS prefix.
fn assert_aad(status: u16, body: &Value, want_status: u16, error: &str, code: u64) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    for key in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[key].is_string(), "{key} missing in {body}");
    }
}

// ---------------------------------------------------------------- token, secret

#[tokio::test]
async fn secret_grant_answers_like_entra_v1() {
    let emu = start(config()).await;
    let (status, body) = post_form(&token_url(&emu, TENANT), &secret_form()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], "3599", "expires_in is a string");
    assert_eq!(body["ext_expires_in"], "3599");
    assert_eq!(body["resource"], hrconnector::cloud::CONNECTOR_RESOURCE);
    let now = jiff::Timestamp::now().as_second();
    let expires_on: i64 = body["expires_on"].as_str().unwrap().parse().unwrap();
    let not_before: i64 = body["not_before"].as_str().unwrap().parse().unwrap();
    assert!((expires_on - now - 3599).abs() <= 2);
    assert!((not_before - now).abs() <= 2);
    assert!(body["access_token"].as_str().unwrap().len() >= 32);
    assert_eq!(emu.token_requests(), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn token_lifetime_is_configurable() {
    let emu = start(EmulatorConfig {
        token_lifetime: Duration::from_secs(120),
        ..config()
    })
    .await;
    let (_, body) = post_form(&token_url(&emu, TENANT), &secret_form()).await;
    assert_eq!(body["expires_in"], "120");
    emu.shutdown().await;
}

#[tokio::test]
async fn token_refusals_carry_realistic_codes() {
    let emu = start(config()).await;
    let url = token_url(&emu, TENANT);
    let base = format!("{}/{TENANT}/oauth2/token", emu.url());

    // api-version missing, then wrong.
    let (s, b) = post_form(&base, &secret_form()).await;
    assert_aad(s, &b, 400, "invalid_request", 90014);
    let (s, b) = post_form(&format!("{base}?api-version=2.0"), &secret_form()).await;
    assert_aad(s, &b, 400, "invalid_request", 90014);

    // A JSON body instead of a form: Entra finds no grant_type.
    let r = client()
        .post(&url)
        .json(
            &json!({"client_id": APP, "client_secret": SECRET, "grant_type": "client_credentials"}),
        )
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    assert_aad(s, &r.json().await.unwrap(), 400, "invalid_request", 900144);

    let mut f = secret_form();
    set(&mut f, "grant_type", Some("password"));
    let (s, b) = post_form(&url, &f).await;
    assert_aad(s, &b, 400, "unsupported_grant_type", 70003);

    let mut f = secret_form();
    set(&mut f, "resource", Some("https://graph.microsoft.com"));
    let (s, b) = post_form(&url, &f).await;
    assert_aad(s, &b, 400, "invalid_resource", 500011);

    // The pre-March-2025 commercial resource is not the configured one either.
    let mut f = secret_form();
    set(
        &mut f,
        "resource",
        Some("https://microsoft.onmicrosoft.com/4e476d41-2395-42be-89ff-34cb9186a1ac"),
    );
    let (s, b) = post_form(&url, &f).await;
    assert_aad(s, &b, 400, "invalid_resource", 500011);

    let other_tenant = "00000000-1111-4222-8333-444444444444";
    let mut f = secret_form();
    set(&mut f, "tenant_id", Some(other_tenant));
    let (s, b) = post_form(&token_url(&emu, other_tenant), &f).await;
    assert_aad(s, &b, 400, "invalid_request", 90002);

    let mut f = secret_form();
    set(
        &mut f,
        "client_id",
        Some("deadbeef-0000-4000-8000-000000000000"),
    );
    let (s, b) = post_form(&url, &f).await;
    assert_aad(s, &b, 400, "unauthorized_client", 700016);

    let mut f = secret_form();
    set(&mut f, "client_secret", Some("not-the-secret"));
    let (s, b) = post_form(&url, &f).await;
    assert_aad(s, &b, 401, "invalid_client", 7000215);
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains("Invalid client secret provided")
    );
    assert!(!b.to_string().contains("not-the-secret"), "secret echoed");

    let mut f = secret_form();
    set(&mut f, "client_secret", None);
    let (s, b) = post_form(&url, &f).await;
    assert_aad(s, &b, 400, "invalid_client", 7000218);

    let mut f = secret_form();
    set(&mut f, "client_id", None);
    let (s, b) = post_form(&url, &f).await;
    assert_aad(s, &b, 400, "invalid_request", 900144);

    assert_eq!(emu.token_requests(), 11);
    emu.shutdown().await;
}

// ---------------------------------------------------------------- token, certificate

fn cert_der() -> Vec<u8> {
    pem::parse(CERT_PEM).unwrap().contents().to_vec()
}

/// base64url(SHA-1(DER)), computed here independently of the emulator.
fn x5t(der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha1::digest(der))
}

struct Assertion {
    key: &'static str,
    x5t: Option<String>,
    aud: String,
    iss: String,
    sub: String,
    jti: Option<String>,
    nbf: i64,
    exp: i64,
}

impl Assertion {
    fn valid(emu: &EmulatorHandle) -> Self {
        let now = jiff::Timestamp::now().as_second();
        Self {
            key: CERT_KEY,
            x5t: Some(x5t(&cert_der())),
            aud: token_url(emu, TENANT),
            iss: CERT_APP.into(),
            sub: CERT_APP.into(),
            jti: Some(uuid::Uuid::new_v4().to_string()),
            nbf: now - 5,
            exp: now + 300,
        }
    }

    fn sign(&self) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.x5t = self.x5t.clone();
        let mut claims = json!({
            "aud": self.aud, "iss": self.iss, "sub": self.sub, "nbf": self.nbf, "exp": self.exp,
        });
        if let Some(jti) = &self.jti {
            claims["jti"] = json!(jti);
        }
        let key = EncodingKey::from_rsa_pem(self.key.as_bytes()).unwrap();
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }
}

fn assertion_form(jwt: String) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", CERT_APP.into()),
        ("client_assertion_type", JWT_BEARER.into()),
        ("client_assertion", jwt),
        ("grant_type", "client_credentials".into()),
        ("resource", hrconnector::cloud::CONNECTOR_RESOURCE.into()),
        ("tenant_id", TENANT.into()),
    ]
}

async fn post_assertion(emu: &EmulatorHandle, a: &Assertion) -> (u16, Value) {
    post_form(&token_url(emu, TENANT), &assertion_form(a.sign())).await
}

#[tokio::test]
async fn certificate_assertion_is_accepted() {
    let emu = start(config()).await;
    let (s, b) = post_assertion(&emu, &Assertion::valid(&emu)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["token_type"], "Bearer");

    // The bare token endpoint (no query string) is an accepted audience too.
    let mut a = Assertion::valid(&emu);
    a.aud = format!("{}/{TENANT}/oauth2/token", emu.url());
    let (s, b) = post_assertion(&emu, &a).await;
    assert_eq!(s, 200, "{b}");
    emu.shutdown().await;
}

#[tokio::test]
async fn bad_certificate_assertions_are_refused() {
    let emu = start(config()).await;

    let mut a = Assertion::valid(&emu);
    a.key = OTHER_KEY;
    let (s, b) = post_assertion(&emu, &a).await;
    assert_aad(s, &b, 401, "invalid_client", 700027);
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains("signature")
    );

    let mut a = Assertion::valid(&emu);
    a.x5t = Some(x5t(b"some other certificate"));
    let (s, b) = post_assertion(&emu, &a).await;
    assert_aad(s, &b, 401, "invalid_client", 700027);
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains("key was not found")
    );

    let mut a = Assertion::valid(&emu);
    a.x5t = None;
    let (s, b) = post_assertion(&emu, &a).await;
    assert_aad(s, &b, 401, "invalid_client", 700027);

    let mut a = Assertion::valid(&emu);
    a.exp = a.nbf + 601;
    let (s, b) = post_assertion(&emu, &a).await;
    assert_aad(s, &b, 401, "invalid_client", 700024);

    let mut a = Assertion::valid(&emu);
    a.nbf -= 1000;
    a.exp = a.nbf + 300;
    let (s, b) = post_assertion(&emu, &a).await;
    assert_aad(s, &b, 401, "invalid_client", 700024);

    let mut a = Assertion::valid(&emu);
    a.aud = "https://login.microsoftonline.com/x/oauth2/token".into();
    let (s, b) = post_assertion(&emu, &a).await;
    assert_aad(s, &b, 401, "invalid_client", 700023);

    let mut a = Assertion::valid(&emu);
    a.iss = APP.into();
    let (s, b) = post_assertion(&emu, &a).await;
    assert_aad(s, &b, 401, "invalid_client", 700021);

    let mut a = Assertion::valid(&emu);
    a.jti = None;
    let (s, b) = post_assertion(&emu, &a).await;
    assert_aad(s, &b, 401, "invalid_client", 700025);

    let mut f = assertion_form("not.a.jwt".into());
    let (s, b) = post_form(&token_url(&emu, TENANT), &f).await;
    assert_aad(s, &b, 401, "invalid_client", 50027);

    set(&mut f, "client_assertion_type", Some("urn:something:else"));
    let (s, b) = post_form(&token_url(&emu, TENANT), &f).await;
    assert_aad(s, &b, 400, "invalid_request", 90014);

    // The secret app has no certificate registered.
    let mut a = Assertion::valid(&emu);
    a.iss = APP.into();
    a.sub = APP.into();
    let mut f = assertion_form(a.sign());
    set(&mut f, "client_id", Some(APP));
    let (s, b) = post_form(&token_url(&emu, TENANT), &f).await;
    assert_aad(s, &b, 401, "invalid_client", 700027);
    emu.shutdown().await;
}

// ---------------------------------------------------------------- upload

fn file_form(csv: &str, file_name: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::text(csv.to_string()).file_name(file_name.to_string()),
    )
}

fn upload_url(emu: &EmulatorHandle, job: &str) -> String {
    format!("{}/api/signals?jobid={job}", emu.url())
}

async fn upload(
    emu: &EmulatorHandle,
    token: &str,
    csv: &str,
) -> reqwest::Result<reqwest::Response> {
    client()
        .post(upload_url(emu, JOB))
        .bearer_auth(token)
        .multipart(file_form(csv, "resignations.csv"))
        .send()
        .await
}

fn header_row() -> Vec<String> {
    ["EmailAddress", "TerminationDate", "LastWorkingDate"]
        .map(String::from)
        .to_vec()
}

#[tokio::test]
async fn upload_is_stored_logged_and_counted_by_record() {
    let emu = start(config()).await;
    let token = get_token(&emu).await;
    let r = upload(&emu, &token, CSV).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["recordsSaved"], 3, "the multi-line record counts once");

    let records = emu.received_records(JOB);
    assert_eq!(records.len(), 3);
    assert_eq!(records[0][0], "a@contoso.com");
    assert_eq!(records[1][0], "b@contoso.com");
    assert_eq!(records[1][2], "2024-02-01T00:00:00\n(multi-line)");
    assert_eq!(emu.received_headers(JOB), vec![header_row()]);

    let log = emu.log(JOB);
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].file_name, "resignations.csv");
    assert_eq!(log[0].records_saved, 3);
    assert_eq!(log[0].status, "Succeeded");

    // The same log over HTTP, in the portal's field names; job ids match case-insensitively.
    let http_log: Value = client()
        .get(format!(
            "{}/api/log?jobid={}",
            emu.url(),
            JOB.to_uppercase()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(http_log[0]["fileName"], "resignations.csv");
    assert_eq!(http_log[0]["recordsSaved"], 3);
    assert_eq!(http_log[0]["status"], "Succeeded");
    let time: jiff::Timestamp = http_log[0]["time"].as_str().unwrap().parse().unwrap();
    assert!(jiff::Timestamp::now().duration_since(time).as_secs() < 60);
    assert_eq!(emu.upload_requests(), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn large_upload_fits_and_keep_records_off_still_counts() {
    let emu = start(EmulatorConfig {
        keep_records: false,
        ..config()
    })
    .await;
    let token = get_token(&emu).await;
    let mut csv = String::from("EmailAddress,TerminationDate,LastWorkingDate\n");
    for i in 0..50_000 {
        csv.push_str(&format!(
            "person{i}@contoso.com,2024-01-02T00:00:00.0000000+00:00,2024-01-01T00:00:00.0000000+00:00\n"
        ));
    }
    assert!(
        csv.len() > 4 * 1024 * 1024,
        "bigger than axum's default limit"
    );
    let r = upload(&emu, &token, &csv).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(emu.log(JOB)[0].records_saved, 50_000);
    assert!(emu.received_records(JOB).is_empty());
    assert_eq!(emu.received_headers(JOB).len(), 1);
    emu.shutdown().await;
}

async fn assert_ingest_error(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"].is_string() && body["message"].is_string(),
        "{body}"
    );
    body
}

#[tokio::test]
async fn upload_refusals() {
    let emu = start(EmulatorConfig {
        token_lifetime: Duration::from_secs(1),
        ..config()
    })
    .await;
    let token = get_token(&emu).await;
    let c = client();
    let url = upload_url(&emu, JOB);

    // No bearer, unknown bearer.
    let r = c
        .post(&url)
        .multipart(file_form(CSV, "a.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_ingest_error(r, 401).await;
    let r = upload(&emu, "made-up-token", CSV).await.unwrap();
    assert_ingest_error(r, 401).await;
    // A big body is drained first, so the client reads the 401 instead of a reset.
    let r = upload(&emu, "made-up-token", &big_csv(100_000))
        .await
        .unwrap();
    assert_ingest_error(r, 401).await;

    // No jobid, unregistered job.
    let r = c
        .post(format!("{}/api/signals", emu.url()))
        .bearer_auth(&token)
        .multipart(file_form(CSV, "a.csv"))
        .send()
        .await
        .unwrap();
    assert_ingest_error(r, 400).await;
    let r = c
        .post(upload_url(&emu, "00000000-0000-4000-8000-000000000bad"))
        .bearer_auth(&token)
        .multipart(file_form(CSV, "a.csv"))
        .send()
        .await
        .unwrap();
    assert_ingest_error(r, 403).await;

    // Not multipart at all.
    let r = c
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(CSV)
        .send()
        .await
        .unwrap();
    assert_ingest_error(r, 400).await;

    // A part with another name; a file part without a filename.
    let form = reqwest::multipart::Form::new().part(
        "data",
        reqwest::multipart::Part::text(CSV).file_name("a.csv"),
    );
    let r = c
        .post(&url)
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let body = assert_ingest_error(r, 400).await;
    assert!(body["message"].as_str().unwrap().contains("'file'"));
    let form = reqwest::multipart::Form::new().text("file", CSV);
    let r = c
        .post(&url)
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let body = assert_ingest_error(r, 400).await;
    assert!(body["message"].as_str().unwrap().contains("filename"));

    // Empty, header-only, and ragged CSV.
    for bad in [
        "",
        "EmailAddress,TerminationDate,LastWorkingDate\r\n",
        "a,b,c\r\n1,2\r\n",
    ] {
        let r = upload(&emu, &token, bad).await.unwrap();
        assert_ingest_error(r, 400).await;
    }

    // The token expires after its lifetime.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = upload(&emu, &token, CSV).await.unwrap();
    assert_ingest_error(r, 401).await;

    assert!(emu.received_records(JOB).is_empty());
    assert!(emu.log(JOB).is_empty());
    assert_eq!(emu.upload_requests(), 12);
    emu.shutdown().await;
}

#[tokio::test]
async fn any_job_is_accepted_when_none_are_configured() {
    let emu = start(EmulatorConfig {
        jobs: Vec::new(),
        ..config()
    })
    .await;
    let token = get_token(&emu).await;
    let r = client()
        .post(upload_url(&emu, "whatever-job"))
        .bearer_auth(&token)
        .multipart(file_form(CSV, "a.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(emu.received_records("whatever-job").len(), 3);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_never_interleave_records() {
    let emu = start(config()).await;
    let token = get_token(&emu).await;
    let mut tasks = Vec::new();
    for n in 0..8 {
        let csv = {
            let mut csv = String::from("EmailAddress,TerminationDate,LastWorkingDate\n");
            for i in 0..500 {
                csv.push_str(&format!(
                    "u{n}-{i}@contoso.com,2024-01-02T00:00:00Z,2024-01-01T00:00:00Z\n"
                ));
            }
            csv
        };
        let url = upload_url(&emu, JOB);
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            client()
                .post(url)
                .bearer_auth(token)
                .multipart(file_form(&csv, &format!("part{n}.csv")))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let records = emu.received_records(JOB);
    assert_eq!(records.len(), 4000);
    assert_eq!(emu.log(JOB).len(), 8);
    // Each upload's 500 records arrive as one contiguous run, in order.
    for run in records.chunks(500) {
        let prefix = run[0][0].split('-').next().unwrap().to_string();
        for (i, r) in run.iter().enumerate() {
            assert_eq!(r[0], format!("{prefix}-{i}@contoso.com"));
        }
    }
    emu.shutdown().await;
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn status_fault_sends_retry_after_then_clears() {
    let emu = start(config()).await;
    let token = get_token(&emu).await;
    emu.inject(Fault {
        target: FaultTarget::Upload,
        count: 2,
        action: FaultAction::Status {
            status: 503,
            retry_after: Some(7),
            body: None,
        },
        after: 0,
    });
    emu.inject(Fault {
        target: FaultTarget::Upload,
        count: 1,
        action: FaultAction::Status {
            status: 501,
            retry_after: None,
            body: Some("custom".into()),
        },
        after: 0,
    });
    for _ in 0..2 {
        let r = upload(&emu, &token, CSV).await.unwrap();
        assert_eq!(r.headers()["retry-after"], "7");
        assert_ingest_error(r, 503).await;
    }
    let r = upload(&emu, &token, CSV).await.unwrap();
    assert_eq!(r.status(), 501);
    assert!(r.headers().get("retry-after").is_none());
    assert_eq!(r.text().await.unwrap(), "custom");
    assert!(emu.received_records(JOB).is_empty());

    let r = upload(&emu, &token, CSV).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(emu.upload_requests(), 4);
    emu.shutdown().await;
}

#[tokio::test]
async fn token_faults_apply_to_the_token_endpoint_only() {
    let emu = start(config()).await;
    emu.inject(Fault {
        target: FaultTarget::Token,
        count: 1,
        action: FaultAction::Status {
            status: 429,
            retry_after: Some(3),
            body: None,
        },
        after: 0,
    });
    let r = client()
        .post(token_url(&emu, TENANT))
        .form(&secret_form())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "3");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS")
    );

    emu.inject(Fault {
        target: FaultTarget::Token,
        count: 1,
        action: FaultAction::ResetMidBody,
        after: 0,
    });
    let r = client()
        .post(token_url(&emu, TENANT))
        .form(&secret_form())
        .send()
        .await;
    assert!(r.is_err(), "expected a connection error");
    // The token is issued but its answer is lost.
    emu.inject(Fault {
        target: FaultTarget::Token,
        count: 1,
        action: FaultAction::DropResponse,
        after: 0,
    });
    let r = client()
        .post(token_url(&emu, TENANT))
        .form(&secret_form())
        .send()
        .await;
    assert!(r.is_err(), "expected a connection error");
    assert_eq!(emu.requests().last().unwrap().status, 0);

    let token = get_token(&emu).await;
    assert_eq!(emu.token_requests(), 4);
    assert_eq!(upload(&emu, &token, CSV).await.unwrap().status(), 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn delay_fault_and_upload_delay_slow_down_uploads() {
    let emu = start(config()).await;
    let token = get_token(&emu).await;
    emu.inject(Fault {
        target: FaultTarget::Upload,
        count: 1,
        action: FaultAction::Delay(Duration::from_millis(600)),
        after: 0,
    });
    let t = Instant::now();
    assert_eq!(upload(&emu, &token, CSV).await.unwrap().status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(600));
    let t = Instant::now();
    assert_eq!(upload(&emu, &token, CSV).await.unwrap().status(), 200);
    assert!(
        t.elapsed() < Duration::from_millis(600),
        "the fault was used up"
    );

    emu.set_upload_delay(Duration::from_millis(400));
    for _ in 0..2 {
        let t = Instant::now();
        assert_eq!(upload(&emu, &token, CSV).await.unwrap().status(), 200);
        assert!(t.elapsed() >= Duration::from_millis(400));
    }
    emu.set_upload_delay(Duration::ZERO);
    assert_eq!(emu.received_records(JOB).len(), 12);
    emu.shutdown().await;
}

fn big_csv(rows: usize) -> String {
    let mut csv = String::from("EmailAddress,TerminationDate,LastWorkingDate\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "p{i}@contoso.com,2024-01-02T00:00:00Z,2024-01-01T00:00:00Z\n"
        ));
    }
    csv
}

#[tokio::test]
async fn reset_mid_body_is_a_connection_error_and_stores_nothing() {
    let emu = start(config()).await;
    let token = get_token(&emu).await;
    emu.inject(Fault {
        target: FaultTarget::Upload,
        count: 2,
        action: FaultAction::ResetMidBody,
        after: 0,
    });
    // A body much bigger than one read, and a small one.
    for csv in [big_csv(40_000), CSV.to_string()] {
        let err = upload(&emu, &token, &csv).await.unwrap_err();
        assert!(!err.is_timeout(), "{err}");
        assert!(
            err.is_request() || err.is_body() || err.is_connect(),
            "{err:?}"
        );
    }
    assert!(emu.received_records(JOB).is_empty());
    assert!(emu.log(JOB).is_empty());
    let uploads: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.kind == RequestKind::Upload)
        .collect();
    assert_eq!(uploads.len(), 2);
    assert!(uploads.iter().all(|r| r.status == 0), "never answered");

    // The emulator keeps serving.
    assert_eq!(upload(&emu, &token, CSV).await.unwrap().status(), 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn drop_response_stores_the_upload_but_loses_the_answer() {
    let emu = start(config()).await;
    let token = get_token(&emu).await;
    emu.inject(Fault {
        target: FaultTarget::Upload,
        count: 1,
        action: FaultAction::DropResponse,
        after: 0,
    });
    let err = upload(&emu, &token, CSV).await.unwrap_err();
    assert!(!err.is_timeout(), "{err}");
    assert_eq!(
        emu.received_records(JOB).len(),
        3,
        "stored before the reset"
    );
    assert_eq!(emu.log(JOB).len(), 1);
    emu.shutdown().await;
}

// ---------------------------------------------------------------- control surface, records

#[tokio::test]
async fn http_control_surface() {
    let emu = start(config()).await;
    let c = client();
    let token = get_token(&emu).await;

    let r = c
        .post(format!("{}/_emulator/faults", emu.url()))
        .json(&json!({"target": "upload", "count": 1,
                      "action": {"status": {"status": 503, "retry_after": 2}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = upload(&emu, &token, CSV).await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "2");

    let r = c
        .post(format!("{}/_emulator/faults", emu.url()))
        .json(&json!({"target": "upload", "action": "drop_response"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(upload(&emu, &token, CSV).await.is_err());

    let r = c
        .post(format!("{}/_emulator/upload-delay", emu.url()))
        .json(&json!({"ms": 300}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let t = Instant::now();
    assert_eq!(upload(&emu, &token, CSV).await.unwrap().status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));

    let received: Value = c
        .get(format!("{}/_emulator/received?jobid={JOB}", emu.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(received["headers"].as_array().unwrap().len(), 2);
    assert_eq!(received["records"].as_array().unwrap().len(), 6);
    assert_eq!(received["records"][0][0], "a@contoso.com");

    let stats: Value = c
        .get(format!("{}/_emulator/stats", emu.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats,
        json!({"token_requests": 1, "upload_requests": 3, "max_concurrent_uploads": 1})
    );

    // A malformed fault is refused rather than ignored.
    let r = c
        .post(format!("{}/_emulator/faults", emu.url()))
        .json(&json!({"target": "nowhere", "action": "drop_response"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    emu.shutdown().await;
}

#[tokio::test]
async fn requests_record_shape_and_redact_credentials() {
    let emu = start(config()).await;
    let token = get_token(&emu).await;
    let (s, _) = post_assertion(&emu, &Assertion::valid(&emu)).await;
    assert_eq!(s, 200);
    assert_eq!(upload(&emu, &token, CSV).await.unwrap().status(), 200);

    let requests = emu.requests();
    assert_eq!(requests.len(), 3);
    let dump = format!("{requests:?}");
    assert!(!dump.contains(SECRET), "secret leaked: {dump}");
    assert!(!dump.contains(&token), "token leaked");

    let secret_req = &requests[0];
    assert_eq!(secret_req.kind, RequestKind::Token);
    assert_eq!(secret_req.method, "POST");
    assert_eq!(secret_req.path, format!("/{TENANT}/oauth2/token"));
    assert_eq!(secret_req.query, "api-version=1.0");
    assert_eq!(
        secret_req.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(secret_req.status, 200);
    let field = |r: &hrconnector::emulator::RequestRecord, k: &str| {
        r.form
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        field(secret_req, "client_secret").as_deref(),
        Some("<redacted>")
    );
    assert_eq!(field(secret_req, "client_id").as_deref(), Some(APP));
    assert_eq!(
        field(secret_req, "grant_type").as_deref(),
        Some("client_credentials")
    );
    assert_eq!(field(secret_req, "tenant_id").as_deref(), Some(TENANT));
    assert_eq!(
        field(&requests[1], "client_assertion").as_deref(),
        Some("<redacted>")
    );
    assert_eq!(
        field(&requests[1], "client_assertion_type").as_deref(),
        Some(JWT_BEARER)
    );

    let up = &requests[2];
    assert_eq!(up.kind, RequestKind::Upload);
    assert_eq!(up.path, "/api/signals");
    assert_eq!(up.query, format!("jobid={JOB}"));
    assert!(
        up.content_type
            .as_deref()
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    assert_eq!(up.bearer_valid, Some(true));
    assert_eq!(up.part_name.as_deref(), Some("file"));
    assert_eq!(up.file_name.as_deref(), Some("resignations.csv"));
    assert_eq!(up.status, 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn bad_certificate_config_is_refused_at_start() {
    let mut c = config();
    c.apps[1].certificate_pem = Some("not a pem".into());
    let err = emulator::start(c, "127.0.0.1:0".parse().unwrap())
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}
