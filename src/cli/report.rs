//! Printing an upload report for a person (text) or a program (JSON).

use crate::upload::{RunResult, UploadError, UploadReport};

/// Text like the sample script's, plus a one-line summary.
pub fn print_text(report: &UploadReport) {
    match report.result {
        RunResult::Succeeded => println!("Upload Successful"),
        RunResult::Unchanged => println!("Unchanged: nothing to upload"),
        RunResult::DryRun => println!("Dry run: nothing uploaded"),
        RunResult::Failed => println!("Upload Failed"),
    }
    println!(
        "{}: {} (recordsSaved={}, recordsRejected={}, chunks={}, attempts={}, sha256={})",
        result_name(report.result),
        report.message,
        report.records_saved,
        report.records_rejected,
        report.chunks,
        report.attempts,
        if report.source_sha256.is_empty() {
            "-"
        } else {
            &report.source_sha256
        },
    );
}

pub fn print_json(report: &UploadReport) {
    match serde_json::to_string(report) {
        Ok(json) => println!("{json}"),
        Err(e) => eprintln!("error: cannot print the report: {e}"),
    }
}

pub fn result_name(result: RunResult) -> &'static str {
    match result {
        RunResult::Succeeded => "Succeeded",
        RunResult::Unchanged => "Unchanged",
        RunResult::DryRun => "DryRun",
        RunResult::Failed => "Failed",
    }
}

/// A report for a run that failed before it could start.
pub fn failed_report(error: &UploadError) -> UploadReport {
    UploadReport {
        result: RunResult::Failed,
        records_saved: 0,
        records_rejected: 0,
        chunks: 0,
        attempts: 0,
        source_sha256: String::new(),
        message: error.to_string(),
        reason: Some(error.reason()),
    }
}
