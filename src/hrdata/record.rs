//! Checks of one data record, shared by validation and chunking so that both always agree on
//! which records are valid.
//!
//! Works on the raw bytes of a reused [`Record`]: no allocation unless a problem has to be
//! reported with its value.

use super::columns::ColumnMap;
use super::parse::Record;
use super::schema::{Rule, Scenario};
use super::{RecordError, ScenarioChoice, ValidationOptions, datetime, email};

/// One rule broken by one record. Column names borrow from the checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem<'r> {
    FieldCount {
        found: usize,
    },
    Empty {
        column: &'r str,
    },
    Email {
        column: &'r str,
        value: &'r str,
    },
    Date {
        column: &'r str,
        value: &'r str,
        error: datetime::DateTimeError,
    },
    TooLong {
        column: &'r str,
        value: &'r str,
        max: usize,
    },
    /// The record's scenario needs a column the (multi-scenario) header lacks.
    MissingColumn {
        column: &'r str,
        scenario: Scenario,
    },
    /// The scenario column's value is empty or not one of the mapped texts.
    Scenario {
        column: &'r str,
        value: &'r str,
        allowed: &'r str,
    },
}

/// The record's bytes are not UTF-8; `newlines_before` counts line breaks inside the record
/// before the first bad byte, so the caller can name the physical line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotUtf8 {
    pub newlines_before: u64,
}

/// The outcome of checking one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub valid: bool,
    /// The record's scenario, when it could be told.
    pub scenario: Option<Scenario>,
}

/// One column to check: where it is, its header name, and its rule.
#[derive(Debug, Clone)]
struct Check {
    /// `None`: not in the header (an optional column, or one a multi-scenario header lacks).
    index: Option<usize>,
    /// The header as in the file, or as configured when the header lacks it.
    name: String,
    rule: Rule,
    required: bool,
}

/// The checks of one scenario's columns.
#[derive(Debug, Clone)]
struct ScenarioChecks {
    scenario: Scenario,
    checks: Vec<Check>,
}

#[derive(Debug, Clone)]
enum Layout {
    One(ScenarioChecks),
    Multiple {
        index: usize,
        name: String,
        /// The scenario column's text of each scenario, and its checks.
        scenarios: Vec<(String, ScenarioChecks)>,
        /// The texts, quoted, for error messages.
        allowed: String,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct RecordChecker {
    field_count: usize,
    layout: Layout,
}

impl RecordChecker {
    pub fn new(header: &[&str], map: &ColumnMap, opts: &ValidationOptions) -> Self {
        let name = |at: Option<usize>, default: &str| {
            at.and_then(|i| header.get(i))
                .map_or_else(|| default.to_owned(), |s| s.to_string())
        };
        let checks_of = |scenario: Scenario| ScenarioChecks {
            scenario,
            checks: scenario
                .columns()
                .iter()
                .map(|c| {
                    let index = map.position(c.field);
                    Check {
                        index,
                        name: name(index, opts.columns.get(c.field)),
                        rule: c.rule,
                        required: c.required,
                    }
                })
                // A single-scenario header has every required column (map_header checked), so
                // a column that is not there is optional and there is nothing to check.
                .filter(|c| c.index.is_some() || opts.scenario == ScenarioChoice::Multiple)
                .collect(),
        };
        let layout = match (opts.scenario, map.scenario_column) {
            (ScenarioChoice::Multiple, Some(index)) => {
                let texts: Vec<_> = Scenario::ALL
                    .iter()
                    .map(|s| opts.scenario_values.get(*s).to_owned())
                    .collect();
                Layout::Multiple {
                    index,
                    name: name(Some(index), &opts.scenario_column),
                    allowed: texts
                        .iter()
                        .map(|t| format!("{t:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    scenarios: texts
                        .into_iter()
                        .zip(Scenario::ALL.map(checks_of))
                        .collect(),
                }
            }
            (ScenarioChoice::One(scenario), _) => Layout::One(checks_of(scenario)),
            // map_header refuses a multi-scenario header without its scenario column.
            (ScenarioChoice::Multiple, None) => Layout::One(checks_of(Scenario::Resignation)),
        };
        RecordChecker {
            field_count: header.len(),
            layout,
        }
    }

    /// Checks a record, calling `report` for every broken rule. Returns whether the record is
    /// valid and its scenario, or [`NotUtf8`] (fatal for the whole file).
    pub fn check<'r>(
        &'r self,
        record: &'r Record,
        mut report: impl FnMut(Problem<'r>),
    ) -> Result<Verdict, NotUtf8> {
        // A record read inside the source's checked UTF-8 prefix needs no check of its own.
        if !record.known_utf8() {
            utf8(record)?;
        }
        if record.len() != self.field_count {
            report(Problem::FieldCount {
                found: record.len(),
            });
            let scenario = match &self.layout {
                Layout::One(checks) => Some(checks.scenario),
                Layout::Multiple { .. } => None,
            };
            return Ok(Verdict {
                valid: false,
                scenario,
            });
        }
        // Fields as bytes: the rules need no `str`, and only a problem's value is shown as text.
        let field = |i: usize| record.get(i).unwrap_or_default();
        // The record is UTF-8 and every field starts on a character boundary (checked above, or
        // with its block), so this is the whole value.
        let text = |value: &'r [u8]| std::str::from_utf8(value).unwrap_or_default();
        let checks = match &self.layout {
            Layout::One(checks) => checks,
            Layout::Multiple {
                index,
                name,
                scenarios,
                allowed,
            } => {
                let value = field(*index);
                match scenarios
                    .iter()
                    .find(|(t, _)| !value.is_empty() && t.as_bytes().eq_ignore_ascii_case(value))
                {
                    Some((_, checks)) => checks,
                    None => {
                        report(Problem::Scenario {
                            column: name,
                            value: text(value),
                            allowed,
                        });
                        return Ok(Verdict {
                            valid: false,
                            scenario: None,
                        });
                    }
                }
            }
        };
        let mut valid = true;
        for check in &checks.checks {
            let Some(index) = check.index else {
                if check.required {
                    report(Problem::MissingColumn {
                        column: &check.name,
                        scenario: checks.scenario,
                    });
                    valid = false;
                }
                continue;
            };
            let value = field(index);
            if value.is_empty() {
                if check.required {
                    report(Problem::Empty {
                        column: &check.name,
                    });
                    valid = false;
                }
                continue;
            }
            let column = check.name.as_str();
            match check.rule {
                Rule::Email => {
                    if !email::is_valid_utf8(value) {
                        report(Problem::Email {
                            column,
                            value: text(value),
                        });
                        valid = false;
                    }
                }
                // A date-time the converter wrote is in the connector's form already.
                Rule::DateTime if record.known_datetime(index) => {}
                Rule::DateTime => {
                    if let Err(error) = datetime::check(value) {
                        report(Problem::Date {
                            column,
                            value: text(value),
                            error,
                        });
                        valid = false;
                    }
                }
                Rule::Text { max_chars } => {
                    // Characters, not bytes: a value of at most `max` bytes is short enough.
                    if let Some(max) = max_chars
                        && value.len() > max
                        && char_count(value) > max
                    {
                        report(Problem::TooLong {
                            column,
                            value: text(value),
                            max,
                        });
                        valid = false;
                    }
                }
            }
        }
        Ok(Verdict {
            valid,
            scenario: Some(checks.scenario),
        })
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
            Problem::Empty { column } => (Some(column), "is empty".to_owned(), None),
            Problem::Email { column, value } => (
                Some(column),
                "not a valid email address".to_owned(),
                Some(value),
            ),
            Problem::Date {
                column,
                value,
                error,
            } => (Some(column), error.message().to_owned(), Some(value)),
            Problem::TooLong { column, value, max } => (
                Some(column),
                format!(
                    "has {} characters, more than the {max} allowed",
                    value.chars().count()
                ),
                Some(value),
            ),
            Problem::MissingColumn { column, scenario } => (
                Some(column),
                format!("is required for a {scenario} record, but the header has no such column"),
                None,
            ),
            Problem::Scenario {
                column,
                value,
                allowed,
            } => (
                Some(column),
                if value.is_empty() {
                    format!("is empty; the scenario must be one of {allowed}")
                } else {
                    format!("is not a known scenario; allowed: {allowed}")
                },
                Some(value).filter(|v| !v.is_empty()),
            ),
        };
        RecordError {
            record,
            line,
            column: column.map(str::to_owned),
            message,
            value: if with_value {
                value.map(str::to_owned)
            } else {
                None
            },
        }
    }
}

/// Characters in UTF-8 `text`: the bytes that are not continuation bytes.
fn char_count(text: &[u8]) -> usize {
    text.iter().filter(|&&b| (b as i8) >= -0x40).count()
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
    // SIMD validation: std's per-record `from_utf8` was an eighth of validation's CPU time. Only
    // an invalid record (which ends the file) pays for std's error position.
    let text = simdutf8::basic::from_utf8(bytes).map_err(|_| NotUtf8 {
        newlines_before: newlines(
            std::str::from_utf8(bytes)
                .err()
                .map_or(0, |e| e.valid_up_to()),
        ),
    })?;
    // In ASCII text every byte is a character boundary.
    if !text.is_ascii() {
        for i in 0..record.len() {
            if let Some(range) = record.range(i)
                && !text.is_char_boundary(range.start)
            {
                return Err(NotUtf8 {
                    newlines_before: newlines(range.start),
                });
            }
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
    use super::super::columns::map_header;
    use super::super::schema::Field;
    use super::*;

    fn checker_for(header: &[&str], opts: &ValidationOptions) -> RecordChecker {
        let (map, _) = map_header("t", header, opts).expect("header maps");
        RecordChecker::new(header, &map, opts)
    }

    fn checker() -> RecordChecker {
        checker_for(
            &["EmailAddress", "TerminationDate", "LastWorkingDate"],
            &ValidationOptions::default(),
        )
    }

    fn valid(c: &RecordChecker, rec: &Record) -> bool {
        c.check(rec, |_| {}).expect("utf-8").valid
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
        let c = checker();
        let mut problems = Vec::new();
        let verdict = c.check(&rec, |p| problems.push(p)).unwrap();
        assert!(!verdict.valid);
        assert_eq!(verdict.scenario, Some(Scenario::Resignation));
        assert_eq!(problems.len(), 3);
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
        let c = checker();
        let mut problems = Vec::new();
        assert!(!c.check(&rec, |p| problems.push(p)).unwrap().valid);
        assert_eq!(problems, [Problem::FieldCount { found: 4 }]);
        let e = c.record_error(problems[0], 1, 2, true);
        assert_eq!(e.message, "has 4 fields, header has 3");
        assert_eq!(e.column, None);
    }

    #[test]
    fn text_length_is_counted_in_characters() {
        let opts = ValidationOptions::for_scenario(Scenario::PerformanceReview);
        let c = checker_for(
            &["EmailAddress", "EffectiveDate", "Remarks", "Rating"],
            &opts,
        );
        let record = |remarks: &str, rating: &str| {
            Record::from_fields(
                &[
                    b"a@b.co",
                    b"2024-01-01T00:00:00Z",
                    remarks.as_bytes(),
                    rating.as_bytes(),
                ],
                2,
            )
        };
        // 200 two-byte characters are 400 bytes, and still 200 characters.
        assert!(valid(&c, &record(&"é".repeat(200), &"€".repeat(25))));
        assert!(valid(&c, &record("", "")), "optional columns may be blank");
        let rec = record(&"é".repeat(201), "");
        let mut problems = Vec::new();
        assert!(!c.check(&rec, |p| problems.push(p)).unwrap().valid);
        let e = c.record_error(problems[0], 1, 2, false);
        assert_eq!(
            (e.column.as_deref(), e.message.as_str(), e.value),
            (
                Some("Remarks"),
                "has 201 characters, more than the 200 allowed",
                None
            )
        );
        assert!(!valid(&c, &record("", &"x".repeat(26))));
    }

    #[test]
    fn multiple_checks_each_record_by_its_own_scenario() {
        let opts = ValidationOptions {
            scenario: ScenarioChoice::Multiple,
            columns: super::super::ColumnNames::default().with(Field::Remarks, "Notes"),
            ..ValidationOptions::default()
        };
        let c = checker_for(
            &["HRScenario", "EmailAddress", "EffectiveDate", "Notes"],
            &opts,
        );
        let rec = |fields: [&str; 4]| Record::from_fields(&fields.map(str::as_bytes), 2);
        let verdict = c
            .check(
                &rec(["performance REVIEW", "a@b.co", "2024-01-01T00:00:00", ""]),
                |_| {},
            )
            .unwrap();
        assert_eq!(
            verdict,
            Verdict {
                valid: true,
                scenario: Some(Scenario::PerformanceReview)
            }
        );

        let errors = |fields| {
            let r = rec(fields);
            let mut out = Vec::new();
            c.check(&r, |p| out.push(c.record_error(p, 1, 2, true)))
                .unwrap();
            out
        };
        let e = errors(["Resignation", "a@b.co", "", ""]);
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0].column.as_deref(), Some("TerminationDate"));
        assert_eq!(
            e[0].message,
            "is required for a Resignation record, but the header has no such column"
        );
        let e = errors(["Promotion", "a@b.co", "", ""]);
        assert_eq!(e[0].column.as_deref(), Some("HRScenario"));
        assert!(
            e[0].message.contains("\"Job level change\""),
            "{}",
            e[0].message
        );
        assert_eq!(e[0].value.as_deref(), Some("Promotion"));
        let e = errors(["", "a@b.co", "", ""]);
        assert!(e[0].message.starts_with("is empty"), "{}", e[0].message);
        let e = errors(["Job level change", "a@b.co", "", &"x".repeat(201)]);
        assert_eq!(
            (e.len(), e[0].column.as_deref()),
            (2, Some("EffectiveDate")),
            "{e:?}"
        );
        assert_eq!(e[1].column.as_deref(), Some("Notes"));
    }
}
