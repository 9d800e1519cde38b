//! End-to-end upload: `hrconnector upload` (release binary) of 1,000,000 records with the default
//! 5,000 records per call to the in-process emulator over loopback, against `curl` posting the
//! same pre-split chunk files (header repeated in each) to the same endpoint with the same
//! token, sequentially on one connection (`--next`). Best of 5 each (HRCONNECTOR_BENCH_ROUNDS), interleaved.
//! Target: hrconnector ≤ 1.2× curl's total time.
//!
//! Our time includes what curl's does not: process start, the validation pass over the whole
//! file, the token request and the chunking. The emulator parses every chunk in both cases.
//!
//! Chunks are byte ranges of the file, planned by the validation pass (the uploader does the
//! same), so curl and hrconnector send the same bytes.
//!
//! `cargo bench --bench upload_e2e`; with `HRCONNECTOR_BENCH_BEFORE=/path/to/old/hrconnector`
//! that build is timed too, in the same rounds (before/after figures from one run).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use hrconnector::hrdata::{ChunkReader, FileSource, ValidationOptions, validate_and_plan};
use hrconnector::upload::DEFAULT_RECORDS_PER_CALL;
use support::*;

const RECORDS: u64 = 1_000_000;

/// Writes the chunks exactly as the uploader builds them, one file each.
fn split(csv: &Path, dir: &Path) -> Vec<PathBuf> {
    let source = FileSource::new(csv);
    let opts = ValidationOptions::default();
    let (_, plan) = validate_and_plan(&source, &opts, DEFAULT_RECORDS_PER_CALL).expect("valid");
    let mut reader =
        ChunkReader::open_planned(&source, &opts, plan, DEFAULT_RECORDS_PER_CALL, 0).expect("open");
    assert!(reader.is_planned());
    let mut files = Vec::new();
    while let Some(chunk) = reader.next_chunk().expect("chunk") {
        let path = dir.join(format!("chunk_{:04}.csv", chunk.index));
        std::fs::write(&path, &chunk.body).expect("write chunk");
        files.push(path);
    }
    files
}

/// One `curl` process posting every chunk in turn on one kept-alive connection.
fn curl_command(url: &str, token: &str, chunks: &[PathBuf]) -> Command {
    let upload_url = format!("{url}/api/signals?jobid={JOB}");
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--show-error", "--fail"]);
    for (i, chunk) in chunks.iter().enumerate() {
        if i > 0 {
            cmd.arg("--next");
        }
        cmd.args(["--output", "/dev/null"])
            .args(["-H", &format!("Authorization: Bearer {token}")])
            // No `Expect: 100-continue` round trip: give curl its best case.
            .args(["-H", "Expect:"])
            .arg("-F")
            .arg(format!("file=@{};type=text/csv", chunk.display()))
            .arg(&upload_url);
    }
    cmd.stdin(Stdio::null());
    cmd
}

async fn fetch_token(url: &str) -> String {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", APP),
        ("client_secret", SECRET),
        ("resource", hrconnector::cloud::CONNECTOR_RESOURCE),
    ];
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/{TENANT}/oauth2/token?api-version=1.0"))
        .form(&form)
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token JSON");
    answer["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

fn main() {
    if !under_cargo_bench() {
        return;
    }
    let (runtime, emu) = runtime_with_emulator();
    let url = emu.url();
    let token = runtime.block_on(fetch_token(&url));

    let dir = scratch_dir();
    let csv = dir.path().join("hr-1m.csv");
    let size = generate_csv(&csv, RECORDS).expect("generate");
    let chunk_dir = dir.path().join("chunks");
    std::fs::create_dir(&chunk_dir).expect("chunk dir");
    let chunks = split(&csv, &chunk_dir);
    println!(
        "end-to-end upload: {RECORDS} records, {:.1} MB, {} chunks of {DEFAULT_RECORDS_PER_CALL}",
        size as f64 / 1e6,
        chunks.len()
    );

    let before_bin = std::env::var_os("HRCONNECTOR_BENCH_BEFORE").map(PathBuf::from);
    let mut before_best = Duration::MAX;
    let (mut ours, mut curl, mut check) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let rounds = rounds();
    for round in 1..=rounds {
        let before = emu.upload_requests();
        let (c, _) = run(&mut curl_command(&url, &token, &chunks), true);
        assert_eq!(
            emu.upload_requests() - before,
            chunks.len(),
            "curl sent every chunk"
        );

        let before = emu.upload_requests();
        let (o, out) = run(&mut upload_command(&url, &csv, SECRET), true);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
        assert_eq!(report["result"], "Succeeded");
        assert_eq!(report["recordsSaved"], RECORDS);
        assert_eq!(
            emu.upload_requests() - before,
            chunks.len(),
            "one request per chunk"
        );

        // The validation pass alone: the part of the upload that precedes the first byte sent.
        let (v, _) = run(&mut validate_command(&csv), true);

        if let Some(bin) = &before_bin {
            let (b, out) = run(&mut upload_command_of(bin, &url, &csv, SECRET), true);
            let report: serde_json::Value =
                serde_json::from_slice(&out.stdout).expect("JSON report");
            assert_eq!(report["recordsSaved"], RECORDS);
            println!(
                "  round {round}: before (HRCONNECTOR_BENCH_BEFORE) {}",
                secs(b)
            );
            before_best = before_best.min(b);
        }

        println!(
            "  round {round}: curl {}, hrconnector upload {}, of which validation alone {}",
            secs(c),
            secs(o),
            secs(v)
        );
        check = check.min(v);
        ours = ours.min(o);
        curl = curl.min(c);
    }
    throughput_line("curl --next, pre-split", rounds, curl, size, None);
    throughput_line("hrconnector upload     ", rounds, ours, size, Some(RECORDS));
    println!(
        "  hrconnector validate   (best of {rounds}): {} → sending phase ≈ {} ({:.2}x curl)",
        secs(check),
        secs(ours.saturating_sub(check)),
        ours.saturating_sub(check).as_secs_f64() / curl.as_secs_f64()
    );
    if before_bin.is_some() {
        println!(
            "  before: upload (best of {rounds}): {} = {:.2}x curl; after: {} = {:.2}x curl",
            secs(before_best),
            before_best.as_secs_f64() / curl.as_secs_f64(),
            secs(ours),
            ours.as_secs_f64() / curl.as_secs_f64()
        );
    }
    let ratio = ours.as_secs_f64() / curl.as_secs_f64();
    println!(
        "RESULT upload/curl = {ratio:.2}x (target <= 1.2x): {}",
        verdict(ratio <= 1.2)
    );
    runtime.block_on(emu.shutdown());
}
