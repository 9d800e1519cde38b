//! `hrconnector upload` as an operator's upload Job runs it: IDs from files or the environment,
//! the report written to a result file, and a resume checkpoint given on the command line.

mod common;

use std::path::Path;

use common::*;
use hrconnector::emulator::{Fault, FaultAction, FaultTarget};
use serde_json::Value;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hrconnector");

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn hrconnector(args: &[String], envs: &[(&str, &str)]) -> Run {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("HRCONNECTOR_APP_SECRET")
        .env_remove("HRCONNECTOR_TENANT_ID")
        .env_remove("HRCONNECTOR_APP_ID")
        .env("RUST_LOG", "debug")
        .envs(envs.iter().copied())
        .output()
        .await
        .expect("binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Files as a Secret volume would hold them: each value with a trailing newline.
struct Creds {
    tenant: String,
    app: String,
    secret: String,
}

fn write_creds(dir: &Path) -> Creds {
    let file = |name: &str, value: &str| {
        let p = dir.join(name);
        std::fs::write(&p, format!("{value}\n")).unwrap();
        p.to_string_lossy().into_owned()
    };
    Creds {
        tenant: file("tenantId", TENANT),
        app: file("appId", APP),
        secret: file("appSecret", SECRET),
    }
}

/// The upload arguments without any tenant or app ID source.
fn base_args(url: &str, csv: &Path, secret_file: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "upload",
        "--cloud",
        "gcc",
        "--app-secret-file",
        secret_file,
        "--job-id",
        JOB,
        "--csv-file-path",
        &csv.to_string_lossy(),
        "--authority-url",
        url,
        "--ingestion-url",
        url,
        "--output",
        "json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn with_id_files(mut args: Vec<String>, c: &Creds) -> Vec<String> {
    args.extend(
        ["--tenant-id-file", &c.tenant, "--app-id-file", &c.app]
            .iter()
            .map(|s| s.to_string()),
    );
    args
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn ids_from_files_and_the_report_in_the_result_file() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, records) = write_csv(dir.path(), "hr.csv", 5);
    let creds = write_creds(dir.path());
    let result = dir.path().join("termination-log");
    let emu = start_emulator().await;
    let args = with_id_files(
        base_args(
            &emu.url(),
            &csv,
            &creds.secret,
            &[
                "--records-per-call",
                "2",
                "--result-file",
                &result.to_string_lossy(),
            ],
        ),
        &creds,
    );
    let run = hrconnector(&args, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let written = std::fs::read_to_string(&result).unwrap();
    assert_eq!(
        json(&written),
        json(&run.stdout),
        "same object as --output json"
    );
    assert_eq!(json(&written)["result"], "Succeeded");
    assert_eq!(json(&written)["recordsSaved"], 5);
    assert_eq!(emu.received_records(JOB), records);
    assert!(!run.stderr.contains(SECRET) && !written.contains(SECRET));
}

#[tokio::test(flavor = "multi_thread")]
async fn ids_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", 2);
    let creds = write_creds(dir.path());
    let emu = start_emulator().await;
    let args = base_args(&emu.url(), &csv, &creds.secret, &[]);
    let env = [
        ("HRCONNECTOR_TENANT_ID", TENANT),
        ("HRCONNECTOR_APP_ID", APP),
    ];
    let run = hrconnector(&args, &env).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(json(&run.stdout)["recordsSaved"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_id_needs_exactly_one_source() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", 1);
    let creds = write_creds(dir.path());
    let url = "http://127.0.0.1:9";
    let result = dir.path().join("result.json");
    let result_arg = result.to_string_lossy().into_owned();

    // Neither source.
    let run = hrconnector(&base_args(url, &csv, &creds.secret, &[]), &[]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("missing --tenant-id"), "{}", run.stderr);

    // The environment and a file.
    let args = with_id_files(
        base_args(url, &csv, &creds.secret, &["--result-file", &result_arg]),
        &creds,
    );
    let run = hrconnector(&args, &[("HRCONNECTOR_APP_ID", APP)]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("give --app-id (or HRCONNECTOR_APP_ID) or --app-id-file, not both"),
        "{}",
        run.stderr
    );
    // The operator still gets a report explaining why.
    let report = json(&std::fs::read_to_string(&result).unwrap());
    assert_eq!(report["result"], "Failed");
    assert_eq!(report["reason"], "InvalidCredentials");

    // A flag and a file.
    let mut args = with_id_files(base_args(url, &csv, &creds.secret, &[]), &creds);
    args.extend(["--tenant-id".to_string(), TENANT.to_string()]);
    let run = hrconnector(&args, &[]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--tenant-id-file, not both"),
        "{}",
        run.stderr
    );

    // An empty file.
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let mut args = base_args(url, &csv, &creds.secret, &["--app-id", APP]);
    args.extend([
        "--tenant-id-file".into(),
        empty.to_string_lossy().into_owned(),
    ]);
    let run = hrconnector(&args, &[]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--tenant-id is empty"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_result_file_stays_under_the_termination_message_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", 2);
    let creds = write_creds(dir.path());
    let emu = start_emulator().await;
    // The service's refusal text ends up in `message`: make it far longer than 4096 bytes.
    emu.inject(Fault {
        target: FaultTarget::Upload,
        count: 1,
        action: FaultAction::Status {
            status: 400,
            retry_after: None,
            body: Some("refused ".repeat(2000)),
        },
        after: 0,
    });
    let result = dir.path().join("termination-log");
    let args = with_id_files(
        base_args(
            &emu.url(),
            &csv,
            &creds.secret,
            &["--result-file", &result.to_string_lossy()],
        ),
        &creds,
    );
    let run = hrconnector(&args, &[]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let written = std::fs::read_to_string(&result).unwrap();
    assert!(written.len() <= 4096, "{} bytes", written.len());
    let report = json(&written);
    assert_eq!(report["result"], "Failed");
    assert_eq!(report["reason"], "UploadFailed");
    assert!(report["message"].as_str().unwrap().ends_with('…'));
}

/// The SHA-256 the uploader reports for `csv`, from a dry run.
async fn content_sha(csv: &Path, creds: &Creds) -> String {
    let args = with_id_files(
        base_args("http://127.0.0.1:9", csv, &creds.secret, &["--dry-run"]),
        creds,
    );
    let run = hrconnector(&args, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    json(&run.stdout)["sourceSha256"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_sends_only_the_records_after_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, records) = write_csv(dir.path(), "hr.csv", 7);
    let creds = write_creds(dir.path());
    let sha = content_sha(&csv, &creds).await;
    let emu = start_emulator().await;
    let args = with_id_files(
        base_args(
            &emu.url(),
            &csv,
            &creds.secret,
            &[
                "--records-per-call",
                "2",
                "--resume-sha256",
                &sha.to_uppercase(),
                "--resume-records",
                "4",
            ],
        ),
        &creds,
    );
    let run = hrconnector(&args, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = json(&run.stdout);
    assert_eq!(report["result"], "Succeeded");
    assert_eq!(report["recordsSaved"], 7, "earlier runs' records count");
    assert_eq!(report["chunks"], 2);
    assert_eq!(emu.received_records(JOB), records[4..].to_vec());
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_of_other_content_or_with_force_sends_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, records) = write_csv(dir.path(), "hr.csv", 3);
    let creds = write_creds(dir.path());
    let sha = content_sha(&csv, &creds).await;
    let emu = start_emulator().await;
    let other = "0".repeat(64);
    for (resume_sha, force) in [(other.as_str(), false), (sha.as_str(), true)] {
        let mut extra = vec!["--resume-sha256", resume_sha, "--resume-records", "3"];
        if force {
            extra.push("--force");
        }
        let args = with_id_files(base_args(&emu.url(), &csv, &creds.secret, &extra), &creds);
        let run = hrconnector(&args, &[]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(json(&run.stdout)["result"], "Succeeded");
    }
    assert_eq!(emu.received_records(JOB).len(), 2 * records.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_complete_checkpoint_makes_the_run_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", 5);
    let creds = write_creds(dir.path());
    let sha = content_sha(&csv, &creds).await;
    let emu = start_emulator().await;
    let args = with_id_files(
        base_args(
            &emu.url(),
            &csv,
            &creds.secret,
            &["--resume-sha256", &sha, "--resume-records", "5"],
        ),
        &creds,
    );
    let run = hrconnector(&args, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = json(&run.stdout);
    assert_eq!(report["result"], "Unchanged");
    assert_eq!(report["recordsSaved"], 5);
    assert_eq!(emu.upload_requests(), 0);
    assert_eq!(emu.token_requests(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_complete_checkpoint_older_than_resend_unchanged_after_is_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, records) = write_csv(dir.path(), "hr.csv", 5);
    let creds = write_creds(dir.path());
    let sha = content_sha(&csv, &creds).await;
    let emu = start_emulator().await;
    let now = jiff::Timestamp::now();
    let ago = |hours: i64| (now - jiff::SignedDuration::from_hours(hours)).to_string();
    // Uploaded 2 days ago with a 1-day setting: sent again; 1 hour ago: unchanged.
    for (completed, expected) in [(ago(48), "Succeeded"), (ago(1), "Unchanged")] {
        let args = with_id_files(
            base_args(
                &emu.url(),
                &csv,
                &creds.secret,
                &[
                    "--resume-sha256",
                    &sha,
                    "--resume-records",
                    "5",
                    "--resume-completed-at",
                    &completed,
                    "--resend-unchanged-after",
                    "1d",
                ],
            ),
            &creds,
        );
        let run = hrconnector(&args, &[]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        let report = json(&run.stdout);
        assert_eq!(report["result"], expected, "{report}");
        if expected == "Unchanged" {
            let at: jiff::Timestamp = completed.parse().unwrap();
            let on = at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
            assert!(
                report["message"].as_str().unwrap().contains(&on),
                "{report}"
            );
        }
    }
    assert_eq!(
        emu.received_records(JOB),
        records,
        "sent once, by the resend"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_flags_come_in_pairs_and_exclude_the_checkpoint_file() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", 1);
    let creds = write_creds(dir.path());
    let url = "http://127.0.0.1:9";
    let sha = "a".repeat(64);
    let cp = dir.path().join("cp.json").to_string_lossy().into_owned();
    let cases: [&[&str]; 4] = [
        &["--resume-sha256", &sha],
        &["--resume-records", "3"],
        &[
            "--resume-sha256",
            &sha,
            "--resume-records",
            "3",
            "--checkpoint-file",
            &cp,
        ],
        &["--resume-sha256", "not-hex", "--resume-records", "3"],
    ];
    for extra in cases {
        let args = with_id_files(base_args(url, &csv, &creds.secret, extra), &creds);
        let run = hrconnector(&args, &[]).await;
        assert_eq!(run.code, 2, "{extra:?}: {}", run.stderr);
        assert!(run.stderr.contains("--"), "{}", run.stderr);
    }
}
