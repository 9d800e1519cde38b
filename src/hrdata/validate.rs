//! Validating a whole source in one streaming pass.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;

use serde::Serialize;

use super::schema::Scenario;

use super::parse::Record;
use super::plan::{ChunkPlan, PlanBuilder};
use super::record::RecordChecker;
use super::stream::{CsvStream, encoding_error};
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
    /// Things that do not make the file invalid but are likely mistakes.
    pub warnings: Vec<String>,
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

/// Reads the whole source once, checking every record, and hashes its bytes on the way.
///
/// Returns `Err` for problems with the file as a whole (I/O, encoding, missing columns); problems
/// with single records are counted in the report. The report is the same for both
/// [`InvalidRows`](super::InvalidRows) policies; the caller decides what `rejected > 0` means.
pub fn validate(
    source: &dyn CsvSource,
    opts: &ValidationOptions,
) -> Result<ValidationReport, CsvError> {
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
    let mut stream = CsvStream::open(source, opts)?;
    let plan = PlanBuilder::new(records_per_call, stream.header.start());
    let tally = Tally {
        name: stream.name.clone(),
        checker: stream.checker.clone(),
        max_errors: opts.max_errors,
        records: 0,
        rejected: 0,
        errors: Vec::new(),
        error_count: 0,
        accepted: [0; Scenario::ALL.len()],
        plan,
    };

    // Parsing (here) and checking (on a second thread) overlap, batch by batch; the source is
    // read and hashed on a third (hashing.rs). Memory: a few batches of reused records.
    let (full_tx, full_rx) = sync_channel::<Vec<Record>>(BATCHES_AHEAD);
    let (empty_tx, empty_rx) = sync_channel::<Vec<Record>>(BATCHES_AHEAD + 1);
    let checking = thread::Builder::new()
        .name("hrdata-check".into())
        .spawn(move || tally.check_batches(full_rx, empty_tx))
        .map_err(|error| CsvError::Io {
            source_name: stream.name.clone(),
            error,
        })?;
    let parsed = parse_batches(&mut stream, full_tx, empty_rx);
    let checked = checking.join().map_err(|_| CsvError::Io {
        source_name: stream.name.clone(),
        error: std::io::Error::other("the checking thread stopped unexpectedly"),
    })?;
    // The checker's error concerns an earlier record than a parsing error could.
    let tally = checked?;
    parsed?;

    let mut report = ValidationReport {
        records: tally.records,
        rejected: tally.rejected,
        errors: tally.errors,
        error_count: tally.error_count,
        warnings: std::mem::take(&mut stream.warnings),
        sha256: String::new(),
        scenarios: Scenario::ALL
            .into_iter()
            .zip(tally.accepted)
            .filter(|(s, n)| *n > 0 || opts.scenario == ScenarioChoice::One(*s))
            .collect(),
    };
    if report.records == 0 {
        report
            .warnings
            .push(format!("{} has a header but no data records", stream.name));
    }
    report.sha256 = stream.sha256()?;
    let plan = tally.plan.finish(stream.offset(), stream.saw_bare_cr());
    Ok((report, plan))
}

/// Records per batch handed from the parser to the checker.
const BATCH: usize = 1024;
/// Batches parsed ahead of the checker.
const BATCHES_AHEAD: usize = 2;

/// Reads every record into batches for the checker; stops early if the checker has stopped.
fn parse_batches(
    stream: &mut CsvStream,
    full: SyncSender<Vec<Record>>,
    empty: Receiver<Vec<Record>>,
) -> Result<(), CsvError> {
    loop {
        // Checked batches come back with their records' buffers, ready for reuse.
        let mut batch = empty.try_recv().unwrap_or_default();
        let mut n = 0;
        let mut more = true;
        while n < BATCH {
            if n == batch.len() {
                batch.push(Record::default());
            }
            if !stream.read(&mut batch[n])? {
                more = false;
                break;
            }
            n += 1;
        }
        batch.truncate(n);
        if (n > 0 && full.send(batch).is_err()) || !more {
            return Ok(());
        }
    }
}

/// What the checking thread accumulates.
struct Tally {
    name: String,
    checker: RecordChecker,
    max_errors: usize,
    records: u64,
    rejected: u64,
    errors: Vec<RecordError>,
    error_count: u64,
    /// Valid records per scenario, in [`Scenario::ALL`] order.
    accepted: [u64; Scenario::ALL.len()],
    plan: PlanBuilder,
}

impl Tally {
    fn check_batches(
        mut self,
        full: Receiver<Vec<Record>>,
        empty: SyncSender<Vec<Record>>,
    ) -> Result<Self, CsvError> {
        for batch in full {
            for record in &batch {
                self.check(record)?;
            }
            // If enough batches are waiting already, this one is simply dropped.
            let _ = empty.try_send(batch);
        }
        Ok(self)
    }

    fn check(&mut self, record: &Record) -> Result<(), CsvError> {
        self.records += 1;
        let number = self.records;
        let (errors, error_count) = (&mut self.errors, &mut self.error_count);
        let (checker, max_errors) = (&self.checker, self.max_errors);
        let verdict = checker
            .check(record, |problem| {
                *error_count += 1;
                if errors.len() < max_errors {
                    errors.push(checker.record_error(problem, number, record.line(), true));
                }
            })
            .map_err(|e| encoding_error(&self.name, record.line(), e))?;
        match verdict.scenario {
            Some(scenario) if verdict.valid => self.accepted[scenario as usize] += 1,
            _ => self.rejected += 1,
        }
        self.plan.record(record.start(), verdict.valid);
        Ok(())
    }
}
