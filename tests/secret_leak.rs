//! No secret reaches stdout or stderr at `RUST_LOG=trace`: not the client secret (right or
//! wrong), not the private key, not the client assertion signed with it, not the federated
//! (service account) token of workload identity, not the access tokens the emulator issued — on
//! success and on every failure path.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::tls::{self, TokenIssuer};
use common::*;
use hrconnector::emulator::{EmulatorHandle, Fault, FaultAction, FaultTarget};

const WRONG_SECRET: &str = "Wr0ng-LEAKCHECK-91d2aa";

/// How the binary gets its credentials.
enum Auth<'a> {
    /// `HRCONNECTOR_APP_SECRET`.
    SecretEnv(&'a str),
    /// `--app-secret-file`.
    SecretFile(&'a str),
    /// `--certificate-file` and `--private-key-file` (the test app's key pair).
    Certificate,
    /// `--workload-identity --federated-token-file` holding this service account token.
    WorkloadIdentity(&'a str),
}

/// Runs `hrconnector upload` at trace level (text or JSON logs) and returns stdout + stderr.
async fn upload(
    emu: &EmulatorHandle,
    dir: &Path,
    csv: &Path,
    auth: Auth<'_>,
    json_logs: bool,
) -> String {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hrconnector"));
    cmd.args(["upload", "--cloud", "gcc-high", "--max-attempts", "2"])
        .args(["--tenant-id", TENANT, "--job-id", JOB])
        .args(["--authority-url", &emu.url(), "--ingestion-url", &emu.url()])
        .args(["--records-per-call", "2"])
        .arg("--csv-file-path")
        .arg(csv)
        .env("RUST_LOG", "trace")
        .env_remove("HRCONNECTOR_APP_SECRET")
        .stdin(Stdio::null());
    if json_logs {
        cmd.env("HRCONNECTOR_LOG_FORMAT", "json");
    }
    match auth {
        Auth::SecretEnv(secret) => {
            cmd.args(["--app-id", APP])
                .env("HRCONNECTOR_APP_SECRET", secret);
        }
        Auth::SecretFile(secret) => {
            let file = dir.join("secret.txt");
            std::fs::write(&file, format!("{secret}\n")).unwrap();
            cmd.args(["--app-id", APP])
                .arg("--app-secret-file")
                .arg(file);
        }
        Auth::Certificate => {
            cmd.args(["--app-id", CERT_APP])
                .arg("--certificate-file")
                .arg(fixture("certs/test-app.crt"))
                .arg("--private-key-file")
                .arg(fixture("certs/test-app.key"));
        }
        Auth::WorkloadIdentity(token) => {
            let file = dir.join("azure-identity-token");
            std::fs::write(&file, token).unwrap();
            cmd.args(["--workload-identity", "--app-id", tls::FED_APP])
                .arg("--federated-token-file")
                .arg(file);
        }
    }
    let out = cmd.output().await.unwrap();
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Everything that must never be printed: both secrets, every line of the private key's PEM
/// body, and every access token the emulator issued.
fn secrets(emu: &EmulatorHandle) -> Vec<String> {
    let mut needles = vec![SECRET.to_string(), WRONG_SECRET.to_string()];
    let key = std::fs::read_to_string(fixture("certs/test-app.key")).unwrap();
    needles.extend(
        key.lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
            .map(str::to_string),
    );
    needles.extend(emu.issued_tokens());
    needles
}

fn assert_no_leak(output: &str, emu: &EmulatorHandle, case: &str) {
    assert!(
        output.len() > 200,
        "{case}: trace output expected, got {output}"
    );
    for needle in secrets(emu) {
        assert!(
            !output.contains(&needle),
            "{case}: a secret ({}…) appears in the output",
            &needle[..6]
        );
    }
    // A signed client assertion is a JWT, base64url of `{"…`; no other output starts like one.
    assert!(
        !output.contains("eyJ"),
        "{case}: something JWT-like appears in the output"
    );
}

fn valid_csv(dir: &Path) -> std::path::PathBuf {
    write_csv(dir, "hr.csv", 5).0
}

#[tokio::test]
async fn success_with_a_secret_leaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = valid_csv(dir.path());
    let emu = start_emulator().await;
    let out = upload(&emu, dir.path(), &csv, Auth::SecretEnv(SECRET), false).await;
    assert!(out.contains("Upload Successful"), "{out}");
    assert_eq!(emu.issued_tokens().len(), 1);
    assert_no_leak(&out, &emu, "secret from the environment");

    let out = upload(&emu, dir.path(), &csv, Auth::SecretFile(SECRET), true).await;
    assert!(out.contains("Upload Successful"), "{out}");
    assert_no_leak(&out, &emu, "secret from a file, JSON logs");
}

#[tokio::test]
async fn success_with_a_certificate_leaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = valid_csv(dir.path());
    let emu = start_emulator().await;
    let out = upload(&emu, dir.path(), &csv, Auth::Certificate, false).await;
    assert!(out.contains("Upload Successful"), "{out}");
    assert_eq!(emu.issued_tokens().len(), 1);
    assert_no_leak(&out, &emu, "certificate");
}

#[tokio::test]
async fn wrong_secret_leaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = valid_csv(dir.path());
    let emu = start_emulator().await;
    let out = upload(&emu, dir.path(), &csv, Auth::SecretEnv(WRONG_SECRET), false).await;
    assert!(out.contains("AADSTS7000215"), "{out}");
    assert_no_leak(&out, &emu, "wrong secret");
}

#[tokio::test]
async fn upload_refused_with_401_leaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = valid_csv(dir.path());
    let emu = start_emulator().await;
    emu.inject(
        Fault::new(
            FaultTarget::Upload,
            1,
            FaultAction::Status {
                status: 401,
                retry_after: None,
                body: None,
            },
        )
        .after(1),
    );
    let out = upload(&emu, dir.path(), &csv, Auth::SecretEnv(SECRET), false).await;
    assert!(out.contains("401"), "{out}");
    assert_eq!(emu.issued_tokens().len(), 1, "a token was issued and used");
    assert_no_leak(&out, &emu, "401 on upload");
}

#[tokio::test]
async fn service_unavailable_to_the_end_leaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = valid_csv(dir.path());
    let emu = start_emulator().await;
    emu.inject(Fault::new(
        FaultTarget::Upload,
        10,
        FaultAction::Status {
            status: 503,
            retry_after: None,
            body: None,
        },
    ));
    let out = upload(&emu, dir.path(), &csv, Auth::Certificate, true).await;
    assert!(out.contains("unavailable after 2 attempt(s)"), "{out}");
    assert_no_leak(&out, &emu, "503 until the attempts ran out");
}

#[tokio::test]
async fn invalid_csv_leaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    std::fs::write(
        &csv,
        "EmailAddress,TerminationDate,LastWorkingDate\nnot-an-email,2019-04-24T09:15:49Z,yesterday\n",
    )
    .unwrap();
    let emu = start_emulator().await;
    let out = upload(&emu, dir.path(), &csv, Auth::SecretFile(SECRET), false).await;
    assert!(
        out.contains("InvalidCsv") || out.contains("invalid record"),
        "{out}"
    );
    assert_eq!(emu.token_requests(), 0);
    assert_no_leak(&out, &emu, "invalid CSV");
}

/// A valid CSV, a service-account token issuer, and the emulator knowing the federated app,
/// which trusts that issuer for one service account.
struct Federated {
    dir: tempfile::TempDir,
    csv: std::path::PathBuf,
    issuer: TokenIssuer,
    emu: EmulatorHandle,
}

impl Federated {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let csv = valid_csv(dir.path());
        let issuer = TokenIssuer::new();
        let emu = hrconnector::emulator::start(
            tls::config_with_federation(&issuer),
            ([127, 0, 0, 1], 0).into(),
        )
        .await
        .expect("emulator starts");
        Federated {
            dir,
            csv,
            issuer,
            emu,
        }
    }

    /// `upload --workload-identity` with `token` as the federated token file.
    async fn upload(&self, token: &str, json_logs: bool) -> String {
        upload(
            &self.emu,
            self.dir.path(),
            &self.csv,
            Auth::WorkloadIdentity(token),
            json_logs,
        )
        .await
    }
}

/// [`assert_no_leak`], and none of the service account tokens either (whole, or their
/// signature, the part no claim printed for a diagnosis could contain).
fn assert_no_federated_leak(output: &str, emu: &EmulatorHandle, tokens: &[&str], case: &str) {
    assert_no_leak(output, emu, case);
    for token in tokens {
        let signature = token.rsplit('.').next().unwrap();
        assert!(
            !output.contains(token) && !output.contains(signature),
            "{case}: the federated token appears in the output"
        );
    }
}

#[tokio::test]
async fn workload_identity_success_leaks_neither_the_federated_nor_the_access_token() {
    let f = Federated::new().await;
    let (issuer, emu) = (&f.issuer, &f.emu);
    let token = issuer.token(tls::FED_NAMESPACE, tls::FED_ACCOUNT, tls::AUDIENCE, 3600);
    let out = f.upload(&token, false).await;
    assert!(out.contains("Upload Successful"), "{out}");
    assert_eq!(emu.issued_tokens().len(), 1);
    assert_no_federated_leak(&out, emu, &[&token], "workload identity");

    let out = f.upload(&token, true).await;
    assert!(out.contains("Upload Successful"), "{out}");
    assert_no_federated_leak(&out, emu, &[&token], "workload identity, JSON logs");
}

#[tokio::test]
async fn rejected_and_expired_assertions_leak_nothing() {
    let f = Federated::new().await;
    let (issuer, emu) = (&f.issuer, &f.emu);
    // Another namespace's service account: no federated credential matches.
    let other = issuer.token("other-team", tls::FED_ACCOUNT, tls::AUDIENCE, 3600);
    let out = f.upload(&other, false).await;
    assert!(out.contains("AADSTS70021"), "{out}");
    assert_no_federated_leak(&out, emu, &[&other], "assertion rejected");

    let expired = issuer.token(tls::FED_NAMESPACE, tls::FED_ACCOUNT, tls::AUDIENCE, -600);
    let out = f.upload(&expired, true).await;
    assert!(out.contains("AADSTS700024"), "{out}");
    assert_no_federated_leak(&out, emu, &[&expired], "assertion expired, JSON logs");
    assert_eq!(emu.upload_requests(), 0);
}

#[tokio::test]
async fn an_unauthorized_upload_with_a_federated_token_leaks_nothing() {
    let f = Federated::new().await;
    let (issuer, emu) = (&f.issuer, &f.emu);
    emu.inject(Fault::new(
        FaultTarget::Upload,
        1,
        FaultAction::Status {
            status: 401,
            retry_after: None,
            body: None,
        },
    ));
    let token = issuer.token(tls::FED_NAMESPACE, tls::FED_ACCOUNT, tls::AUDIENCE, 3600);
    let out = f.upload(&token, false).await;
    assert!(out.contains("401"), "{out}");
    assert_eq!(
        emu.issued_tokens().len(),
        1,
        "an access token was issued and used"
    );
    assert_no_federated_leak(
        &out,
        emu,
        &[&token],
        "401 on upload after a federated token",
    );
}

/// `hrconnector upload` with the tenant read from `--tenant-id-file` (as an upload Job reads it
/// from the mounted Secret) and the secret from the environment, at trace level.
async fn upload_with_tenant_file(
    dir: &Path,
    tenant: &str,
    authority: &str,
    ingestion: &str,
) -> (bool, String) {
    let csv = valid_csv(dir);
    let tenant_file = dir.join("tenant-id");
    std::fs::write(&tenant_file, format!("{tenant}\n")).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hrconnector"))
        .args(["upload", "--cloud", "gcc-high", "--max-attempts", "2"])
        .args(["--app-id", APP, "--job-id", JOB, "--output", "json"])
        .arg("--tenant-id-file")
        .arg(&tenant_file)
        .args(["--authority-url", authority, "--ingestion-url", ingestion])
        .arg("--csv-file-path")
        .arg(csv)
        .env("RUST_LOG", "trace")
        .env("HRCONNECTOR_APP_SECRET", SECRET)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn a_tenant_read_from_a_file_is_never_echoed_back() {
    // A value of the tenant form that Entra does not know: AADSTS90002 echoes it, and the
    // scrubber replaces it by where it came from, in the result, the message and the trace log.
    let dir = tempfile::tempdir().unwrap();
    let emu = start_emulator().await;
    let leaked = "leakcheck-tenant-9f3a.example.com";
    let (ok, out) = upload_with_tenant_file(dir.path(), leaked, &emu.url(), &emu.url()).await;
    assert!(!ok, "{out}");
    assert!(out.contains("AADSTS90002"), "{out}");
    assert!(out.contains("<tenant ID from --tenant-id-file>"), "{out}");
    assert!(
        !out.contains(leaked),
        "the tenant value appears in the output"
    );
    assert!(
        !out.contains("leakcheck-tenant"),
        "part of the tenant value appears"
    );
    assert_no_leak(&out, &emu, "unknown tenant from a file");
}

#[tokio::test]
async fn a_tenant_that_is_no_tenant_is_refused_before_any_request() {
    for value in [
        "../../evil",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
        "a b",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let emu = start_emulator().await;
        let (ok, out) = upload_with_tenant_file(dir.path(), value, &emu.url(), &emu.url()).await;
        assert!(!ok, "{value}: {out}");
        assert!(out.contains("the tenant ID is not a tenant ID"), "{out}");
        assert!(!out.contains(value), "{value} appears in the output");
        assert_eq!(emu.token_requests(), 0, "{value}: a token request was sent");
    }
}

#[tokio::test]
async fn a_redirect_to_another_origin_never_receives_the_secret() {
    // The authority answers the token request with a 307 to another port: reqwest would re-send
    // the form (with client_secret) there. The egress policy stops the hop.
    let target = RawServer::start(
        |_| b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec(),
        0,
    )
    .await;
    let to = format!("{}/stolen/oauth2/token", target.url);
    let bouncer = RawServer::start(
        move |_| {
            format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {to}\r\ncontent-length: 0\r\n\r\n"
            )
            .into_bytes()
        },
        0,
    )
    .await;
    let emu = start_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = upload_with_tenant_file(dir.path(), TENANT, &bouncer.url, &emu.url()).await;
    assert!(!ok, "{out}");
    assert!(out.contains("EndpointNotAllowed"), "{out}");
    assert!(out.contains("a redirect never leaves the origin"), "{out}");
    assert!(bouncer.connection_count() >= 1);
    assert!(
        String::from_utf8_lossy(&bouncer.received.lock().unwrap()).contains("client_secret"),
        "the bouncer saw the token request"
    );
    assert_eq!(
        target.connection_count(),
        0,
        "the redirect target was reached"
    );
    assert_no_leak(&out, &emu, "redirect");
}

#[tokio::test]
async fn a_token_answer_is_read_to_a_bound_whatever_its_length_claims() {
    // 200 with Content-Length 1 TiB, then 4 MiB of bytes: the client stops at 1 MiB and says so.
    let authority = RawServer::start(
        |_| b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1099511627776\r\n\r\n".to_vec(),
        4 * 1024 * 1024,
    )
    .await;
    let emu = start_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = upload_with_tenant_file(dir.path(), TENANT, &authority.url, &emu.url()).await;
    assert!(!ok, "{out}");
    assert!(out.contains("larger than 1024 KiB"), "{out}");
    assert_eq!(emu.upload_requests(), 0);
}

/// `upload --source sftp://…` at trace level (text or JSON logs) against a real sshd, with
/// `ssh` flags: stdout + stderr.
async fn sftp_upload(emu: &EmulatorHandle, url: &str, ssh: &[String], json_logs: bool) -> String {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hrconnector"));
    cmd.args(["upload", "--cloud", "gcc-high", "--max-attempts", "2"])
        .args(["--tenant-id", TENANT, "--job-id", JOB, "--app-id", APP])
        .args(["--authority-url", &emu.url(), "--ingestion-url", &emu.url()])
        .args(["--records-per-call", "2", "--source", url])
        .args(ssh)
        .env("RUST_LOG", "trace")
        .env("HRCONNECTOR_APP_SECRET", SECRET)
        .stdin(Stdio::null());
    if json_logs {
        cmd.env("HRCONNECTOR_LOG_FORMAT", "json");
    }
    let out = cmd.output().await.unwrap();
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn sftp_keys_and_passwords_leak_nothing_on_success_or_refusal() {
    use common::sshd::{PASSWORD_USER, Sshd, password_user};
    let sshd = Sshd::start();
    let csv = write_csv(&sshd.files, "hr.csv", 5).0;
    std::fs::set_permissions(&csv, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let emu = start_emulator().await;
    let password = password_user();
    let key = std::fs::read_to_string(&sshd.client_key).unwrap();
    let mut needles: Vec<String> = key
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .map(str::to_string)
        .collect();
    needles.push(password.clone());
    let wrong = "Wr0ng-SSH-LEAKCHECK-5e0b";
    needles.push(wrong.into());
    let file = |name: &str, value: &str| {
        let path = sshd.dir.path().join(name);
        std::fs::write(&path, format!("{value}\n")).unwrap();
        path.display().to_string()
    };
    let known = sshd.known_hosts.display().to_string();
    let key_file = sshd.client_key.display().to_string();
    let flags = |credential: &str, value: String, known: &str| {
        vec![
            credential.to_string(),
            value,
            "--ssh-known-hosts".into(),
            known.to_string(),
        ]
    };
    let impostor = file(
        "impostor_known_hosts",
        &format!(
            "[127.0.0.1]:{} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIGuIXiUVoMgocW2E94uZRHiKDbo20OlK3qr5g3ruQbf\n",
            sshd.port
        ),
    );
    let by_key = sshd.url(&sshd.user, "hr.csv");
    let by_password = sshd.url(PASSWORD_USER, "hr.csv");
    let cases = [
        (
            "key login",
            &by_key,
            flags("--ssh-private-key-file", key_file.clone(), &known),
        ),
        (
            "password login",
            &by_password,
            flags("--ssh-password-file", file("pw", &password), &known),
        ),
        (
            "wrong password",
            &by_password,
            flags("--ssh-password-file", file("wrong", wrong), &known),
        ),
        (
            "wrong host key",
            &by_key,
            flags("--ssh-private-key-file", key_file.clone(), &impostor),
        ),
    ];
    for (case, url, ssh) in cases {
        for json_logs in [false, true] {
            let output = sftp_upload(&emu, url, &ssh, json_logs).await;
            assert!(
                output.len() > 200,
                "{case}: trace output expected: {output}"
            );
            for needle in &needles {
                assert!(
                    !output.contains(needle.as_str()),
                    "{case}: a secret ({}…) appears in the output",
                    &needle[..6]
                );
            }
        }
    }
    // The successful cases did upload, so the trace above covered a whole transfer.
    assert_eq!(emu.received_records(JOB).len(), 5 * 4);
}
