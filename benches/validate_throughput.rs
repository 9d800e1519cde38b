//! Validation throughput: `hrdata::validate` against bare `csv` `ByteRecord` iteration over the
//! same in-memory bytes, 1,000,000 records (~100 MB), best of 5 each (HRCONNECTOR_BENCH_ROUNDS), interleaved.
//! Target: validate ≤ 1.5× the bare parse.
//!
//! `cargo bench --bench validate_throughput`; with `HRCONNECTOR_BENCH_BEFORE=/path/to/old/hrconnector`
//! the `validate` command of that build and of this one are timed too, in the same rounds.

mod support;

use std::time::{Duration, Instant};

use hrconnector::hrdata::{BytesSource, FileSource, ValidationOptions, validate};
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

fn main() {
    if !under_cargo_bench() {
        return;
    }
    let dir = scratch_dir();
    let path = dir.path().join("hr-1m.csv");
    let size = generate_csv(&path, RECORDS).expect("generate");
    let data = bytes::Bytes::from(std::fs::read(&path).expect("read"));
    let source = BytesSource::new("hr-1m.csv", data.clone());
    let opts = ValidationOptions::default();
    println!(
        "validation throughput: {RECORDS} records, {:.1} MB",
        size as f64 / 1e6
    );

    let before_bin = std::env::var_os("HRCONNECTOR_BENCH_BEFORE").map(std::path::PathBuf::from);
    let (mut cli_before, mut cli_after) = (Duration::MAX, Duration::MAX);
    let (mut bare, mut ours, mut from_file) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let rounds = rounds();
    for round in 1..=rounds {
        let t = Instant::now();
        assert_eq!(bare_parse(&data), RECORDS);
        let b = t.elapsed();

        let t = Instant::now();
        let report = validate(&source, &opts).expect("validates");
        let v = t.elapsed();
        assert_eq!((report.records, report.rejected), (RECORDS, 0));

        // What `hrconnector validate` does: the same, read from the (cached) file.
        let t = Instant::now();
        let report = validate(&FileSource::new(&path), &opts).expect("validates");
        let f = t.elapsed();
        assert_eq!(report.records, RECORDS);

        println!(
            "  round {round}: bare csv {}, validate {}, validate from file {}",
            secs(b),
            secs(v),
            secs(f)
        );
        if let Some(bin) = &before_bin {
            let (old, _) = run(&mut validate_command_of(bin, &path), true);
            let (new, _) = run(&mut validate_command(&path), true);
            println!(
                "  round {round}: hrconnector validate: before {}, after {}",
                secs(old),
                secs(new)
            );
            cli_before = cli_before.min(old);
            cli_after = cli_after.min(new);
        }
        bare = bare.min(b);
        ours = ours.min(v);
        from_file = from_file.min(f);
    }
    let ratio = ours.as_secs_f64() / bare.as_secs_f64();
    throughput_line("bare csv ByteRecord", rounds, bare, size, Some(RECORDS));
    throughput_line("hrdata::validate   ", rounds, ours, size, Some(RECORDS));
    throughput_line("validate from file ", rounds, from_file, size, None);
    if before_bin.is_some() {
        println!(
            "  hrconnector validate (best of {rounds}): before {}, after {} ({:.2}x of before)",
            secs(cli_before),
            secs(cli_after),
            cli_after.as_secs_f64() / cli_before.as_secs_f64()
        );
    }
    println!(
        "RESULT validate/bare = {ratio:.2}x (target <= 1.5x): {}",
        verdict(ratio <= 1.5)
    );
}
