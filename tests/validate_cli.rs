//! `hrconnector validate` run as a real process over the fixtures in `tests/fixtures/csv`.

#[path = "common/validate.rs"]
mod validate_support;

use std::process::{Command, Output};

use serde_json::Value;
use validate_support::{csv_fixture as fixture, errors, validate_path, validate_path_json};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hrconnector"))
        .arg("validate")
        .args(args)
        .output()
        .expect("run hrconnector")
}

fn validate_text(name: &str, extra: &[&str]) -> (i32, String, String) {
    validate_path(&fixture(name), extra)
}

fn validate_json(name: &str, extra: &[&str]) -> (i32, Value) {
    validate_path_json(&fixture(name), extra)
}

#[test]
fn documentation_sample_is_valid() {
    let (code, stdout, _) = validate_text("sample.csv", &[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("2 records, valid"), "{stdout}");

    let (code, report) = validate_json("sample.csv", &[]);
    assert_eq!(code, 0);
    assert_eq!(
        report,
        serde_json::json!({"valid": true, "records": 2, "rejected": 0, "errors": [],
                           "errorCount": 0, "warnings": [], "warningCount": 0,
                           "scenarios": {"Resignation": 2}})
    );
}

#[test]
fn wrong_field_count() {
    let (code, report) = validate_json("field_count.csv", &[]);
    assert_eq!(code, 1);
    assert_eq!(report["rejected"], 2);
    assert_eq!(
        errors(&report),
        [
            (2, 3, None, "has 4 fields, header has 3".to_owned()),
            (3, 4, None, "has 2 fields, header has 3".to_owned()),
        ]
    );
    assert!(report["errors"][0]["column"].is_null());
}

#[test]
fn bad_email_text_shows_value_json_does_not() {
    let (code, report) = validate_json("bad_email.csv", &[]);
    assert_eq!(code, 1);
    assert_eq!(report["valid"], false);
    assert_eq!(report["records"], 3);
    assert_eq!(report["rejected"], 2);
    let col = Some("EmailAddress".to_owned());
    let msg = "not a valid email address".to_owned();
    assert_eq!(
        errors(&report),
        [(2, 3, col.clone(), msg.clone()), (3, 4, col, msg)]
    );
    let json_text = report.to_string();
    assert!(
        !json_text.contains("not-an-email"),
        "value leaked: {json_text}"
    );
    assert!(!json_text.contains("sara d"), "value leaked: {json_text}");

    let (code, stdout, _) = validate_text("bad_email.csv", &[]);
    assert_eq!(code, 1);
    assert!(stdout.contains("3 records, 2 rejected"), "{stdout}");
    assert!(
        stdout.contains(
            "error: record 2 (line 3), column EmailAddress: not a valid email address: \
             \"not-an-email\""
        ),
        "{stdout}"
    );
    assert!(stdout.contains("\"sara d@contoso.com\""), "{stdout}");
}

#[test]
fn empty_values() {
    let (code, report) = validate_json("empty_value.csv", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        errors(&report),
        [
            (
                2,
                3,
                Some("TerminationDate".to_owned()),
                "is empty".to_owned()
            ),
            (3, 4, Some("EmailAddress".to_owned()), "is empty".to_owned()),
        ]
    );
}

#[test]
fn bad_dates_of_each_kind() {
    let (code, report) = validate_json("bad_dates.csv", &[]);
    assert_eq!(code, 1);
    assert_eq!(report["records"], 9);
    assert_eq!(report["rejected"], 9);
    let errs = errors(&report);
    assert_eq!(errs.len(), 9);
    let expected = [
        "a date without a time",                        // 2019-04-29
        "month or day out of range",                    // month 13
        "month or day out of range",                    // 29 February 2019
        "fraction of a second must have 1 to 7 digits", // 8 digits
        "UTC offset must be Z or ±hh:mm",               // +5:30
        "must be separated by \"T\"",                   // space
        "expected yyyy-mm-ddThh:mm:ss",                 // trailing junk
        "hour, minute or second out of range",          // 24:00:00
    ];
    for (i, want) in expected.iter().enumerate() {
        let (record, line, column, message) = &errs[i];
        assert_eq!(*record, i as u64 + 1);
        assert_eq!(*line, i as u64 + 2);
        assert_eq!(column.as_deref(), Some("LastWorkingDate"));
        assert!(
            message.starts_with("not an ISO 8601 date-time"),
            "{message}"
        );
        assert!(
            message.contains(want),
            "record {}: {message} lacks {want}",
            i + 1
        );
    }
    assert_eq!(
        errs[8],
        (
            9,
            10,
            Some("TerminationDate".to_owned()),
            "not an ISO 8601 date-time: month or day out of range (not a calendar date)".to_owned()
        )
    );
}

#[test]
fn missing_column() {
    let (code, report) = validate_json("missing_column.csv", &[]);
    assert_eq!(code, 1);
    assert_eq!(report["valid"], false);
    assert_eq!(report["records"], 0);
    let error = report["error"].as_str().expect("error");
    assert!(error.contains("\"LastWorkingDate\""), "{error}");
    assert!(error.contains("\"LastWorkDate\""), "{error}");

    let (code, _, stderr) = validate_text("missing_column.csv", &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("has no column \"LastWorkingDate\""),
        "{stderr}"
    );
}

#[test]
fn duplicate_required_column() {
    let (code, report) = validate_json("duplicate_column.csv", &[]);
    assert_eq!(code, 1);
    let error = report["error"].as_str().expect("error");
    assert!(error.contains("appears 2 times"), "{error}");
}

#[test]
fn utf16_is_one_encoding_error() {
    for (file, detail) in [
        ("utf16le_bom.csv", "little-endian, with a byte-order mark"),
        (
            "utf16le_nobom.csv",
            "little-endian, without a byte-order mark",
        ),
        ("utf16be_bom.csv", "big-endian, with a byte-order mark"),
    ] {
        let (code, report) = validate_json(file, &[]);
        assert_eq!(code, 1, "{file}");
        assert_eq!(report["errors"], serde_json::json!([]));
        let error = report["error"].as_str().expect("error");
        assert!(
            error.contains(&format!("{file} is UTF-16 encoded")),
            "{error}"
        );
        assert!(error.contains(detail), "{error}");
        assert!(
            error.contains("save it as \"CSV UTF-8 (Comma delimited)\""),
            "{error}"
        );

        let (code, stdout, stderr) = validate_text(file, &[]);
        assert_eq!(code, 1);
        assert!(stdout.is_empty(), "{stdout}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[test]
fn latin1_byte_names_the_line() {
    let (code, report) = validate_json("latin1.csv", &[]);
    assert_eq!(code, 1);
    let error = report["error"].as_str().expect("error");
    assert!(
        error.ends_with(
            "latin1.csv line 5 is not valid UTF-8 (it looks like Windows-1252/Latin-1); save it \
             as \"CSV UTF-8 (Comma delimited)\" and try again"
        ),
        "{error}"
    );
}

#[test]
fn headers_match_case_insensitively() {
    let (code, report) = validate_json("case_insensitive.csv", &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["records"], 1);
}

#[test]
fn custom_column_names() {
    let (code, _) = validate_json("custom_columns.csv", &[]);
    assert_eq!(code, 1);
    let (code, report) = validate_json(
        "custom_columns.csv",
        &[
            "--email-column",
            "mail",
            "--termination-date-column",
            "TERMINATED",
            "--last-working-date-column",
            "LastDay",
        ],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["valid"], true);
}

#[test]
fn header_with_spaces_warns() {
    let (code, report) = validate_json("header_spaces.csv", &[]);
    assert_eq!(code, 0);
    assert_eq!(report["valid"], true);
    let warnings = report["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1);
    let w = warnings[0].as_str().expect("string");
    assert!(
        w.contains("\"Employee Name\"") && w.contains("no spaces"),
        "{w}"
    );

    let (_, stdout, _) = validate_text("header_spaces.csv", &[]);
    assert!(
        stdout.contains("warning: header \"Employee Name\""),
        "{stdout}"
    );
}

#[test]
fn bom_and_crlf() {
    let (code, report) = validate_json("bom_crlf_valid.csv", &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["records"], 2);

    // The BOM must not stick to the first header name, and lines count with CRLF.
    let (code, report) = validate_json("bom_crlf.csv", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        errors(&report),
        [(
            3,
            4,
            Some("EmailAddress".to_owned()),
            "not a valid email address".to_owned()
        )]
    );
}

#[test]
fn line_numbers_count_newlines_inside_quotes() {
    let (code, report) = validate_json("multiline_then_invalid.csv", &[]);
    assert_eq!(code, 1);
    assert_eq!(report["records"], 3);
    let errs = errors(&report);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].0, 2);
    assert_eq!(errs[0].1, 5, "record 1 spans lines 2-4");
    assert_eq!(errs[0].2.as_deref(), Some("LastWorkingDate"));
}

#[test]
fn errors_are_capped_at_100_with_total() {
    let (code, report) = validate_json("many_errors.csv", &[]);
    assert_eq!(code, 1);
    assert_eq!(report["records"], 150);
    assert_eq!(report["rejected"], 150);
    let errs = errors(&report);
    assert_eq!(errs.len(), 100);
    assert_eq!(errs[99].0, 100);
    assert_eq!(errs[99].1, 101);

    let (_, stdout, _) = validate_text("many_errors.csv", &[]);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("error: ")).count(),
        100
    );
    assert!(stdout.lines().any(|l| l == "... and 50 more"), "{stdout}");
}

#[test]
fn json_output_is_exactly_one_object_with_the_documented_keys() {
    let (_, stdout, _) = validate_text("bad_email.csv", &["--output", "json"]);
    assert_eq!(stdout.trim().lines().count(), 1);
    let report: Value = serde_json::from_str(stdout.trim()).expect("json");
    let mut keys: Vec<_> = report
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "errorCount",
            "errors",
            "records",
            "rejected",
            "scenarios",
            "valid",
            "warningCount",
            "warnings"
        ]
    );
    let mut error_keys: Vec<_> = report["errors"][0]
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    error_keys.sort();
    assert_eq!(error_keys, ["column", "line", "message", "record"]);

    let (_, fatal) = validate_json("utf16le_bom.csv", &[]);
    let mut keys: Vec<_> = fatal.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "error", "errors", "records", "rejected", "valid", "warnings"
        ]
    );
}

#[test]
fn skip_mode_exits_zero() {
    let (code, report) = validate_json("bad_email.csv", &["--invalid-rows", "skip"]);
    assert_eq!(code, 0);
    assert_eq!(report["valid"], false);
    assert_eq!(report["rejected"], 2);

    let (code, stdout, _) = validate_text("bad_email.csv", &["--invalid-rows", "skip"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("2 rejected (skipped; 1 record would be sent)"),
        "{stdout}"
    );

    // A file-level problem is still fatal in skip mode.
    let (code, _) = validate_json("latin1.csv", &["--invalid-rows", "skip"]);
    assert_eq!(code, 1);
}

#[test]
fn exit_codes_for_io_and_usage_errors() {
    let (code, report) = validate_json("does-not-exist.csv", &[]);
    assert_eq!(code, 2);
    assert!(
        report["error"]
            .as_str()
            .expect("error")
            .contains("cannot read")
    );

    let (code, _, stderr) = validate_text("does-not-exist.csv", &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("does-not-exist.csv"), "{stderr}");

    let out = run(&[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "missing --csv-file-path is a usage error"
    );
    let out = run(&["--csv-file-path", "x.csv", "--invalid-rows", "maybe"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn empty_and_header_only_files() {
    let (code, report) = validate_json("empty.csv", &[]);
    assert_eq!(code, 1);
    assert!(
        report["error"]
            .as_str()
            .expect("error")
            .contains("is empty")
    );

    let (code, report) = validate_json("header_only.csv", &[]);
    assert_eq!(code, 0);
    assert_eq!(report["records"], 0);
    assert!(
        report["warnings"][0]
            .as_str()
            .expect("warning")
            .contains("no data records")
    );
}

/// The largest peak resident set (bytes) of any child process this test process has waited
/// for: `getrusage(RUSAGE_CHILDREN)`'s `ru_maxrss`, which the kernel keeps exactly, where polling
/// `/proc/PID/status` while the child runs can miss a peak just before it exits. Every other
/// child of this binary validates a small fixture (a few MiB), so the maximum is the big
/// input's unless it stayed below them. `None` where the layout below is not known.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn children_peak_rss() -> Option<u64> {
    // `struct rusage` on 64-bit Linux: two `timeval`s (two longs each), then 14 longs, the
    // first `ru_maxrss` in KiB. (libc is linked anyway; no crate is added for one call.)
    unsafe extern "C" {
        fn getrusage(who: i32, usage: *mut i64) -> i32;
    }
    const RUSAGE_CHILDREN: i32 = -1;
    // Room to spare beyond the 18 longs the kernel writes.
    let mut usage = [0i64; 32];
    // SAFETY: `usage` is larger than `struct rusage` and lives across the call.
    let status = unsafe { getrusage(RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    (status == 0).then(|| usage[4] as u64 * 1024)
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn children_peak_rss() -> Option<u64> {
    None
}

/// What a child that stops at the limits may use: the process itself (runtime, threads,
/// buffers of a few segments) takes about 10 MiB; before the limits, a 100 MiB field took
/// 338 MiB and 20 million columns 3.1 GiB.
const BOUNDED_RSS: u64 = 64 << 20;

fn assert_bounded_memory(what: &str) {
    if let Some(peak) = children_peak_rss() {
        assert!(
            peak < BOUNDED_RSS,
            "{what}: peak RSS {} MiB, expected under {} MiB",
            peak >> 20,
            BOUNDED_RSS >> 20
        );
    }
}

/// Writes `parts` to `name` in a new temporary directory, streaming (the big inputs are never
/// held in this process either).
fn write_file(name: &str, parts: &[(&[u8], usize)]) -> (tempfile::TempDir, std::path::PathBuf) {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    for (bytes, times) in parts {
        for _ in 0..*times {
            file.write_all(bytes).expect("write");
        }
    }
    file.flush().expect("flush");
    (dir, path)
}

const HEADER: &[u8] = b"EmailAddress,TerminationDate,LastWorkingDate";
const RECORD: &[u8] = b"sarad@contoso.com,2026-03-01T09:00:00Z,2026-04-01T17:30:00Z";

#[test]
fn a_100_mib_header_field_is_refused_with_the_limit_in_bounded_memory() {
    // The header's fourth column: 100 MiB of one field, then a good record.
    let (_dir, path) = write_file(
        "huge-field.csv",
        &[
            (HEADER, 1),
            (b",", 1),
            (&[b'x'; 1 << 20], 100),
            (b"\n", 1),
            (RECORD, 1),
            (b",x\n", 1),
        ],
    );
    let (code, stdout, stderr) = validate_path(&path, &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "the header (line 1), column 4: the field is longer than the limit of 1048576 bytes; \
             raise it with --max-field-bytes"
        ),
        "{stderr}"
    );
    let (code, report) = validate_path_json(&path, &[]);
    assert_eq!(code, 1);
    let error = report["error"].as_str().expect("error");
    assert!(error.contains("--max-field-bytes"), "{error}");
    assert!(error.len() < 1024, "{} bytes of error", error.len());
    assert_bounded_memory("a 100 MiB field");
}

#[test]
fn twenty_million_empty_columns_are_refused_with_the_limit_in_bounded_memory() {
    // 40 MB: a header and a record of 20 million empty columns each.
    let (_dir, path) = write_file(
        "commas.csv",
        &[
            (HEADER, 1),
            (&[b','; 1 << 20], 20),
            (b"\n", 1),
            (RECORD, 1),
            (&[b','; 1 << 20], 20),
            (b"\n", 1),
        ],
    );
    let (code, report) = validate_path_json(&path, &[]);
    assert_eq!(code, 1, "{report}");
    let error = report["error"].as_str().expect("error");
    assert!(
        error.contains(
            "the header (line 1) has more than the limit of 1000 columns (column 1001 is one \
             too many); raise it with --max-columns"
        ),
        "{error}"
    );
    // No warning per unnamed column: the header was refused before any was made.
    assert_eq!(report["warnings"], serde_json::json!([]));
    let (code, stdout, stderr) = validate_path(&path, &[]);
    assert_eq!(code, 1);
    assert!(stdout.len() + stderr.len() < 4096, "{stdout}{stderr}");
    assert_bounded_memory("20 million columns");
}

#[test]
fn a_record_over_the_limits_is_named_and_the_flags_raise_them() {
    // A 2 MiB remark in record 2, which starts on line 3.
    let (_dir, path) = write_file(
        "long-remark.csv",
        &[
            (HEADER, 1),
            (b",Remarks\n", 1),
            (RECORD, 1),
            (b",short\n", 1),
            (RECORD, 1),
            (b",", 1),
            (&[b'r'; 1 << 20], 2),
            (b"\n", 1),
        ],
    );
    let (code, report) = validate_path_json(&path, &[]);
    assert_eq!(code, 1);
    let error = report["error"].as_str().expect("error");
    assert!(
        error.contains("record 2 (line 3), column 4: the field is longer than the limit"),
        "{error}"
    );
    let (code, report) = validate_path_json(&path, &["--max-field-bytes", "3000000"]);
    assert_eq!(
        (code, &report["records"]),
        (0, &serde_json::json!(2)),
        "{report}"
    );

    let (code, report) = validate_path_json(&path, &["--max-columns", "3"]);
    assert_eq!(code, 1);
    let error = report["error"].as_str().expect("error");
    assert!(
        error.contains("the header (line 1) has more than the limit of 3 columns"),
        "{error}"
    );

    // A limit of 0 is a usage error.
    let (code, _, stderr) = validate_path(&path, &["--max-columns", "0"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn warnings_are_capped_at_100_with_a_count() {
    // 150 columns with no header name, each a warning.
    let (_dir, path) = write_file(
        "unnamed.csv",
        &[
            (HEADER, 1),
            (b",", 150),
            (b"\n", 1),
            (RECORD, 1),
            (b",", 150),
            (b"\n", 1),
        ],
    );
    let (code, report) = validate_path_json(&path, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["warnings"].as_array().expect("warnings").len(), 100);
    assert_eq!(report["warningCount"], 150);
    assert_eq!(report["warnings"][99], "column 103 has no header name");

    let (code, stdout, _) = validate_path(&path, &[]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("warning: "))
            .count(),
        100
    );
    assert!(
        stdout.lines().any(|l| l == "... and 50 more warnings"),
        "{stdout}"
    );
}

/// Writes `text` as `dir/name`, modified `secs` after the epoch.
fn drop_file(dir: &std::path::Path, name: &str, text: &str, secs: u64) {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

#[test]
fn a_file_pattern_validates_the_newest_drop_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let header = "EmailAddress,TerminationDate,LastWorkingDate\n";
    let row = "a@contoso.com,2026-03-01T09:00:00Z,2026-03-15T17:00:00Z\n";
    drop_file(
        dir.path(),
        "terminations_2026-12-01.csv",
        &format!("{header}{row}"),
        1_000,
    );
    let newest = format!("{header}{row}{}", row.replace("a@", "b@"));
    drop_file(dir.path(), "terminations_2026-11-30.csv", &newest, 2_000);
    drop_file(
        dir.path(),
        "terminations_2026-11-29.csv",
        "not a CSV of ours",
        500,
    );
    let pattern = dir.path().join("terminations_*.csv");
    let out = run(&["--csv-file-path", pattern.to_str().unwrap()]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let chosen = dir.path().join("terminations_2026-11-30.csv");
    assert!(
        stdout.contains(&format!("{}: 2 records, valid", chosen.display())),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("chose {} (", chosen.display())),
        "{stderr}"
    );

    let none = dir.path().join("hires_*.csv");
    let out = run(&["--csv-file-path", none.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no file matches"), "{stderr}");
    assert!(stderr.contains("hires_*.csv"), "{stderr}");
    assert!(stderr.contains("terminations_2026-12-01.csv"), "{stderr}");
}
