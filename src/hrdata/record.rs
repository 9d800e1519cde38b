//! Checks of one data record, shared by validation and chunking so that both always agree on
//! which records are valid.
//!
//! Works on the raw bytes of a reused [`Record`]: no allocation unless a problem has to be
//! reported with its value.

use super::columns::ColumnMap;
use super::parse::Record;
use super::{RecordError, datetime, email};

/// One rule broken by one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem<'r> {
    FieldCount {
        found: usize,
    },
    Empty {
        column: usize,
    },
    Email {
        column: usize,
        value: &'r str,
    },
    Date {
        column: usize,
        value: &'r str,
        error: datetime::DateTimeError,
    },
}

/// The record's bytes are not UTF-8; `newlines_before` counts line breaks inside the record
/// before the first bad byte, so the caller can name the physical line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotUtf8 {
    pub newlines_before: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Email,
    DateTime,
}

#[derive(Debug, Clone)]
pub(crate) struct RecordChecker {
    field_count: usize,
    /// Position, header name as in the file, and rule of each required column.
    required: [(usize, String, Rule); 3],
}

impl RecordChecker {
    pub fn new(header: &[&str], map: ColumnMap) -> Self {
        let name = |i: usize| header.get(i).map(|s| s.to_string()).unwrap_or_default();
        RecordChecker {
            field_count: header.len(),
            required: [
                (map.email_address, name(map.email_address), Rule::Email),
                (
                    map.termination_date,
                    name(map.termination_date),
                    Rule::DateTime,
                ),
                (
                    map.last_working_date,
                    name(map.last_working_date),
                    Rule::DateTime,
                ),
            ],
        }
    }

    /// Checks a record, calling `report` for every broken rule. Returns whether the record is
    /// valid, or [`NotUtf8`] (fatal for the whole file).
    pub fn check<'r>(
        &self,
        record: &'r Record,
        mut report: impl FnMut(Problem<'r>),
    ) -> Result<bool, NotUtf8> {
        let text = utf8(record)?;
        if record.len() != self.field_count {
            report(Problem::FieldCount {
                found: record.len(),
            });
            return Ok(false);
        }
        let mut valid = true;
        for (column, (index, _, rule)) in self.required.iter().enumerate() {
            let range = record.range(*index).unwrap_or(0..0);
            // `utf8` checked that every field starts on a character boundary, so this is `Some`.
            let value = text.get(range).ok_or(NotUtf8 { newlines_before: 0 })?;
            if value.is_empty() {
                report(Problem::Empty { column });
                valid = false;
                continue;
            }
            match rule {
                Rule::Email if !email::is_valid(value) => {
                    report(Problem::Email { column, value });
                    valid = false;
                }
                Rule::DateTime => {
                    if let Err(error) = datetime::check(value.as_bytes()) {
                        report(Problem::Date {
                            column,
                            value,
                            error,
                        });
                        valid = false;
                    }
                }
                Rule::Email => {}
            }
        }
        Ok(valid)
    }

    /// Turns a problem into a [`RecordError`]; `with_value` keeps the offending value (for the
    /// command line's text output only).
    pub fn record_error(
        &self,
        problem: Problem<'_>,
        record: u64,
        line: u64,
        with_value: bool,
    ) -> RecordError {
        let column_name = |c: usize| self.required.get(c).map(|(_, name, _)| name.clone());
        let (column, message, value) = match problem {
            Problem::FieldCount { found } => (
                None,
                format!(
                    "has {found} field{}, header has {}",
                    if found == 1 { "" } else { "s" },
                    self.field_count
                ),
                None,
            ),
            Problem::Empty { column } => (column_name(column), "is empty".to_owned(), None),
            Problem::Email { column, value } => (
                column_name(column),
                "not a valid email address".to_owned(),
                Some(value),
            ),
            Problem::Date {
                column,
                value,
                error,
            } => (column_name(column), error.message().to_owned(), Some(value)),
        };
        RecordError {
            record,
            line,
            column,
            message,
            value: if with_value {
                value.map(str::to_owned)
            } else {
                None
            },
        }
    }
}

/// The record as one string, if all its bytes are UTF-8 and every field starts on a character
/// boundary. (The fields are stored back to back, so a character split by a delimiter in the
/// file would otherwise look valid.)
fn utf8(record: &Record) -> Result<&str, NotUtf8> {
    let bytes = record.as_slice();
    let newlines = |end: usize| {
        bytes
            .get(..end)
            .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count() as u64)
    };
    let text = std::str::from_utf8(bytes).map_err(|e| NotUtf8 {
        newlines_before: newlines(e.valid_up_to()),
    })?;
    for i in 0..record.len() {
        if let Some(range) = record.range(i)
            && !text.is_char_boundary(range.start)
        {
            return Err(NotUtf8 {
                newlines_before: newlines(range.start),
            });
        }
    }
    Ok(text)
}

/// Checks that every field of the header is UTF-8 and returns the fields as strings.
pub(crate) fn header_fields(record: &Record) -> Result<Vec<&str>, NotUtf8> {
    let text = utf8(record)?;
    (0..record.len())
        .map(|i| {
            let range = record.range(i).unwrap_or(0..0);
            text.get(range).ok_or(NotUtf8 { newlines_before: 0 })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker() -> RecordChecker {
        RecordChecker::new(
            &["EmailAddress", "TerminationDate", "LastWorkingDate"],
            ColumnMap {
                email_address: 0,
                termination_date: 1,
                last_working_date: 2,
            },
        )
    }

    #[test]
    fn split_character_is_not_utf8() {
        // "é" is C3 A9; a delimiter between the two bytes makes both fields invalid.
        let rec = Record::from_fields(&[b"a\xC3", b"\xA9b", b"c"], 2);
        assert!(std::str::from_utf8(rec.as_slice()).is_ok());
        assert_eq!(
            checker().check(&rec, |_| {}),
            Err(NotUtf8 { newlines_before: 0 })
        );
    }

    #[test]
    fn newlines_before_bad_byte() {
        let rec = Record::from_fields(&[b"a\nb", b"c\n\xE9", b"d"], 2);
        assert_eq!(
            checker().check(&rec, |_| {}),
            Err(NotUtf8 { newlines_before: 2 })
        );
    }

    #[test]
    fn reports_every_problem() {
        let rec = Record::from_fields(&[b"not-an-email", b"", b"2019-04-29"], 2);
        let mut problems = Vec::new();
        assert_eq!(checker().check(&rec, |p| problems.push(p)), Ok(false));
        assert_eq!(problems.len(), 3);
        let c = checker();
        let errors: Vec<_> = problems
            .into_iter()
            .map(|p| c.record_error(p, 1, 2, true))
            .collect();
        assert_eq!(errors[0].column.as_deref(), Some("EmailAddress"));
        assert_eq!(errors[0].value.as_deref(), Some("not-an-email"));
        assert_eq!(errors[1].message, "is empty");
        assert_eq!(errors[2].value.as_deref(), Some("2019-04-29"));
        assert!(!errors[2].message.contains("2019"));
    }

    #[test]
    fn field_count() {
        let rec = Record::from_fields(&[b"a@b.c", b"x", b"y", b"z"], 2);
        let mut problems = Vec::new();
        assert_eq!(checker().check(&rec, |p| problems.push(p)), Ok(false));
        assert_eq!(problems, [Problem::FieldCount { found: 4 }]);
        let e = checker().record_error(problems[0], 1, 2, true);
        assert_eq!(e.message, "has 4 fields, header has 3");
        assert_eq!(e.column, None);
    }
}
