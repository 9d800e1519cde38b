//! The CSV reader on arbitrary bytes: validation and chunking, in both invalid-row modes, must
//! return (Ok or a `CsvError`) and never panic, hang or allocate without bound. The first input
//! byte picks the records per chunk and the resume offset, so those paths are fuzzed too. When
//! validation plans the chunks as byte ranges, those chunks must hold the same records as the
//! chunks the parsing chunker re-writes (a differential check of the two paths).
//!
//! Every scenario is fuzzed: the header picks it (an `HRScenario` column means a multi-scenario
//! file, else the first scenario whose required columns are all there, else resignation), so the
//! seeds and the dictionary steer inputs to each; a multi-scenario pass over every input checks
//! rows by their own scenarios too.
//!
//! The CSV limits are fuzzed too: every input is also read with small limits picked by its last
//! byte (fields of 0 to 31 bytes, 1 to 8 columns). A record over them must be an `OverLimit`
//! error naming that limit, and an input within them must give exactly the report it gives with
//! the default limits (limits only refuse a file; they never change what is read).
//!
//! Every `validate` and `ChunkReader::open` starts a thread that reads ahead ("hrdata-read") or,
//! for bytes in memory as here, hashes them ("hrdata-hash"); either ends soon after its reader is
//! dropped. Each input waits until no such thread is left before it
//! returns, and fails if one outlives its reader by seconds. Without the wait, LeakSanitizer's
//! check after an input reported the 512 KiB buffer of a read-ahead thread that was still running
//! as leaked, each time just after thread ids first wrapped around (pid_max 32768, ~31,000 threads
//! in), with "Thread N not found in registry" in its thread log: it skips a live thread it cannot
//! match by id, so that thread's stack is not scanned. Not a leak: rerun alone, no input leaks.
#![no_main]

use std::time::{Duration, Instant};

use hrconnector::hrdata::{
    BytesSource, ChunkReader, CsvError, InvalidRows, Limit, Limits, Scenario, ScenarioChoice,
    ValidationOptions, validate, validate_and_plan,
};
use libfuzzer_sys::fuzz_target;

/// How long a read-ahead thread may outlive its reader before that counts as a hang.
const THREAD_EXIT_LIMIT: Duration = Duration::from_secs(5);

fuzz_target!(|data: &[u8]| {
    check(data);
    let start = Instant::now();
    // Twice in a row, in case a listing of /proc/self/task skips a thread that is exiting.
    while read_ahead_threads() > 0 || read_ahead_threads() > 0 {
        assert!(
            start.elapsed() < THREAD_EXIT_LIMIT,
            "a read-ahead thread is still running {THREAD_EXIT_LIMIT:?} after its reader was dropped"
        );
        std::thread::sleep(Duration::from_micros(20));
    }
});

fn check(data: &[u8]) {
    let (records_per_call, skip, body) = match data.split_first() {
        Some((&b, rest)) => (usize::from(b % 7) + 1, u64::from(b >> 5), rest),
        None => (1, 0, data),
    };
    let source = BytesSource::new("fuzz.csv", body.to_vec());
    let scenario = scenario_of(body);
    if scenario != ScenarioChoice::Multiple {
        let multiple = ValidationOptions {
            scenario: ScenarioChoice::Multiple,
            ..ValidationOptions::default()
        };
        let _ = validate(&source, &multiple);
    }
    for (invalid_rows, limits) in [
        (InvalidRows::Reject, Limits::default()),
        (InvalidRows::Skip, Limits::default()),
        (InvalidRows::Reject, small_limits(data)),
        (InvalidRows::Skip, small_limits(data)),
    ] {
        let opts = ValidationOptions {
            scenario,
            invalid_rows,
            limits,
            ..ValidationOptions::default()
        };
        let report = validate(&source, &opts);
        if limits != Limits::default() {
            within_limits_reads_the_same(&source, &opts, &report);
        }
        if let Ok(mut reader) = ChunkReader::open(&source, &opts, records_per_call, skip) {
            let mut sent = 0u64;
            while let Ok(Some(chunk)) = reader.next_chunk() {
                assert!(chunk.records >= 1 && chunk.records <= records_per_call);
                sent += chunk.records as u64;
            }
            // Chunking a file that validated sends exactly its accepted records (after skip).
            if let Ok(report) = &report
                && reader.sha256().is_some()
                && (invalid_rows == InvalidRows::Skip || report.is_valid())
            {
                assert_eq!(sent, report.accepted().saturating_sub(skip));
            }
        }
        planned_matches_parsed(&source, &opts, records_per_call, skip);
    }
}

/// Fields of 0 to 31 bytes and 1 to 8 columns, by the input's last byte.
fn small_limits(data: &[u8]) -> Limits {
    let b = data.last().copied().unwrap_or(0);
    Limits {
        max_field_bytes: usize::from(b & 0x1f),
        max_columns: usize::from(b >> 5) + 1,
    }
}

/// A validation with limits either refused the input naming one of them, or reported what the
/// default limits report.
fn within_limits_reads_the_same(
    source: &BytesSource,
    opts: &ValidationOptions,
    limited: &Result<hrconnector::hrdata::ValidationReport, CsvError>,
) {
    match limited {
        Err(CsvError::OverLimit { column, limit, .. }) => match *limit {
            Limit::Columns(max) => {
                assert_eq!(max, opts.limits.max_columns);
                assert_eq!(*column, max + 1);
            }
            Limit::FieldBytes(max) => {
                assert_eq!(max, opts.limits.max_field_bytes);
                assert!(*column >= 1 && *column <= opts.limits.max_columns);
            }
        },
        Ok(report) => {
            let default = ValidationOptions {
                limits: Limits::default(),
                ..opts.clone()
            };
            let unlimited = validate(source, &default).expect("valid within smaller limits");
            assert_eq!(report, &unlimited);
        }
        Err(_) => {}
    }
}

/// The scenario the header asks for (see the module comment).
fn scenario_of(body: &[u8]) -> ScenarioChoice {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let line = body.split(|&b| b == b'\n' || b == b'\r').next().unwrap_or_default();
    let header: Vec<String> = String::from_utf8_lossy(line)
        .split(',')
        .map(str::to_ascii_lowercase)
        .collect();
    let has = |name: &str| header.iter().any(|h| h == &name.to_ascii_lowercase());
    if has("HRScenario") {
        return ScenarioChoice::Multiple;
    }
    let fits = |s: &Scenario| {
        s.columns()
            .iter()
            .filter(|c| c.required)
            .all(|c| has(c.field.default_header()))
    };
    ScenarioChoice::One(
        Scenario::ALL
            .into_iter()
            .find(fits)
            .unwrap_or(Scenario::Resignation),
    )
}

/// Chunks from a validation plan carry the same records, chunk by chunk, as re-written ones.
fn planned_matches_parsed(
    source: &BytesSource,
    opts: &ValidationOptions,
    records_per_call: usize,
    skip: u64,
) {
    let Ok((report, Some(plan))) = validate_and_plan(source, opts, records_per_call) else {
        return;
    };
    assert_eq!(report.rejected, 0, "a plan only for files without invalid records");
    // Resume points are chunk boundaries.
    let skip = skip * records_per_call as u64;
    let planned = ChunkReader::open_planned(source, opts, Some(plan), records_per_call, skip);
    let parsed = ChunkReader::open(source, opts, records_per_call, skip);
    let (Ok(mut planned), Ok(mut parsed)) = (planned, parsed) else {
        panic!("a validated source opens for chunking");
    };
    assert!(planned.is_planned());
    loop {
        let (a, b) = (planned.next_chunk(), parsed.next_chunk());
        match (a, b) {
            (Ok(Some(a)), Ok(Some(b))) => {
                assert_eq!((a.index, a.first_record, a.records), (b.index, b.first_record, b.records));
                assert_eq!(rows(&a.body), rows(&b.body));
            }
            (Ok(None), Ok(None)) => break,
            (a, b) => panic!("planned {a:?} vs parsed {b:?}"),
        }
    }
    assert_eq!(planned.sha256(), Some(report.sha256.clone()));
}

/// The records of a chunk body as the `csv` crate reads them.
fn rows(body: &[u8]) -> Vec<Vec<Vec<u8>>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body)
        .byte_records()
        .map(|r| r.expect("a chunk parses").iter().map(<[u8]>::to_vec).collect())
        .collect()
}

/// Threads of this process named "hrdata-read" or "hrdata-hash" (Linux; libFuzzer runs here
/// only on Linux).
fn read_ahead_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            std::fs::read(task.path().join("comm"))
                .is_ok_and(|name| name == b"hrdata-read\n" || name == b"hrdata-hash\n")
        })
        .count()
}
