//! Mapping the header row to the columns of the chosen scenario (or scenarios).

use super::schema::{Field, Scenario};
use super::warnings::Warnings;
use super::{CsvError, ScenarioChoice, ValidationOptions};

/// Where each column of the chosen scenarios is in a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnMap {
    /// Every field the scenarios can have, with its position; `None` when the header lacks it
    /// (an optional column, or with several scenarios a column the file's records may not need).
    pub fields: Vec<(Field, Option<usize>)>,
    /// Position of the scenario column (multi-scenario files only).
    pub scenario_column: Option<usize>,
}

impl ColumnMap {
    pub fn position(&self, field: Field) -> Option<usize> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .and_then(|(_, at)| *at)
    }
}

/// Finds the columns (case-insensitively, as the portal's file mapping does) and collects
/// warnings about the header. Other columns are allowed and passed through.
///
/// A single-scenario header must have every required column of its scenario; a multi-scenario
/// header needs only the scenario column, and a record whose scenario needs a column the header
/// lacks is an error of that record.
pub(crate) fn map_header(
    source_name: &str,
    header: &[&str],
    opts: &ValidationOptions,
) -> Result<(ColumnMap, Warnings), CsvError> {
    let lowered: Vec<String> = header.iter().map(|h| h.to_lowercase()).collect();
    let find = |name: &str| -> Result<Option<usize>, CsvError> {
        let name_lower = name.to_lowercase();
        let mut found = lowered
            .iter()
            .enumerate()
            .filter(|(_, h)| **h == name_lower);
        match (found.next(), found.count()) {
            (Some((i, _)), 0) => Ok(Some(i)),
            (Some((i, _)), more) => Err(CsvError::DuplicateColumn {
                source_name: source_name.to_owned(),
                column: header.get(i).copied().unwrap_or(name).to_owned(),
                count: more + 1,
            }),
            (None, _) => Ok(None),
        }
    };

    let mut fields = Vec::new();
    for field in opts.fields() {
        fields.push((field, find(opts.columns.get(field))?));
    }
    let (missing, scenario_column) = match opts.scenario {
        ScenarioChoice::One(scenario) => (missing_required(scenario, &fields, opts), None),
        ScenarioChoice::Multiple => match find(&opts.scenario_column)? {
            Some(at) => (Vec::new(), Some(at)),
            None => (vec![opts.scenario_column.clone()], None),
        },
    };
    if !missing.is_empty() {
        return Err(CsvError::MissingColumns {
            source_name: source_name.to_owned(),
            missing,
            header_columns: header.iter().map(|h| h.to_string()).collect(),
        });
    }

    let mut warnings = Warnings::new(opts.max_warnings);
    for (i, h) in header.iter().enumerate() {
        if h.is_empty() {
            warnings.push_with(|| format!("column {} has no header name", i + 1));
        } else if h.chars().any(char::is_whitespace) {
            warnings.push_with(|| {
                format!(
                    "header \"{h}\" contains spaces; the portal's file mapping allows no spaces \
                     in column names"
                )
            });
        }
    }
    Ok((
        ColumnMap {
            fields,
            scenario_column,
        },
        warnings,
    ))
}

/// Headers of the scenario's required columns that are not in the header.
fn missing_required(
    scenario: Scenario,
    fields: &[(Field, Option<usize>)],
    opts: &ValidationOptions,
) -> Vec<String> {
    scenario
        .columns()
        .iter()
        .filter(|c| c.required)
        .filter(|c| fields.iter().any(|(f, at)| *f == c.field && at.is_none()))
        .map(|c| opts.columns.get(c.field).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_and_extra_columns() {
        let (map, warnings) = map_header(
            "f",
            &["Name", "lastworkingdate", "EMAILADDRESS", "terminationDate"],
            &ValidationOptions::default(),
        )
        .unwrap();
        assert_eq!(map.position(Field::EmailAddress), Some(2));
        assert_eq!(map.position(Field::TerminationDate), Some(3));
        assert_eq!(map.position(Field::LastWorkingDate), Some(1));
        assert_eq!(map.scenario_column, None);
        assert_eq!(warnings.count, 0);
    }

    #[test]
    fn missing_and_duplicate() {
        let err = map_header(
            "f",
            &["EmailAddress", "Other"],
            &ValidationOptions::default(),
        )
        .unwrap_err();
        match err {
            CsvError::MissingColumns {
                missing,
                header_columns,
                ..
            } => {
                assert_eq!(missing, ["TerminationDate", "LastWorkingDate"]);
                assert_eq!(header_columns, ["EmailAddress", "Other"]);
            }
            other => panic!("{other:?}"),
        }
        let err = map_header(
            "f",
            &[
                "EmailAddress",
                "TerminationDate",
                "LastWorkingDate",
                "emailaddress",
            ],
            &ValidationOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(err, CsvError::DuplicateColumn { count: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn optional_columns_may_be_missing() {
        let opts = ValidationOptions::for_scenario(Scenario::PerformanceReview);
        let (map, _) = map_header("f", &["EmailAddress", "EffectiveDate"], &opts).unwrap();
        assert_eq!(map.position(Field::Remarks), None);
        let err = map_header("f", &["EmailAddress", "Rating"], &opts).unwrap_err();
        assert!(
            matches!(&err, CsvError::MissingColumns { missing, .. } if missing == &["EffectiveDate"]),
            "{err:?}"
        );
    }

    #[test]
    fn multiple_needs_only_the_scenario_column() {
        let opts = ValidationOptions {
            scenario: ScenarioChoice::Multiple,
            ..ValidationOptions::default()
        };
        let (map, _) = map_header("f", &["EmailAddress", "hrscenario"], &opts).unwrap();
        assert_eq!(map.scenario_column, Some(1));
        assert_eq!(map.position(Field::EffectiveDate), None);
        let err = map_header("f", &["EmailAddress"], &opts).unwrap_err();
        assert!(
            matches!(&err, CsvError::MissingColumns { missing, .. } if missing == &["HRScenario"]),
            "{err:?}"
        );
    }

    #[test]
    fn warnings_are_capped_and_counted() {
        let mut header = vec!["EmailAddress", "TerminationDate", "LastWorkingDate"];
        header.extend([""; 150]);
        let (_, warnings) = map_header("f", &header, &ValidationOptions::default()).unwrap();
        assert_eq!((warnings.list.len(), warnings.count), (100, 150));
        assert_eq!(warnings.list[99], "column 103 has no header name");
    }

    #[test]
    fn spaces_warn() {
        let opts = ValidationOptions {
            columns: super::super::ColumnNames::default()
                .with(Field::EmailAddress, "Email Address"),
            ..ValidationOptions::default()
        };
        let (_, warnings) = map_header(
            "f",
            &["email address", "TerminationDate", "LastWorkingDate", ""],
            &opts,
        )
        .unwrap();
        assert_eq!(warnings.list.len(), 2, "{warnings:?}");
        assert!(warnings.list[0].contains("spaces"));
        assert!(warnings.list[1].contains("column 4"));
    }
}
