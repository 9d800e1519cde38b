//! Converting a CSV export that can be read at any offset (a file, bytes in memory) in UTF-8 or
//! Windows-1252, on two threads, each converting segments of its own, and validating the
//! converted records as they are written.
//!
//! Why: as a pipeline of threads (reading, converting, writing; pipeline.rs) each record crossed
//! cores twice, and the converted file was parsed again to validate it; conversion with
//! validation took three times validation alone (BENCHMARKS.md, "Converting HR exports").
//!
//! How, as validation in segments does (hrdata/segmented.rs): the export after its header is
//! cut into segments. The thread that takes one guesses where its first record starts (after
//! its first line break; delimiters, quotes and line breaks are ASCII in both encodings), reads
//! the records that start inside it with the export's delimiter, decodes, converts and writes
//! them into a buffer of its own and checks each as the converted file's parse would read it.
//! The caller's thread merges the segments in order: it confirms each guess against where the
//! previous segment's records ended (a wrong guess, from a quoted line break at the cut, is
//! converted again from the confirmed start), hands the buffer to the writer thread (which
//! hashes it), and adds the segment's counts, errors and lines after those before it.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

use super::memo::DateMemo;
use super::options::{Delimiter, Encoding, InputOptions};
use super::pipeline::{ConvertError, Output, Stage, detect_delimiter, utf8_fields};
use crate::hrdata::{
    CheckedPart, CsvError, CsvSource, Record, RecordReader, SEGMENT, SegmentInput,
    ValidationOptions, Whole, WrittenCheck, WrittenRules, guess_start, read_error,
};

/// Segments taken ahead of the merge, at most: memory stays bounded.
const WINDOW: usize = 4;

/// The export's encoding, as far as this path reads them.
#[derive(Clone, Copy, PartialEq)]
enum Text {
    Utf8,
    Windows1252,
}

/// An export this path converts.
pub(super) struct SegmentedCsv {
    whole: Whole,
    name: String,
    text: Text,
    /// Where the header starts (after a UTF-8 byte-order mark).
    header_start: u64,
    delimiter: Option<Delimiter>,
    /// Bytes per segment.
    segment: u64,
}

impl SegmentedCsv {
    /// The export, when it can be read at any offset and is UTF-8 or Windows-1252 (a UTF-16
    /// one, or a stream, goes through the pipeline). `prefix`: its first bytes.
    pub fn of(
        source: &dyn CsvSource,
        input: &InputOptions,
        prefix: &[u8],
        segment: u64,
    ) -> Option<io::Result<SegmentedCsv>> {
        // A byte-order mark wins over the declared encoding, as in the pipeline.
        let (text, header_start) = if prefix.starts_with(b"\xEF\xBB\xBF") {
            (Text::Utf8, 3)
        } else if prefix.starts_with(b"\xFF\xFE") || prefix.starts_with(b"\xFE\xFF") {
            return None;
        } else {
            match input.encoding.unwrap_or(Encoding::Utf8) {
                Encoding::Utf8 => (Text::Utf8, 0),
                Encoding::Windows1252 => (Text::Windows1252, 0),
                Encoding::Utf16 => return None,
            }
        };
        let whole = crate::hrdata::Whole::of(source)?;
        Some(whole.map(|whole| SegmentedCsv {
            whole,
            name: source.name(),
            text,
            header_start,
            delimiter: input.delimiter,
            segment: segment.max(1),
        }))
    }

    /// Converts the export through `stage` into `writer`; what was read (for the report) and,
    /// unless the converted header is one validation refuses, the converted file's validation
    /// (`check`: its name, options and records per call).
    pub fn convert(
        self,
        stage: &mut Stage<'_>,
        writer: &mut Output,
        check: (String, &ValidationOptions, usize),
    ) -> Result<(String, Option<WrittenCheck>), ConvertError> {
        let name = self.name.as_str();
        let io_err = |error| ConvertError::Io {
            name: name.to_owned(),
            error,
        };
        let len = self.whole.len();
        let first = self
            .whole
            .range(self.header_start, len.min(self.header_start + SEGMENT))
            .map_err(io_err)?;
        let delimiter = match self.delimiter.unwrap_or(Delimiter::Comma) {
            Delimiter::Auto => {
                let line = memchr::memchr(b'\n', &first).map_or(&first[..], |n| &first[..n]);
                detect_delimiter(line).map_err(|message| ConvertError::Input {
                    name: name.to_owned(),
                    message,
                })?
            }
            declared => declared.byte().unwrap_or(b','),
        };
        let limits = stage.validation.limits;
        let input = SegmentInput::new(self.whole.clone(), first, self.header_start);
        let mut reader = RecordReader::with_delimiter(input, limits, delimiter);
        let mut header = Record::default();
        let mut texts = Texts::new(self.text);
        match reader.read(&mut header) {
            Ok(true) => {
                let mut values = Vec::with_capacity(header.len());
                let filled = texts.fill(&header, &mut values);
                filled.map_err(|failure| failure.numbered(name, 0, 0))?;
                stage.row(header.line(), &values, &mut writer.buf, writer.flushed);
            }
            // An empty export converts to an empty file, which validation refuses.
            Ok(false) => return Ok((self.described(delimiter), None)),
            Err(e) => {
                return Err(match read_error(name, None, e) {
                    CsvError::Io { error, .. } => io_err(error),
                    other => ConvertError::Limit(other),
                });
            }
        }
        let (check_name, check_opts, records_per_call) = check;
        let mut written = WrittenCheck::new(check_name, &writer.buf, check_opts, records_per_call)
            .ok()
            .map(|c| (c, true));
        let data_start = reader
            .next_start()
            .map_err(io_err)?
            .map_or(len, |at| self.header_start + at);
        // Lines of the export before its first record.
        let lines_before = reader.line() - 1;
        let mut bounds: Vec<u64> = (0..)
            .map(|k: u64| data_start.saturating_add(k.saturating_mul(self.segment)))
            .take_while(|&b| b < len)
            .collect();
        bounds.push(len.max(data_start));
        let cx = Context {
            whole: &self.whole,
            name,
            text: self.text,
            delimiter,
            bounds,
            check: written.as_ref().map(|(c, _)| c.rules()),
            template: Mutex::new(stage.for_part()),
        };
        let shared = Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        };
        let mut merge = Merge {
            expected: data_start,
            export_lines: lines_before,
            converted_lines: stage.converted_lines(),
            records: 0,
        };
        let mut failure = None;
        let mut valid_check = true;
        std::thread::scope(|scope| {
            let helper = std::thread::Builder::new()
                .name("convert-segments".into())
                .spawn_scoped(scope, || {
                    let _gone = Gone(&shared);
                    work(&cx, &shared, None);
                });
            let _stop = Stop(&shared);
            work(
                &cx,
                &shared,
                Some(&mut |k, done, worker| {
                    let result = merge.segment(&cx, k, done, worker).and_then(|part| {
                        let Some(part) = part else { return Ok(()) };
                        let offset = writer.flushed + writer.buf.len() as u64;
                        stage.merge(&part.stage, merge.export_lines);
                        match (part.checked, &mut written) {
                            (Some(checked), Some((check, _))) => {
                                check.merge(checked, merge.converted_lines, offset)
                            }
                            (None, Some((_, ok))) => *ok = false,
                            _ => {}
                        }
                        merge.export_lines += part.export_newlines;
                        merge.converted_lines += part.stage.converted_lines();
                        merge.records += part.stage.records();
                        let empty = writer.write_part(part.out).map_err(io_err)?;
                        shared.lock().spare.push(empty);
                        Ok(())
                    });
                    match result {
                        Ok(()) => true,
                        Err(e) => {
                            failure = Some(e);
                            false
                        }
                    }
                }),
            );
            if failure.is_none() && shared.lock().merged < cx.bounds.len() - 1 {
                failure = Some(ConvertError::Io {
                    name: name.to_owned(),
                    error: io::Error::other("a converting thread stopped unexpectedly"),
                });
            }
            drop(_stop);
            if let Ok(helper) = helper {
                // A panic of the helper is the caller's: its segments' results are missing.
                if helper.join().is_err() && failure.is_none() {
                    valid_check = false;
                    failure = Some(ConvertError::Io {
                        name: name.to_owned(),
                        error: io::Error::other("a converting thread failed"),
                    });
                }
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        let written = written.filter(|(_, ok)| *ok && valid_check).map(|(c, _)| c);
        Ok((self.described(delimiter), written))
    }

    fn described(&self, delimiter: u8) -> String {
        let delimiter = match delimiter {
            b'\t' => "tab".to_owned(),
            d => format!("'{}'", d as char),
        };
        let encoding = match self.text {
            Text::Windows1252 => "windows-1252",
            Text::Utf8 if self.header_start > 0 => "utf-8, by its byte-order mark",
            Text::Utf8 => "utf-8",
        };
        format!("csv ({encoding}, {delimiter})")
    }
}

/// A record's fields as text: UTF-8 as it is, Windows-1252 decoded.
struct Texts {
    text: Text,
    decoder: encoding_rs::Decoder,
    /// The record decoded, when it is Windows-1252 and not ASCII.
    decoded: String,
    /// Where the record's bytes that are not ASCII are, each with the bytes its decoding
    /// added to the record's so far (counting its own).
    grown: Vec<(usize, usize)>,
}

impl Texts {
    fn new(text: Text) -> Self {
        Texts {
            text,
            decoder: encoding_rs::WINDOWS_1252.new_decoder_without_bom_handling(),
            decoded: String::new(),
            grown: Vec::new(),
        }
    }

    /// Puts the fields of `record` into `values`; an error names the first field that is not
    /// UTF-8 (its line counted as `record`'s).
    fn fill<'r>(
        &'r mut self,
        record: &'r Record,
        values: &mut Vec<&'r str>,
    ) -> Result<(), Failure> {
        let bytes = record.as_slice();
        // A UTF-8 export's record is not scanned for ASCII first.
        let ascii = match self.text {
            Text::Utf8 => 0,
            Text::Windows1252 => encoding_rs::Encoding::ascii_valid_up_to(bytes),
        };
        if self.text == Text::Utf8 || ascii == bytes.len() {
            return utf8_fields(record, values).map_err(|column| Failure::NotUtf8 {
                line: record.line(),
                column,
            });
        }
        // Windows-1252: the whole record decoded in one go (a Windows-1252 decoder keeps no
        // state between calls), each field then the part of it its bytes became. Only the
        // bytes that are not ASCII grow, by what `grown_by` says.
        self.decoded.clear();
        self.decoded.reserve(bytes.len() * 3);
        let (_, read) =
            self.decoder
                .decode_to_string_without_replacement(bytes, &mut self.decoded, false);
        debug_assert_eq!(read, bytes.len());
        self.grown.clear();
        let (mut at, mut grown) = (ascii, 0);
        while let Some(&byte) = bytes.get(at) {
            grown += grown_by(byte);
            self.grown.push((at, grown));
            at += 1;
            at += encoding_rs::Encoding::ascii_valid_up_to(&bytes[at..]);
        }
        let (mut start, mut next) = (0, 0);
        for i in 0..record.len() {
            let end = record.range(i).map_or(0, |r| r.end);
            while self.grown.get(next).is_some_and(|&(at, _)| at < end) {
                next += 1;
            }
            let grown = next.checked_sub(1).map_or(0, |k| self.grown[k].1);
            let end = end + grown;
            values.push(self.decoded.get(start..end).unwrap_or_default());
            start = end;
        }
        Ok(())
    }
}

/// The bytes a byte of Windows-1252 that is not ASCII adds when decoded to UTF-8: 2 for most,
/// 3 for the characters of `0x80..0xA0` above U+07FF (`€`, `‚`, `„`, `…`, quotes, dashes...).
fn grown_by(byte: u8) -> usize {
    /// Whether `0x80 + i` decodes to three bytes of UTF-8.
    const THREE: [bool; 32] = {
        let mut three = [false; 32];
        let bytes = [
            0x80u8, 0x82, 0x84, 0x85, 0x86, 0x87, 0x89, 0x8B, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96,
            0x97, 0x99, 0x9B,
        ];
        let mut k = 0;
        while k < bytes.len() {
            three[(bytes[k] - 0x80) as usize] = true;
            k += 1;
        }
        three
    };
    match byte {
        0x80..0xA0 if THREE[usize::from(byte - 0x80)] => 2,
        0x80.. => 1,
        _ => 0,
    }
}

/// What both threads convert with.
struct Context<'a, 's> {
    whole: &'a Whole,
    name: &'a str,
    text: Text,
    delimiter: u8,
    /// Where each segment begins; one more entry, the export's length, ends the last.
    bounds: Vec<u64>,
    check: Option<Arc<WrittenRules>>,
    /// The stage after the header, copied for each segment (its date converters' caches are
    /// one thread's, hence the lock).
    template: Mutex<Stage<'s>>,
}

/// One segment converted.
struct Part<'s> {
    out: Vec<u8>,
    stage: Stage<'s>,
    /// `None` when a record could not be checked as written (the file is validated again).
    checked: Option<CheckedPart>,
    /// Where the first record after the segment starts (or the export's length).
    end: u64,
    /// Line breaks of the export from the segment's first record to `end`.
    export_newlines: u64,
}

/// One thread's reader and buffers, reused from segment to segment.
#[derive(Default)]
struct Worker {
    reader: Option<RecordReader<SegmentInput>>,
    record: Record,
    /// Date-time values this thread converted lately, kept from segment to segment.
    memo: DateMemo,
}

/// Converts the records that start at `start` or after, and before `before`.
fn convert_segment<'s>(
    cx: &Context<'_, 's>,
    first: Bytes,
    start: u64,
    before: u64,
    worker: &mut Worker,
    out: Vec<u8>,
) -> Result<Part<'s>, Failure> {
    let io_err = |error| ConvertError::Io {
        name: cx.name.to_owned(),
        error,
    };
    let input = SegmentInput::new(cx.whole.clone(), first, start);
    let mut stage = cx
        .template
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .for_part();
    stage.memo = std::mem::take(&mut worker.memo);
    let limits = stage.validation.limits;
    let reader = match &mut worker.reader {
        Some(reader) => {
            reader.restart(input);
            reader
        }
        None => worker
            .reader
            .insert(RecordReader::with_delimiter(input, limits, cx.delimiter)),
    };
    let record = &mut worker.record;
    let mut part = Part {
        out,
        stage,
        checked: cx.check.as_ref().map(|rules| rules.part()),
        end: 0,
        export_newlines: 0,
    };
    let mut texts = Texts::new(cx.text);
    let mut spare: Vec<&'static str> = Vec::with_capacity(16);
    loop {
        let at = reader
            .next_start()
            .map_err(|e| Failure::Error(io_err(e)))?
            .map(|at| start + at);
        if at.is_none_or(|at| at >= before) {
            part.end = at.unwrap_or(start + reader.offset());
            break;
        }
        match reader.read_started(record) {
            Ok(true) => {}
            Ok(false) => {
                part.end = start + reader.offset();
                break;
            }
            Err(e) => {
                // Numbered from the segment: the merge adds what came before.
                return Err(
                    match read_error(cx.name, Some(part.stage.records() + 1), e) {
                        CsvError::Io { error, .. } => Failure::Error(io_err(error)),
                        other => Failure::Limit(other),
                    },
                );
            }
        }
        // The buffer of `spare`, borrowing from `texts` and `record` for this record only
        // (collected in place: no allocation).
        let mut row: Vec<&str> = std::mem::take(&mut spare).into_iter().map(|_| "").collect();
        texts.fill(record, &mut row)?;
        part.stage.row(record.line(), &row, &mut part.out, 0);
        row.clear();
        spare = row.into_iter().map(|_| "").collect();
        if let (Some(check), Some(checked)) = (&cx.check, &mut part.checked)
            && !check.check(checked, &mut part.stage.record)
        {
            part.checked = None;
        }
    }
    part.export_newlines = reader.line() - 1;
    worker.memo = std::mem::take(&mut part.stage.memo);
    Ok(part)
}

/// A segment's outcome, from its guessed start.
struct Done<'s> {
    /// `None`: the guess was that no record starts in the segment (nothing was converted).
    guess: Option<u64>,
    outcome: Result<Option<Part<'s>>, Failure>,
}

/// Reads, guesses and converts segment `k`.
fn run_segment<'s>(cx: &Context<'_, 's>, k: usize, worker: &mut Worker, out: Vec<u8>) -> Done<'s> {
    let from = if k == 0 {
        cx.bounds[0]
    } else {
        cx.bounds[k] - 1
    };
    let block = match cx.whole.range(from, cx.bounds[k + 1]) {
        Ok(block) => block,
        Err(error) => {
            return Done {
                guess: Some(cx.bounds[k]),
                outcome: Err(Failure::Error(ConvertError::Io {
                    name: cx.name.to_owned(),
                    error,
                })),
            };
        }
    };
    let guess = if k == 0 {
        Some(cx.bounds[0])
    } else {
        guess_start(&block, from)
    };
    let outcome = match guess {
        Some(at) => convert_segment(
            cx,
            block.slice((at - from) as usize..),
            at,
            cx.bounds[k + 1],
            worker,
            out,
        )
        .map(Some),
        None => Ok(None),
    };
    Done { guess, outcome }
}

/// Where the merge is.
struct Merge {
    /// Where the next record starts, as the segments merged so far found.
    expected: u64,
    /// Lines of the export before the next record.
    export_lines: u64,
    /// Lines of the converted file so far.
    converted_lines: u64,
    /// Records merged so far.
    records: u64,
}

impl Merge {
    /// Segment `k` from where its first record really starts: its outcome when the guess was
    /// right, else its records converted again. `None`: no record starts in it.
    fn segment<'s>(
        &mut self,
        cx: &Context<'_, 's>,
        k: usize,
        done: Done<'s>,
        worker: &mut Worker,
    ) -> Result<Option<Part<'s>>, ConvertError> {
        let before = cx.bounds[k + 1];
        if self.expected >= before {
            // A record of an earlier segment runs over the whole of this one.
            return Ok(None);
        }
        let part = if done.guess == Some(self.expected) {
            done.outcome
        } else {
            let first =
                cx.whole
                    .range(self.expected, before)
                    .map_err(|error| ConvertError::Io {
                        name: cx.name.to_owned(),
                        error,
                    })?;
            let out = done
                .outcome
                .ok()
                .flatten()
                .map(|mut p| {
                    p.out.clear();
                    p.out
                })
                .unwrap_or_default();
            convert_segment(cx, first, self.expected, before, worker, out).map(Some)
        };
        let part = match part {
            Ok(part) => part,
            Err(e) => return Err(e.numbered(cx.name, self.records, self.export_lines)),
        };
        if let Some(part) = &part {
            self.expected = part.end;
        }
        Ok(part)
    }
}

/// Why a segment stopped, numbered from its start.
enum Failure {
    Error(ConvertError),
    /// A record over the limits.
    Limit(CsvError),
    /// A field that is not UTF-8.
    NotUtf8 {
        line: u64,
        column: usize,
    },
}

impl Failure {
    /// The error, numbered from the export's start: `records` records and `lines` lines came
    /// before the segment.
    fn numbered(self, name: &str, records: u64, lines: u64) -> ConvertError {
        match self {
            Failure::Error(error) => error,
            Failure::Limit(mut error) => {
                if let CsvError::OverLimit { record, line, .. } = &mut error {
                    *line += lines;
                    if let Some(record) = record {
                        *record += records;
                    }
                }
                ConvertError::Limit(error)
            }
            Failure::NotUtf8 { line, column } => ConvertError::Input {
                name: name.to_owned(),
                message: super::pipeline::not_utf8(line + lines, column),
            },
        }
    }
}

/// The work both threads share.
#[derive(Default)]
struct State<'s> {
    /// Segments taken so far.
    taken: usize,
    /// Segments merged so far.
    merged: usize,
    results: BTreeMap<usize, Done<'s>>,
    /// Output buffers back from the writer, for the next segments.
    spare: Vec<Vec<u8>>,
    stop: bool,
    helper_gone: bool,
}

struct Shared<'s> {
    state: Mutex<State<'s>>,
    changed: Condvar,
}

impl<'s> Shared<'s> {
    fn lock(&self) -> MutexGuard<'_, State<'s>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The helper is gone (returned or panicked): the caller's thread does not wait for it.
struct Gone<'a, 's>(&'a Shared<'s>);

impl Drop for Gone<'_, '_> {
    fn drop(&mut self) {
        self.0.lock().helper_gone = true;
        self.0.changed.notify_all();
    }
}

/// The caller's thread is done (or panicked): the helper stops.
struct Stop<'a, 's>(&'a Shared<'s>);

impl Drop for Stop<'_, '_> {
    fn drop(&mut self) {
        self.0.lock().stop = true;
        self.0.changed.notify_all();
    }
}

type MergeFn<'m, 's> = &'m mut dyn FnMut(usize, Done<'s>, &mut Worker) -> bool;

enum Task<'s> {
    Segment(usize, Vec<u8>),
    Merge(usize, Box<Done<'s>>),
    Return,
}

/// Runs one thread's tasks: converting segments, and on the caller's thread (`merge`) merging
/// them in order, until none is left for it.
fn work<'s>(cx: &Context<'_, 's>, shared: &Shared<'s>, mut merge: Option<MergeFn<'_, 's>>) {
    let n = cx.bounds.len() - 1;
    let merging = merge.is_some();
    let mut worker = Worker::default();
    loop {
        let task = {
            let mut state = shared.lock();
            loop {
                if merging {
                    let next = state.merged;
                    if let Some(done) = state.results.remove(&next) {
                        break Task::Merge(next, Box::new(done));
                    }
                    if next == n {
                        break Task::Return;
                    }
                } else if state.stop {
                    break Task::Return;
                }
                if state.taken < n && state.taken < state.merged + WINDOW {
                    state.taken += 1;
                    let out = state.spare.pop().unwrap_or_default();
                    break Task::Segment(state.taken - 1, out);
                }
                if !merging && state.taken == n {
                    break Task::Return;
                }
                if merging && state.helper_gone && !state.results.contains_key(&state.merged) {
                    // The helper stopped before giving a segment it took.
                    break Task::Return;
                }
                state = shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        match task {
            Task::Segment(k, out) => {
                let done = run_segment(cx, k, &mut worker, out);
                shared.lock().results.insert(k, done);
                shared.changed.notify_all();
            }
            Task::Merge(k, done) => {
                let Some(merge) = merge.as_mut() else { return };
                if !merge(k, *done, &mut worker) {
                    return;
                }
                shared.lock().merged += 1;
                shared.changed.notify_all();
            }
            Task::Return => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::super::options::{DateFormats, Delimiter, Encoding, InputOptions};
    use super::super::pipeline::{Conversion, convert_in};
    use crate::hrdata::{BytesSource, CsvSource, ValidationOptions};

    /// Pieces an export's records are made of: values, delimiters, quotes, line breaks of every
    /// kind, `é` in either encoding, dates in and out of the declared format.
    const PIECES: &[&[u8]] = &[
        b"ann@contoso.com",
        b"11/30/2026 5:30:00 PM",
        b"3/8/2026 2:30 AM",
        b"13/45/2026",
        b";",
        b",",
        b"\"",
        b"\r\n",
        b"\n",
        b"\r",
        b"\xE9",
        b"\x80",
        b"\x81",
        b"\xC3\xA9",
        b" ",
        b"x",
    ];

    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(PIECES), 0..120)
            .prop_map(|pieces| pieces.concat())
    }

    /// What a conversion gave: the converted bytes, the report and the validation as written,
    /// or the error's text.
    fn outcome(result: Result<Conversion, super::ConvertError>) -> Result<String, String> {
        let conversion = result.map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        conversion
            .source
            .open()
            .and_then(|mut r| r.read_to_end(&mut bytes))
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "{bytes:?}\n{:?}\n{:?}",
            conversion.report,
            conversion.source.prevalidated()
        ))
    }

    /// The growth of every byte, against Windows-1252 as encoding_rs decodes it.
    #[test]
    fn every_byte_grows_as_it_decodes() {
        for byte in 0..=u8::MAX {
            let bytes = [byte];
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&bytes);
            assert_eq!(super::grown_by(byte), text.len() - 1, "byte {byte:#04x}");
        }
    }

    proptest! {
        /// A Windows-1252 record's fields, wherever its bytes that are not ASCII are, are the
        /// texts encoding_rs decodes each of them to alone.
        #[test]
        fn windows_1252_fields_are_each_decoded(
            fields in prop::collection::vec(
                prop::collection::vec(
                    prop::sample::select(&[b'a', b'1', b' ', b'@', 0x80, 0x81, 0x9F, 0xE9, 0xFF][..]),
                    0..6,
                ),
                0..6,
            ),
        ) {
            let mut record = crate::hrdata::Record::default();
            record.begin(1, 0);
            for field in &fields {
                record.push_field(field);
            }
            let mut texts = super::Texts::new(super::Text::Windows1252);
            let mut values = Vec::new();
            prop_assert!(texts.fill(&record, &mut values).is_ok());
            let expected: Vec<String> = fields
                .iter()
                .map(|f| encoding_rs::WINDOWS_1252.decode_without_bom_handling(f).0.into_owned())
                .collect();
            prop_assert_eq!(values, expected);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any export, cut into segments of any size, converts to the bytes, report, errors and
        /// validation of one segment.
        #[test]
        fn segments_agree_with_one_segment(
            body in body(),
            segment in 1u64..48,
            windows_1252 in any::<bool>(),
            semicolon in any::<bool>(),
            trim in any::<bool>(),
            records_per_call in 1usize..5,
        ) {
            let delimiter = if semicolon { ";" } else { "," };
            let mut export = ["EmailAddress", "TerminationDate", "LastWorkingDate", "Note"]
                .join(delimiter)
                .into_bytes();
            export.extend_from_slice(b"\r\n");
            export.extend_from_slice(&body);
            let mut dates = DateFormats::default();
            dates.add("us").expect("a preset");
            let input = InputOptions {
                delimiter: Some(if semicolon { Delimiter::Semicolon } else { Delimiter::Auto }),
                encoding: Some(if windows_1252 { Encoding::Windows1252 } else { Encoding::Utf8 }),
                trim,
                dates,
                time_zone: Some("America/New_York".into()),
                ..InputOptions::default()
            };
            let opts = ValidationOptions::default();
            let source = || -> Arc<dyn CsvSource> {
                Arc::new(BytesSource::new("export.csv", export.clone()))
            };
            let whole = outcome(convert_in(source(), &input, &opts, records_per_call, u64::MAX / 4));
            let cut = outcome(convert_in(source(), &input, &opts, records_per_call, segment));
            prop_assert_eq!(cut, whole);
        }
    }
}
