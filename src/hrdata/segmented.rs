//! Validating a source that can be read at any offset (bytes in memory, a file) on two
//! threads, each parsing and checking segments of its own.
//!
//! Why: parsing on one thread and checking the parsed records on another (share.rs, still used
//! for streams) cost a quarter more CPU than doing both on one thread, the records being in the
//! other core's cache; validation must stay within 1.5x the bare parse (BENCHMARKS.md).
//!
//! How: the bytes after the header are cut into segments of [`SEGMENT`] bytes. The thread that
//! takes a segment guesses where its first record starts (after its first line break), and
//! parses and checks the records that start inside it. The caller's thread merges the results
//! in order and confirms each guess: the previous segment's parse found where the first record
//! at or after the segment's beginning starts, and the guess must be that offset. A wrong guess
//! (a line break inside a quoted field, or lone `\r` line breaks) is parsed again from the
//! confirmed start, so the result is always that of one parse from the first byte. SHA-256 is
//! sequential: whichever thread is free hashes the next segment.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Read};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::hashing::{HashingReader, read_buffered};
use super::parse::{ReadError, Record, RecordReader};
use super::plan::{ChunkPlan, PlanBuilder};
use super::record::RecordChecker;
use super::schema::Scenario;
use super::stream::{CsvStream, encoding_error, read_error};
use super::utf8_prefix::Utf8Prefix;
use super::validate::{Counts, ValidationReport};
use super::{CsvError, CsvSource, Limits, RecordError, ValidationOptions};
use crate::source::{ReadAt, StreamAt};

/// Bytes per segment: small enough that few are in memory at once (a file's segments are read
/// into buffers; at most [`WINDOW`] wait to be hashed: with 512 KiB, validating 500 MB peaked
/// 12 % above 10 MB, against the 10 % allowed), large enough that the work of one segment
/// (about 0.3 ms) dwarfs handing it out.
pub(crate) const SEGMENT: u64 = 256 * 1024;
/// Segments taken but not hashed yet, at most: memory stays bounded whichever part is slower.
const WINDOW: usize = 4;
/// Bytes read at a time past the end of a segment, for its last record: a few records' worth
/// (every byte of it is copied and checked for UTF-8 a second time, with the next segment).
const TAIL: u64 = 1024;

/// Buffers kept for reuse: at most those of the segments in flight.
const POOLED: usize = WINDOW + 2;

/// The content of a source, by range.
#[derive(Clone)]
pub(crate) enum Whole {
    Memory(Bytes),
    File(Arc<dyn ReadAt>, Pool),
}

/// Buffers of a file's segments, reused: a new buffer of a segment's size costs page faults
/// and zeroing every time, which made reading a file slower than bytes in memory.
#[derive(Clone, Default)]
pub(crate) struct Pool(Arc<Mutex<Vec<Vec<u8>>>>);

/// A buffer of the pool holding `len` bytes; back to the pool when the last `Bytes` of it goes.
struct Pooled {
    buf: Vec<u8>,
    len: usize,
    pool: Pool,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let mut spare = self.pool.0.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.len() < POOLED {
            spare.push(std::mem::take(&mut self.buf));
        }
    }
}

impl Whole {
    /// The source's content, when it can be read at any offset.
    pub fn of(source: &dyn CsvSource) -> Option<io::Result<Whole>> {
        if let Some(data) = source.bytes() {
            return Some(Ok(Whole::Memory(data)));
        }
        source
            .ranged()
            .map(|file| file.map(|file| Whole::File(file, Pool::default())))
    }

    pub fn len(&self) -> u64 {
        match self {
            Whole::Memory(data) => data.len() as u64,
            Whole::File(file, _) => file.size(),
        }
    }

    /// Bytes `start..end` (`end` at most the length).
    pub fn range(&self, start: u64, end: u64) -> io::Result<Bytes> {
        let end = end.min(self.len());
        match self {
            Whole::Memory(data) => Ok(data.slice(start as usize..end.max(start) as usize)),
            Whole::File(file, pool) => {
                let want = end.saturating_sub(start) as usize;
                let spare = pool.0.lock().unwrap_or_else(PoisonError::into_inner).pop();
                let mut buf = spare.unwrap_or_default();
                if buf.len() < want {
                    buf.resize(want, 0);
                }
                let mut n = 0;
                while n < want {
                    match file.read_at(&mut buf[n..want], start + n as u64) {
                        Ok(0) => {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                format!(
                                    "it ended at byte {} although it had {} bytes when opened: it \
                                     changed while being read",
                                    start + n as u64,
                                    self.len()
                                ),
                            ));
                        }
                        Ok(k) => n += k,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(Bytes::from_owner(Pooled {
                    buf,
                    len: want,
                    pool: pool.clone(),
                }))
            }
        }
    }
}

/// The source from one offset to its end: the rest of a segment first, then pieces of
/// [`TAIL`] bytes; each piece's UTF-8 is checked as it comes.
pub(crate) struct SegmentInput {
    whole: Whole,
    current: Bytes,
    pos: usize,
    /// Offset in the source of the first byte after `current`.
    next: u64,
    /// From the segment's first byte on.
    utf8: Utf8Prefix,
}

impl SegmentInput {
    pub fn new(whole: Whole, first: Bytes, start: u64) -> Self {
        let mut utf8 = Utf8Prefix::default();
        utf8.feed(&first);
        SegmentInput {
            next: start + first.len() as u64,
            whole,
            current: first,
            pos: 0,
            utf8,
        }
    }
}

impl SegmentInput {
    /// The next piece after the end of the segment.
    #[inline(never)]
    fn refill(&mut self) -> io::Result<()> {
        if self.next < self.whole.len() {
            let end = self.next.saturating_add(TAIL);
            self.current = self.whole.range(self.next, end)?;
            self.next += self.current.len() as u64;
            self.pos = 0;
            self.utf8.feed(&self.current);
        }
        Ok(())
    }
}

impl BufRead for SegmentInput {
    #[inline]
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.current.len() {
            self.refill()?;
        }
        Ok(&self.current[self.pos..])
    }

    #[inline]
    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.current.len());
    }
}

impl Read for SegmentInput {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, out)
    }
}

/// Where the first record of a segment starts, guessed from its bytes (`block`, whose first
/// byte is the one before the segment, at `block_start`): after its first `\n` and any line
/// breaks after that. `None`: no record starts in the segment, by that guess.
pub(crate) fn guess_start(block: &[u8], block_start: u64) -> Option<u64> {
    let newline = memchr::memchr(b'\n', block)?;
    let run = block[newline + 1..]
        .iter()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .count();
    let at = newline + 1 + run;
    (at < block.len()).then_some(block_start + at as u64)
}

/// What validating the records of one segment found. Record numbers and lines are counted from
/// the segment's first record (1) and first line (1); offsets are the source's.
#[derive(Default)]
struct Parsed {
    records: u64,
    rejected: u64,
    accepted: [u64; Scenario::ALL.len()],
    errors: Vec<RecordError>,
    error_count: u64,
    /// Starts of the records, while every one is valid (for the chunk plan).
    starts: Vec<u64>,
    all_valid: bool,
    /// Where the first record after the segment starts (or the source's length).
    end: u64,
    /// Line breaks from the segment's first record to `end`.
    newlines: u64,
    bare_cr: bool,
    /// Bytes that are not UTF-8, or a record over the limits: validation ends at this record.
    fatal: Option<CsvError>,
}

/// One thread's parser and record buffer, reused from segment to segment.
#[derive(Default)]
struct Parser {
    reader: Option<RecordReader<SegmentInput>>,
    record: Record,
}

/// What the segments are checked with; shared by both threads.
struct Context<'a> {
    name: &'a str,
    checker: &'a RecordChecker,
    max_errors: usize,
    limits: Limits,
    whole: &'a Whole,
    /// Where each segment begins; one more entry, the source's length, ends the last.
    bounds: Vec<u64>,
}

/// Parses and checks the records that start at `start` or after, and before `before`.
fn parse_segment(
    cx: &Context<'_>,
    first: Bytes,
    start: u64,
    before: u64,
    parser: &mut Parser,
) -> Result<Parsed, CsvError> {
    let io_error = |error| CsvError::io(cx.name.to_owned(), error);
    let input = SegmentInput::new(cx.whole.clone(), first, start);
    let reader = match &mut parser.reader {
        Some(reader) => {
            reader.restart(input);
            reader
        }
        None => parser.reader.insert(RecordReader::new(input, cx.limits)),
    };
    let record = &mut parser.record;
    let mut out = Parsed {
        all_valid: true,
        ..Parsed::default()
    };
    loop {
        let at = reader.next_start().map_err(io_error)?.map(|at| start + at);
        if at.is_none_or(|at| at >= before) {
            out.end = at.unwrap_or(start + reader.offset());
            break;
        }
        match reader.read_started(record) {
            Ok(true) => {}
            Ok(false) => {
                out.end = start + reader.offset();
                break;
            }
            Err(ReadError::Io(error)) => return Err(io_error(error)),
            // Numbered from the segment, as errors are: the merge adds what came before.
            Err(over) => {
                out.fatal = Some(read_error(cx.name, Some(out.records + 1), over));
                return Ok(out);
            }
        }
        record.set_known_utf8(reader.offset() <= reader.get_ref().utf8.valid_to());
        out.records += 1;
        let number = out.records;
        let (errors, error_count) = (&mut out.errors, &mut out.error_count);
        let verdict = cx.checker.check(record, |problem| {
            *error_count += 1;
            if errors.len() < cx.max_errors {
                errors.push(
                    cx.checker
                        .record_error(problem, number, record.line(), true),
                );
            }
        });
        let verdict = match verdict {
            Ok(verdict) => verdict,
            Err(e) => {
                out.fatal = Some(encoding_error(cx.name, record.line(), e));
                return Ok(out);
            }
        };
        match verdict.scenario {
            Some(scenario) if verdict.valid => out.accepted[scenario as usize] += 1,
            _ => out.rejected += 1,
        }
        out.all_valid &= verdict.valid;
        if out.all_valid {
            out.starts.push(start + record.start());
        }
    }
    out.newlines = reader.line() - 1;
    out.bare_cr = reader.saw_bare_cr();
    Ok(out)
}

/// A segment's block: its bytes, and for all but the first the byte before them (to guess
/// where its first record starts).
fn read_block(cx: &Context<'_>, k: usize) -> io::Result<(Bytes, u64)> {
    let from = if k == 0 {
        cx.bounds[0]
    } else {
        cx.bounds[k] - 1
    };
    Ok((cx.whole.range(from, cx.bounds[k + 1])?, from))
}

/// One segment, validated from its guessed start.
struct Done {
    /// `None`: the guess was that no record starts in the segment (nothing was parsed).
    guess: Option<u64>,
    outcome: Result<Parsed, CsvError>,
}

/// Reads, guesses and parses segment `k`; hands its bytes to `hash` first.
fn run_segment(cx: &Context<'_>, k: usize, parser: &mut Parser, hash: impl FnOnce(Bytes)) -> Done {
    let (block, from) = match read_block(cx, k) {
        Ok(read) => read,
        Err(error) => {
            return Done {
                guess: Some(cx.bounds[k]),
                outcome: Err(CsvError::io(cx.name.to_owned(), error)),
            };
        }
    };
    let skip = (cx.bounds[k] - from) as usize;
    hash(block.slice(skip..));
    let guess = if k == 0 {
        Some(cx.bounds[0])
    } else {
        guess_start(&block, from)
    };
    let outcome = match guess {
        Some(at) => parse_segment(
            cx,
            block.slice((at - from) as usize..),
            at,
            cx.bounds[k + 1],
            parser,
        ),
        None => Ok(Parsed::default()),
    };
    Done { guess, outcome }
}

/// The work both threads share.
#[derive(Default)]
struct State {
    /// Segments taken so far.
    taken: usize,
    /// Pieces hashed so far: piece 0 is the bytes before the first segment, piece `k + 1`
    /// segment `k`.
    hashed: usize,
    /// Pieces ready to hash, out of order.
    pieces: BTreeMap<usize, Bytes>,
    /// `None` while a thread is hashing.
    hasher: Option<Sha256>,
    results: BTreeMap<usize, Done>,
    /// Validation ended: the helper returns.
    stop: bool,
    /// The helper returned (or panicked).
    helper_gone: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'g>(&self, guard: MutexGuard<'g, State>) -> MutexGuard<'g, State> {
        self.changed
            .wait(guard)
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn add_piece(&self, index: usize, piece: Bytes) {
        self.lock().pieces.insert(index, piece);
        self.changed.notify_all();
    }
}

enum Task {
    Hash(Bytes, Sha256),
    Segment(usize),
    /// The caller's thread: the next segment's result is there to merge.
    Merge,
    /// The helper: nothing left for it.
    Return,
}

/// The next task of a thread (`merging` on the caller's: it alone merges, and waits for the
/// helper's results).
fn next_task(shared: &Shared, n: usize, merged: usize, merging: bool) -> Task {
    let mut state = shared.lock();
    loop {
        if state.stop && !merging {
            return Task::Return;
        }
        if merging && state.results.contains_key(&merged) {
            return Task::Merge;
        }
        // Hashing first: it is sequential, so it must never wait for the end.
        if state.hasher.is_some() {
            let index = state.hashed;
            if let Some(piece) = state.pieces.remove(&index) {
                let hasher = state.hasher.take().unwrap_or_default();
                return Task::Hash(piece, hasher);
            }
        }
        if state.taken < n && state.taken + 1 < state.hashed + WINDOW {
            state.taken += 1;
            return Task::Segment(state.taken - 1);
        }
        if !merging && state.taken == n {
            return Task::Return;
        }
        if merging && merged == n && state.hashed == n + 1 {
            return Task::Return;
        }
        // (The result of `merged` is not there, see above, and this thread is doing nothing.)
        if merging && state.helper_gone && (state.hasher.is_none() || merged < state.taken) {
            // The helper stopped while hashing or before giving the result of a segment it
            // took: the caller reports that the hash is missing.
            return Task::Return;
        }
        state = shared.wait(state);
    }
}

/// Runs the tasks of one thread until none is left for it; the caller's thread merges with
/// `merge` (false: stop).
fn work(
    cx: &Context<'_>,
    shared: &Shared,
    merging: bool,
    mut merge: impl FnMut(usize, Done) -> bool,
) {
    let mut parser = Parser::default();
    let mut merged = 0;
    loop {
        match next_task(shared, cx.bounds.len() - 1, merged, merging) {
            Task::Hash(piece, mut hasher) => {
                hasher.update(&piece);
                let mut state = shared.lock();
                state.hasher = Some(hasher);
                state.hashed += 1;
                drop(state);
                shared.changed.notify_all();
            }
            Task::Segment(k) => {
                let done = run_segment(cx, k, &mut parser, |piece| shared.add_piece(k + 1, piece));
                shared.lock().results.insert(k, done);
                shared.changed.notify_all();
            }
            Task::Merge => {
                let done = shared.lock().results.remove(&merged);
                let Some(done) = done else { continue };
                if !merge(merged, done) {
                    return;
                }
                merged += 1;
            }
            Task::Return => return,
        }
    }
}

/// Marks the helper gone when it returns or panics, so the caller's thread does not wait for
/// it forever.
struct Gone<'s>(&'s Shared);

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        self.0.lock().helper_gone = true;
        self.0.changed.notify_all();
    }
}

/// Tells the helper to stop when the caller's thread is done (or panics).
struct Stop<'s>(&'s Shared);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.lock().stop = true;
        self.0.changed.notify_all();
    }
}

/// The merged results, in order.
struct Tally {
    max_errors: usize,
    counts: Counts,
    plan: PlanBuilder,
    /// Where the next record starts, as the results merged so far found.
    expected: u64,
    /// Physical line of `expected`.
    line: u64,
    bare_cr: bool,
}

impl Tally {
    fn add(&mut self, parsed: Parsed) -> Result<(), CsvError> {
        let counts = &mut self.counts;
        let (records_before, lines_before) = (counts.records, self.line - 1);
        let room = self.max_errors.saturating_sub(counts.errors.len());
        counts
            .errors
            .extend(parsed.errors.into_iter().take(room).map(|mut e| {
                e.record += records_before;
                e.line += lines_before;
                e
            }));
        counts.error_count += parsed.error_count;
        if let Some(mut fatal) = parsed.fatal {
            match &mut fatal {
                CsvError::Encoding {
                    line: Some(line), ..
                } => *line += lines_before,
                CsvError::OverLimit {
                    record: Some(record),
                    line,
                    ..
                } => {
                    *record += records_before;
                    *line += lines_before;
                }
                _ => {}
            }
            return Err(fatal);
        }
        counts.records += parsed.records;
        counts.rejected += parsed.rejected;
        for (total, n) in counts.accepted.iter_mut().zip(parsed.accepted) {
            *total += n;
        }
        for start in parsed.starts {
            self.plan.record(start, true);
        }
        if !parsed.all_valid {
            self.plan.record(0, false);
        }
        self.expected = parsed.end;
        self.line += parsed.newlines;
        self.bare_cr |= parsed.bare_cr;
        Ok(())
    }

    /// Merges segment `k`: its result when its guess was right, else those of its records
    /// parsed again from where they start.
    fn merge(
        &mut self,
        cx: &Context<'_>,
        k: usize,
        done: Done,
        parser: &mut Parser,
    ) -> Result<(), CsvError> {
        let before = cx.bounds[k + 1];
        // A read that failed, whatever the guess: the source cannot be read as it was opened.
        let outcome = done.outcome?;
        if self.expected >= before {
            // A record of an earlier segment runs over the whole of this one.
            return Ok(());
        }
        if done.guess == Some(self.expected) {
            return self.add(outcome);
        }
        let first = cx
            .whole
            .range(self.expected, before)
            .map_err(|error| CsvError::io(cx.name.to_owned(), error))?;
        let parsed = parse_segment(cx, first, self.expected, before, parser)?;
        self.add(parsed)
    }
}

/// [`super::validate_and_plan`] of a source that can be read at any offset.
pub(crate) fn validate_whole(
    source: &dyn CsvSource,
    whole: Whole,
    opts: &ValidationOptions,
    records_per_call: usize,
    segment: u64,
) -> Result<(ValidationReport, Option<ChunkPlan>), CsvError> {
    let name = source.name();
    // The header, read as any stream is (encoding, byte-order mark, column mapping), from the
    // same bytes as the segments: a file renamed over the path meanwhile is not read.
    let ignore: super::hashing::HashSink = Box::new(|_, _| {});
    let header_input = match &whole {
        Whole::Memory(_) => HashingReader::handing_off(source, ignore)
            .map_err(|error| CsvError::io(name.clone(), error))?,
        Whole::File(file, _) => HashingReader::handing_off_stream(
            Box::new(StreamAt {
                source: file.clone(),
                offset: 0,
            }),
            ignore,
        ),
    };
    let mut header = CsvStream::over(name.clone(), header_input, opts)?;
    let data_start = header.next_start()?.unwrap_or(header.offset());
    let len = whole.len();
    let mut bounds: Vec<u64> = (0..)
        .map(|k| data_start.saturating_add(k * segment.max(1)))
        .take_while(|&b| b < len)
        .collect();
    bounds.push(len.max(data_start));
    let cx = Context {
        name: &name,
        checker: &header.checker,
        max_errors: opts.max_errors,
        limits: opts.limits,
        whole: &whole,
        bounds,
    };
    let n = cx.bounds.len() - 1;
    let header_bytes = whole
        .range(0, data_start)
        .map_err(|error| CsvError::io(name.clone(), error))?;
    let shared = Shared {
        state: Mutex::new(State {
            pieces: BTreeMap::from([(0, header_bytes)]),
            hasher: Some(Sha256::new()),
            ..State::default()
        }),
        changed: Condvar::new(),
    };
    let mut tally = Tally {
        max_errors: opts.max_errors,
        counts: Counts::default(),
        plan: PlanBuilder::new(records_per_call, header.header.start()),
        expected: data_start,
        line: header.line(),
        bare_cr: header.saw_bare_cr(),
    };
    let mut failure = None;
    let helper_ok = std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("hrdata-hash".into())
            .spawn_scoped(scope, || {
                let _gone = Gone(&shared);
                work(&cx, &shared, false, |_, _| true);
            });
        // Also if this thread panics: the helper must not wait for it forever.
        let _stop = Stop(&shared);
        let mut parser = Parser::default();
        work(&cx, &shared, true, |k, done| {
            match tally.merge(&cx, k, done, &mut parser) {
                Ok(()) => true,
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        });
        drop(_stop);
        match helper {
            Ok(helper) => helper.join().is_ok(),
            // No helper: this thread did all the work.
            Err(_) => true,
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let state = shared.lock();
    let sha256 = match (&state.hasher, state.hashed == n + 1 && helper_ok) {
        (Some(hasher), true) => hex::encode(hasher.clone().finalize()),
        _ => {
            return Err(CsvError::Io {
                source_name: name,
                error: io::Error::other("the checking thread stopped unexpectedly"),
            });
        }
    };
    drop(state);

    let warnings = std::mem::take(&mut header.warnings);
    let report = tally.counts.report(&name, opts, warnings, sha256);
    let plan = tally.plan.finish(len, tally.bare_cr);
    Ok((report, plan))
}

#[cfg(test)]
mod tests {
    use super::super::validate::validate_stream;
    use super::*;
    use proptest::prelude::*;

    /// The same bytes as a source that can only be read from the start: validated in one parse
    /// on the streaming path, the reference every segmented result must equal.
    struct StreamOnly(Bytes);

    impl CsvSource for StreamOnly {
        fn open(&self) -> io::Result<Box<dyn Read + Send>> {
            Ok(Box::new(io::Cursor::new(self.0.clone())))
        }
        fn name(&self) -> String {
            "hr.csv".into()
        }
        fn pin(&self) -> io::Result<Arc<dyn CsvSource>> {
            Ok(Arc::new(StreamOnly(self.0.clone())))
        }
    }

    /// Report and plan, or the error's text.
    fn outcome(
        result: Result<(ValidationReport, Option<ChunkPlan>), CsvError>,
    ) -> Result<(ValidationReport, Option<ChunkPlan>), String> {
        result.map_err(|e| e.to_string())
    }

    fn segmented(
        data: &[u8],
        opts: &ValidationOptions,
        segment: u64,
        per_call: usize,
    ) -> Result<(ValidationReport, Option<ChunkPlan>), String> {
        let source = StreamOnly(Bytes::copy_from_slice(data));
        outcome(validate_whole(
            &source,
            Whole::Memory(source.0.clone()),
            opts,
            per_call,
            segment,
        ))
    }

    fn streamed(
        data: &[u8],
        opts: &ValidationOptions,
        per_call: usize,
    ) -> Result<(ValidationReport, Option<ChunkPlan>), String> {
        outcome(validate_stream(
            &StreamOnly(Bytes::copy_from_slice(data)),
            opts,
            per_call,
        ))
    }

    const HEADER: &str = "EmailAddress,TerminationDate,LastWorkingDate\n";
    const GOOD: &str = "sarad@contoso.com,2026-03-01T09:00:00Z,2026-04-01T17:30:00Z";

    fn assert_same(data: &[u8], opts: &ValidationOptions) {
        for per_call in [1, 3] {
            let reference = streamed(data, opts, per_call);
            for segment in [1, 2, 3, 5, 8, 13, 40, 64, 1000] {
                assert_eq!(
                    segmented(data, opts, segment, per_call),
                    reference,
                    "segments of {segment} bytes, {per_call} records per call: {:?}",
                    String::from_utf8_lossy(data)
                );
            }
        }
    }

    #[test]
    fn quoted_line_breaks_across_segments_are_parsed_as_one_parse_would() {
        // A remark with line breaks: a segment starting inside it guesses wrong and is parsed
        // again from the record's real start.
        let data = format!(
            "EmailAddress,TerminationDate,LastWorkingDate,Remarks\n\
             {GOOD},\"first line\nsecond, line\r\nthird\"\n\
             {GOOD},plain\r\n\r\n\n\
             bad-address,2026-03-01T09:00:00Z,2026-04-01,\"x\ny\"\n{GOOD},\n"
        );
        let report = segmented(data.as_bytes(), &ValidationOptions::default(), 7, 1)
            .expect("validates")
            .0;
        assert_eq!((report.records, report.rejected), (4, 1));
        // The bad record starts on line 8: after the header, three lines of the first record,
        // the second record and two blank lines.
        assert_eq!(
            report.errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            [8, 8]
        );
        assert_same(data.as_bytes(), &ValidationOptions::default());
    }

    #[test]
    fn line_breaks_of_every_kind_at_every_boundary() {
        for breaks in ["\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\n\r"] {
            let data = format!("{HEADER}{GOOD}{breaks}{GOOD}{breaks}x,y,z{breaks}{GOOD}{breaks}");
            assert_same(data.as_bytes(), &ValidationOptions::default());
        }
    }

    #[test]
    fn bad_utf8_names_its_line_whichever_segment_holds_it() {
        let mut data = format!("{HEADER}{GOOD}\n{GOOD}\n").into_bytes();
        data.extend_from_slice(b"jos\xe9@contoso.com,2026-03-01T09:00:00Z,2026-04-01T17:30:00Z\n");
        data.extend_from_slice(format!("{GOOD}\n").as_bytes());
        let error = segmented(&data, &ValidationOptions::default(), 16, 1).expect_err("not UTF-8");
        assert!(error.contains("line 4"), "{error}");
        assert_same(&data, &ValidationOptions::default());
    }

    #[test]
    fn a_file_is_read_by_segments_with_the_same_result() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hr.csv");
        let mut data = String::from(HEADER);
        for i in 0..2000 {
            data.push_str(&format!(
                "e{i}@contoso.com,2026-03-01T09:00:00Z,{}\n",
                if i % 700 == 0 {
                    "soon"
                } else {
                    "2026-04-01T17:30:00Z"
                }
            ));
        }
        std::fs::write(&path, &data).unwrap();
        let file = crate::source::FileSource::new(&path);
        let whole = Whole::of(&file).expect("a file is read by range").unwrap();
        let opts = ValidationOptions::default();
        assert_eq!(
            outcome(validate_whole(&file, whole, &opts, 10, 1000)),
            streamed(data.as_bytes(), &opts, 10)
        );
    }

    /// A file that is shorter than it was when opened.
    struct Shrunk(Vec<u8>);

    impl ReadAt for Shrunk {
        fn size(&self) -> u64 {
            self.0.len() as u64 + 100
        }
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            let rest = self.0.get(offset as usize..).unwrap_or_default();
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            Ok(n)
        }
    }

    #[test]
    fn a_file_that_shrinks_while_being_read_is_an_io_error() {
        let data = format!("{HEADER}{GOOD}\n{GOOD}\n").into_bytes();
        let source = StreamOnly(Bytes::from(data.clone()));
        let whole = Whole::File(Arc::new(Shrunk(data)), Pool::default());
        let error = validate_whole(&source, whole, &ValidationOptions::default(), 1, 32)
            .expect_err("shrunk");
        assert!(error.is_io(), "{error}");
        assert!(
            error.to_string().contains("changed while being read"),
            "{error}"
        );
    }

    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(GOOD.as_bytes().to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b",".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\"a\nb,\"\"c\"".to_vec()),
            Just("jos\u{e9}@contoso.com".as_bytes().to_vec()),
            Just(b"\xe9".to_vec()),
            Just(b"2026-04-01T17:30:00Z".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..4),
        ]
    }

    /// The default limits, or small ones that the pieces above break now and then (the header
    /// has 3 fields of at most 15 bytes, so that it passes).
    fn limits() -> impl Strategy<Value = Limits> {
        prop_oneof![
            Just(Limits::default()),
            (15usize..40, 3usize..6).prop_map(|(max_field_bytes, max_columns)| Limits {
                max_field_bytes,
                max_columns,
            }),
        ]
    }

    #[test]
    fn a_record_over_the_limits_is_named_whichever_segment_holds_it() {
        let mut data = format!("{HEADER}{GOOD}\n\n{GOOD}\n").into_bytes();
        data.extend_from_slice(format!("{GOOD},\"{}\"\n{GOOD}\n", "x\n".repeat(50)).as_bytes());
        let limits = Limits {
            max_field_bytes: 64,
            max_columns: 4,
        };
        let opts = ValidationOptions {
            limits,
            ..ValidationOptions::default()
        };
        for segment in [7, 64, 1000] {
            let error = segmented(&data, &opts, segment, 1).expect_err("over the limit");
            assert!(
                error.starts_with(
                    "hr.csv: record 3 (line 5), column 4: the field is longer than \
                                   the limit of 64 bytes"
                ),
                "{error}"
            );
        }
        assert_same(&data, &opts);
        let opts = ValidationOptions {
            limits: Limits {
                max_columns: 3,
                ..limits
            },
            ..ValidationOptions::default()
        };
        let error = segmented(&data, &opts, 16, 1).expect_err("too many columns");
        assert!(
            error.starts_with("hr.csv: record 3 (line 5) has more than the limit of 3 columns"),
            "{error}"
        );
        assert_same(&data, &opts);
    }

    proptest! {
        /// Whatever the bytes and wherever the segments begin, validation in segments gives
        /// exactly the report, plan or error of one parse from the first byte.
        #[test]
        fn segments_agree_with_one_parse(
            body in proptest::collection::vec(piece(), 0..40),
            segment in 1u64..48,
            per_call in 1usize..4,
            limits in limits(),
        ) {
            let mut data = HEADER.as_bytes().to_vec();
            data.extend(body.concat());
            let opts = ValidationOptions { limits, ..ValidationOptions::default() };
            prop_assert_eq!(
                segmented(&data, &opts, segment, per_call),
                streamed(&data, &opts, per_call)
            );
        }
    }
}
