//! Printing an upload report for a person (text) or a program (JSON).

use crate::upload::{RunResult, UploadReport};

/// Text like the sample script's, plus a one-line summary.
pub fn print_text(report: &UploadReport) {
    match report.result {
        RunResult::Succeeded => println!("Upload Successful"),
        RunResult::Unchanged => println!("Unchanged: nothing to upload"),
        RunResult::NothingToUpload => println!("Nothing to upload: the source has no records"),
        RunResult::DryRun => println!("Dry run: nothing uploaded"),
        RunResult::Failed => println!("Upload Failed"),
    }
    println!(
        "{}: {} (recordsSaved={}, recordsRejected={}, chunks={}, attempts={}, sha256={})",
        report.result.as_str(),
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
    if let Some(chosen) = &report.source {
        println!("  source: {chosen}");
    }
    print_scenarios(&report.scenarios);
}

/// One line per scenario: the records that are (or would be) sent.
pub fn print_scenarios<K: std::fmt::Display>(scenarios: &std::collections::BTreeMap<K, u64>) {
    for (scenario, records) in scenarios {
        let s = if *records == 1 { "" } else { "s" };
        println!("  {scenario}: {records} record{s}");
    }
}

pub fn print_json(report: &UploadReport) {
    match serde_json::to_string(report) {
        Ok(json) => println!("{json}"),
        Err(e) => eprintln!("error: cannot print the report: {e}"),
    }
}

/// Kubernetes keeps at most 4096 bytes of a container's termination message.
pub const RESULT_FILE_LIMIT: usize = 4096;

/// The JSON report in at most `limit` bytes: `message` is cut (on a character boundary, with an
/// ellipsis) until it fits, so the counts and the result always survive.
pub fn bounded_json(report: &UploadReport, limit: usize) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(report)?;
    if json.len() <= limit {
        return Ok(json);
    }
    let mut cut = report.clone();
    // Escaping can only grow the text, so cutting by the overflow may take a few rounds.
    let mut keep = report.message.len().saturating_sub(json.len() - limit + 3);
    loop {
        while !report.message.is_char_boundary(keep) {
            keep -= 1;
        }
        cut.message = format!("{}…", &report.message[..keep]);
        let json = serde_json::to_string(&cut)?;
        if json.len() <= limit || keep == 0 {
            return Ok(json);
        }
        keep = keep.saturating_sub((json.len() - limit).max(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(message: String) -> UploadReport {
        UploadReport {
            result: RunResult::Failed,
            records_saved: 1,
            records_rejected: 2,
            chunks: 3,
            attempts: 4,
            records_sent: 1,
            source_sha256: "a".repeat(64),
            message,
            uploaded_at: None,
            reason: Some("UploadFailed"),
            scenarios: Default::default(),
            source: None,
        }
    }

    #[test]
    fn short_reports_are_unchanged() {
        let r = report("short".into());
        assert_eq!(
            bounded_json(&r, RESULT_FILE_LIMIT).unwrap(),
            serde_json::to_string(&r).unwrap()
        );
    }

    #[test]
    fn long_messages_are_cut_to_the_limit_and_stay_json() {
        for message in [
            "x".repeat(10_000),
            "é\"\n".repeat(3000),
            "\u{1}".repeat(5000),
        ] {
            let json = bounded_json(&report(message), RESULT_FILE_LIMIT).unwrap();
            assert!(json.len() <= RESULT_FILE_LIMIT, "{}", json.len());
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(v["recordsSaved"], 1);
            assert!(v["message"].as_str().unwrap().ends_with('…'));
        }
    }
}
