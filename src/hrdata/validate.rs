//! Validating a whole source in one streaming pass.

use serde::Serialize;

use super::parse::Record;
use super::plan::{ChunkPlan, PlanBuilder};
use super::stream::CsvStream;
use super::{CsvError, CsvSource, RecordError, ValidationOptions};

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
    let mut plan = PlanBuilder::new(records_per_call, stream.header.start());
    let mut report = ValidationReport {
        records: 0,
        rejected: 0,
        errors: Vec::new(),
        error_count: 0,
        warnings: std::mem::take(&mut stream.warnings),
        sha256: String::new(),
    };

    let mut record = Record::default();
    while stream.read(&mut record)? {
        report.records += 1;
        let number = report.records;
        let (errors, error_count) = (&mut report.errors, &mut report.error_count);
        let checker = &stream.checker;
        let valid = stream.check(&record, |problem| {
            *error_count += 1;
            if errors.len() < opts.max_errors {
                errors.push(checker.record_error(problem, number, record.line(), true));
            }
        })?;
        if !valid {
            report.rejected += 1;
        }
        plan.record(record.start(), valid);
    }

    if report.records == 0 {
        report
            .warnings
            .push(format!("{} has a header but no data records", stream.name));
    }
    report.sha256 = stream.sha256()?;
    let plan = plan.finish(stream.offset(), stream.saw_bare_cr());
    Ok((report, plan))
}
