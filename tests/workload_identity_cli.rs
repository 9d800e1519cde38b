//! `hrconnector upload --workload-identity`: the federated assertion is read from the token file
//! for every token request; bad files and rejected assertions stop the run at once with a
//! message naming what is wrong, and nothing is sent.

mod common;

use std::time::Duration;

use common::cli::*;
use common::tls::*;
use common::*;
use hrconnector::emulator::{EmulatorHandle, RequestKind};

struct Setup {
    dir: tempfile::TempDir,
    issuer: TokenIssuer,
    emu: EmulatorHandle,
    csv: String,
    token_file: String,
}

async fn setup(records: usize, token_lifetime: Duration) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", records);
    let issuer = TokenIssuer::new();
    let mut config = config_with_federation(&issuer);
    config.token_lifetime = token_lifetime;
    let emu = hrconnector::emulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let token_file = dir.path().join("token").to_string_lossy().into_owned();
    Setup {
        csv: csv.to_string_lossy().into_owned(),
        dir,
        issuer,
        emu,
        token_file,
    }
}

async fn upload(s: &Setup, extra: &[&str]) -> Run {
    let url = s.emu.url();
    let mut args = vec![
        "upload",
        "--cloud",
        "dod",
        "--workload-identity",
        "--federated-token-file",
        &s.token_file,
        "--app-id",
        FED_APP,
        "--tenant-id",
        TENANT,
        "--authority-url",
        &url,
        "--ingestion-url",
        &url,
        "--job-id",
        JOB,
        "--csv-file-path",
        &s.csv,
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    hrconnector(&args, &[]).await
}

/// A credential that cannot be used: exit 2 before the run starts, the error on stderr.
fn assert_refused_at_start(s: &Setup, run: &Run, names: &[&str]) {
    assert_eq!(run.code, 2, "{}", run.stderr);
    for part in names {
        assert!(
            run.stderr.contains(part),
            "{part:?} missing from {}",
            run.stderr
        );
    }
    assert_eq!(s.emu.requests().len(), 0, "something was sent");
}

fn assert_stopped_before_sending(s: &Setup, run: &Run, code: i32, reason: &str, names: &[&str]) {
    assert_eq!(run.code, code, "{}", run.stderr);
    let report = json(run);
    assert_eq!(report["reason"], reason, "{report}");
    let message = report["message"].as_str().unwrap();
    for part in names {
        assert!(message.contains(part), "{part:?} missing from {message}");
    }
    assert_eq!(s.emu.upload_requests(), 0, "something was uploaded");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_empty_or_unreadable_token_file_sends_nothing() {
    let s = setup(2, Duration::from_secs(3599)).await;
    let run = upload(&s, &[]).await;
    assert_refused_at_start(&s, &run, &[&s.token_file, "No such file"]);
    std::fs::write(&s.token_file, "\n").unwrap();
    let run = upload(&s, &[]).await;
    assert_refused_at_start(&s, &run, &[&s.token_file, "empty"]);
    std::fs::write(&s.token_file, "not a token").unwrap();
    let run = upload(&s, &[]).await;
    assert_refused_at_start(&s, &run, &["does not hold a JWT"]);
    assert!(
        !run.printed("not a token"),
        "the file's content was printed"
    );
    // A directory where the file should be: unreadable even for root.
    std::fs::remove_file(&s.token_file).unwrap();
    std::fs::create_dir(&s.token_file).unwrap();
    let run = upload(&s, &[]).await;
    assert_refused_at_start(&s, &run, &["cannot read the federated token file"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_webhook_variables_are_named() {
    let s = setup(1, Duration::from_secs(3599)).await;
    let run = hrconnector(
        &[
            "upload",
            "--cloud",
            "gcc",
            "--workload-identity",
            "--job-id",
            JOB,
            "--csv-file-path",
            &s.csv,
        ],
        &[("AZURE_TENANT_ID", TENANT)],
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("AZURE_FEDERATED_TOKEN_FILE"),
        "{}",
        run.stderr
    );
    std::fs::write(
        &s.token_file,
        s.issuer.token(FED_NAMESPACE, FED_ACCOUNT, AUDIENCE, 600),
    )
    .unwrap();
    let run = hrconnector(
        &[
            "upload",
            "--cloud",
            "gcc",
            "--workload-identity",
            "--job-id",
            JOB,
            "--csv-file-path",
            &s.csv,
        ],
        &[
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_FEDERATED_TOKEN_FILE", &s.token_file),
        ],
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("AZURE_CLIENT_ID"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn another_namespaces_service_account_is_refused_with_aadsts70021() {
    let s = setup(2, Duration::from_secs(3599)).await;
    let token = s.issuer.token("payroll", FED_ACCOUNT, AUDIENCE, 3600);
    std::fs::write(&s.token_file, &token).unwrap();
    let run = upload(&s, &[]).await;
    assert_stopped_before_sending(
        &s,
        &run,
        1,
        "AuthenticationFailed",
        &["AADSTS70021", "system:serviceaccount:payroll:hr-uploader"],
    );
    assert_eq!(
        s.emu.token_requests(),
        1,
        "a rejected assertion is not retried"
    );
    assert!(!run.printed(&token), "the federated token leaked");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_assertion_is_refused_with_aadsts700024() {
    let s = setup(2, Duration::from_secs(3599)).await;
    let token = s.issuer.token(FED_NAMESPACE, FED_ACCOUNT, AUDIENCE, -120);
    std::fs::write(&s.token_file, &token).unwrap();
    let run = upload(&s, &[]).await;
    assert_stopped_before_sending(&s, &run, 1, "AuthenticationFailed", &["AADSTS700024"]);
    assert!(!run.printed(&token), "the federated token leaked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_signed_by_another_key_is_refused() {
    let s = setup(2, Duration::from_secs(3599)).await;
    let forger = TokenIssuer::new();
    std::fs::write(
        &s.token_file,
        forger.token(FED_NAMESPACE, FED_ACCOUNT, AUDIENCE, 3600),
    )
    .unwrap();
    let run = upload(&s, &[]).await;
    assert_stopped_before_sending(&s, &run, 1, "AuthenticationFailed", &["AADSTS700027"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_token_file_is_read_again_for_the_next_token() {
    // Access tokens live 2 s, so the client fetches a new one about every second; uploads are
    // slowed so the run outlives several of them.
    let s = setup(4, Duration::from_secs(2)).await;
    s.emu.set_upload_delay(Duration::from_millis(1500));
    let first = s.issuer.token(FED_NAMESPACE, FED_ACCOUNT, AUDIENCE, 600);
    std::fs::write(&s.token_file, &first).unwrap();
    let child = tokio::spawn({
        let args = (s.emu.url(), s.csv.clone(), s.token_file.clone());
        async move {
            let (url, csv, token_file) = args;
            hrconnector(
                &[
                    "upload",
                    "--cloud",
                    "dod",
                    "--workload-identity",
                    "--federated-token-file",
                    &token_file,
                    "--app-id",
                    FED_APP,
                    "--tenant-id",
                    TENANT,
                    "--authority-url",
                    &url,
                    "--ingestion-url",
                    &url,
                    "--job-id",
                    JOB,
                    "--csv-file-path",
                    &csv,
                    "--records-per-call",
                    "1",
                    "--output",
                    "json",
                ],
                &[],
            )
            .await
        }
    });
    // The kubelet rotates the file once the first token request has been made.
    while s.emu.token_requests() == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rotated = s.issuer.token(FED_NAMESPACE, FED_ACCOUNT, AUDIENCE, 3600);
    let tmp = s.dir.path().join("token.new");
    std::fs::write(&tmp, &rotated).unwrap();
    std::fs::rename(&tmp, &s.token_file).unwrap();
    let run = child.await.unwrap();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(json(&run)["recordsSaved"], 4);
    let expiries: Vec<i64> = s
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.kind == RequestKind::Token)
        .filter_map(|r| r.assertion_expires)
        .collect();
    assert!(expiries.len() >= 2, "{expiries:?}");
    assert!(
        expiries.windows(2).any(|w| w[1] > w[0]),
        "every token request sent the first assertion: {expiries:?}"
    );
    assert!(!run.printed(&first) && !run.printed(&rotated));
}
