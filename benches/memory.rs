//! Memory: peak RSS (`/usr/bin/time -v`) of the release binary's `upload` (to the in-process
//! emulator, which keeps no records) and `validate`, on 100,000 and on 5,000,000 records.
//! Targets: ≤ 64 MiB, and ≤ 10 % growth from the small file to the 50× larger one (memory is
//! bounded by a few chunks, not by the file).
//!
//! The 5M-record file is about 500 MB; it is generated streaming and deleted afterwards.
//!
//! `cargo bench --bench memory`

mod support;

use std::path::Path;

use support::*;

const SMALL: u64 = 100_000;
const LARGE: u64 = 5_000_000;
const LIMIT_KIB: u64 = 64 * 1024;

struct Peaks {
    upload_kib: u64,
    validate_kib: u64,
}

fn measure(url: &str, csv: &Path, records: u64) -> Peaks {
    let (validate_kib, vt) = peak_rss_kib(&validate_command(csv));
    let (upload_kib, ut) = peak_rss_kib(&upload_command(url, csv, SECRET));
    println!(
        "  {records:>9} records: validate {:.1} MiB ({}), upload {:.1} MiB ({})",
        validate_kib as f64 / 1024.0,
        secs(vt),
        upload_kib as f64 / 1024.0,
        secs(ut)
    );
    Peaks {
        upload_kib,
        validate_kib,
    }
}

fn judge(what: &str, small: u64, large: u64) {
    let growth = (large as f64 / small as f64 - 1.0) * 100.0;
    let met = large <= LIMIT_KIB && small <= LIMIT_KIB && growth <= 10.0;
    println!(
        "RESULT {what} peak RSS {:.1} MiB -> {:.1} MiB, growth {growth:+.1}% (target <= 64 MiB, <= 10%): {}",
        small as f64 / 1024.0,
        large as f64 / 1024.0,
        verdict(met)
    );
}

fn main() {
    if !under_cargo_bench() {
        return;
    }
    let (runtime, emu) = runtime_with_emulator();
    let url = emu.url();
    println!("peak memory (maximum resident set size):");

    let dir = scratch_dir();
    let small_csv = dir.path().join("hr-small.csv");
    generate_csv(&small_csv, SMALL).expect("generate");
    let small = measure(&url, &small_csv, SMALL);

    let large_csv = dir.path().join("hr-large.csv");
    let size = generate_csv(&large_csv, LARGE).expect("generate");
    println!("  ({LARGE} records are {:.0} MB)", size as f64 / 1e6);
    let large = measure(&url, &large_csv, LARGE);
    std::fs::remove_file(&large_csv).expect("delete the large file");

    judge("upload", small.upload_kib, large.upload_kib);
    judge("validate", small.validate_kib, large.validate_kib);
    runtime.block_on(emu.shutdown());
}
