//! Speed budget: `validate` within 1.5x the time of bare `csv` ByteRecord iteration over 1M
//! records (~100 MB). Ignored by default (it writes a 100 MB file); run it in release:
//!
//!     cargo test --release --test validate_perf -- --ignored --nocapture
//!
//! The ratio is only asserted in release builds.

use std::io::Write;
use std::time::{Duration, Instant};

use hrconnector::hrdata::{FileSource, ValidationOptions, validate};

fn best_of(runs: usize, mut f: impl FnMut() -> u64) -> (Duration, u64) {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            let n = f();
            (t.elapsed(), n)
        })
        .min()
        .expect("at least one run")
}

#[test]
#[ignore = "writes 100 MB; run in release with --ignored"]
fn validate_is_within_one_and_a_half_times_bare_csv() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("1m.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    writeln!(w, "EmailAddress,TerminationDate,LastWorkingDate,Name").expect("write");
    for i in 0..1_000_000u32 {
        writeln!(
            w,
            "person{i:07}@contoso.com,2019-04-23T15:18:02.4675041+05:30,\
             2019-04-29T15:18:02.7117540,\"Person {i}, Jr\""
        )
        .expect("write");
    }
    w.flush().expect("flush");
    drop(w);

    let (bare, n) = best_of(5, || {
        let mut r = csv::ReaderBuilder::new().from_path(&path).expect("open");
        let mut rec = csv::ByteRecord::new();
        let mut n = 0;
        while r.read_byte_record(&mut rec).expect("read") {
            n += 1;
        }
        n
    });
    assert_eq!(n, 1_000_000);
    let source = FileSource::new(&path);
    let (ours, n) = best_of(5, || {
        let report = validate(&source, &ValidationOptions::default()).expect("validate");
        assert!(report.is_valid());
        report.records
    });
    assert_eq!(n, 1_000_000);
    let ratio = ours.as_secs_f64() / bare.as_secs_f64();
    println!("bare csv {bare:?}, validate {ours:?}, ratio {ratio:.2}");
    if !cfg!(debug_assertions) {
        assert!(ratio <= 1.5, "validate is {ratio:.2}x bare csv");
    }
}
