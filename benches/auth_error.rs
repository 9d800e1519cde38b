//! Time to an actionable error: `hrconnector upload` with a wrong secret against the in-process
//! emulator, until it exits with `AuthenticationFailed` and the AADSTS text. Target < 2 s.
//! The baseline is the sample script's policy for the same mistake: 15 retries a minute apart
//! (15 × 60 s = 900 s) before it gives up.
//!
//! `cargo bench --bench auth_error`

mod support;

use std::time::Duration;

use support::*;

const RUNS: usize = 5;
const SAMPLE_SCRIPT: Duration = Duration::from_secs(15 * 60);

fn main() {
    if !under_cargo_bench() {
        return;
    }
    let (runtime, emu) = runtime_with_emulator();
    let dir = scratch_dir();
    let csv = dir.path().join("hr.csv");
    generate_csv(&csv, 1000).expect("generate");

    println!("time to an actionable error (wrong secret), {RUNS} runs:");
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let (took, out) = run(&mut upload_command(&emu.url(), &csv, "wrong-secret"), false);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
        assert_eq!(report["reason"], "AuthenticationFailed", "{report}");
        let message = report["message"].as_str().unwrap_or_default();
        assert!(message.contains("AADSTS7000215"), "{message}");
        times.push(took);
    }
    assert_eq!(emu.upload_requests(), 0, "nothing was uploaded");
    times.sort();
    let worst = *times.last().expect("runs");
    let median = times[RUNS / 2];
    println!(
        "  median {}, worst {} (every run: exit 1, reason AuthenticationFailed, AADSTS7000215)",
        secs(median),
        secs(worst)
    );
    println!(
        "  sample script: {} → {:.0}x faster",
        secs(SAMPLE_SCRIPT),
        SAMPLE_SCRIPT.as_secs_f64() / worst.as_secs_f64()
    );
    println!(
        "RESULT wrong secret reported in {} worst of {RUNS} (target < 2 s): {}; ratio to the sample script 1/{:.0}",
        secs(worst),
        verdict(worst < Duration::from_secs(2)),
        SAMPLE_SCRIPT.as_secs_f64() / worst.as_secs_f64()
    );
    runtime.block_on(emu.shutdown());
}
