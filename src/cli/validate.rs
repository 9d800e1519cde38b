//! `hrconnector validate`: checks an HR CSV file without sending anything.
//!
//! Exit status: 0 valid (with `--invalid-rows skip`: readable, even if records would be left
//! out), 1 invalid data (bad records, not UTF-8, missing columns), 2 usage or I/O error.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::source::SourceArgs;
use super::{ColumnArgs, EXIT_FAILED, EXIT_USAGE, OutputFormat};
use crate::hrdata::{CsvError, InvalidRows, ValidationReport, validate};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub report_auth: super::source::ReportAuthArgs,
    /// PEM bundle of extra trusted CAs for an object store or report URL (an agency's
    /// TLS-inspection CA), in addition to the public roots and the system store.
    #[arg(long, env = "HRCONNECTOR_CA_FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub columns: ColumnArgs,
    #[command(flatten)]
    pub input: super::input::InputArgs,
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
    let input = match args.input.input_options() {
        Ok(input) => input,
        Err(usage) => {
            eprintln!("error: {usage}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // An object source is read through an async client; a file needs no runtime, but one
    // costs little.
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                &args,
                &format!("cannot start the async runtime: {e}"),
                EXIT_USAGE,
            );
        }
    };
    let opened = args.source.open(
        runtime.handle().clone(),
        6,
        args.ca_file.as_deref(),
        &args.report_auth,
    );
    let source = match runtime.block_on(opened) {
        Ok(source) => source,
        Err(message) => return fail(&args, &message, EXIT_USAGE),
    };
    // The file a pattern chose, from here on.
    let name = source.name();
    // Conversion and validation read on this thread, outside the runtime, which serves an
    // object's reads.
    let crate::convert::Conversion {
        source,
        validation: opts,
        report: conversion,
    } = match crate::convert::convert(source, &input, &opts, 1) {
        Ok(c) => c,
        Err(e) => {
            let status = match e {
                crate::convert::ConvertError::Io { .. } => EXIT_USAGE,
                _ => EXIT_FAILED,
            };
            return fail(&args, &e.to_string(), status);
        }
    };
    let report = match validate(source.as_ref(), &opts) {
        Ok(report) => report,
        Err(error) => {
            let status = if error.is_io() || matches!(error, CsvError::Changed { .. }) {
                EXIT_USAGE
            } else {
                EXIT_FAILED
            };
            // The user's own file or object: naming its header's columns helps and reveals nothing.
            return fail(&args, &error.with_header_columns(), status);
        }
    };

    let mut report = report;
    conversion.explain(&mut report);
    match args.output {
        OutputFormat::Json => {
            let mut out = json!({
                "valid": report.is_valid(),
                "records": report.records,
                "rejected": report.rejected,
                "errors": report.errors,
                "errorCount": report.error_count,
                "warnings": report.warnings,
                "warningCount": report.warning_count,
                "scenarios": report.scenarios,
            });
            // Only when something was converted: without conversions the output is as before.
            if conversion.converted {
                out["conversion"] = json!(conversion);
            }
            println!("{out}");
        }
        OutputFormat::Text => {
            print_conversion(&conversion);
            print_text(&name, &report, opts.invalid_rows)
        }
    }

    if report.is_valid() || opts.invalid_rows == InvalidRows::Skip {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}

/// Prints why the source could not be validated; returns `status`.
fn fail(args: &ValidateArgs, message: &str, status: u8) -> ExitCode {
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            json!({"valid": false, "records": 0, "rejected": 0, "errors": [],
                   "warnings": [], "error": message})
        ),
        OutputFormat::Text => eprintln!("error: {message}"),
    }
    ExitCode::from(status)
}

pub(super) fn print_text(name: &str, report: &ValidationReport, invalid_rows: InvalidRows) {
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
    // Capped like the errors: the first ones and a count.
    let more = report
        .warning_count
        .saturating_sub(report.warnings.len() as u64);
    if more > 0 {
        println!("... and {}", plural(more, "more warning"));
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

/// What the conversion stage read and converted, a line per date-time column.
pub(super) fn print_conversion(conversion: &crate::convert::ConversionReport) {
    if !conversion.converted {
        return;
    }
    println!("converted from {}", conversion.input);
    for c in &conversion.columns {
        println!(
            "  {} ({}): {} as {}{}",
            c.header,
            c.field,
            plural(c.converted, "value"),
            c.format,
            if c.earlier_of_two > 0 {
                format!(
                    ", {} in a fall-back hour taken as the earlier instant",
                    c.earlier_of_two
                )
            } else {
                String::new()
            }
        );
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
