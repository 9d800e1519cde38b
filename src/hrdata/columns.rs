//! Mapping the header row to the three required columns.

use super::{ColumnNames, CsvError};

/// Positions of the required columns in each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ColumnMap {
    pub email_address: usize,
    pub termination_date: usize,
    pub last_working_date: usize,
}

/// Finds the required columns (case-insensitively, as the portal's file mapping does) and
/// collects warnings about the header. Other columns are allowed and passed through.
pub(crate) fn map_header(
    source_name: &str,
    header: &[&str],
    names: &ColumnNames,
) -> Result<(ColumnMap, Vec<String>), CsvError> {
    let lowered: Vec<String> = header.iter().map(|h| h.to_lowercase()).collect();
    let wanted = [
        &names.email_address,
        &names.termination_date,
        &names.last_working_date,
    ];

    let mut positions = [0usize; 3];
    let mut missing = Vec::new();
    for (slot, name) in positions.iter_mut().zip(wanted) {
        let name_lower = name.to_lowercase();
        let mut found = lowered
            .iter()
            .enumerate()
            .filter(|(_, h)| **h == name_lower);
        match (found.next(), found.count()) {
            (Some((i, _)), 0) => *slot = i,
            (Some((i, _)), more) => {
                return Err(CsvError::DuplicateColumn {
                    source_name: source_name.to_owned(),
                    column: header.get(i).copied().unwrap_or(name).to_owned(),
                    count: more + 1,
                });
            }
            (None, _) => missing.push(name.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(CsvError::MissingColumns {
            source_name: source_name.to_owned(),
            missing,
            header_columns: header.iter().map(|h| h.to_string()).collect(),
        });
    }

    let mut warnings = Vec::new();
    for (i, h) in header.iter().enumerate() {
        if h.is_empty() {
            warnings.push(format!("column {} has no header name", i + 1));
        } else if h.chars().any(char::is_whitespace) {
            warnings.push(format!(
                "header \"{h}\" contains spaces; the portal's file mapping allows no spaces in \
                 column names"
            ));
        }
    }

    let [email_address, termination_date, last_working_date] = positions;
    Ok((
        ColumnMap {
            email_address,
            termination_date,
            last_working_date,
        },
        warnings,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_and_extra_columns() {
        let (map, warnings) = map_header(
            "f",
            &["Name", "lastworkingdate", "EMAILADDRESS", "terminationDate"],
            &ColumnNames::default(),
        )
        .unwrap();
        assert_eq!(
            map,
            ColumnMap {
                email_address: 2,
                termination_date: 3,
                last_working_date: 1
            }
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn missing_and_duplicate() {
        let err = map_header("f", &["EmailAddress", "Other"], &ColumnNames::default()).unwrap_err();
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
            &ColumnNames::default(),
        )
        .unwrap_err();
        assert!(
            matches!(err, CsvError::DuplicateColumn { count: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn spaces_warn() {
        let names = ColumnNames {
            email_address: "Email Address".into(),
            ..ColumnNames::default()
        };
        let (_, warnings) = map_header(
            "f",
            &["email address", "TerminationDate", "LastWorkingDate", ""],
            &names,
        )
        .unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("spaces"));
        assert!(warnings[1].contains("column 4"));
    }
}
