//! Errors of the CSV layer.
//!
//! Messages never contain a field value: HR data is personal data, and these messages end up in
//! Kubernetes status and Events. The offending value travels separately in
//! [`RecordError::value`] for the command line's text output only.

use std::fmt;

use serde::Serialize;

/// One problem with one data record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordError {
    /// 1-based record number; the header is not counted.
    pub record: u64,
    /// 1-based physical line where the record starts; the header is line 1.
    pub line: u64,
    /// Header name as written in the file; `None` for field-count errors.
    pub column: Option<String>,
    /// What rule was broken. Never contains the value.
    pub message: String,
    /// The offending value, for the command line's text output only (never serialized).
    #[serde(skip)]
    pub value: Option<String>,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {} (line {})", self.record, self.line)?;
        if let Some(column) = &self.column {
            write!(f, ", column {column}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a CSV source cannot be read, or (while chunking) why it must not be sent.
///
/// Only [`CsvError::Io`] is an I/O failure (exit status 2); every other variant means the data is
/// invalid (exit status 1), including encoding problems: the file was read fine, its bytes are
/// just not UTF-8 CSV.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("cannot read {source_name}: {error}")]
    Io {
        source_name: String,
        #[source]
        error: std::io::Error,
    },
    /// Not UTF-8: one error for the whole file, naming the problem and the fix.
    #[error("{}", encoding_message(.source_name, *.line, .detail))]
    Encoding {
        source_name: String,
        /// Physical line of the first bad byte, when known.
        line: Option<u64>,
        /// What is wrong and how to fix it, e.g. `is UTF-16 encoded; save it as ...`.
        detail: String,
    },
    #[error("{source_name} is empty: expected a header row followed by data records")]
    Empty { source_name: String },
    /// The message counts the header's columns but does not name them: for a source that is not
    /// a CSV (a Secret holding a token, say) the "header" is its first line. Callers that may
    /// show the source's text add the names with [`CsvError::with_header_columns`].
    #[error(
        "{source_name} has no column {}; the header has {} column(s)",
        quoted_list(.missing),
        .header_columns.len()
    )]
    MissingColumns {
        source_name: String,
        missing: Vec<String>,
        /// The header's column names as read: source text, kept out of the message.
        header_columns: Vec<String>,
    },
    /// A required column appears more than once, so it is unclear which one holds the data.
    #[error(
        "{source_name}: column \"{column}\" appears {count} times in the header; it must appear once"
    )]
    DuplicateColumn {
        source_name: String,
        column: String,
        count: usize,
    },
    /// A record failed validation while chunking with [`InvalidRows::Reject`](super::InvalidRows):
    /// the source must have changed since it was validated.
    #[error("{source_name}: {error}")]
    InvalidRecord {
        source_name: String,
        error: RecordError,
    },
    /// The source's bytes differ from what validation read (chunking from a plan).
    #[error("{source_name} changed after it was validated")]
    Changed { source_name: String },
    /// A field longer than, or a header or record with more columns than, the
    /// [`Limits`](super::Limits) allow. The parser stopped there without buffering the rest.
    #[error("{source_name}: {}", over_limit_message(*.record, *.line, *.column, *.limit))]
    OverLimit {
        source_name: String,
        /// 1-based data record; `None` for the header.
        record: Option<u64>,
        /// Physical line where the header or record starts.
        line: u64,
        /// 1-based column of the field over the limit; with too many columns, the first column
        /// past the limit.
        column: usize,
        limit: Limit,
    },
    /// A CSV parser error that is not an I/O error (not expected with a flexible reader).
    #[error("{source_name}: cannot parse CSV: {detail}")]
    Parse { source_name: String, detail: String },
}

impl CsvError {
    /// The message, plus the header's column names for [`CsvError::MissingColumns`]: only for
    /// sources whose text may be shown (a file the user holds, a ConfigMap), never a Secret's.
    pub fn with_header_columns(&self) -> String {
        match self {
            CsvError::MissingColumns { header_columns, .. } => {
                format!("{self}: {}", quoted_list(header_columns))
            }
            other => other.to_string(),
        }
    }

    /// A read of `source_name` failed; a pinned source refusing replaced content is a change,
    /// not an I/O failure.
    pub fn io(source_name: String, error: std::io::Error) -> CsvError {
        if crate::source::is_changed(&error) {
            CsvError::Changed { source_name }
        } else {
            CsvError::Io { source_name, error }
        }
    }

    /// True only for I/O failures (exit status 2); everything else is invalid data (exit 1).
    pub fn is_io(&self) -> bool {
        matches!(self, CsvError::Io { .. })
    }

    /// Converts a `csv` crate error, keeping I/O failures apart from the rest.
    pub(crate) fn from_csv(source_name: &str, error: csv::Error) -> CsvError {
        let detail = error.to_string();
        match error.into_kind() {
            csv::ErrorKind::Io(error) => CsvError::io(source_name.to_owned(), error),
            _ => CsvError::Parse {
                source_name: source_name.to_owned(),
                detail,
            },
        }
    }
}

/// Which of the [`Limits`](super::Limits) a source broke, with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`Limits::max_field_bytes`](super::Limits::max_field_bytes).
    FieldBytes(usize),
    /// [`Limits::max_columns`](super::Limits::max_columns).
    Columns(usize),
}

fn over_limit_message(record: Option<u64>, line: u64, column: usize, limit: Limit) -> String {
    let place = match record {
        Some(record) => format!("record {record} (line {line})"),
        None => format!("the header (line {line})"),
    };
    // How to raise it, on the command line and in a job (where the operator sets a ceiling).
    match limit {
        Limit::FieldBytes(max) => format!(
            "{place}, column {column}: the field is longer than the limit of {max} bytes; raise \
             it with --max-field-bytes (spec.limits.maxFieldBytes in an HrConnectorJob, up to \
             the operator's --max-field-bytes)"
        ),
        Limit::Columns(max) => format!(
            "{place} has more than the limit of {max} columns (column {column} is one too \
             many); raise it with --max-columns (spec.limits.maxColumns in an HrConnectorJob, \
             up to the operator's --max-columns)"
        ),
    }
}

fn encoding_message(source_name: &str, line: Option<u64>, detail: &str) -> String {
    match line {
        Some(line) => format!("{source_name} line {line} {detail}"),
        None => format!("{source_name} {detail}"),
    }
}

fn quoted_list(names: &[String]) -> String {
    if names.is_empty() {
        return "no columns".to_owned();
    }
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_no_value() {
        let e = RecordError {
            record: 3,
            line: 4,
            column: Some("LastWorkingDate".into()),
            message: "not an ISO 8601 date-time".into(),
            value: Some("secret-value".into()),
        };
        assert_eq!(
            e.to_string(),
            "record 3 (line 4), column LastWorkingDate: not an ISO 8601 date-time"
        );
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"record": 3, "line": 4, "column": "LastWorkingDate",
                               "message": "not an ISO 8601 date-time"})
        );
    }

    #[test]
    fn over_limit_names_the_limit_the_place_and_the_flag() {
        let e = CsvError::OverLimit {
            source_name: "hr.csv".into(),
            record: None,
            line: 1,
            column: 2,
            limit: Limit::FieldBytes(1_048_576),
        };
        assert_eq!(
            e.to_string(),
            "hr.csv: the header (line 1), column 2: the field is longer than the limit of \
             1048576 bytes; raise it with --max-field-bytes (spec.limits.maxFieldBytes in an \
             HrConnectorJob, up to the operator's --max-field-bytes)"
        );
        assert!(!e.is_io());
        let e = CsvError::OverLimit {
            source_name: "hr.csv".into(),
            record: Some(3),
            line: 5,
            column: 1001,
            limit: Limit::Columns(1000),
        };
        let text = e.to_string();
        assert!(
            text.starts_with("hr.csv: record 3 (line 5) has more than the limit of 1000 columns"),
            "{text}"
        );
        assert!(text.contains("--max-columns"), "{text}");
        assert!(text.contains("spec.limits.maxColumns"), "{text}");
    }

    #[test]
    fn encoding_display() {
        let e = CsvError::Encoding {
            source_name: "data.csv".into(),
            line: Some(5),
            detail: "is not valid UTF-8".into(),
        };
        assert_eq!(e.to_string(), "data.csv line 5 is not valid UTF-8");
        assert!(!e.is_io());
    }
}
