//! Cutting a source into record-exact chunks for upload.
//!
//! The sample scripts split by text lines, which breaks quoted fields that contain newlines; this
//! splits by CSV records, so every chunk is a complete CSV file: the header row, then whole
//! records. With a [`ChunkPlan`] from validation the chunks are byte ranges of the file (see
//! plan.rs); otherwise the file is parsed again and each chunk re-written with a CSV writer.

use super::parse::Record;
use super::plan::{ChunkPlan, PlannedChunks};
use super::stream::CsvStream;
use super::{CsvError, CsvSource, InvalidRows, ValidationOptions};

/// One upload's worth of records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// 0-based chunk number within the content. When resuming, the first chunk gets
    /// `skip_accepted / records_per_call`, which is its number in a run from the start as long
    /// as `skip_accepted` is a multiple of `records_per_call` (as it is after a checkpoint).
    pub index: u64,
    /// 0-based offset of the chunk's first record among the accepted records.
    pub first_record: u64,
    /// Number of data records in `body`.
    pub records: usize,
    /// CSV text: the header row, then the records.
    pub body: Vec<u8>,
}

/// Streams a source again after validation and yields chunks of accepted records.
///
/// Memory is bounded by one chunk.
pub struct ChunkReader {
    inner: Inner,
}

enum Inner {
    Parsed(Box<ParsedChunks>),
    Planned(Box<PlannedChunks>),
}

impl ChunkReader {
    /// Opens `source` for chunking by parsing it again. `records_per_call` of 0 is treated as 1.
    /// The first `skip_accepted` accepted records are left out (resuming after a checkpoint).
    pub fn open(
        source: &dyn CsvSource,
        opts: &ValidationOptions,
        records_per_call: usize,
        skip_accepted: u64,
    ) -> Result<Self, CsvError> {
        let parsed = ParsedChunks::open(source, opts, records_per_call, skip_accepted)?;
        Ok(ChunkReader {
            inner: Inner::Parsed(Box::new(parsed)),
        })
    }

    /// Like [`ChunkReader::open`], but copies byte ranges when validation produced a `plan` for
    /// these chunks and the resume point is a chunk boundary.
    pub fn open_planned(
        source: &dyn CsvSource,
        opts: &ValidationOptions,
        plan: Option<ChunkPlan>,
        records_per_call: usize,
        skip_accepted: u64,
    ) -> Result<Self, CsvError> {
        let per_call = records_per_call.max(1);
        // A checkpoint sits on a chunk boundary, or at the end when everything was sent.
        match plan.filter(|p| {
            p.records_per_call() == per_call
                && (skip_accepted.is_multiple_of(per_call as u64) || skip_accepted >= p.records())
        }) {
            Some(plan) => {
                let skip_chunks = skip_accepted.div_ceil(per_call as u64) as usize;
                Ok(ChunkReader {
                    inner: Inner::Planned(Box::new(PlannedChunks::open(
                        source,
                        plan,
                        skip_chunks,
                    )?)),
                })
            }
            None => Self::open(source, opts, records_per_call, skip_accepted),
        }
    }

    /// The next chunk, or `None` once every accepted record has been yielded. Never yields an
    /// empty chunk. With [`InvalidRows::Reject`] an invalid record is an error: the source must
    /// have changed since it was validated.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, CsvError> {
        match &mut self.inner {
            Inner::Parsed(p) => p.next_chunk(),
            Inner::Planned(p) => p.next_chunk(),
        }
    }

    /// Hex SHA-256 of the raw source bytes, once the source has been read to the end.
    pub fn sha256(&self) -> Option<String> {
        match &self.inner {
            Inner::Parsed(p) => p.sha256.clone(),
            Inner::Planned(p) => p.sha256(),
        }
    }

    /// Warnings about the header (see [`ValidationReport::warnings`](super::ValidationReport));
    /// a planned reader has none (validation reported them).
    pub fn warnings(&self) -> &[String] {
        match &self.inner {
            Inner::Parsed(p) => &p.stream.warnings.list,
            Inner::Planned(_) => &[],
        }
    }

    /// Whether chunks are copied byte ranges (true) or re-written records.
    pub fn is_planned(&self) -> bool {
        matches!(self.inner, Inner::Planned(_))
    }
}

/// Chunks made by parsing the source again and re-writing accepted records.
struct ParsedChunks {
    stream: CsvStream,
    invalid_rows: InvalidRows,
    records_per_call: usize,
    /// Accepted records still to leave out because an earlier run sent them.
    to_skip: u64,
    /// Data records read so far (valid or not), for error messages.
    records_read: u64,
    /// Accepted records seen so far, including skipped ones.
    accepted: u64,
    next_index: u64,
    record: Record,
    sha256: Option<String>,
}

impl ParsedChunks {
    fn open(
        source: &dyn CsvSource,
        opts: &ValidationOptions,
        records_per_call: usize,
        skip_accepted: u64,
    ) -> Result<Self, CsvError> {
        let records_per_call = records_per_call.max(1);
        Ok(ParsedChunks {
            stream: CsvStream::open(source, opts)?,
            invalid_rows: opts.invalid_rows,
            records_per_call,
            to_skip: skip_accepted,
            records_read: 0,
            accepted: 0,
            next_index: skip_accepted / records_per_call as u64,
            record: Record::default(),
            sha256: None,
        })
    }

    fn next_chunk(&mut self) -> Result<Option<Chunk>, CsvError> {
        if self.sha256.is_some() {
            return Ok(None);
        }
        let mut writer: Option<csv::Writer<Vec<u8>>> = None;
        let mut count = 0usize;

        while count < self.records_per_call {
            if !self.stream.read(&mut self.record)? {
                self.sha256 = Some(self.stream.sha256()?);
                break;
            }
            self.records_read += 1;
            if !self.check_record()? {
                continue;
            }
            self.accepted += 1;
            if self.to_skip > 0 {
                self.to_skip -= 1;
                continue;
            }
            let w = match &mut writer {
                Some(w) => w,
                None => writer.insert(self.start_chunk()?),
            };
            w.write_record(self.record.iter())
                .map_err(|e| CsvError::from_csv(&self.stream.name, e))?;
            count += 1;
        }

        let Some(writer) = writer else {
            return Ok(None);
        };
        let body = writer.into_inner().map_err(|e| CsvError::Io {
            source_name: self.stream.name.clone(),
            error: e.into_error(),
        })?;
        let index = self.next_index;
        self.next_index += 1;
        Ok(Some(Chunk {
            index,
            // Once writing starts no record is skipped, so the chunk holds the last `count`.
            first_record: self.accepted - count as u64,
            records: count,
            body,
        }))
    }

    /// Whether the current record is to be sent; an error for an invalid record in reject mode.
    fn check_record(&self) -> Result<bool, CsvError> {
        let mut first = None;
        let valid = self
            .stream
            .check(&self.record, |problem| {
                if first.is_none() {
                    first = Some(problem);
                }
            })?
            .valid;
        match (valid, self.invalid_rows, first) {
            (true, _, _) => Ok(true),
            (false, InvalidRows::Skip, _) => Ok(false),
            (false, InvalidRows::Reject, problem) => {
                let error = problem.map(|p| {
                    // No value: this error may end up in Kubernetes status and Events.
                    self.stream.checker.record_error(
                        p,
                        self.records_read,
                        self.record.line(),
                        false,
                    )
                });
                Err(CsvError::InvalidRecord {
                    source_name: self.stream.name.clone(),
                    error: error.unwrap_or_else(|| super::RecordError {
                        record: self.records_read,
                        line: self.record.line(),
                        column: None,
                        message: "is invalid".to_owned(),
                        value: None,
                    }),
                })
            }
        }
    }

    fn start_chunk(&self) -> Result<csv::Writer<Vec<u8>>, CsvError> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::with_capacity(64 * 1024));
        w.write_record(self.stream.header.iter())
            .map_err(|e| CsvError::from_csv(&self.stream.name, e))?;
        Ok(w)
    }
}
