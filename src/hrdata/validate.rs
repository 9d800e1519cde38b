//! Validating a whole source in one streaming pass.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};

use serde::Serialize;

use super::schema::Scenario;

use super::hashing::HashingReader;
use super::parse::Record;
use super::plan::{ChunkPlan, PlanBuilder};
use super::segmented::{SEGMENT, Whole, validate_whole};
use super::share::{Batch, CheckContext, Checked, Helper, check_batch};
use super::stream::CsvStream;
use super::warnings::Warnings;
use super::{CsvError, CsvSource, RecordError, ScenarioChoice, ValidationOptions};

/// The outcome of [`validate`] for a source that could be read as CSV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationReport {
    /// Data records (the header is not counted).
    pub records: u64,
    /// Records that broke at least one rule.
    pub rejected: u64,
    /// The first `max_errors` problems; a record can have several.
    pub errors: Vec<RecordError>,
    /// Total number of problems found, including those not kept in `errors`.
    pub error_count: u64,
    /// Things that do not make the file invalid but are likely mistakes: the first
    /// `max_warnings`.
    pub warnings: Vec<String>,
    /// Total number of warnings, including those not kept in `warnings`.
    pub warning_count: u64,
    /// Lowercase hex SHA-256 of the raw source bytes, byte-order mark included.
    pub sha256: String,
    /// Accepted records (those sent, or that would be) per scenario: the file's one scenario
    /// always, and with several scenarios each one that has records.
    pub scenarios: BTreeMap<Scenario, u64>,
}

impl ValidationReport {
    /// True if no record was rejected.
    pub fn is_valid(&self) -> bool {
        self.rejected == 0
    }

    /// Records that pass validation (what would be sent with `InvalidRows::Skip`).
    pub fn accepted(&self) -> u64 {
        self.records - self.rejected
    }
}

/// What a validation counted, merged in record order.
#[derive(Default)]
pub(crate) struct Counts {
    pub records: u64,
    pub rejected: u64,
    /// The first `max_errors` problems.
    pub errors: Vec<RecordError>,
    pub error_count: u64,
    /// Valid records per scenario, in [`Scenario::ALL`] order.
    pub accepted: [u64; Scenario::ALL.len()],
}

impl Counts {
    /// The report of the source named `name`, with the header's `warnings`.
    pub fn report(
        self,
        name: &str,
        opts: &ValidationOptions,
        mut warnings: Warnings,
        sha256: String,
    ) -> ValidationReport {
        if self.records == 0 {
            warnings.push_with(|| format!("{name} has a header but no data records"));
        }
        ValidationReport {
            records: self.records,
            rejected: self.rejected,
            errors: self.errors,
            error_count: self.error_count,
            warnings: warnings.list,
            warning_count: warnings.count,
            sha256,
            scenarios: Scenario::ALL
                .into_iter()
                .zip(self.accepted)
                .filter(|(s, n)| *n > 0 || opts.scenario == ScenarioChoice::One(*s))
                .collect(),
        }
    }
}

/// Reads the whole source once, checking every record, and hashes its bytes on the way.
///
/// Returns `Err` for problems with the file as a whole (I/O, encoding, missing columns); problems
/// with single records are counted in the report. The report is the same for both
/// [`InvalidRows`](super::InvalidRows) policies; the caller decides what `rejected > 0` means.
pub fn validate(
    source: &dyn CsvSource,
    opts: &ValidationOptions,
) -> Result<ValidationReport, CsvError> {
    if let Some(done) = source.prevalidated()
        && let Some(report) = done.report(opts)
    {
        return Ok(report.clone());
    }
    validate_and_plan(source, opts, 1).map(|(report, _)| report)
}

/// [`validate`], also noting where each chunk of `records_per_call` records starts, so that
/// [`ChunkReader::open_planned`](super::ChunkReader::open_planned) can send byte ranges. The
/// plan is `None` when the chunks cannot be byte ranges (see plan.rs).
pub fn validate_and_plan(
    source: &dyn CsvSource,
    opts: &ValidationOptions,
    records_per_call: usize,
) -> Result<(ValidationReport, Option<ChunkPlan>), CsvError> {
    // Validated as it was written (written.rs), with these options.
    if let Some(done) = source.prevalidated()
        && let Some(planned) = done.planned(opts, records_per_call)
    {
        return Ok(planned);
    }
    match Whole::of(source) {
        Some(whole) => {
            let whole = whole.map_err(|error| CsvError::io(source.name(), error))?;
            validate_whole(source, whole, opts, records_per_call, SEGMENT)
        }
        None => validate_stream(source, opts, records_per_call),
    }
}

/// [`validate_and_plan`] of a source that can only be read from the start (an object in a
/// store): this thread reads and parses, a helper hashes and checks (share.rs).
pub(crate) fn validate_stream(
    source: &dyn CsvSource,
    opts: &ValidationOptions,
    records_per_call: usize,
) -> Result<(ValidationReport, Option<ChunkPlan>), CsvError> {
    let name = source.name();
    let io_error = |error| CsvError::io(name.clone(), error);
    let (checked_tx, checked_rx) = channel();
    let helper = Helper::start(checked_tx).map_err(io_error)?;
    let queue = helper.queue.clone();
    let input =
        HashingReader::handing_off(source, Box::new(move |block, read| queue.hash(block, read)))
            .map_err(io_error)?;
    let mut stream = CsvStream::over(name, input, opts)?;
    let context = Arc::new(CheckContext {
        name: stream.name.clone(),
        checker: stream.checker.clone(),
        max_errors: opts.max_errors,
    });
    let mut tally = Tally {
        max_errors: opts.max_errors,
        counts: Counts::default(),
        plan: PlanBuilder::new(records_per_call, stream.header.start()),
        next: 0,
        waiting: BTreeMap::new(),
        spare: Vec::new(),
    };

    let (mut seq, mut parsed) = (0u64, 0u64);
    let mut more = true;
    // A parsing error (I/O, or a record over the limits) is returned after the records read
    // before it are checked and merged: an encoding error they hold concerns an earlier record,
    // and validation in segments reports that one too.
    let mut parse_error = None;
    while more {
        // Checked batches come back with their records' buffers, ready for reuse.
        let mut records = tally.spare.pop().unwrap_or_default();
        let mut n = 0;
        while n < BATCH {
            if n == records.len() {
                records.push(Record::default());
            }
            match stream.read(&mut records[n]) {
                Ok(true) => n += 1,
                Ok(false) => {
                    more = false;
                    break;
                }
                Err(e) => {
                    parse_error = Some(e);
                    more = false;
                    break;
                }
            }
        }
        if n == 0 {
            break;
        }
        let batch = Batch {
            seq,
            first_number: parsed + 1,
            records,
            len: n,
            context: context.clone(),
        };
        seq += 1;
        parsed += n as u64;
        if let Err(batch) = helper.queue.offer(batch) {
            tally.merge(check_batch(batch))?;
        }
        while let Ok(checked) = checked_rx.try_recv() {
            tally.merge(checked)?;
        }
        // However the two threads' speeds vary, memory stays bounded (and the same for 10 MiB
        // as for 1 GiB): parsing waits while too many batches are checked ahead of the helper's.
        while tally.waiting.len() >= MAX_WAITING {
            tally.merge(receive(&checked_rx, &stream.name)?)?;
        }
    }
    helper.queue.close();
    while tally.next < seq {
        tally.merge(receive(&checked_rx, &stream.name)?)?;
    }
    if let Some(e) = parse_error {
        return Err(e);
    }
    let sha256 = helper.finish().ok_or_else(|| CsvError::Io {
        source_name: stream.name.clone(),
        error: std::io::Error::other("the content hash is not available"),
    })?;

    let warnings = std::mem::take(&mut stream.warnings);
    let report = tally.counts.report(&stream.name, opts, warnings, sha256);
    let plan = tally.plan.finish(stream.offset(), stream.saw_bare_cr());
    Ok((report, plan))
}

/// Records per batch checked at a time.
const BATCH: usize = 1024;
/// Checked batches waiting for an earlier one before parsing waits.
const MAX_WAITING: usize = 4;

/// The next batch the helper checked.
fn receive(checked: &Receiver<Checked>, name: &str) -> Result<Checked, CsvError> {
    checked.recv().map_err(|_| CsvError::Io {
        source_name: name.to_owned(),
        error: std::io::Error::other("the checking thread stopped unexpectedly"),
    })
}

/// The checked batches, merged in order.
struct Tally {
    max_errors: usize,
    counts: Counts,
    plan: PlanBuilder,
    /// The next batch to merge, and those checked ahead of it.
    next: u64,
    waiting: BTreeMap<u64, Checked>,
    /// Record buffers of merged batches.
    spare: Vec<Vec<Record>>,
}

impl Tally {
    /// Merges `checked` and every batch waiting for it; an encoding error ends validation.
    fn merge(&mut self, checked: Checked) -> Result<(), CsvError> {
        self.waiting.insert(checked.seq, checked);
        while let Some(checked) = self.waiting.remove(&self.next) {
            self.next += 1;
            self.add(checked)?;
        }
        Ok(())
    }

    fn add(&mut self, checked: Checked) -> Result<(), CsvError> {
        let counts = &mut self.counts;
        let room = self.max_errors.saturating_sub(counts.errors.len());
        counts.errors.extend(checked.errors.into_iter().take(room));
        counts.error_count += checked.error_count;
        for (verdict, record) in checked.verdicts.iter().zip(&checked.records) {
            counts.records += 1;
            match verdict.scenario {
                Some(scenario) if verdict.valid => counts.accepted[scenario as usize] += 1,
                _ => counts.rejected += 1,
            }
            self.plan.record(record.start(), verdict.valid);
        }
        if let Some(fatal) = checked.fatal {
            return Err(fatal);
        }
        self.spare.push(checked.records);
        Ok(())
    }
}
