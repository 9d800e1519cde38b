//! The conversion stage on arbitrary bytes with every input option: each input is converted
//! (CSV in each delimiter and encoding, or read as a workbook) and, when that succeeds, the
//! converted file validated. Both must return (Ok or an error) and never panic, hang or
//! allocate without bound. The first two bytes pick the options; the rest is the file.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use hrconnector::convert::options::{DateFormats, Delimiter, Encoding, InputFormat, InputOptions};
use hrconnector::convert::convert;
use hrconnector::hrdata::{BytesSource, CsvSource, InvalidRows, ValidationOptions, validate};
use libfuzzer_sys::fuzz_target;

/// How long a reader thread may outlive its reader before that counts as a hang.
const THREAD_EXIT_LIMIT: Duration = Duration::from_secs(5);

const DATE_FORMATS: [&str; 7] = [
    "iso8601",
    "date",
    "us",
    "workday",
    "epoch-ms",
    "excel-serial",
    "%d.%m.%Y %H:%M",
];

fuzz_target!(|data: &[u8]| {
    check(data);
    // As in csv_reader: wait for the reader threads to end, so LeakSanitizer sees no live one.
    let start = Instant::now();
    while reader_threads() > 0 || reader_threads() > 0 {
        assert!(
            start.elapsed() < THREAD_EXIT_LIMIT,
            "a reader thread is still running {THREAD_EXIT_LIMIT:?} after its reader was dropped"
        );
        std::thread::sleep(Duration::from_micros(20));
    }
});

fn check(data: &[u8]) {
    let [a, b, body @ ..] = data else {
        return;
    };
    let mut dates = DateFormats::default();
    if dates.add(DATE_FORMATS[usize::from(b % 7)]).is_err() {
        return;
    }
    let input = InputOptions {
        format: [InputFormat::Auto, InputFormat::Csv, InputFormat::Xlsx][usize::from(a % 3)],
        delimiter: Some(
            [
                Delimiter::Comma,
                Delimiter::Semicolon,
                Delimiter::Tab,
                Delimiter::Pipe,
                Delimiter::Auto,
            ][usize::from((a >> 2) % 5)],
        ),
        encoding: [
            None,
            Some(Encoding::Utf8),
            Some(Encoding::Utf16),
            Some(Encoding::Windows1252),
        ][usize::from((a >> 5) % 4)],
        trim: b & 0x80 != 0,
        dates,
        time_zone: [None, Some("America/New_York"), Some("Europe/Paris")][usize::from((b >> 3) % 3)]
            .map(str::to_owned),
        ..InputOptions::default()
    };
    let validation = ValidationOptions {
        invalid_rows: if b & 0x40 != 0 {
            InvalidRows::Skip
        } else {
            InvalidRows::Reject
        },
        ..ValidationOptions::default()
    };
    let source: Arc<dyn CsvSource> = Arc::new(BytesSource::new("fuzz", body.to_vec()));
    if let Ok(conversion) = convert(source, &input, &validation, 1) {
        let mut report = match validate(conversion.source.as_ref(), &conversion.validation) {
            Ok(report) => report,
            Err(_) => return,
        };
        conversion.report.explain(&mut report);
    }
}

fn reader_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            std::fs::read(task.path().join("comm")).is_ok_and(|name| {
                name == b"hrdata-read\n" || name == b"hrdata-hash\n" || name.starts_with(b"workbook-read")
            })
        })
        .count()
}
