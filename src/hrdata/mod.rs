//! The HR CSV: streaming reader, header mapping, per-record checks and record-exact chunking.
//!
//! Nothing here holds a whole file in memory: validation and chunking both stream the source.
//! Errors carry the offending value separately from the message, so that the message can go into
//! Kubernetes status and Events without leaking personal data.

mod chunk;
mod columns;
pub mod datetime;
pub mod email;
mod encoding;
mod error;
mod hashing;
mod parse;
mod plan;
mod record;
mod stream;
mod validate;

pub use crate::source::{BytesSource, CsvSource, FileSource};
pub use chunk::{Chunk, ChunkReader};
pub use error::{CsvError, RecordError};
pub use plan::ChunkPlan;
pub use validate::{ValidationReport, validate, validate_and_plan};

// API CONTRACT (filled in by the hrdata work; other modules code against these names):
//
// pub enum InvalidRows { Reject (default), Skip }
// pub struct ColumnNames { pub email_address: String, pub termination_date: String,
//                          pub last_working_date: String }   // Default = the three defaults
// pub trait CsvSource: Send + Sync { fn open(&self) -> io::Result<Box<dyn Read + Send>>;
//                                    fn name(&self) -> String; }
// pub struct FileSource { pub path: PathBuf }            // impl CsvSource
// pub struct BytesSource { pub name: String, pub data: bytes::Bytes }   // impl CsvSource
// pub struct ValidationOptions { pub columns: ColumnNames, pub invalid_rows: InvalidRows,
//                                pub max_errors: usize /* 100 */ }    // Default
// pub fn validate(source: &dyn CsvSource, opts: &ValidationOptions)
//        -> Result<ValidationReport, CsvError>
// pub struct ValidationReport { pub records: u64, pub rejected: u64,
//        pub errors: Vec<RecordError> /* capped at max_errors */, pub warnings: Vec<String>,
//        pub sha256: String /* hex of the raw bytes */ }
//     fn is_valid(&self) -> bool; fn accepted(&self) -> u64
// pub struct RecordError { pub record: u64, pub line: u64, pub column: Option<String>,
//        pub message: String /* never the value */, pub value: Option<String> }
//     Display: "record 3 (line 4), column LastWorkingDate: not an ISO 8601 date-time"
// pub struct ChunkReader;  ChunkReader::open(source: &dyn CsvSource, opts: &ValidationOptions,
//        records_per_call: usize, skip_accepted: u64) -> Result<Self, CsvError>
//     fn next_chunk(&mut self) -> Result<Option<Chunk>, CsvError>
//     fn sha256(&self) -> Option<String>   // Some once the source is exhausted
// pub struct Chunk { pub index: u64, pub first_record: u64, pub records: usize, pub body: Vec<u8> }
// pub enum CsvError { Io{..}, Encoding{..}, Empty{..}, MissingColumns{..}, InvalidRecord{..}, .. }
//     fn is_io(&self) -> bool    // exit status 2 rather than 1
//
// Added by the hrdata work: ValidationReport::error_count (total problems, >= rejected);
// CsvError::DuplicateColumn{source_name, column, count} and CsvError::Parse{source_name, detail};
// ChunkReader::warnings(); FileSource::new(path), BytesSource::new(name, data);
// `datetime::check` and `email::is_valid` for reuse. Encoding errors are invalid data (exit 1).
// `validate` and `ChunkReader::open` start one short-lived thread that reads and hashes the
// source ahead of the parser (see hashing.rs for why); `validate` checks records on a second.
//
// Added for sending byte ranges (plan.rs): `validate_and_plan(source, opts, records_per_call)
// -> (ValidationReport, Option<ChunkPlan>)`; `ChunkReader::open_planned(source, opts, plan,
// records_per_call, skip_accepted)` copies the planned ranges, or parses when there is no
// usable plan; `CsvError::Changed` when the bytes differ from what validation read;
// `CsvSource::pin()` (one open file for both passes) and `CsvSource::change_check()`.

/// What to do with records that fail validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidRows {
    /// Any invalid record makes the whole file invalid; nothing is sent.
    #[default]
    Reject,
    /// Invalid records are left out and counted; the rest is sent.
    Skip,
}

/// Header names of the three required columns, as entered in the portal's file mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnNames {
    pub email_address: String,
    pub termination_date: String,
    pub last_working_date: String,
}

impl Default for ColumnNames {
    fn default() -> Self {
        ColumnNames {
            email_address: "EmailAddress".into(),
            termination_date: "TerminationDate".into(),
            last_working_date: "LastWorkingDate".into(),
        }
    }
}

/// How a file is validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationOptions {
    pub columns: ColumnNames,
    pub invalid_rows: InvalidRows,
    /// How many record errors a report keeps; the total is always counted.
    pub max_errors: usize,
}

impl Default for ValidationOptions {
    fn default() -> Self {
        ValidationOptions {
            columns: ColumnNames::default(),
            invalid_rows: InvalidRows::default(),
            max_errors: 100,
        }
    }
}
