//! Validating a file while it is written (the conversion stage's output): every record is
//! checked from the fields the writer put out, and the chunk plan noted, so that the written
//! file is not parsed a second time. The result is kept with the file ([`Prevalidated`]) and
//! given by [`super::validate_and_plan`] for the same options.
//!
//! Why: reading the converted file again cost as much as validating the whole export a second
//! time (BENCHMARKS.md, "Converting HR exports").
//!
//! The result is the one a parse of the written bytes gives: the header goes through the same
//! mapping ([`CsvStream`]), each record through the same [`super::record::RecordChecker`], and
//! the writer hands over each record's fields as a parse of its bytes reads them (unquoted),
//! with the line and offset it starts at. A record over the parser's limits makes the result
//! `None`, so that the file is validated as any other and the limit reported as always.

use std::sync::Arc;

use bytes::Bytes;

use super::hashing::{HashSink, HashingReader};
use super::parse::Record;
use super::plan::{ChunkPlan, PlanBuilder};
use super::record::RecordChecker;
use super::stream::CsvStream;
use super::validate::{Counts, ValidationReport};
use super::warnings::Warnings;
use super::{BytesSource, CsvError, ValidationOptions};

/// A file's validation, done as it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Prevalidated {
    /// The options it was validated with: another validation of the file is done again.
    opts: ValidationOptions,
    records_per_call: usize,
    report: ValidationReport,
    plan: Option<ChunkPlan>,
}

impl Prevalidated {
    /// The report, when the file was validated with `opts`.
    pub(crate) fn report(&self, opts: &ValidationOptions) -> Option<&ValidationReport> {
        (self.opts == *opts).then_some(&self.report)
    }

    /// The report and plan, when the file was validated with `opts` and planned for chunks of
    /// `records_per_call`.
    pub(crate) fn planned(
        &self,
        opts: &ValidationOptions,
        records_per_call: usize,
    ) -> Option<(ValidationReport, Option<ChunkPlan>)> {
        (self.opts == *opts && self.records_per_call == records_per_call.max(1))
            .then(|| (self.report.clone(), self.plan.clone()))
    }
}

/// The records of one piece of a file being written, checked.
pub(crate) struct CheckedPart {
    counts: Counts,
    /// Starts of the records, while every one is valid (for the chunk plan).
    starts: Vec<u64>,
    all_valid: bool,
}

/// What the records are checked with; shared by the threads checking parts.
pub(crate) struct WrittenRules {
    checker: RecordChecker,
    opts: ValidationOptions,
}

impl WrittenRules {
    /// An empty part: the records of one piece of the file, checked apart from the others
    /// (on another thread) and merged in order.
    pub fn part(&self) -> CheckedPart {
        CheckedPart {
            counts: Counts::default(),
            starts: Vec::new(),
            all_valid: true,
        }
    }

    /// Checks one record of `part`: its fields as a parse reads them, its line and offset
    /// counted from the part's start. False when it is over the parser's limits: the result
    /// would not be validation's.
    pub fn check(&self, part: &mut CheckedPart, record: &mut Record) -> bool {
        let limits = self.opts.limits;
        if record.len() > limits.max_columns
            || record.iter().any(|f| f.len() > limits.max_field_bytes)
        {
            return false;
        }
        // The writer's fields are `str`s.
        record.set_known_utf8(true);
        let counts = &mut part.counts;
        counts.records += 1;
        let number = counts.records;
        let checker = &self.checker;
        let max_errors = self.opts.max_errors;
        let (errors, error_count) = (&mut counts.errors, &mut counts.error_count);
        let verdict = checker.check(record, |problem| {
            *error_count += 1;
            if errors.len() < max_errors {
                errors.push(checker.record_error(problem, number, record.line(), true));
            }
        });
        // Known UTF-8 is never refused.
        let Ok(verdict) = verdict else { return false };
        match verdict.scenario {
            Some(scenario) if verdict.valid => counts.accepted[scenario as usize] += 1,
            _ => counts.rejected += 1,
        }
        part.all_valid &= verdict.valid;
        if part.all_valid {
            part.starts.push(record.start());
        }
        true
    }
}

/// Checks the records of a file being written, in parts merged in order.
pub(crate) struct WrittenCheck {
    name: String,
    rules: Arc<WrittenRules>,
    warnings: Warnings,
    opts: ValidationOptions,
    records_per_call: usize,
    counts: Counts,
    plan: PlanBuilder,
}

impl WrittenCheck {
    /// Starts from the header row as written (`header_row`, at the file's first byte); an error
    /// is the one validating the file would end with (a missing column).
    pub fn new(
        name: String,
        header_row: &[u8],
        opts: &ValidationOptions,
        records_per_call: usize,
    ) -> Result<Self, CsvError> {
        let header = BytesSource::new(name.clone(), Bytes::copy_from_slice(header_row));
        let ignore: HashSink = Box::new(|_, _| {});
        let input = HashingReader::handing_off(&header, ignore)
            .map_err(|error| CsvError::io(name.clone(), error))?;
        let stream = CsvStream::over(name, input, opts)?;
        let records_per_call = records_per_call.max(1);
        Ok(WrittenCheck {
            plan: PlanBuilder::new(records_per_call, stream.header.start()),
            name: stream.name,
            rules: Arc::new(WrittenRules {
                checker: stream.checker,
                opts: opts.clone(),
            }),
            warnings: stream.warnings,
            opts: opts.clone(),
            records_per_call,
            counts: Counts::default(),
        })
    }

    /// The rules, for the threads that check parts.
    pub fn rules(&self) -> Arc<WrittenRules> {
        self.rules.clone()
    }

    /// Adds the next part: `lines` lines and `offset` bytes of the file come before it.
    pub fn merge(&mut self, part: CheckedPart, lines: u64, offset: u64) {
        let counts = &mut self.counts;
        let records = counts.records;
        let room = self.opts.max_errors.saturating_sub(counts.errors.len());
        counts
            .errors
            .extend(part.counts.errors.into_iter().take(room).map(|mut e| {
                e.record += records;
                e.line += lines;
                e
            }));
        counts.error_count += part.counts.error_count;
        counts.records += part.counts.records;
        counts.rejected += part.counts.rejected;
        for (total, n) in counts.accepted.iter_mut().zip(part.counts.accepted) {
            *total += n;
        }
        for start in part.starts {
            self.plan.record(start + offset, true);
        }
        if !part.all_valid {
            self.plan.record(0, false);
        }
    }

    /// The result for the whole file: its SHA-256 and length.
    pub fn finish(self, sha256: String, len: u64) -> Prevalidated {
        let report = self
            .counts
            .report(&self.name, &self.opts, self.warnings, sha256);
        Prevalidated {
            plan: self.plan.finish(len, false),
            opts: self.opts,
            records_per_call: self.records_per_call,
            report,
        }
    }
}
