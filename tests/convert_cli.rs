//! HR systems' exports as they come, converted on the way: `hrconnector upload` of each system's
//! file against the emulator, the received dates compared as instants.

mod common;

use std::path::{Path, PathBuf};

use common::cli::*;
use common::*;
use jiff::Timestamp;

/// The instants the connector should receive for the two people of every fixture below.
const TERMINATION: [&str; 2] = ["2026-11-30T08:00:00Z", "2026-10-15T13:30:00Z"];

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Windows-1252 bytes of `text` (every character of the fixtures is in it).
fn windows_1252(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

/// UTF-16 LE with a byte-order mark: Excel's "Unicode Text".
fn utf16_le(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes
}

/// `hrconnector validate` of `bytes`, written to `name` in `dir`, as a `;`-delimited export with
/// `flags`.
async fn validate_export(dir: &Path, name: &str, bytes: &[u8], flags: &[&str]) -> Run {
    let path = write(dir, name, bytes).to_string_lossy().into_owned();
    let mut args = vec!["validate", "--csv-file-path", &path, "--delimiter", ";"];
    args.extend_from_slice(flags);
    hrconnector(&args, &[]).await
}

/// Uploads `file` with `flags` to a fresh emulator: the run and, per received record, its
/// e-mail address and the instants of its two dates.
async fn upload(file: &Path, flags: &[&str]) -> (Run, Vec<(String, Timestamp, Timestamp)>) {
    let emu = start_emulator().await;
    let url = emu.url();
    let path = file.to_string_lossy().into_owned();
    let run = hrconnector(
        &upload_args(&url, &path, APP, flags),
        &[("HRCONNECTOR_APP_SECRET", SECRET)],
    )
    .await;
    let received = emu
        .received_records(JOB)
        .into_iter()
        .map(|r| {
            let instant = |v: &str| -> Timestamp {
                v.parse()
                    .unwrap_or_else(|e| panic!("{v:?} is not an instant: {e}"))
            };
            (r[0].clone(), instant(&r[1]), instant(&r[2]))
        })
        .collect();
    (run, received)
}

fn assert_terminations(run: &Run, received: &[(String, Timestamp, Timestamp)]) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let got: Vec<String> = received.iter().map(|r| r.1.to_string()).collect();
    assert_eq!(got, TERMINATION, "{received:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn workday_dates_with_an_offset_and_no_time() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "workday.csv",
        b"Email,Termination_Date,Last_Day\n\
          ana@contoso.com,2026-11-30-08:00,2026-11-30-08:00\n\
          ben@contoso.com,2026-10-15+00:00,2026-10-16+00:00\n",
    );
    let flags = [
        "--email-column",
        "Email",
        "--termination-date-column",
        "Termination_Date",
        "--last-working-date-column",
        "Last_Day",
        "--date-format",
        "workday",
    ];
    let (run, received) = upload(&csv, &flags).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(received[0].1.to_string(), "2026-11-30T08:00:00Z");
    assert_eq!(received[1].1.to_string(), "2026-10-15T00:00:00Z");
}

#[tokio::test(flavor = "multi_thread")]
async fn successfactors_odata_and_us_dates() {
    let dir = tempfile::tempdir().unwrap();
    // 2026-11-30T08:00:00Z and 2026-10-15T13:30:00Z in epoch milliseconds.
    let odata = write(
        dir.path(),
        "sf.csv",
        b"EmailAddress,TerminationDate,LastWorkingDate\n\
          ana@contoso.com,/Date(1796025600000)/,/Date(1796025600000)/\n\
          ben@contoso.com,/Date(1792071000000+0200)/,1792071000000\n",
    );
    let (run, received) = upload(&odata, &["--date-format", "epoch-ms"]).await;
    assert_terminations(&run, &received);

    // M/d/yyyy h:mm:ss tt, local time in New York (EST in November, EDT in October).
    let us = write(
        dir.path(),
        "sf-us.csv",
        b"EmailAddress,TerminationDate,LastWorkingDate\n\
          ana@contoso.com,11/30/2026 3:00:00 AM,11/30/2026 5:30:00 PM\n\
          ben@contoso.com,10/15/2026 9:30:00 AM,10/16/2026 5:00:00 PM\n",
    );
    let flags = ["--date-format", "us", "--time-zone", "America/New_York"];
    let (run, received) = upload(&us, &flags).await;
    assert_terminations(&run, &received);
}

#[tokio::test(flavor = "multi_thread")]
async fn bamboohr_dates_with_padded_values() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "bamboo.csv",
        b"EmailAddress,TerminationDate,LastWorkingDate\n\
          \x20ana@contoso.com ,2026-11-30 , 2026-11-30\n\
          ben@contoso.com,2026-10-15,2026-10-16\n",
    );
    let flags = ["--date-format", "date", "--trim"];
    let (run, received) = upload(&csv, &flags).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(received[0].0, "ana@contoso.com", "trimmed");
    assert_eq!(received[0].1.to_string(), "2026-11-30T00:00:00Z");
}

#[tokio::test(flavor = "multi_thread")]
async fn european_excel_semicolons_in_windows_1252() {
    let dir = tempfile::tempdir().unwrap();
    let text = "EmailAddress;TerminationDate;LastWorkingDate;Remarque\n\
                ana@contoso.com;30.11.2026;30.11.2026;Départ volontaire\n\
                ben@contoso.com;15.10.2026;16.10.2026;Fin de période d'essai\n";
    let csv = write(dir.path(), "excel-fr.csv", &windows_1252(text));
    let flags = [
        "--delimiter",
        ";",
        "--encoding",
        "windows-1252",
        "--date-format",
        "%d.%m.%Y",
        "--time-zone",
        "Europe/Paris",
    ];
    let (run, received) = upload(&csv, &flags).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // Midnight in Paris: UTC+1 in November, UTC+2 in October.
    assert_eq!(received[0].1.to_string(), "2026-11-29T23:00:00Z");
    assert_eq!(received[1].1.to_string(), "2026-10-14T22:00:00Z");
}

#[tokio::test(flavor = "multi_thread")]
async fn excel_unicode_text_is_utf16_with_tabs() {
    let dir = tempfile::tempdir().unwrap();
    let text = "EmailAddress\tTerminationDate\tLastWorkingDate\r\n\
                ana@contoso.com\t11/30/2026 8:00 AM\t11/30/2026 5:30 PM\r\n\
                ben@contoso.com\t10/15/2026 13:30\t10/16/2026 17:00\r\n";
    let file = write(dir.path(), "unicode.txt", &utf16_le(text));
    // The byte-order mark says UTF-16; the tabs are declared.
    let (run, received) = upload(&file, &["--delimiter", "tab", "--date-format", "us"]).await;
    assert_terminations(&run, &received);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_xlsx_workbook_with_typed_date_cells() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leavers.xlsx");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet().set_name("Leavers").unwrap();
    let date = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    for (col, header) in ["EmailAddress", "TerminationDate", "LastWorkingDate"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, col as u16, *header).unwrap();
    }
    let rows = [
        (
            "ana@contoso.com",
            (2026, 11, 30, 3, 0),
            (2026, 11, 30, 17, 30),
        ),
        (
            "ben@contoso.com",
            (2026, 10, 15, 9, 30),
            (2026, 10, 16, 17, 0),
        ),
    ];
    for (i, (email, t, l)) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        sheet.write_string(row, 0, *email).unwrap();
        for (col, (y, mo, d, h, mi)) in [(1u16, t), (2u16, l)] {
            let at = ExcelDateTime::from_ymd(*y, *mo, *d)
                .unwrap()
                .and_hms(*h, *mi, 0)
                .unwrap();
            sheet
                .write_datetime_with_format(row, col, &at, &date)
                .unwrap();
        }
    }
    book.save(&path).unwrap();
    // Typed cells are local times: the zone gives them their instant.
    let (run, received) = upload(&path, &["--time-zone", "America/New_York"]).await;
    assert_terminations(&run, &received);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gap_fails_an_overlap_takes_the_earlier_instant_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "dst.csv",
        b"EmailAddress,TerminationDate,LastWorkingDate\n\
          ana@contoso.com,11/1/2026 1:30 AM,11/1/2026 1:30 AM\n\
          ben@contoso.com,3/8/2026 2:30 AM,3/8/2026 5:00 PM\n",
    );
    let tz = ["--date-format", "us", "--time-zone", "America/New_York"];
    let path = csv.to_string_lossy().into_owned();
    let mut args = vec!["validate", "--csv-file-path", &path, "--output", "json"];
    args.extend_from_slice(&tz);
    let run = hrconnector(&args, &[]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = json(&run);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report}");
    assert_eq!(
        (&errors[0]["record"], &errors[0]["line"]),
        (&2.into(), &3.into())
    );
    assert_eq!(errors[0]["column"], "TerminationDate");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains("America/New_York"), "{message}");
    assert!(
        message.contains("--date-format terminationDate=FORMAT"),
        "{message}"
    );
    assert!(
        !run.stdout.contains("3/8/2026"),
        "JSON never holds the value"
    );
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("earlier of the two instants"),
        "{warnings}"
    );

    // Uploading with --invalid-rows skip sends ana's row, at 1:30 EDT.
    let mut flags = vec!["--invalid-rows", "skip", "--max-rejected", "50%"];
    flags.extend_from_slice(&tz);
    let (run, received) = upload(&csv, &flags).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].1.to_string(), "2026-11-01T05:30:00Z");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_flags_the_exports_are_refused_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "us.csv",
            b"EmailAddress,TerminationDate,LastWorkingDate\na@contoso.com,11/30/2026 5:30:00 PM,11/30/2026 5:30:00 PM\n".to_vec(),
            "not an ISO 8601 date-time",
        ),
        (
            "fr.csv",
            windows_1252("EmailAddress,TerminationDate,LastWorkingDate,Motif\na@contoso.com,2026-11-30T00:00:00Z,2026-11-30T00:00:00Z,Départ\n"),
            "Windows-1252",
        ),
        (
            "semicolon.csv",
            b"EmailAddress;TerminationDate;LastWorkingDate\na@contoso.com;2026-11-30T00:00:00Z;2026-11-30T00:00:00Z\n".to_vec(),
            "TerminationDate",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = write(dir.path(), name, &bytes)
            .to_string_lossy()
            .into_owned();
        let run = hrconnector(&["validate", "--csv-file-path", &path], &[]).await;
        assert_eq!(run.code, 1, "{name}: {}", run.stdout);
        assert!(
            run.printed(expected),
            "{name}: {expected:?} not in\n{}{}",
            run.stdout,
            run.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn standard_input_is_read_with_a_dash() {
    use tokio::io::AsyncWriteExt;
    let csv = "EmailAddress,TerminationDate,LastWorkingDate\n\
               a@contoso.com,2026-11-30,2026-11-30\n";
    let mut child = tokio::process::Command::new(BIN)
        .args(["validate", "--csv-file-path", "-", "--date-format", "date"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(csv.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("standard input: 1 record, valid"),
        "{stdout}"
    );
    assert!(stdout.contains("1 value as date"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workbook_error_names_the_sheet_row_and_auto_refuses_ambiguity() {
    use rust_xlsxwriter::Workbook;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leavers.xlsx");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (row, values) in [
        (0, ["EmailAddress", "TerminationDate", "LastWorkingDate"]),
        (1, ["a@contoso.com", "2026-11-30", "2026-11-30"]),
        // Row 3 is empty; row 4 has a date that is not one.
        (3, ["b@contoso.com", "yesterday", "2026-11-30"]),
    ] {
        for (col, value) in values.iter().enumerate() {
            sheet.write_string(row, col as u16, *value).unwrap();
        }
    }
    book.save(&path).unwrap();
    let path = path.to_string_lossy().into_owned();
    let run = hrconnector(
        &[
            "validate",
            "--csv-file-path",
            &path,
            "--date-format",
            "date",
            "--invalid-rows",
            "skip",
            "--output",
            "json",
        ],
        &[],
    )
    .await;
    let report = json(&run);
    let error = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["column"] == "TerminationDate")
        .unwrap_or_else(|| panic!("{report}"))
        .clone();
    assert_eq!(error["line"], 4, "the sheet's row: {report}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("yyyy-mm-dd"),
        "the format expected: {message}"
    );
    assert!(
        message.contains("--date-format terminationDate="),
        "{message}"
    );
    assert!(
        !run.stdout.contains("yesterday"),
        "JSON never holds the value"
    );

    let csv = write(
        dir.path(),
        "both.csv",
        b"EmailAddress;TerminationDate,LastWorkingDate\na;b,c\n",
    );
    let csv = csv.to_string_lossy().into_owned();
    let run = hrconnector(
        &["validate", "--csv-file-path", &csv, "--delimiter", "auto"],
        &[],
    )
    .await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("several candidates (',' ×1, ';' ×1)"),
        "{}",
        run.stderr
    );
}

/// Errors name the export's own lines: a CRLF export with a blank line and a quoted line break
/// before the bad record puts it on line 5 of the export (line 4 of the converted file), and
/// both the validation's errors and the conversion's own say so.
#[tokio::test(flavor = "multi_thread")]
async fn errors_name_the_exports_lines_whatever_its_line_breaks() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = b"EmailAddress;TerminationDate;LastWorkingDate;Note\r\n\
                  ana@contoso.com;11/30/2026;12/1/2026;\"two\r\nlines\"\r\n\
                  \r\n\
                  ben@contoso.com;13/45/2026;12/1/2026;\r\n";
    let flags = ["--date-format", "us"];
    let json_flags = ["--date-format", "us", "--output", "json"];
    let run = validate_export(dir.path(), "crlf.csv", bytes, &json_flags).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = json(&run);
    let lines = |errors: &serde_json::Value| -> Vec<(u64, u64)> {
        errors
            .as_array()
            .unwrap_or_else(|| panic!("{report}"))
            .iter()
            .map(|e| (e["record"].as_u64().unwrap(), e["line"].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(lines(&report["errors"]), [(2, 5)], "{report}");
    assert_eq!(lines(&report["conversion"]["errors"]), [(2, 5)], "{report}");

    let text = validate_export(dir.path(), "crlf.csv", bytes, &flags).await;
    assert!(
        text.stderr.contains("record 2 (line 5)") || text.stdout.contains("record 2 (line 5)"),
        "{}\n{}",
        text.stdout,
        text.stderr
    );
}

/// An export is read within the same limits as the connector's file: a field over
/// `--max-field-bytes` in a record being converted stops the run with the record, line and
/// column, instead of being buffered whole.
#[tokio::test(flavor = "multi_thread")]
async fn an_exports_field_over_the_limit_is_refused_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"EmailAddress;TerminationDate;LastWorkingDate\r\n\
                      ana@contoso.com;11/30/2026;12/1/2026\r\n\
                      ben@contoso.com;11/30/2026;"
        .to_vec();
    bytes.extend(std::iter::repeat_n(b'9', 4096));
    bytes.extend_from_slice(b"\r\n");
    let flags = ["--date-format", "us", "--max-field-bytes", "1024"];
    let run = validate_export(dir.path(), "long.csv", &bytes, &flags).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("record 2"), "{said}");
    assert!(said.contains("line 3"), "{said}");
    assert!(said.contains("column 3"), "{said}");
    assert!(said.contains("1024"), "{said}");
}

/// Bytes that are not UTF-8 in an export declared UTF-8 are refused naming the line and the
/// column, also when a delimiter cuts a character in two (the record's bytes joined would be
/// UTF-8: `é` is C3 A9).
#[tokio::test(flavor = "multi_thread")]
async fn bytes_not_utf8_are_refused_by_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bad) in [
        ("latin.csv", &b"Caf\xe9"[..]),
        ("cut.csv", &b"x\xc3;\xa9y"[..]),
    ] {
        let mut bytes = b"EmailAddress;TerminationDate;LastWorkingDate;Note;Other\n\
                          ana@contoso.com;2026-11-30;2026-11-30;ok;ok\n\
                          ben@contoso.com;2026-11-30;2026-11-30;"
            .to_vec();
        bytes.extend_from_slice(bad);
        if name == "latin.csv" {
            bytes.extend_from_slice(b";ok");
        }
        bytes.push(b'\n');
        let run = validate_export(dir.path(), name, &bytes, &["--date-format", "date"]).await;
        assert_eq!(run.code, 1, "{name}: {}\n{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("line 3, column 4: not UTF-8"),
            "{name}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("--encoding windows-1252"),
            "{}",
            run.stderr
        );
    }
}

/// An error early in a long export stops the run at once: the reader thread, ahead by a few
/// batches, is not left waiting (it once could be).
#[tokio::test(flavor = "multi_thread")]
async fn an_early_error_in_a_long_export_ends_the_run() {
    let dir = tempfile::tempdir().unwrap();
    // The bad record comes after a few batches, when the reader is ahead and waiting.
    let mut bytes = b"EmailAddress;TerminationDate;LastWorkingDate\n".to_vec();
    for i in 0..20_000 {
        let value: &[u8] = if i == 3000 { b"Caf\xe9" } else { b"2026-11-30" };
        bytes.extend_from_slice(format!("p{i}@contoso.com;2026-11-30;").as_bytes());
        bytes.extend_from_slice(value);
        bytes.push(b'\n');
    }
    let run = validate_export(dir.path(), "long.csv", &bytes, &["--date-format", "date"]);
    let run = tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("the run ends");
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("line 3002, column 3: not UTF-8"),
        "{}",
        run.stderr
    );
}
