//! `kubectl hrconnector validate JOB --csv-file F`: a local file checked with the job's own
//! scenario, columns, input conversion and limits, before it is committed or dropped where the
//! job reads it. Nothing is sent; the job's source is not read.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::client::{Connected, PluginError};
use crate::cli::{EXIT_FAILED, EXIT_USAGE};
use crate::hrdata::{CsvError, InvalidRows, Limits, validate};
use crate::source::FileSource;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The HrConnectorJob whose settings the file is checked with.
    pub job: String,
    /// The HR export to check (CSV, or what the job's spec.input converts: a workbook, UTF-16,
    /// another delimiter or date format).
    #[arg(long, value_name = "FILE")]
    pub csv_file: PathBuf,
}

pub async fn run(target: &Connected, args: ValidateArgs) -> Result<ExitCode, PluginError> {
    let job = target.get_job(&args.job).await?;
    let path = args.csv_file.clone();
    // Conversion and validation read the whole file: off the async thread.
    let checked = tokio::task::spawn_blocking(move || check(&job, path)).await;
    Ok(match checked {
        Ok(status) => status,
        Err(e) => {
            eprintln!("error: the check stopped: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    })
}

/// The operator's own steps for an in-process source: convert as `spec.input` says, then
/// validate with the job's options, within the operator's default CSV limits.
fn check(job: &crate::crd::HrConnectorJob, path: PathBuf) -> ExitCode {
    let name = path.display().to_string();
    let source: Arc<dyn crate::hrdata::CsvSource> = Arc::new(FileSource::new(path));
    let conversion = match crate::controller::converted(job, source, Limits::default()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {name}: {e}");
            return ExitCode::from(match e {
                crate::convert::ConvertError::Io { .. } => EXIT_USAGE,
                _ => EXIT_FAILED,
            });
        }
    };
    let crate::convert::Conversion {
        source,
        validation: opts,
        report: converted,
    } = conversion;
    let mut report = match validate(source.as_ref(), &opts) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {name}: {}", error.with_header_columns());
            let usage = error.is_io() || matches!(error, CsvError::Changed { .. });
            return ExitCode::from(if usage { EXIT_USAGE } else { EXIT_FAILED });
        }
    };
    converted.explain(&mut report);
    crate::cli::validate::print_conversion(&converted);
    crate::cli::validate::print_text(&name, &report, opts.invalid_rows);
    if report.is_valid() || opts.invalid_rows == InvalidRows::Skip {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}
