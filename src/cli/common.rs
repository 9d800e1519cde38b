//! Flags shared by several subcommands.

use clap::{Args, ValueEnum};

use crate::hrdata::{ColumnNames, InvalidRows, ValidationOptions};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// What to do with records that fail validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum InvalidRowsArg {
    /// Any invalid record makes the whole file invalid; nothing is sent.
    #[default]
    Reject,
    /// Invalid records are left out and counted; the rest is sent.
    Skip,
}

/// The column mapping and invalid-row policy, as entered in the portal's file mapping.
#[derive(Debug, Clone, Args)]
pub struct ColumnArgs {
    /// Header of the column holding the email address of the person who left (case-insensitive).
    #[arg(long, default_value = "EmailAddress")]
    pub email_column: String,
    /// Header of the termination date column (case-insensitive).
    #[arg(long, default_value = "TerminationDate")]
    pub termination_date_column: String,
    /// Header of the last working date column (case-insensitive).
    #[arg(long, default_value = "LastWorkingDate")]
    pub last_working_date_column: String,
    /// What to do with records that fail validation.
    #[arg(long, value_enum, default_value_t = InvalidRowsArg::Reject)]
    pub invalid_rows: InvalidRowsArg,
}

impl ColumnArgs {
    pub fn validation_options(&self) -> ValidationOptions {
        ValidationOptions {
            columns: ColumnNames {
                email_address: self.email_column.clone(),
                termination_date: self.termination_date_column.clone(),
                last_working_date: self.last_working_date_column.clone(),
            },
            invalid_rows: match self.invalid_rows {
                InvalidRowsArg::Reject => InvalidRows::Reject,
                InvalidRowsArg::Skip => InvalidRows::Skip,
            },
            ..ValidationOptions::default()
        }
    }
}
