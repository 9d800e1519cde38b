//! The HR CSV: streaming reader, header mapping, per-record checks against the scenario schemas
//! (schema.rs) and record-exact chunking.
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
mod options;
mod parse;
mod plan;
mod record;
pub mod schema;
mod segmented;
mod share;
mod stream;
mod utf8_prefix;
mod validate;
mod warnings;
mod written;

pub use crate::source::{BytesSource, CsvSource, FileSource};
pub use chunk::{Chunk, ChunkReader};
pub use error::{CsvError, Limit, RecordError};
pub use plan::ChunkPlan;
// The conversion stage reads exports with the same reader (its delimiter, exact lines, limits).
pub(crate) use parse::{Record, RecordReader};
pub(crate) use segmented::{SEGMENT, SegmentInput, Whole, guess_start};
pub(crate) use stream::read_error;
pub use validate::{ValidationReport, validate, validate_and_plan};
pub use written::Prevalidated;
pub(crate) use written::{CheckedPart, WrittenCheck, WrittenRules};

// API CONTRACT (filled in by the hrdata work; other modules code against these names):
//
// pub enum InvalidRows { Reject (default), Skip }
// pub struct ColumnNames   // header per schema::Field; Default = each field's PascalCase name
// pub trait CsvSource: Send + Sync { fn open(&self) -> io::Result<Box<dyn Read + Send>>;
//                                    fn name(&self) -> String; }
// pub struct FileSource { pub path: PathBuf }            // impl CsvSource
// pub struct BytesSource { pub name: String, pub data: bytes::Bytes }   // impl CsvSource
// pub struct ValidationOptions { pub scenario: ScenarioChoice, pub columns: ColumnNames,
//        pub scenario_column: String, pub scenario_values: ScenarioValues,
//        pub invalid_rows: InvalidRows, pub max_errors: usize /* 100 */ }  // Default: Resignation
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
// `ChunkReader::open` starts one short-lived thread that reads and hashes the source ahead of
// the parser (see hashing.rs for why); `validate` starts one helper: for a file or bytes in
// memory both threads parse and check segments of the source (segmented.rs); for a stream the
// helper hashes what the parser's thread read and checks records when the parser is ahead
// (share.rs).
//
// Added for sending byte ranges (plan.rs): `validate_and_plan(source, opts, records_per_call)
// -> (ValidationReport, Option<ChunkPlan>)`; `ChunkReader::open_planned(source, opts, plan,
// records_per_call, skip_accepted)` copies the planned ranges, or parses when there is no
// usable plan; `CsvError::Changed` when the bytes differ from what validation read;
// `CsvSource::pin()` (one open file for both passes) and `CsvSource::change_check()`.
//
// Added for every HR data type (schema.rs, options.rs): `Scenario`, `Field`, `Rule`, the
// scenario tables; `ValidationOptions::check()` for options that contradict the scenario;
// `ValidationReport::scenarios` (accepted records per scenario).
//
// Added for bounded reads (limits): `ValidationOptions::limits: Limits { max_field_bytes
// (1 MiB), max_columns (1000) }`, checked by the parser before it buffers more;
// `CsvError::OverLimit { source_name, record (None: header), line, column, limit: Limit }`;
// `ValidationOptions::max_warnings` (100) and `ValidationReport::warning_count`.

pub use options::{
    ColumnNames, DEFAULT_MAX_COLUMNS, DEFAULT_MAX_FIELD_BYTES, DEFAULT_SCENARIO_COLUMN,
    InvalidRows, Limits, Named, Names, OptionsError, ScenarioChoice, ScenarioValues,
    ValidationOptions,
};
pub use schema::{Column, Field, Rule, Scenario};
