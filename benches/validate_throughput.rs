//! Validation throughput: `hrdata::validate` against bare `csv` `ByteRecord` iteration over the
//! same bytes, 1,000,000 resignation records (~100 MB) and a multi-scenario file of the same
//! size, in memory (how ConfigMap and Secret sources are read) and from the file (how
//! `hrconnector validate` and PVC sources are read), best of 5 each
//! (HRCONNECTOR_BENCH_ROUNDS), interleaved. SHA-256 of the same bytes is timed too: validation
//! hashes every byte, so on two cores that is part of its floor.
//! Target: validate ≤ 1.5× the bare parse, in memory and from the file, for resignations.
//!
//! `cargo bench --bench validate_throughput`; with `HRCONNECTOR_BENCH_BEFORE=/path/to/old/hrconnector`
//! the `validate` command of that build and of this one are timed too, in the same rounds.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use hrconnector::hrdata::{
    BytesSource, FileSource, Scenario, ScenarioChoice, ValidationOptions, validate,
};
use sha2::Digest;
use support::*;

const RECORDS: u64 = 1_000_000;

fn bare_parse(data: &[u8]) -> u64 {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(data);
    let mut record = csv::ByteRecord::new();
    let mut n = 0;
    while reader.read_byte_record(&mut record).expect("parses") {
        n += 1;
    }
    n
}

/// The best times of one file: bare parse, validate in memory, validate from the file.
#[derive(Clone, Copy)]
struct Best {
    bare: Duration,
    memory: Duration,
    file: Duration,
}

impl Best {
    fn new() -> Self {
        Best {
            bare: Duration::MAX,
            memory: Duration::MAX,
            file: Duration::MAX,
        }
    }
}

/// One round over one file; checks the counts and keeps the best times.
fn round(
    label: &str,
    path: &Path,
    data: &bytes::Bytes,
    opts: &ValidationOptions,
    records: u64,
    best: &mut Best,
) {
    let t = Instant::now();
    assert_eq!(bare_parse(data), records);
    let b = t.elapsed();

    let source = BytesSource::new(path.display().to_string(), data.clone());
    let t = Instant::now();
    let report = validate(&source, opts).expect("validates");
    let m = t.elapsed();
    assert_eq!((report.records, report.rejected), (records, 0), "{label}");

    let t = Instant::now();
    let report = validate(&FileSource::new(path), opts).expect("validates");
    let f = t.elapsed();
    assert_eq!((report.records, report.rejected), (records, 0), "{label}");

    println!(
        "  {label}: bare csv {}, validate in memory {}, validate from file {}",
        secs(b),
        secs(m),
        secs(f)
    );
    best.bare = best.bare.min(b);
    best.memory = best.memory.min(m);
    best.file = best.file.min(f);
}

fn main() {
    if !under_cargo_bench() {
        return;
    }
    let dir = scratch_dir();
    let path = dir.path().join("hr-1m.csv");
    let size = generate_csv(&path, RECORDS).expect("generate");
    let data = bytes::Bytes::from(std::fs::read(&path).expect("read"));
    let multi_path = dir.path().join("hr-multi.csv");
    let (multi_size, multi_records, per_scenario) =
        generate_multi_csv(&multi_path, size).expect("generate");
    let multi_data = bytes::Bytes::from(std::fs::read(&multi_path).expect("read"));
    let opts = ValidationOptions::default();
    let multi_opts = ValidationOptions {
        scenario: ScenarioChoice::Multiple,
        ..ValidationOptions::default()
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "validation throughput: resignation {RECORDS} records, {:.1} MB; multi-scenario \
         {multi_records} records, {:.1} MB; load average {}",
        size as f64 / 1e6,
        multi_size as f64 / 1e6,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    let before_bin = std::env::var_os("HRCONNECTOR_BENCH_BEFORE").map(std::path::PathBuf::from);
    let (mut cli_before, mut cli_after) = (Duration::MAX, Duration::MAX);
    let (mut one, mut multi, mut sha) = (Best::new(), Best::new(), Duration::MAX);
    let rounds = rounds();
    for r in 1..=rounds {
        round(
            &format!("round {r} resignation"),
            &path,
            &data,
            &opts,
            RECORDS,
            &mut one,
        );
        round(
            &format!("round {r} multi-scenario"),
            &multi_path,
            &multi_data,
            &multi_opts,
            multi_records,
            &mut multi,
        );
        let t = Instant::now();
        std::hint::black_box(sha2::Sha256::digest(&data));
        sha = sha.min(t.elapsed());
        if let Some(bin) = &before_bin {
            let (old, _) = run(&mut validate_command_of(bin, &path), true);
            let (new, _) = run(&mut validate_command(&path), true);
            println!(
                "  round {r}: hrconnector validate: before {}, after {}",
                secs(old),
                secs(new)
            );
            cli_before = cli_before.min(old);
            cli_after = cli_after.min(new);
        }
    }
    let ratio = |d: Duration, base: Duration| d.as_secs_f64() / base.as_secs_f64();
    throughput_line(
        "bare csv, resignation      ",
        rounds,
        one.bare,
        size,
        Some(RECORDS),
    );
    throughput_line(
        "validate in memory         ",
        rounds,
        one.memory,
        size,
        Some(RECORDS),
    );
    throughput_line("validate from file         ", rounds, one.file, size, None);
    throughput_line("SHA-256 of the same bytes  ", rounds, sha, size, None);
    throughput_line(
        "bare csv, multi-scenario   ",
        rounds,
        multi.bare,
        multi_size,
        Some(multi_records),
    );
    throughput_line(
        "validate multi in memory   ",
        rounds,
        multi.memory,
        multi_size,
        Some(multi_records),
    );
    throughput_line(
        "validate multi from file   ",
        rounds,
        multi.file,
        multi_size,
        None,
    );
    println!(
        "  multi-scenario records: {}",
        Scenario::ALL
            .iter()
            .zip(per_scenario)
            .map(|(s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if before_bin.is_some() {
        println!(
            "  hrconnector validate (best of {rounds}): before {}, after {} ({:.2}x of before)",
            secs(cli_before),
            secs(cli_after),
            ratio(cli_after, cli_before)
        );
    }
    println!(
        "  SHA-256/bare = {:.2}x; multi-scenario: in memory {:.2}x, from file {:.2}x of its bare parse",
        ratio(sha, one.bare),
        ratio(multi.memory, multi.bare),
        ratio(multi.file, multi.bare)
    );
    let (memory, file) = (ratio(one.memory, one.bare), ratio(one.file, one.bare));
    println!(
        "RESULT validate/bare = {memory:.2}x in memory, {file:.2}x from file (target <= 1.5x): {}",
        verdict(memory <= 1.5 && file <= 1.5)
    );
}
