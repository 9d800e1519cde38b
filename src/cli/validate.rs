//! `hrconnector validate`: checks an HR CSV file without sending anything.
//!
//! Exit status: 0 valid (with `--invalid-rows skip`: readable, even if records would be left
//! out), 1 invalid data (bad records, not UTF-8, missing columns), 2 usage or I/O error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::{ColumnArgs, EXIT_FAILED, EXIT_USAGE, OutputFormat};
use crate::hrdata::{FileSource, InvalidRows, ValidationReport, validate};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The HR CSV file to check.
    #[arg(long)]
    pub csv_file_path: PathBuf,
    #[command(flatten)]
    pub columns: ColumnArgs,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

pub fn run(args: ValidateArgs) -> ExitCode {
    let opts = match args.columns.validation_options() {
        Ok(opts) => opts,
        Err(usage) => {
            eprintln!("error: {usage}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let source = FileSource::new(&args.csv_file_path);
    let name = args.csv_file_path.display().to_string();

    let report = match validate(&source, &opts) {
        Ok(report) => report,
        Err(error) => {
            match args.output {
                OutputFormat::Json => println!(
                    "{}",
                    json!({"valid": false, "records": 0, "rejected": 0, "errors": [],
                           "warnings": [], "error": error.to_string()})
                ),
                OutputFormat::Text => eprintln!("error: {error}"),
            }
            return ExitCode::from(if error.is_io() {
                EXIT_USAGE
            } else {
                EXIT_FAILED
            });
        }
    };

    match args.output {
        OutputFormat::Json => println!(
            "{}",
            json!({
                "valid": report.is_valid(),
                "records": report.records,
                "rejected": report.rejected,
                "errors": report.errors,
                "warnings": report.warnings,
                "scenarios": report.scenarios,
            })
        ),
        OutputFormat::Text => print_text(&name, &report, opts.invalid_rows),
    }

    if report.is_valid() || opts.invalid_rows == InvalidRows::Skip {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}

fn print_text(name: &str, report: &ValidationReport, invalid_rows: InvalidRows) {
    let records = plural(report.records, "record");
    if report.is_valid() {
        println!("{name}: {records}, valid");
    } else if invalid_rows == InvalidRows::Skip {
        println!(
            "{name}: {records}, {} rejected (skipped; {} would be sent)",
            report.rejected,
            plural(report.accepted(), "record")
        );
    } else {
        println!("{name}: {records}, {} rejected", report.rejected);
    }
    super::report::print_scenarios(&report.scenarios);
    for warning in &report.warnings {
        println!("warning: {warning}");
    }
    for error in &report.errors {
        // The value is shown here only: the terminal user owns the file. `{:?}` escapes
        // newlines and control characters.
        match &error.value {
            Some(value) => println!("error: {error}: {value:?}"),
            None => println!("error: {error}"),
        }
    }
    let more = report
        .error_count
        .saturating_sub(report.errors.len() as u64);
    if more > 0 {
        println!("... and {more} more");
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
