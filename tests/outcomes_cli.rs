//! Truthful outcomes, as a user of `hrconnector upload` meets them against the emulator: a
//! ceiling on skipped rows, no success without records, and unchanged employee profiles sent
//! again before the service deletes them.

mod common;

use std::path::{Path, PathBuf};

use common::cli::*;
use common::*;

/// A Resignation file of `valid` good rows and `invalid` rows with a malformed e-mail address.
fn mixed_csv(dir: &Path, valid: usize, invalid: usize) -> PathBuf {
    let mut text = String::from("EmailAddress,TerminationDate,LastWorkingDate\n");
    for i in 0..valid {
        text.push_str(&format!(
            "person{i}@contoso.com,2026-03-01T09:00:00Z,2026-03-15T17:00:00Z\n"
        ));
    }
    for i in 0..invalid {
        text.push_str(&format!(
            "not-an-address-{i},2026-03-01T09:00:00Z,2026-03-15T17:00:00Z\n"
        ));
    }
    let path = dir.join(format!("mixed-{valid}-{invalid}.csv"));
    std::fs::write(&path, text).unwrap();
    path
}

/// `upload --invalid-rows skip` of `csv` with `extra`, against a fresh emulator; returns the run
/// and the records the emulator received.
async fn upload_skip(csv: &Path, extra: &[&str]) -> (Run, Vec<Vec<String>>, u64) {
    let emu = start_emulator().await;
    let url = emu.url();
    let csv = csv.to_string_lossy().into_owned();
    let mut args = vec!["--invalid-rows", "skip"];
    args.extend_from_slice(extra);
    let run = hrconnector(
        &upload_args(&url, &csv, APP, &args),
        &[("HRCONNECTOR_APP_SECRET", SECRET)],
    )
    .await;
    let received = emu.received_records(JOB);
    (run, received, emu.upload_requests() as u64)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_whose_every_row_is_rejected_fails_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Even a ceiling of 100% lets no file without a valid row through.
    for ceiling in ["10%", "100%"] {
        let (run, received, requests) =
            upload_skip(&mixed_csv(dir.path(), 0, 2), &["--max-rejected", ceiling]).await;
        assert_eq!(run.code, 1, "{}", run.stdout);
        let report = json(&run);
        assert_eq!(report["result"], "Failed");
        assert_eq!(report["reason"], "TooManyRejected");
        assert_eq!(report["recordsSaved"], 0);
        assert_eq!(report["recordsRejected"], 2);
        let message = report["message"].as_str().unwrap();
        assert!(message.contains("2 of 2 records are invalid"), "{message}");
        assert!(message.contains("nothing was sent"), "{message}");
        assert_eq!((requests, received.len()), (0, 0));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_bad_row_in_ten_passes_the_default_ceiling_and_nine_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (run, received, _) = upload_skip(&mixed_csv(dir.path(), 9, 1), &[]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = json(&run);
    assert_eq!(report["result"], "Succeeded");
    assert_eq!(report["recordsSaved"], 9);
    assert_eq!(report["recordsRejected"], 1);
    assert_eq!(received.len(), 9);
    assert!(received.iter().all(|r| r[0].ends_with("@contoso.com")));
}

#[tokio::test(flavor = "multi_thread")]
async fn three_bad_rows_in_ten_fail_before_the_first_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let (run, received, requests) = upload_skip(&mixed_csv(dir.path(), 7, 3), &[]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = json(&run);
    assert_eq!(report["reason"], "TooManyRejected");
    let message = report["message"].as_str().unwrap();
    for part in [
        "3 of 10 records are invalid",
        "ceiling of 10%",
        "--max-rejected",
        "spec.maxRejected",
        "first: record 8",
    ] {
        assert!(message.contains(part), "{part:?} not in {message:?}");
    }
    assert_eq!((requests, received.len()), (0, 0), "nothing was sent");

    // The text output says so too, and never "Upload Successful".
    let emu = start_emulator().await;
    let url = emu.url();
    let csv = mixed_csv(dir.path(), 7, 3).to_string_lossy().into_owned();
    let mut args = upload_args(&url, &csv, APP, &["--invalid-rows", "skip"]);
    args.retain(|a| *a != "--output" && *a != "json");
    let text = hrconnector(&args, &[("HRCONNECTOR_APP_SECRET", SECRET)]).await;
    assert_eq!(text.code, 1);
    assert!(text.stdout.starts_with("Upload Failed"), "{}", text.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ceiling_is_a_count_or_a_percentage() {
    let dir = tempfile::tempdir().unwrap();
    // --max-rejected 0: a single bad row fails the file.
    let (run, _, requests) =
        upload_skip(&mixed_csv(dir.path(), 9, 1), &["--max-rejected", "0"]).await;
    assert_eq!(run.code, 1);
    let report = json(&run);
    assert_eq!(report["reason"], "TooManyRejected");
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("1 of 10 records are invalid, over the ceiling of 0"),
        "{report}"
    );
    assert_eq!(requests, 0);

    // --max-rejected 30%: three of ten pass, seven are sent.
    let (run, received, _) =
        upload_skip(&mixed_csv(dir.path(), 7, 3), &["--max-rejected", "30%"]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(json(&run)["result"], "Succeeded");
    assert_eq!(received.len(), 7);

    // A ceiling that is neither is a usage error naming the flag.
    let (run, _, requests) =
        upload_skip(&mixed_csv(dir.path(), 7, 3), &["--max-rejected", "lots"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--max-rejected"), "{}", run.stderr);
    assert_eq!(requests, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_header_only_file_is_nothing_to_upload_never_a_success() {
    let csv = fixture("csv/header_only.csv");
    let (run, _, requests) = upload_skip(&csv, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = json(&run);
    assert_eq!(report["result"], "NothingToUpload");
    assert_eq!(report["recordsSaved"], 0);
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("--min-records 1"),
        "{report}"
    );
    assert_eq!(requests, 0, "not even a token was needed");

    let emu = start_emulator().await;
    let url = emu.url();
    let path = csv.to_string_lossy().into_owned();
    let mut args = upload_args(&url, &path, APP, &[]);
    args.retain(|a| *a != "--output" && *a != "json");
    let text = hrconnector(&args, &[("HRCONNECTOR_APP_SECRET", SECRET)]).await;
    assert_eq!(text.code, 0);
    assert!(
        !text.stdout.contains("Upload Successful"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.starts_with("Nothing to upload"),
        "{}",
        text.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn min_records_turns_an_empty_file_into_a_failure() {
    let (run, _, requests) =
        upload_skip(&fixture("csv/header_only.csv"), &["--min-records", "1"]).await;
    assert_eq!(run.code, 1);
    let report = json(&run);
    assert_eq!(report["result"], "Failed");
    assert_eq!(report["reason"], "TooFewRecords");
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("0 valid record(s), fewer than the minimum of 1"),
        "{report}"
    );
    assert_eq!(requests, 0);

    // A file with enough rows is not held back by it.
    let dir = tempfile::tempdir().unwrap();
    let (run, received, _) =
        upload_skip(&mixed_csv(dir.path(), 3, 0), &["--min-records", "3"]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(received.len(), 3);
}

/// Runs `upload` of `csv` (scenario `scenario`) twice against one emulator with one checkpoint
/// file, `pause` apart; returns both reports and the records the emulator received.
async fn upload_twice(
    csv: &Path,
    scenario: &str,
    extra: &[&str],
    pause: std::time::Duration,
) -> (serde_json::Value, serde_json::Value, usize) {
    let dir = tempfile::tempdir().unwrap();
    let cp = dir.path().join("cp.json").to_string_lossy().into_owned();
    let emu = start_emulator().await;
    let url = emu.url();
    let csv = csv.to_string_lossy().into_owned();
    let mut args = vec!["--scenario", scenario, "--checkpoint-file", &cp];
    args.extend_from_slice(extra);
    let env = [("HRCONNECTOR_APP_SECRET", SECRET)];
    let first = hrconnector(&upload_args(&url, &csv, APP, &args), &env).await;
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    tokio::time::sleep(pause).await;
    let second = hrconnector(&upload_args(&url, &csv, APP, &args), &env).await;
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    (json(&first), json(&second), emu.received_records(JOB).len())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_file_names_the_date_of_the_upload_it_matches() {
    let dir = tempfile::tempdir().unwrap();
    let csv = mixed_csv(dir.path(), 4, 0);
    let (first, second, received) = upload_twice(
        &csv,
        "resignation",
        &[],
        std::time::Duration::from_millis(10),
    )
    .await;
    assert_eq!(first["result"], "Succeeded");
    assert_eq!(second["result"], "Unchanged");
    assert_eq!(received, 4, "sent once");
    // The date is the first run's completion, as that run reported it.
    let uploaded: jiff::Timestamp = first["uploadedAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(second["uploadedAt"], first["uploadedAt"]);
    let message = second["message"].as_str().unwrap();
    let on = format!("on {}", uploaded.strftime("%Y-%m-%dT%H:%M:%SZ"));
    assert!(message.contains(&on), "{on:?} not in {message:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unchanged_profiles_are_sent_again_once_older_than_the_setting() {
    let csv = fixture("csv/employee_profile.csv");
    let (first, second, received) = upload_twice(
        &csv,
        "employee-profile",
        &["--resend-unchanged-after", "1s"],
        std::time::Duration::from_millis(1500),
    )
    .await;
    assert_eq!(first["result"], "Succeeded");
    assert_eq!(second["result"], "Succeeded", "{second}");
    assert_eq!(received, 4, "both runs sent the 2 profiles");
    let message = second["message"].as_str().unwrap();
    assert!(message.contains("sent again"), "{message}");
    assert!(message.contains("older than 1s"), "{message}");

    // The profile default (14 days) keeps a fresh upload from being sent twice.
    let (_, second, received) = upload_twice(
        &csv,
        "employee-profile",
        &[],
        std::time::Duration::from_millis(10),
    )
    .await;
    assert_eq!(second["result"], "Unchanged");
    assert_eq!(received, 2);
}
