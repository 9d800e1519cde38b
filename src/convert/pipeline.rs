//! The conversion stage: reads an export (CSV in any declared delimiter and encoding, or a
//! workbook sheet), converts its date-time columns, and writes the connector's CSV (UTF-8,
//! comma-delimited, RFC 4180, fields under their default headers) to a temporary file that
//! validation and chunking then read as they read any file. Streaming row by row: memory does
//! not grow with the file.
//!
//! A CSV export goes through three threads: one reads, decodes and splits it into batches of
//! records (with validation's own record reader, so lines are exact and limits hold), this one
//! converts them into bytes, and one writes those to the file. A workbook's rows come from the
//! workbook reader's thread instead.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::dates::DateConverter;
use super::memo::DateMemo;
use super::options::{Delimiter, Encoding, InputFormat, InputOptions, is_date_field};
use super::segmented;
use super::workbook::{self, SheetRows};
use crate::hrdata::{
    ColumnNames, CsvError, CsvSource, Field, Record, RecordError, RecordReader, ValidationOptions,
    read_error,
};
use crate::source::TempFileSource;

/// How many conversion errors a report keeps; the total is always counted.
const MAX_ERRORS: usize = 100;

/// A source after the conversion stage, and how to validate it.
pub struct Conversion {
    /// The converted file, or the source itself when nothing was converted.
    pub source: Arc<dyn CsvSource>,
    /// The options for `source`: its headers are the fields' output headers once converted.
    pub validation: ValidationOptions,
    pub report: ConversionReport,
}

/// What the conversion stage did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversionReport {
    /// False when the source is sent as it is.
    pub converted: bool,
    /// What was read: `csv (windows-1252, ';')` or `workbook sheet Leavers`.
    pub input: String,
    /// Per converted date-time column: its header, the format used, values converted.
    pub columns: Vec<ColumnReport>,
    /// Records with a value that could not be converted (validation rejects them).
    pub rejected: u64,
    pub errors: Vec<RecordError>,
    pub error_count: u64,
    /// Notes for a person (a local time taken as the earlier of two).
    pub warnings: Vec<String>,
    /// Where the records are in the export (lines, or a workbook's rows), so that errors found
    /// in the converted file name those.
    #[serde(skip)]
    pub lines: LineMap,
}

/// The export's line (or sheet row) of each record, kept as the places where its difference
/// to the converted file's line changes: blank lines, line breaks inside values that trimming
/// removed, a workbook's empty rows. Usually empty, so memory does not grow with the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineMap {
    /// From record `.0` on, the export's line is the converted file's plus `.1`.
    shifts: Vec<(u64, i64)>,
}

impl LineMap {
    fn record(&mut self, record: u64, export_line: u64, converted_line: u64) {
        self.push(record, export_line as i64 - converted_line as i64);
    }

    /// Adds the shifts of a part whose records come after `records` records, its lines after
    /// lines whose difference is `shift`: its first record at the part's difference, 0.
    fn append(&mut self, part: &LineMap, records: u64, shift: i64) {
        self.push(records + 1, shift);
        for &(record, part_shift) in &part.shifts {
            self.push(records + record, shift + part_shift);
        }
    }

    fn push(&mut self, record: u64, shift: i64) {
        if self.shifts.last().map_or(0, |s| s.1) != shift {
            self.shifts.push((record, shift));
        }
    }

    /// The export's line of `record`, which starts on `converted_line` of the converted file.
    pub fn export_line(&self, record: u64, converted_line: u64) -> u64 {
        let at = self.shifts.partition_point(|s| s.0 <= record);
        let shift = at.checked_sub(1).map_or(0, |i| self.shifts[i].1);
        converted_line.saturating_add_signed(shift)
    }
}

impl ConversionReport {
    /// One line for status: `csv (windows-1252, ';'); TerminationDate: 120 values as us`.
    /// `None` when nothing was converted.
    pub fn summary(&self) -> Option<String> {
        if !self.converted {
            return None;
        }
        let mut line = self.input.clone();
        for c in &self.columns {
            line.push_str(&format!(
                "; {}: {} values as {}",
                c.header, c.converted, c.format
            ));
        }
        Some(line)
    }

    /// Makes a validation report of the converted file speak of the export: a value that could
    /// not be converted gets the conversion's error (the format expected, the flag) instead of
    /// the strict rule's, a workbook's records are named by sheet row, and the conversion's
    /// warnings are added.
    pub fn explain(&self, report: &mut crate::hrdata::ValidationReport) {
        if !self.converted {
            return;
        }
        for error in &mut report.errors {
            if let Some(own) = self
                .errors
                .iter()
                .find(|e| e.record == error.record && e.column == error.column)
            {
                error.message = own.message.clone();
            }
            if error.record > 0 {
                error.line = self.lines.export_line(error.record, error.line);
            }
        }
        report.warnings.extend(self.warnings.iter().cloned());
        report.warning_count += self.warnings.len() as u64;
    }
}

/// One converted date-time column.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnReport {
    pub header: String,
    pub field: String,
    pub format: String,
    pub converted: u64,
    /// Local times in a fall-back overlap, taken as the earlier instant.
    pub earlier_of_two: u64,
}

/// Why an export could not be converted at all (a value that cannot is a [`RecordError`]).
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("cannot read {name}: {error}")]
    Io { name: String, error: io::Error },
    #[error("{name}: {message}")]
    Input { name: String, message: String },
    #[error(transparent)]
    Workbook(#[from] workbook::WorkbookError),
    /// A record of the export over the validation's limits.
    #[error(transparent)]
    Limit(CsvError),
}

/// Converts `source` as `input` declares; `validation` names the file's columns. Nothing is
/// converted (the source is returned pinned, as it is) unless `input` asks for it or the file
/// is a workbook.
///
/// The converted file is validated as it is written (with [`Conversion::validation`], chunks
/// planned for `records_per_call` records), so that validating it afterwards with those options
/// does not read it again.
pub fn convert(
    source: Arc<dyn CsvSource>,
    input: &InputOptions,
    validation: &ValidationOptions,
    records_per_call: usize,
) -> Result<Conversion, ConvertError> {
    convert_in(
        source,
        input,
        validation,
        records_per_call,
        crate::hrdata::SEGMENT,
    )
}

/// [`convert`], a CSV export cut into segments of `segment` bytes when it is converted in
/// segments (tests cut it small).
pub(super) fn convert_in(
    source: Arc<dyn CsvSource>,
    input: &InputOptions,
    validation: &ValidationOptions,
    records_per_call: usize,
    segment: u64,
) -> Result<Conversion, ConvertError> {
    // Read once, as one version (for a pattern, one match; a report URL, one download): what
    // is converted, validated and sent is that version.
    let source = source.pin().map_err(|error| ConvertError::Io {
        name: source.name(),
        error,
    })?;
    let name = source.name();
    let io_err = |error| ConvertError::Io {
        name: name.clone(),
        error,
    };
    let mut prefix = [0u8; 8];
    let prefix_len = read_prefix(source.open().map_err(io_err)?, &mut prefix).map_err(io_err)?;
    let prefix = &prefix[..prefix_len];
    let is_workbook = match input.format {
        InputFormat::Auto => workbook::is_workbook(prefix),
        InputFormat::Csv => false,
        InputFormat::Xlsx if workbook::is_workbook(prefix) => true,
        InputFormat::Xlsx => {
            return Err(ConvertError::Input {
                name,
                message: "format Xlsx: the file is not an Excel workbook (.xlsx)".into(),
            });
        }
    };
    // A workbook's signature speaks for itself; a UTF-16 byte-order mark is read as one once a
    // conversion is asked for (without, such a file is refused as it always was).
    if !(input.converts() || is_workbook) {
        return Ok(Conversion {
            source,
            validation: validation.clone(),
            report: ConversionReport::default(),
        });
    }
    let zone = input.zone().map_err(|message| ConvertError::Input {
        name: name.clone(),
        message,
    })?;
    let out = tempfile::NamedTempFile::new().map_err(io_err)?;
    let (file, path) = out.into_parts();
    let mut writer = Output::new(file).map_err(io_err)?;
    let output_validation = ValidationOptions {
        columns: output_columns(input),
        ..validation.clone()
    };
    let mut stage = Stage::new(input, validation, zone);
    // Validated as written when converted in segments.
    let mut checked = None;
    let described = if is_workbook {
        let local = local_copy(source.as_ref()).map_err(io_err)?;
        let mut rows = SheetRows::open(local.path(), input.sheet.as_deref())?;
        let described = format!("workbook sheet {}", rows.sheet_name());
        while let Some((row, cells)) = rows.next_row()? {
            // An empty row of a sheet is spacing, not a record.
            if cells.iter().all(|c| *c == workbook::Cell::Empty) {
                continue;
            }
            let texts: Vec<String> = cells.iter().map(|c| c.to_text()).collect();
            let values: Vec<&str> = texts.iter().map(String::as_str).collect();
            stage.row(u64::from(row), &values, &mut writer.buf, writer.flushed);
            writer.spill().map_err(io_err)?;
        }
        described
    } else if let Some(csv) = segmented::SegmentedCsv::of(source.as_ref(), input, prefix, segment) {
        let csv = csv.map_err(io_err)?;
        let check = (name.clone(), &output_validation, records_per_call);
        let (described, check) = csv.convert(&mut stage, &mut writer, check)?;
        checked = check;
        described
    } else {
        read_csv(source.as_ref(), input, &mut stage, &mut writer, &name)?
    };
    let (sha256, len) = writer.finish().map_err(io_err)?;
    let mut report = stage.finish();
    report.input = described;
    let source = match checked {
        Some(check) => TempFileSource::validated(name, path, check.finish(sha256, len)),
        None => TempFileSource::new(name, path),
    };
    Ok(Conversion {
        source: Arc::new(source),
        validation: output_validation,
        report,
    })
}

/// The header of every field in the converted file.
fn output_columns(input: &InputOptions) -> ColumnNames {
    let mut names = ColumnNames::default();
    for field in Field::ALL {
        names.set(field, input.output_header(field));
    }
    names
}

fn read_prefix(mut reader: Box<dyn Read + Send>, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// The workbook reader needs a file of its own: the source (a ConfigMap's binaryData, an
/// object, standard input, or a file another process may rewrite) is copied to a temporary file
/// first, so the sheet read is the bytes opened once.
fn local_copy(source: &dyn CsvSource) -> io::Result<tempfile::NamedTempFile> {
    let mut copy = tempfile::NamedTempFile::new()?;
    io::copy(&mut source.open()?, copy.as_file_mut())?;
    copy.as_file_mut().flush()?;
    Ok(copy)
}

/// The converted file being written: records are put into `buf`, which a thread of its own
/// writes to the file whenever it holds [`SPILL`] bytes (writing to the page cache was a fifth
/// of the converting thread's time). [`BUFFERS`] buffers go round, never more, so memory is the
/// same for any file (a writer slowed by the kernel's writeback makes the converter wait).
pub(super) struct Output {
    pub(super) buf: Vec<u8>,
    /// Bytes handed to the writer so far: where `buf` starts in the file.
    pub(super) flushed: u64,
    full: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    empty: std::sync::mpsc::Receiver<Vec<u8>>,
    writer: Option<std::thread::JoinHandle<io::Result<(std::fs::File, Sha256)>>>,
}

const SPILL: usize = 256 * 1024;
const BUFFERS: usize = 3;

/// A buffer of the converted file: room for [`SPILL`] bytes and the record that crosses it.
fn output_buffer() -> Vec<u8> {
    Vec::with_capacity(SPILL + 16 * 1024)
}

impl Output {
    fn new(mut file: std::fs::File) -> io::Result<Self> {
        let (full, full_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(BUFFERS);
        let (empty_tx, empty) = std::sync::mpsc::sync_channel::<Vec<u8>>(BUFFERS);
        for _ in 1..BUFFERS {
            let _ = empty_tx.send(output_buffer());
        }
        let writer = std::thread::Builder::new()
            .name("convert-writer".into())
            .spawn(move || {
                // The file's SHA-256, for its validation as written.
                let mut hasher = Sha256::new();
                for mut buf in full_rx {
                    hasher.update(&buf);
                    file.write_all(&buf)?;
                    buf.clear();
                    // The converting thread may be done; the buffer is then dropped.
                    let _ = empty_tx.send(buf);
                }
                Ok((file, hasher))
            })?;
        Ok(Output {
            buf: output_buffer(),
            flushed: 0,
            full: Some(full),
            empty,
            writer: Some(writer),
        })
    }

    fn spill(&mut self) -> io::Result<()> {
        if self.buf.len() < SPILL {
            return Ok(());
        }
        let full = std::mem::take(&mut self.buf);
        self.buf = self.hand_over(full)?;
        Ok(())
    }

    /// Hands a part of the file (whole records, converted elsewhere) to the writer, after what
    /// `buf` holds; returns an empty buffer for another part.
    pub(super) fn write_part(&mut self, part: Vec<u8>) -> io::Result<Vec<u8>> {
        if !self.buf.is_empty() {
            let held = std::mem::take(&mut self.buf);
            self.buf = self.hand_over(held)?;
        }
        self.hand_over(part)
    }

    /// Sends `full` to the writer and takes an empty buffer back.
    fn hand_over(&mut self, full: Vec<u8>) -> io::Result<Vec<u8>> {
        self.flushed += full.len() as u64;
        let sent = self
            .full
            .as_ref()
            .is_some_and(|channel| channel.send(full).is_ok());
        match self.empty.recv() {
            Ok(next) if sent => Ok(next),
            // The writer stopped: its error says why.
            _ => self.join().and(Err(io::Error::other(
                "the converted file's writer has stopped",
            ))),
        }
    }

    fn join(&mut self) -> io::Result<(std::fs::File, Sha256)> {
        self.full = None;
        match self.writer.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other(
                "the thread writing the converted file failed",
            )),
            None => Err(io::Error::other("the converted file's writer has stopped")),
        }
    }

    /// Writes the rest; the file's SHA-256 (hex) and length.
    fn finish(mut self) -> io::Result<(String, u64)> {
        let buf = std::mem::take(&mut self.buf);
        let len = self.flushed + buf.len() as u64;
        if let Some(full) = &self.full
            && full.send(buf).is_err()
        {
            return self.join().and(Err(io::Error::other(
                "the converted file's writer has stopped",
            )));
        }
        let (mut file, hasher) = self.join()?;
        file.flush()?;
        Ok((hex::encode(hasher.finalize()), len))
    }
}

/// A conversion stopped by an error drops its output unfinished: the writer is told there is
/// nothing more and joined, so no thread outlives `convert()` (a detached one did).
impl Drop for Output {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = self.join();
        }
    }
}

/// Records handed from the reader thread to the converting one at a time: enough that the
/// hand-over is rare, few enough that memory stays small.
const BATCH: usize = 512;

/// Batches going round: the reader can be this far ahead.
const BATCHES: usize = 4;

/// Reads a CSV export: decoded to UTF-8 when its encoding asks, split by its delimiter.
///
/// Reading, decoding and splitting run on a thread of their own, which hands batches of
/// records to this one to convert; [`Output`]'s thread writes the result. Each of the three
/// parts takes a share of two cores, and none waits for the others' I/O.
fn read_csv(
    source: &dyn CsvSource,
    input: &InputOptions,
    stage: &mut Stage<'_>,
    writer: &mut Output,
    name: &str,
) -> Result<String, ConvertError> {
    let io_err = |error| ConvertError::Io {
        name: name.to_owned(),
        error,
    };
    let encoding = input.encoding.unwrap_or(Encoding::Utf8);
    let label = match encoding {
        Encoding::Utf8 => None,
        Encoding::Utf16 => Some(encoding_rs::UTF_16LE),
        Encoding::Windows1252 => Some(encoding_rs::WINDOWS_1252),
    };
    // A byte-order mark always wins: UTF-8 and UTF-16 files say what they are.
    let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(label)
        .bom_override(true)
        .utf8_passthru(true)
        // Its default 8 KiB made every read small, and a record across reads takes the
        // reader's slow path.
        .build_with_buffer(source.open().map_err(io_err)?, vec![0; 256 * 1024])
        .map_err(io_err)?;
    let mut decoded = io::BufReader::with_capacity(256 * 1024, decoded);
    // `auto` reads the header line first (at most 1 MiB of it), then hands it back in front of
    // the rest.
    let mut head = Vec::new();
    let delimiter = match input.delimiter.unwrap_or(Delimiter::Comma) {
        Delimiter::Auto => {
            io::BufRead::read_until(&mut (&mut decoded).take(1 << 20), b'\n', &mut head)
                .map_err(io_err)?;
            detect_delimiter(&head).map_err(|message| ConvertError::Input {
                name: name.to_owned(),
                message,
            })?
        }
        declared => declared.byte().unwrap_or(b','),
    };
    let mut reader = RecordReader::with_delimiter(
        io::Cursor::new(head).chain(decoded),
        // An export's records are read within the limits validation puts on a record.
        stage.validation.limits,
        delimiter,
    );
    // A UTF-8 byte-order mark (or a UTF-16 one, decoded) is not part of the first header.
    if reader.peek().map_err(io_err)?.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }

    type Batch = Result<Vec<Record>, ConvertError>;
    // BATCHES batches go round between the two threads, never more.
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Batch>(BATCHES + 1);
    let (empty_tx, empty_rx) = std::sync::mpsc::sync_channel::<Vec<Record>>(BATCHES);
    for _ in 0..BATCHES {
        let _ = empty_tx.send(Vec::new());
    }
    std::thread::scope(|scope| -> Result<(), ConvertError> {
        // Owned here, so that an early return drops it and a reader waiting for a batch stops.
        let empty_tx = empty_tx;
        let split = move || split_records(reader, name, &full_tx, &empty_rx);
        std::thread::Builder::new()
            .name("convert-reader".into())
            .spawn_scoped(scope, split)
            .map_err(io_err)?;
        for batch in full_rx {
            let batch = batch?;
            // Borrows from this batch only; one allocation per batch.
            let mut texts: Vec<&str> = Vec::with_capacity(16);
            for record in &batch {
                let line = record.line();
                texts.clear();
                let not_utf8 = |column: usize| ConvertError::Input {
                    name: name.to_owned(),
                    message: not_utf8(line, column),
                };
                utf8_fields(record, &mut texts).map_err(not_utf8)?;
                stage.row(line, &texts, &mut writer.buf, writer.flushed);
                writer.spill().map_err(io_err)?;
            }
            drop(texts);
            // The reader may have stopped already (an error); the batch is then dropped.
            let _ = empty_tx.send(batch);
        }
        Ok(())
    })?;
    let delimiter = match delimiter {
        b'\t' => "tab".to_owned(),
        d => format!("'{}'", d as char),
    };
    let encoding = input
        .encoding
        .map_or("utf-8, or as its byte-order mark says".to_owned(), |e| {
            e.to_string()
        });
    Ok(format!("csv ({encoding}, {delimiter})"))
}

/// Puts the fields of `record` into `values` as text; `Err` with the (1-based) column of the
/// first field that is not UTF-8.
pub(super) fn utf8_fields<'r>(record: &'r Record, values: &mut Vec<&'r str>) -> Result<(), usize> {
    // One check of the whole record; a field is then a slice of it, unless the record's bytes
    // were only UTF-8 once joined (a character cut by a delimiter).
    let whole = simdutf8::basic::from_utf8(record.as_slice()).ok();
    for i in 0..record.len() {
        match whole.zip(record.range(i)).and_then(|(w, r)| w.get(r)) {
            Some(text) => values.push(text),
            None => {
                let bad = (0..record.len())
                    .find(|&j| {
                        record
                            .get(j)
                            .is_some_and(|f| std::str::from_utf8(f).is_err())
                    })
                    .unwrap_or(i);
                return Err(bad + 1);
            }
        }
    }
    Ok(())
}

/// The error of a field of the export that is not UTF-8.
pub(super) fn not_utf8(line: u64, column: usize) -> String {
    format!(
        "line {line}, column {column}: not UTF-8; if the file was saved by Excel in a Western \
         European locale, declare --encoding windows-1252 (spec.input.encoding)"
    )
}

/// The reader thread: fills batches of records (reused once the converting thread hands them
/// back) until the end, an error, or the converting thread stops.
fn split_records<R: io::BufRead>(
    mut reader: RecordReader<R>,
    name: &str,
    full: &std::sync::mpsc::SyncSender<Result<Vec<Record>, ConvertError>>,
    empty: &std::sync::mpsc::Receiver<Vec<Record>>,
) {
    let mut records = 0u64;
    // No batch back means the converting thread has stopped.
    while let Ok(mut batch) = empty.recv() {
        batch.resize_with(BATCH, Record::default);
        let mut filled = 0;
        while filled < BATCH {
            match reader.read(&mut batch[filled]) {
                Ok(true) => filled += 1,
                Ok(false) => break,
                Err(e) => {
                    batch.truncate(filled);
                    let _ = full.send(Ok(batch));
                    // The header is not a record.
                    let row = records + filled as u64;
                    let record = (row > 0).then_some(row);
                    let error = match read_error(name, record, e) {
                        CsvError::Io { error, .. } => ConvertError::Io {
                            name: name.to_owned(),
                            error,
                        },
                        other => ConvertError::Limit(other),
                    };
                    let _ = full.send(Err(error));
                    return;
                }
            }
        }
        records += filled as u64;
        let last = filled < BATCH;
        batch.truncate(filled);
        if (!batch.is_empty() && full.send(Ok(batch)).is_err()) || last {
            return;
        }
    }
}

/// The delimiter of the header line: the one of `,` `;` tab `|` it holds outside quotes.
pub(super) fn detect_delimiter(buf: &[u8]) -> Result<u8, String> {
    let mut counts: BTreeMap<u8, usize> = BTreeMap::new();
    let mut quoted = false;
    for &b in buf {
        if !quoted && matches!(b, b'\n' | b'\r') {
            break;
        }
        match b {
            b'"' => quoted = !quoted,
            b',' | b';' | b'\t' | b'|' if !quoted => *counts.entry(b).or_default() += 1,
            _ => {}
        }
    }
    let show = |b: u8| {
        if b == b'\t' {
            "tab".to_owned()
        } else {
            format!("'{}'", b as char)
        }
    };
    match counts.len() {
        1 => Ok(*counts.keys().next().unwrap_or(&b',')),
        0 => Err(
            "--delimiter auto: the header line holds none of ',', ';', tab, '|'; declare the \
             delimiter (spec.input.delimiter)"
                .into(),
        ),
        _ => Err(format!(
            "--delimiter auto: the header line holds several candidates ({}); declare the \
             delimiter (spec.input.delimiter)",
            counts
                .iter()
                .map(|(b, n)| format!("{} ×{n}", show(*b)))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// One date-time column being converted.
#[derive(Clone)]
struct DateColumn {
    field: Field,
    converter: DateConverter,
    report: ColumnReport,
}

/// The row-by-row part shared by CSV and workbooks: the header mapped to fields, values
/// trimmed and dates converted, rows written or (a value that cannot be converted) left out.
#[derive(Clone)]
pub(super) struct Stage<'a> {
    input: &'a InputOptions,
    pub(super) validation: &'a ValidationOptions,
    zone: jiff::tz::TimeZone,
    header: Option<Vec<String>>,
    dates: Vec<DateColumn>,
    /// For each column index, its entry in `dates` if it is one.
    date_at: Vec<Option<usize>>,
    records: u64,
    report: ConversionReport,
    /// The converted file's line that the next row starts on.
    converted_line: u64,
    lines: LineMap,
    /// The row written last, as a parse of the converted file reads it (when `fields`).
    pub(super) record: Record,
    /// Whether rows are also put into `record`, to be checked as written.
    fields: bool,
    /// Date-time values converted lately (a thread's, lent to each part it converts).
    pub(super) memo: DateMemo,
}

impl<'a> Stage<'a> {
    fn new(
        input: &'a InputOptions,
        validation: &'a ValidationOptions,
        zone: jiff::tz::TimeZone,
    ) -> Self {
        Stage {
            input,
            validation,
            zone,
            header: None,
            dates: Vec::new(),
            date_at: Vec::new(),
            records: 0,
            converted_line: 1,
            lines: LineMap::default(),
            record: Record::default(),
            fields: false,
            memo: DateMemo::default(),
            report: ConversionReport {
                converted: true,
                ..ConversionReport::default()
            },
        }
    }

    /// Converts one row (the first is the header) and appends it to `out`, whose first byte
    /// is at `base` in the converted file.
    pub(super) fn row(&mut self, line: u64, values: &[&str], out: &mut Vec<u8>, base: u64) {
        let start = out.len();
        let converted_line = self.converted_line;
        self.record.begin(converted_line, base + start as u64);
        let quoted = self.write_row(line, values, out);
        // Only a quoted value can hold a line break of its own.
        self.converted_line += if quoted {
            memchr::memchr_iter(b'\n', &out[start..]).count() as u64
        } else {
            1
        };
        if self.header.is_some() && self.records > 0 {
            self.lines.record(self.records, line, converted_line);
        }
        if self.fields && self.record.len() == 0 {
            // Written as `""`: one empty field.
            self.record.push_field(b"");
        }
    }

    /// Writes one row; whether a value of it was quoted.
    fn write_row(&mut self, line: u64, values: &[&str], out: &mut Vec<u8>) -> bool {
        let trim = self.input.trim;
        fn trimmed(v: &str, trim: bool) -> &str {
            if trim { v.trim() } else { v }
        }
        let value = |v| trimmed(v, trim);
        if self.header.is_none() {
            let header = self.map_header(values.iter().map(|v| value(v).to_owned()).collect());
            let fields: Vec<&str> = header.iter().map(String::as_str).collect();
            let quoted = push_record(out, fields.len(), |i, out| {
                push_field(out, fields[i].as_bytes())
            });
            self.header = Some(header);
            return quoted;
        }
        self.records += 1;
        let record = self.records;
        let header = self.header.as_deref().unwrap_or_default();
        let mut failed = false;
        let mut fields = self.fields.then_some(&mut self.record);
        let quoted = push_record(out, values.len(), |i, out| {
            let text = value(values[i]);
            let (d, column) = match self.date_at.get(i) {
                Some(Some(d)) if !text.is_empty() => (*d, &mut self.dates[*d]),
                _ => {
                    if let Some(fields) = &mut fields {
                        fields.push_field(text.as_bytes());
                    }
                    return push_field(out, text.as_bytes());
                }
            };
            let before = out.len();
            match self.memo.convert_into(d, &column.converter, text, out) {
                Ok(earlier_of_two) => {
                    if let Some(fields) = &mut fields {
                        fields.push_datetime_field(&out[before..]);
                    }
                    column.report.converted += 1;
                    column.report.earlier_of_two += u64::from(earlier_of_two);
                    // A date-time is digits and separators.
                    false
                }
                Err(error) => {
                    // Written as it came: validation rejects the record under its own number
                    // and line, and `explain` puts this error in place of the strict rule's.
                    failed = true;
                    self.report.error_count += 1;
                    if self.report.errors.len() < MAX_ERRORS {
                        self.report.errors.push(RecordError {
                            record,
                            line,
                            column: header.get(i).cloned(),
                            message: format!(
                                "{error} (--date-format {}=FORMAT, spec.input.dateFormats)",
                                column.field.name()
                            ),
                            value: Some(text.to_owned()),
                        });
                    }
                    if let Some(fields) = &mut fields {
                        fields.push_field(text.as_bytes());
                    }
                    push_field(out, text.as_bytes())
                }
            }
        });
        if failed {
            self.report.rejected += 1;
        }
        quoted
    }

    /// Renames the columns of fields to their output headers and sets up the date columns.
    fn map_header(&mut self, header: Vec<String>) -> Vec<String> {
        let fields = self.validation.fields();
        header
            .into_iter()
            .enumerate()
            .map(|(index, text)| {
                let field = fields.iter().copied().find(|f| {
                    self.validation
                        .columns
                        .get(*f)
                        .eq_ignore_ascii_case(text.trim())
                });
                let Some(field) = field else { return text };
                // Every date-time column of a converted file is written with an offset.
                if is_date_field(field) {
                    let format = self.input.dates.of(field);
                    {
                        self.date_at.resize(index + 1, None);
                        self.date_at[index] = Some(self.dates.len());
                        self.dates.push(DateColumn {
                            field,
                            report: ColumnReport {
                                header: text.clone(),
                                field: field.name(),
                                format: format.to_string(),
                                converted: 0,
                                earlier_of_two: 0,
                            },
                            converter: DateConverter::new(format, self.zone.clone()),
                        });
                    }
                }
                self.input.output_header(field).to_owned()
            })
            .collect()
    }

    /// A copy for converting a part of the file on another thread once the header is written:
    /// records, lines and the report counted from the part's start, rows put into `record`.
    pub(super) fn for_part(&self) -> Self {
        let mut part = self.clone();
        part.records = 0;
        part.converted_line = 1;
        part.lines = LineMap::default();
        part.report = ConversionReport {
            converted: true,
            ..ConversionReport::default()
        };
        for column in &mut part.dates {
            column.report.converted = 0;
            column.report.earlier_of_two = 0;
        }
        part.fields = true;
        part
    }

    /// Records converted since [`Stage::for_part`] (or the start).
    pub(super) fn records(&self) -> u64 {
        self.records
    }

    /// Lines of the converted file written since [`Stage::for_part`] (or the start).
    pub(super) fn converted_lines(&self) -> u64 {
        self.converted_line - 1
    }

    /// Adds what `part` converted (a copy from [`Stage::for_part`] that converted the records
    /// after this one's): `export_lines` lines of the export come before its first record.
    pub(super) fn merge(&mut self, part: &Stage<'_>, export_lines: u64) {
        let (records, converted_lines) = (self.records, self.converted_line - 1);
        let report = &mut self.report;
        report.rejected += part.report.rejected;
        report.error_count += part.report.error_count;
        let room = MAX_ERRORS.saturating_sub(report.errors.len());
        report
            .errors
            .extend(part.report.errors.iter().take(room).cloned().map(|mut e| {
                e.record += records;
                e.line += export_lines;
                e
            }));
        for (total, column) in self.dates.iter_mut().zip(&part.dates) {
            total.report.converted += column.report.converted;
            total.report.earlier_of_two += column.report.earlier_of_two;
        }
        if part.records > 0 {
            let shift = export_lines as i64 - converted_lines as i64;
            self.lines.append(&part.lines, records, shift);
        }
        self.records += part.records;
        self.converted_line += part.converted_line - 1;
    }

    fn finish(mut self) -> ConversionReport {
        for column in &self.dates {
            if column.report.earlier_of_two > 0 {
                self.report.warnings.push(format!(
                    "column {}: {} local time(s) fell in a daylight-saving fall-back hour and were \
                     taken as the earlier of the two instants",
                    column.report.header, column.report.earlier_of_two
                ));
            }
        }
        self.report.columns = self.dates.into_iter().map(|c| c.report).collect();
        self.report.lines = self.lines;
        self.report
    }
}

/// Appends one record of `len` fields, each written by `field` (which says whether it quoted
/// its field), as RFC 4180 with CRLF; whether a field was quoted.
fn push_record(
    out: &mut Vec<u8>,
    len: usize,
    mut field: impl FnMut(usize, &mut Vec<u8>) -> bool,
) -> bool {
    let start = out.len();
    let mut quoted = false;
    for i in 0..len {
        if i > 0 {
            out.push(b',');
        }
        quoted |= field(i, out);
    }
    // A record of one empty field is written as "", or it would read as no record at all.
    if out.len() == start {
        out.extend_from_slice(b"\"\"");
    }
    out.extend_from_slice(b"\r\n");
    quoted
}

/// Appends one field, quoted (quotes doubled) when it holds a comma, a quote or a line break;
/// whether it was.
fn push_field(out: &mut Vec<u8>, value: &[u8]) -> bool {
    // Folded without stopping early, so that the compiler tests many bytes at once: values
    // needing quotes are rare.
    let special = value.iter().fold(false, |any, b| {
        any | matches!(b, b',' | b'"' | b'\r' | b'\n')
    });
    if !special {
        out.extend_from_slice(value);
        return false;
    }
    out.push(b'"');
    for &b in value {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The hand-written writer puts out the bytes the csv crate's writer does (RFC 4180,
        /// quotes only where needed, CRLF), for any record.
        #[test]
        fn records_are_written_as_the_csv_crate_writes_them(
            fields in proptest::collection::vec("[a-z,\"\r\n ;é]{0,6}", 0..5),
        ) {
            let mut ours = Vec::new();
            let quoted =
                push_record(&mut ours, fields.len(), |i, out| push_field(out, fields[i].as_bytes()));
            let mut theirs = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(Vec::new());
            theirs.write_record(&fields).expect("in memory");
            let theirs = theirs.into_inner().expect("in memory");
            // What the row's line count relies on: a row without a quoted field is one line.
            if !quoted {
                prop_assert_eq!(memchr::memchr_iter(b'\n', &ours).count(), 1);
            }
            prop_assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
        }
    }
}
