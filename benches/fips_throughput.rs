//! The FIPS 140-3 build against the default build, timed in the same rounds on the same bytes:
//! `hrconnector validate` of 1,000,000 records (98.9 MB), and `hrconnector upload` of them over
//! HTTPS to the in-process emulator (TLS 1.3 with an ECDSA P-256 certificate from a CA made here,
//! trusted through `--ca-file`; 200 chunks of 5,000 records). The FIPS build runs with
//! `--require-fips`, so its figures are of AWS-LC's FIPS module doing every TLS operation and
//! signature. Best of N (HRCONNECTOR_BENCH_ROUNDS, default 5), interleaved.
//!
//! `HRCONNECTOR_BENCH_FIPS=/path/to/fips/release/hrconnector cargo bench --bench fips_throughput`;
//! `scripts/bench.sh fips_throughput` builds that binary (`cargo build --release --features fips`
//! into target/fips) and sets the variable. Without it the bench says so and does nothing.
//! No target: the figure is a ratio to report (BENCHMARKS.md, "FIPS build").

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::tls::{ServerCert, TestPki};
use hrconnector::emulator::{self, AppRegistration, EmulatorConfig};
use support::{
    APP, BIN, JOB, SECRET, TENANT, generate_csv, rounds, run, scratch_dir, secs, under_cargo_bench,
    upload_command_of, validate_command_of,
};

const RECORDS: u64 = 1_000_000;

/// `upload` of `csv` over HTTPS, trusting the test CA only through `--ca-file`.
fn https_upload(bin: &Path, url: &str, csv: &Path, ca: &Path, require_fips: bool) -> Command {
    let mut cmd = upload_command_of(bin, url, csv, SECRET);
    cmd.arg("--ca-file").arg(ca);
    if require_fips {
        cmd.arg("--require-fips");
    }
    cmd
}

/// Best-of-N times of one build, and the figures of one round.
#[derive(Clone, Copy)]
struct Best {
    validate: Duration,
    upload: Duration,
}

impl Best {
    fn new() -> Self {
        Best {
            validate: Duration::MAX,
            upload: Duration::MAX,
        }
    }
}

fn time_build(bin: &Path, csv: &Path, url: &str, ca: &Path, fips: bool, best: &mut Best) -> Best {
    let (v, _) = run(&mut validate_command_of(bin, csv), true);
    let (u, out) = run(&mut https_upload(bin, url, csv, ca, fips), true);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["result"], "Succeeded", "{report}");
    assert_eq!(report["recordsSaved"], RECORDS, "{report}");
    best.validate = best.validate.min(v);
    best.upload = best.upload.min(u);
    Best {
        validate: v,
        upload: u,
    }
}

fn fips_mode(bin: &Path) -> String {
    let (_, out) = run(
        Command::new(bin).args(["version", "--output", "json"]),
        true,
    );
    let version: serde_json::Value = serde_json::from_slice(&out.stdout).expect("version JSON");
    version["fips"].to_string()
}

fn main() {
    if !under_cargo_bench() {
        return;
    }
    let Some(fips_bin) = std::env::var_os("HRCONNECTOR_BENCH_FIPS").map(PathBuf::from) else {
        println!(
            "skipped: set HRCONNECTOR_BENCH_FIPS to a release build with --features fips \
             (scripts/bench.sh fips_throughput builds one)"
        );
        return;
    };
    let default_bin = PathBuf::from(BIN);
    assert_eq!(
        fips_mode(&default_bin),
        "false",
        "{BIN} is the default build"
    );
    assert_eq!(
        fips_mode(&fips_bin),
        "true",
        "{} is not a FIPS build",
        fips_bin.display()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let pki = TestPki::new();
    let config = EmulatorConfig {
        apps: vec![AppRegistration {
            tenant_id: TENANT.into(),
            app_id: APP.into(),
            secret: Some(SECRET.into()),
            ..AppRegistration::default()
        }],
        jobs: vec![JOB.into()],
        keep_records: false,
        ..EmulatorConfig::default()
    };
    let emu = runtime
        .block_on(emulator::start_tls(
            config,
            ([127, 0, 0, 1], 0).into(),
            &pki.server(ServerCert::Good),
        ))
        .expect("HTTPS emulator starts");
    let url = emu.url();
    assert!(url.starts_with("https://"), "{url}");

    let dir = scratch_dir();
    let ca = pki.write_ca(dir.path());
    let csv = dir.path().join("hr-1m.csv");
    let size = generate_csv(&csv, RECORDS).expect("generate");
    println!(
        "FIPS build vs default build: {RECORDS} records, {:.1} MB; upload over HTTPS (ECDSA P-256, --ca-file)",
        size as f64 / 1e6
    );

    let (mut default_best, mut fips_best) = (Best::new(), Best::new());
    let rounds = rounds();
    for round in 1..=rounds {
        // Alternate which build goes first, so neither always meets a warmer page cache.
        let (d, f) = if round % 2 == 1 {
            let d = time_build(&default_bin, &csv, &url, &ca, false, &mut default_best);
            let f = time_build(&fips_bin, &csv, &url, &ca, true, &mut fips_best);
            (d, f)
        } else {
            let f = time_build(&fips_bin, &csv, &url, &ca, true, &mut fips_best);
            let d = time_build(&default_bin, &csv, &url, &ca, false, &mut default_best);
            (d, f)
        };
        println!(
            "  round {round}: validate default {}, fips {}; upload default {}, fips {}",
            secs(d.validate),
            secs(f.validate),
            secs(d.upload),
            secs(f.upload)
        );
    }
    let mb_s = |d: Duration| size as f64 / 1e6 / d.as_secs_f64();
    for (what, d, f) in [
        ("validate", default_best.validate, fips_best.validate),
        ("upload  ", default_best.upload, fips_best.upload),
    ] {
        println!(
            "  {what} (best of {rounds}): default {} ({:.0} MB/s), fips {} ({:.0} MB/s)",
            secs(d),
            mb_s(d),
            secs(f),
            mb_s(f)
        );
    }
    println!(
        "RESULT fips/default throughput: validate {:.2}x, upload over HTTPS {:.2}x (time ratios {:.2}x, {:.2}x)",
        default_best.validate.as_secs_f64() / fips_best.validate.as_secs_f64(),
        default_best.upload.as_secs_f64() / fips_best.upload.as_secs_f64(),
        fips_best.validate.as_secs_f64() / default_best.validate.as_secs_f64(),
        fips_best.upload.as_secs_f64() / default_best.upload.as_secs_f64(),
    );
    runtime.block_on(emu.shutdown());
}
