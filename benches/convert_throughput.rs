//! Converting HR exports (issue 20): the conversion stage (`hrconnector::convert::convert`) and
//! validation of its result, against validating the same records already in the connector's
//! format, and the peak memory of conversion as the export grows.
//!
//! 1. Throughput: 1,000,000 resignation records exported as Excel does in a US Windows locale
//!    (`;`-delimited, Windows-1252 with "Départ" in an extra column, CRLF, dates `M/d/yyyy
//!    h:mm:ss AM/PM` local to America/New_York), converted (`--delimiter ';' --encoding
//!    windows-1252 --date-format us --time-zone America/New_York`) and the result validated,
//!    against `hrdata::validate` of a `FileSource` holding the same records in the connector's
//!    format (comma, UTF-8, ISO 8601 with the zone's offset, CRLF). The converted file must be
//!    byte for byte that file (same SHA-256). Best of 3 (HRCONNECTOR_BENCH_ROUNDS), interleaved.
//!    Target: conversion + validation ≤ 2.0× the validation alone. Where conversion's time goes
//!    is printed too: each stage alone (decoding, CSV splitting, date conversion, CSV writing).
//! 2. Memory: peak RSS (VmHWM) of a child process (this binary, re-executed) converting and
//!    then validating 100,000, 1,000,000 and 5,000,000 records. Target: ≤ +10 % from 100k to 5M.
//! 3. A workbook of Excel's maximum 1,048,576 rows (a header and 1,048,575 records; unique
//!    e-mail strings, which Excel keeps in the shared-strings table, and typed date-time cells),
//!    written once with rust_xlsxwriter, converted (`--time-zone America/New_York`) and validated
//!    in a child process. Target: peak RSS ≤ 256 MiB.
//!
//! `cargo bench --bench convert_throughput`; `HRCONNECTOR_BENCH_QUICK=1` for a quick run
//! (100,000 records for the ratio, 100k/200k/300k for memory, a 100,000-row workbook). Needs
//! about 1.1 GB free in the temp dir (the 5M-record export and its conversion; deleted).

mod support;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hrconnector::convert::dates::{DateConverter, DateFormat};
use hrconnector::convert::options::{DateFormats, Delimiter, Encoding, InputFormat};
use hrconnector::convert::{self, InputOptions};
use hrconnector::hrdata::{FileSource, ValidationOptions, validate};
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use support::*;

const ZONE: &str = "America/New_York";
/// Excel's last row; the header takes one.
const EXCEL_ROWS: u32 = 1_048_576;
const RSS_GROWTH_LIMIT: f64 = 10.0;
const WORKBOOK_LIMIT_KIB: u64 = 256 * 1024;
const RATIO_LIMIT: f64 = 2.0;

/// Environment of a child run: what to convert.
const CHILD_KIND: &str = "HRCONNECTOR_BENCH_CONVERT_CHILD";
const CHILD_PATH: &str = "HRCONNECTOR_BENCH_CONVERT_PATH";
const CHILD_RECORDS: &str = "HRCONNECTOR_BENCH_CONVERT_RECORDS";

struct Sizes {
    ratio: u64,
    rss: [u64; 3],
    workbook_rows: u32,
}

fn sizes() -> Sizes {
    if std::env::var_os("HRCONNECTOR_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0") {
        Sizes {
            ratio: 100_000,
            rss: [100_000, 200_000, 300_000],
            workbook_rows: 100_000,
        }
    } else {
        Sizes {
            ratio: 1_000_000,
            rss: [100_000, 1_000_000, 5_000_000],
            workbook_rows: EXCEL_ROWS,
        }
    }
}

/// Best of 3 unless HRCONNECTOR_BENCH_ROUNDS says otherwise.
fn rounds3() -> usize {
    std::env::var("HRCONNECTOR_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3)
}

/// One record's two dates, as the export writes them and as the connector's format has them.
struct Dates {
    termination: DateTime,
    last_working: DateTime,
    us: [String; 2],
    iso: [String; 2],
}

/// Two years of dates (both DST changes twice), at varying times between 7 AM and 6:59 PM
/// (never in a DST gap or overlap) and last working days at 5:30 PM, two weeks later.
fn date_table() -> Vec<Dates> {
    let zone = TimeZone::get(ZONE).expect("zone");
    let mut day = Date::new(2025, 1, 1).expect("date");
    let mut table = Vec::new();
    for k in 0..730i32 {
        let termination = day.at(
            (7 + k % 12) as i8,
            ((k * 7) % 60) as i8,
            ((k * 13) % 60) as i8,
            0,
        );
        let last = day
            .checked_add(jiff::Span::new().days(14))
            .expect("date")
            .at(17, 30, 0, 0);
        table.push(Dates {
            termination,
            last_working: last,
            us: [us(termination), us(last)],
            iso: [iso(termination, &zone), iso(last, &zone)],
        });
        day = day.tomorrow().expect("date");
    }
    table
}

/// `M/d/yyyy h:mm:ss AM/PM`, as Excel writes a date-time in the en-US locale.
fn us(dt: DateTime) -> String {
    let hour = dt.hour();
    let h12 = if hour % 12 == 0 { 12 } else { hour % 12 };
    format!(
        "{}/{}/{} {}:{:02}:{:02} {}",
        dt.month(),
        dt.day(),
        dt.year(),
        h12,
        dt.minute(),
        dt.second(),
        if hour < 12 { "AM" } else { "PM" }
    )
}

/// The connector's form: `yyyy-mm-ddThh:mm:ss±hh:mm`, the zone's offset at that local time.
fn iso(dt: DateTime, zone: &TimeZone) -> String {
    let zoned = dt.to_zoned(zone.clone()).expect("zoned");
    let seconds = zoned.offset().seconds();
    let minutes = seconds.abs() / 60;
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        if seconds < 0 { '-' } else { '+' },
        minutes / 60,
        minutes % 60
    )
}

fn email(i: u64) -> String {
    format!("employee.number{i:08}@contoso.com")
}

fn department(i: u64) -> String {
    format!("Départ {}", i % 97)
}

/// The export: `;`, Windows-1252, CRLF, US dates. Returns the size in bytes.
fn generate_export(path: &Path, n: u64, table: &[Dates]) -> io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    w.write_all(b"EmailAddress;TerminationDate;LastWorkingDate;Department\r\n")?;
    let mut line = String::with_capacity(128);
    for i in 0..n {
        let d = &table[(i % table.len() as u64) as usize];
        line.clear();
        line.push_str(&email(i));
        line.push(';');
        line.push_str(&d.us[0]);
        line.push(';');
        line.push_str(&d.us[1]);
        line.push(';');
        line.push_str(&department(i));
        line.push_str("\r\n");
        let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&line);
        assert!(!unmappable);
        w.write_all(&bytes)?;
    }
    w.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// The same records in the connector's format, exactly as the conversion writes them.
fn generate_connector(path: &Path, n: u64, table: &[Dates]) -> io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    w.write_all(b"EmailAddress,TerminationDate,LastWorkingDate,Department\r\n")?;
    for i in 0..n {
        let d = &table[(i % table.len() as u64) as usize];
        write!(
            w,
            "{},{},{},{}\r\n",
            email(i),
            d.iso[0],
            d.iso[1],
            department(i)
        )?;
    }
    w.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// The workbook: a header row and `rows - 1` records, e-mails as (unique, shared) strings,
/// dates as typed date-time cells. Returns the size in bytes.
fn generate_workbook(path: &Path, rows: u32, table: &[Dates]) -> u64 {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let excel = |dt: DateTime| {
        ExcelDateTime::from_ymd(dt.year() as u16, dt.month() as u8, dt.day() as u8)
            .and_then(|d| d.and_hms(dt.hour() as u16, dt.minute() as u8, dt.second()))
            .expect("excel date")
    };
    let dates: Vec<[ExcelDateTime; 2]> = table
        .iter()
        .map(|d| [excel(d.termination), excel(d.last_working)])
        .collect();
    let format = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Leavers").expect("name");
    for (col, header) in [
        "EmailAddress",
        "TerminationDate",
        "LastWorkingDate",
        "Department",
    ]
    .into_iter()
    .enumerate()
    {
        sheet.write_string(0, col as u16, header).expect("write");
    }
    for row in 1..rows {
        let i = u64::from(row - 1);
        let d = &dates[(i % dates.len() as u64) as usize];
        sheet.write_string(row, 0, email(i)).expect("write");
        sheet
            .write_datetime_with_format(row, 1, &d[0], &format)
            .expect("write");
        sheet
            .write_datetime_with_format(row, 2, &d[1], &format)
            .expect("write");
        sheet.write_string(row, 3, department(i)).expect("write");
    }
    book.save(path).expect("save workbook");
    std::fs::metadata(path).expect("size").len()
}

fn csv_options() -> InputOptions {
    let mut dates = DateFormats::default();
    dates.add("us").expect("us");
    InputOptions {
        delimiter: Some(Delimiter::Semicolon),
        encoding: Some(Encoding::Windows1252),
        dates,
        time_zone: Some(ZONE.into()),
        ..Default::default()
    }
}

fn workbook_options() -> InputOptions {
    InputOptions {
        format: InputFormat::Xlsx,
        time_zone: Some(ZONE.into()),
        ..Default::default()
    }
}

/// Peak resident set size of this process so far (KiB).
fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

struct Timed {
    convert: Duration,
    validate: Duration,
    /// Processor time (all threads, user and system) of the conversion and the validation.
    convert_cpu: Duration,
    validate_cpu: Duration,
    sha256: String,
}

/// Processor time of this process so far, all threads, user and system (10 ms resolution).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|t| t.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// Converts `path` and validates the result, checking the counts.
fn convert_and_validate(path: &Path, input: &InputOptions, records: u64) -> Timed {
    let opts = ValidationOptions::default();
    let (t, cpu) = (Instant::now(), cpu_time());
    // As the upload does: validated as written, chunks planned for the default call size.
    let conversion = convert::convert(
        Arc::new(FileSource::new(path)),
        input,
        &opts,
        hrconnector::upload::DEFAULT_RECORDS_PER_CALL,
    )
    .unwrap_or_else(|e| panic!("converts: {e}"));
    let (convert, convert_cpu) = (t.elapsed(), cpu_time().saturating_sub(cpu));
    assert!(conversion.report.converted);
    assert_eq!(
        (conversion.report.rejected, conversion.report.error_count),
        (0, 0),
        "{:?}",
        conversion.report.errors.first()
    );
    let (t, cpu) = (Instant::now(), cpu_time());
    let report = validate(conversion.source.as_ref(), &conversion.validation)
        .unwrap_or_else(|e| panic!("validates: {e}"));
    let (validate, validate_cpu) = (t.elapsed(), cpu_time().saturating_sub(cpu));
    assert_eq!(
        (report.records, report.rejected),
        (records, 0),
        "{:?}",
        report.errors.first()
    );
    Timed {
        convert,
        validate,
        convert_cpu,
        validate_cpu,
        sha256: report.sha256,
    }
}

/// The child's side: convert, validate, print the times and the peak RSS after each.
fn child(kind: &str) {
    let path = PathBuf::from(std::env::var_os(CHILD_PATH).expect(CHILD_PATH));
    let records: u64 = std::env::var(CHILD_RECORDS)
        .expect(CHILD_RECORDS)
        .parse()
        .expect("records");
    let input = match kind {
        "csv" => csv_options(),
        "xlsx" => workbook_options(),
        other => panic!("{CHILD_KIND}={other}: csv or xlsx"),
    };
    let opts = ValidationOptions::default();
    let t = Instant::now();
    let conversion = convert::convert(Arc::new(FileSource::new(&path)), &input, &opts, 1)
        .unwrap_or_else(|e| panic!("converts: {e}"));
    let convert = t.elapsed();
    let hwm_convert = vm_hwm_kib();
    assert_eq!(conversion.report.rejected, 0);
    let t = Instant::now();
    let report = validate(conversion.source.as_ref(), &conversion.validation)
        .unwrap_or_else(|e| panic!("validates: {e}"));
    let validate = t.elapsed();
    assert_eq!(
        (report.records, report.rejected),
        (records, 0),
        "{:?}",
        report.errors.first()
    );
    let converted_bytes = conversion
        .source
        .ranged()
        .and_then(Result::ok)
        .map_or(0, |file| file.size());
    println!(
        "CHILD convert_s={} validate_s={} hwm_convert_kib={hwm_convert} hwm_kib={} converted_bytes={converted_bytes}",
        convert.as_secs_f64(),
        validate.as_secs_f64(),
        vm_hwm_kib()
    );
}

struct ChildFigures {
    convert: Duration,
    validate: Duration,
    hwm_convert_kib: u64,
    hwm_kib: u64,
    converted_bytes: u64,
}

/// Runs the conversion of `path` in a fresh process (this binary) and reads its figures.
fn run_child(kind: &str, path: &Path, records: u64) -> ChildFigures {
    let exe = std::env::current_exe().expect("current exe");
    let mut cmd = Command::new(exe);
    cmd.arg("--bench")
        .env(CHILD_KIND, kind)
        .env(CHILD_PATH, path)
        .env(CHILD_RECORDS, records.to_string())
        .stdin(Stdio::null());
    let (_, out) = run(&mut cmd, true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("CHILD "))
        .unwrap_or_else(|| panic!("no figures from the child:\n{stdout}"));
    let get = |key: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {line}"))
    };
    ChildFigures {
        convert: Duration::from_secs_f64(get("convert_s")),
        validate: Duration::from_secs_f64(get("validate_s")),
        hwm_convert_kib: get("hwm_convert_kib") as u64,
        hwm_kib: get("hwm_kib") as u64,
        converted_bytes: get("converted_bytes") as u64,
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ratio(d: Duration, base: Duration) -> f64 {
    d.as_secs_f64() / base.as_secs_f64()
}

/// Parts of the CSV conversion alone, best of `rounds`: reading, decoding and the date
/// conversions, with the crate's own public pieces. (Splitting and writing use the crate's
/// internal record reader and writer, measured only as part of `convert()`.)
fn stages(export: &Path, records: u64, table: &[Dates], rounds: usize, total: Duration) {
    let mut best = [Duration::MAX; 3];
    let zone = TimeZone::get(ZONE).expect("zone");
    for _ in 0..rounds {
        // Reading the file.
        let t = Instant::now();
        io::copy(&mut File::open(export).expect("open"), &mut io::sink()).expect("read");
        best[0] = best[0].min(t.elapsed());

        // Decoding Windows-1252 as the conversion does.
        let t = Instant::now();
        let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(Some(encoding_rs::WINDOWS_1252))
            .bom_override(true)
            .utf8_passthru(true)
            .build_with_buffer(File::open(export).expect("open"), vec![0; 256 * 1024])
            .expect("buffer");
        io::copy(
            &mut io::BufReader::with_capacity(256 * 1024, decoded),
            &mut io::sink(),
        )
        .expect("decode");
        best[1] = best[1].min(t.elapsed());

        // The date conversions alone: two per record, into one reused buffer as the conversion
        // writes them.
        let converter = DateConverter::new(DateFormat::Us, zone.clone());
        let mut text = Vec::with_capacity(64);
        let t = Instant::now();
        for i in 0..records {
            let d = &table[(i % table.len() as u64) as usize];
            for value in &d.us {
                text.clear();
                let value = std::hint::black_box(value.as_str());
                std::hint::black_box(converter.convert_into(value, &mut text).expect("us"));
            }
        }
        best[2] = best[2].min(t.elapsed());
    }
    let share = |d: Duration| d.as_secs_f64() / total.as_secs_f64() * 100.0;
    println!(
        "  parts of the conversion alone (best of {rounds}; convert() best {}, in segments on two threads, written by a third):",
        secs(total)
    );
    let labels = [
        "read the export (File to a sink)               ",
        "decode Windows-1252 (encoding_rs_io, to a sink)",
        "2 date conversions per record (us, New York)   ",
    ];
    for (label, d) in labels.iter().zip(best) {
        println!("    {label} {} ({:.0} % of convert())", secs(d), share(d));
    }
}

fn main() {
    if let Ok(kind) = std::env::var(CHILD_KIND) {
        child(&kind);
        return;
    }
    if !under_cargo_bench() {
        return;
    }
    let sizes = sizes();
    let rounds = rounds3();
    let table = date_table();
    let dir = scratch_dir();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "converting HR exports: load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    // 1. Throughput against validation of the connector's format.
    let n = sizes.ratio;
    let export = dir.path().join(format!("export-{n}.csv"));
    let connector = dir.path().join(format!("connector-{n}.csv"));
    let export_size = generate_export(&export, n, &table).expect("generate");
    let connector_size = generate_connector(&connector, n, &table).expect("generate");
    println!(
        "throughput: {n} records; export (';', windows-1252, us dates) {:.1} MB, connector's \
         format {:.1} MB",
        export_size as f64 / 1e6,
        connector_size as f64 / 1e6
    );
    let input = csv_options();
    let opts = ValidationOptions::default();
    let baseline_sha = {
        let report = validate(&FileSource::new(&connector), &opts).expect("validates");
        assert_eq!((report.records, report.rejected), (n, 0));
        report.sha256
    };
    let (mut base, mut conv, mut conv_validate, mut total) =
        (Duration::MAX, Duration::MAX, Duration::MAX, Duration::MAX);
    let (mut base_cpu, mut conv_cpu, mut conv_validate_cpu) =
        (Duration::MAX, Duration::MAX, Duration::MAX);
    for r in 1..=rounds {
        let (t, cpu) = (Instant::now(), cpu_time());
        let report = validate(&FileSource::new(&connector), &opts).expect("validates");
        let b = t.elapsed();
        base_cpu = base_cpu.min(cpu_time().saturating_sub(cpu));
        assert_eq!((report.records, report.rejected), (n, 0));

        let timed = convert_and_validate(&export, &input, n);
        assert_eq!(
            timed.sha256, baseline_sha,
            "the converted file differs from the connector's-format file"
        );
        let sum = timed.convert + timed.validate;
        println!(
            "  round {r}: validate connector's format {}; convert {} + validate converted {} = {} ({:.2}x)",
            secs(b),
            secs(timed.convert),
            secs(timed.validate),
            secs(sum),
            ratio(sum, b)
        );
        base = base.min(b);
        conv = conv.min(timed.convert);
        conv_validate = conv_validate.min(timed.validate);
        total = total.min(sum);
        conv_cpu = conv_cpu.min(timed.convert_cpu);
        conv_validate_cpu = conv_validate_cpu.min(timed.validate_cpu);
    }
    println!("  (the converted file is byte for byte the connector's-format file: same SHA-256)");
    // The conversion validated its file as it wrote it; `validate` gives that report. It must be
    // the report of validating the converted bytes afresh (not timed).
    {
        let conversion = convert::convert(
            Arc::new(FileSource::new(&export)),
            &input,
            &opts,
            hrconnector::upload::DEFAULT_RECORDS_PER_CALL,
        )
        .expect("converts");
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut conversion.source.open().expect("open"), &mut bytes)
            .expect("read");
        let fresh = validate(
            &hrconnector::hrdata::BytesSource::new("converted", bytes),
            &conversion.validation,
        )
        .expect("validates");
        let kept = validate(conversion.source.as_ref(), &conversion.validation).expect("validates");
        assert!(conversion.source.prevalidated().is_some());
        assert_eq!(
            (kept.records, kept.rejected, &kept.sha256, &kept.scenarios),
            (
                fresh.records,
                fresh.rejected,
                &fresh.sha256,
                &fresh.scenarios
            )
        );
        println!(
            "  (validation of the converted file is done as convert() writes it: validate() gives \
             the report kept with the file, the same as validating its bytes afresh)"
        );
    }
    throughput_line(
        "validate connector's format    ",
        rounds,
        base,
        connector_size,
        Some(n),
    );
    throughput_line(
        "convert alone                  ",
        rounds,
        conv,
        export_size,
        Some(n),
    );
    throughput_line(
        "validate the converted file    ",
        rounds,
        conv_validate,
        connector_size,
        None,
    );
    throughput_line(
        "convert + validate             ",
        rounds,
        total,
        export_size,
        Some(n),
    );
    stages(&export, n, &table, rounds, conv);
    // Processor time says what the wall clock cannot on a shared machine: how much work each
    // side is, and so what the ratio would be with every core busy throughout.
    println!(
        "  processor time, all threads (best of {rounds}, 10 ms resolution): validate connector's \
         format {}; convert {} + validate converted {} ({:.2}x the baseline's)",
        secs(base_cpu),
        secs(conv_cpu),
        secs(conv_validate_cpu),
        ratio(conv_cpu + conv_validate_cpu, base_cpu)
    );
    let throughput_ratio = ratio(total, base);
    let throughput_met = throughput_ratio <= RATIO_LIMIT;
    std::fs::remove_file(&connector).expect("delete");
    if std::env::var_os("HRCONNECTOR_BENCH_THROUGHPUT_ONLY").is_some_and(|v| v != "0") {
        // For iterating on speed: the memory and workbook parts take minutes.
        println!(
            "RESULT convert+validate / validate = {throughput_ratio:.2}x (throughput only; target <= {RATIO_LIMIT:.1}x): {}",
            if throughput_met { "MET" } else { "MISSED" }
        );
        return;
    }

    // 2. Peak RSS of CSV conversion, 100k → 5M records, each in its own process.
    println!("peak RSS (VmHWM) of a child process converting, then validating the result:");
    let mut peaks = Vec::new();
    for records in sizes.rss {
        let (path, generated) = if records == n {
            (export.clone(), false)
        } else {
            let path = dir.path().join(format!("export-{records}.csv"));
            generate_export(&path, records, &table).expect("generate");
            (path, true)
        };
        let size = std::fs::metadata(&path).expect("size").len();
        let f = run_child("csv", &path, records);
        println!(
            "  {records:>9} records ({:.0} MB): after convert {:.1} MiB, after validate {:.1} MiB; \
             convert {} ({:.0} MB/s), validate {}; converted {:.0} MB",
            size as f64 / 1e6,
            mib(f.hwm_convert_kib),
            mib(f.hwm_kib),
            secs(f.convert),
            size as f64 / 1e6 / f.convert.as_secs_f64(),
            secs(f.validate),
            f.converted_bytes as f64 / 1e6
        );
        if generated {
            std::fs::remove_file(&path).expect("delete");
        }
        peaks.push(f);
    }
    std::fs::remove_file(&export).expect("delete");
    let (small, large) = (&peaks[0], &peaks[peaks.len() - 1]);
    let growth = |a: u64, b: u64| (b as f64 / a as f64 - 1.0) * 100.0;
    let convert_growth = growth(small.hwm_convert_kib, large.hwm_convert_kib);
    let total_growth = growth(small.hwm_kib, large.hwm_kib);
    let rss_met = convert_growth <= RSS_GROWTH_LIMIT && total_growth <= RSS_GROWTH_LIMIT;

    // 3. A workbook of Excel's maximum rows.
    let rows = sizes.workbook_rows;
    let records = u64::from(rows - 1);
    let book = dir.path().join(format!("leavers-{rows}.xlsx"));
    let t = Instant::now();
    let book_size = generate_workbook(&book, rows, &table);
    println!(
        "workbook: {rows} rows ({records} records, unique e-mail strings, typed date-times), \
         {:.1} MB, written by rust_xlsxwriter in {}",
        book_size as f64 / 1e6,
        secs(t.elapsed())
    );
    let w = run_child("xlsx", &book, records);
    println!(
        "  child: convert {} ({:.0} records/s), validate {}; peak RSS after convert {:.1} MiB, \
         after validate {:.1} MiB; converted {:.0} MB",
        secs(w.convert),
        records as f64 / w.convert.as_secs_f64(),
        secs(w.validate),
        mib(w.hwm_convert_kib),
        mib(w.hwm_kib),
        w.converted_bytes as f64 / 1e6
    );
    let workbook_met = w.hwm_kib <= WORKBOOK_LIMIT_KIB;

    println!(
        "RESULT convert+validate / validate = {throughput_ratio:.2}x ({} vs {}, {n} records, best of {rounds}; target <= {RATIO_LIMIT:.1}x): {}",
        secs(total),
        secs(base),
        verdict(throughput_met)
    );
    println!(
        "RESULT conversion peak RSS {:.1} MiB ({} records) -> {:.1} MiB ({} records), growth {convert_growth:+.1}%; with validation {:.1} -> {:.1} MiB, {total_growth:+.1}% (target <= {RSS_GROWTH_LIMIT:.0}%): {}",
        mib(small.hwm_convert_kib),
        sizes.rss[0],
        mib(large.hwm_convert_kib),
        sizes.rss[2],
        mib(small.hwm_kib),
        mib(large.hwm_kib),
        verdict(rss_met)
    );
    println!(
        "RESULT workbook of {rows} rows: peak RSS {:.1} MiB, convert {} + validate {} (target <= 256 MiB): {}",
        mib(w.hwm_kib),
        secs(w.convert),
        secs(w.validate),
        verdict(workbook_met)
    );
}
