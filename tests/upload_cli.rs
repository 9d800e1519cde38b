//! `hrconnector upload`, `demo` as a user runs them: the real binary against the emulator.

mod common;

use std::path::Path;

use common::cli::*;
use common::*;

/// The upload command line of the test app ([`APP`]).
fn app_upload_args<'a>(url: &'a str, csv: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    upload_args(url, csv, APP, extra)
}

fn assert_no_secret(run: &Run) {
    assert!(
        !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
        "the secret leaked"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_with_a_secret_file_and_prints_the_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, records) = write_csv(dir.path(), "hr.csv", 7);
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let emu = start_emulator().await;
    let url = emu.url();
    let csv = csv.to_string_lossy().into_owned();
    let sf = secret_file.to_string_lossy().into_owned();
    let run = hrconnector(
        &app_upload_args(
            &url,
            &csv,
            &["--app-secret-file", &sf, "--records-per-call", "3"],
        ),
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = json(&run);
    assert_eq!(report["result"], "Succeeded");
    assert_eq!(report["recordsSaved"], 7);
    assert_eq!(report["recordsRejected"], 0);
    assert_eq!(report["chunks"], 3);
    assert_eq!(report["attempts"], 3);
    assert_eq!(report["sourceSha256"].as_str().unwrap().len(), 64);
    assert_eq!(emu.received_records(JOB), records);
    assert_no_secret(&run);
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_from_the_environment_and_checkpoint_make_the_rerun_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", 4);
    let emu = start_emulator().await;
    let url = emu.url();
    let csv = csv.to_string_lossy().into_owned();
    let cp = dir.path().join("cp.json").to_string_lossy().into_owned();
    let env = [("HRCONNECTOR_APP_SECRET", SECRET)];
    let first = hrconnector(
        &app_upload_args(&url, &csv, &["--checkpoint-file", &cp]),
        &env,
    )
    .await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = hrconnector(
        &app_upload_args(&url, &csv, &["--checkpoint-file", &cp]),
        &env,
    )
    .await;
    assert_eq!(second.code, 0);
    assert_eq!(json(&second)["result"], "Unchanged");
    assert_eq!(json(&second)["recordsSaved"], 4);
    assert_eq!(emu.upload_requests(), 1);
    assert_no_secret(&first);
    assert_no_secret(&second);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_secret_exits_1_with_the_aadsts_text_and_never_prints_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", 2);
    let emu = start_emulator().await;
    let url = emu.url();
    let csv = csv.to_string_lossy().into_owned();
    // The wrong secret is recognisable too: it must not appear either.
    let wrong = "WRONG-LEAKCHECK-0d9e";
    let run = hrconnector(&app_upload_args(&url, &csv, &["--app-secret", wrong]), &[]).await;
    assert!(
        !run.stdout.contains(wrong) && !run.stderr.contains(wrong),
        "the wrong secret leaked"
    );
    assert_eq!(run.code, 1);
    let report = json(&run);
    assert_eq!(report["result"], "Failed");
    assert_eq!(report["reason"], "AuthenticationFailed");
    assert!(
        report["message"].as_str().unwrap().contains("AADSTS"),
        "{}",
        run.stdout
    );
    assert_no_secret(&run);
    assert_eq!(emu.upload_requests(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn text_output_says_upload_successful() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", 2);
    let emu = start_emulator().await;
    let url = emu.url();
    let csv = csv.to_string_lossy().into_owned();
    let mut args = app_upload_args(&url, &csv, &["--app-secret", SECRET]);
    args.retain(|a| *a != "--output" && *a != "json");
    let run = hrconnector(&args, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("Upload Successful\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("recordsSaved=2"), "{}", run.stdout);
    assert_no_secret(&run);
}

#[tokio::test(flavor = "multi_thread")]
async fn there_is_no_default_cloud_and_no_default_credential() {
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/employee_termination_data.csv");
    let csv = csv.to_string_lossy().into_owned();
    let mut args = app_upload_args("http://127.0.0.1:9", &csv, &["--app-secret", "x"]);
    args.drain(1..3); // drop "--cloud gcc-high"
    let run = hrconnector(&args, &[]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--cloud"), "{}", run.stderr);

    let run = hrconnector(&app_upload_args("http://127.0.0.1:9", &csv, &[]), &[]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no app credential"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_files_authenticate() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", 2);
    let emu = start_emulator().await;
    let url = emu.url();
    let csv = csv.to_string_lossy().into_owned();
    let cert = fixture("certs/test-app.crt").to_string_lossy().into_owned();
    let key = fixture("certs/test-app.key").to_string_lossy().into_owned();
    let mut args = app_upload_args(
        &url,
        &csv,
        &["--certificate-file", &cert, "--private-key-file", &key],
    );
    args[6] = CERT_APP;
    let run = hrconnector(&args, &[]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(json(&run)["result"], "Succeeded");
    let key_body = std::fs::read_to_string(fixture("certs/test-app.key")).unwrap();
    let key_line = key_body.lines().nth(1).unwrap();
    assert!(
        !run.stdout.contains(key_line) && !run.stderr.contains(key_line),
        "key material leaked"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_uploads_the_documentation_sample() {
    let run = hrconnector(&["demo", "--output", "json"], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = json(&run);
    assert_eq!(out["upload"]["result"], "Succeeded");
    assert_eq!(out["upload"]["recordsSaved"], 2);
    assert_eq!(out["emulatorLog"].as_array().unwrap().len(), 1);
    assert_eq!(out["emulatorLog"][0]["recordsSaved"], 2);

    let text = hrconnector(&["demo"], &[]).await;
    assert_eq!(text.code, 0);
    assert!(text.stdout.contains("Upload Successful"), "{}", text.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_over_the_limits_is_not_sent_and_the_flags_raise_them() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", 3);
    let emu = start_emulator().await;
    let url = emu.url();
    let csv = csv.to_string_lossy().into_owned();
    let run = hrconnector(
        &app_upload_args(
            &url,
            &csv,
            &["--app-secret", SECRET, "--max-field-bytes", "5"],
        ),
        &[],
    )
    .await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = json(&run);
    assert_eq!(report["result"], "Failed");
    let message = report["message"].as_str().unwrap();
    assert!(
        message.contains(
            "the header (line 1), column 1: the field is longer than the limit of 5 bytes"
        ) && message.contains("--max-field-bytes"),
        "{message}"
    );
    assert_eq!(emu.upload_requests(), 0);

    // Limits at the file's own sizes pass.
    let run = hrconnector(
        &app_upload_args(&url, &csv, &["--app-secret", SECRET, "--max-columns", "4"]),
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(json(&run)["recordsSaved"], 3);
    assert_no_secret(&run);
}
