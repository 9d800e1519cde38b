//! Running `hrconnector validate` as a process and reading its JSON report, for the CLI tests
//! (included with `#[path]`, without the rest of `common`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A file of `tests/fixtures/csv`.
pub fn csv_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/csv")
        .join(name)
}

/// Runs `validate --csv-file-path PATH ARGS…`; the exit code, stdout and stderr.
pub fn validate_path(path: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hrconnector"))
        .arg("validate")
        .arg("--csv-file-path")
        .arg(path)
        .args(extra)
        .output()
        .expect("run hrconnector");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`validate_path`] with `--output json`: the exit code and the one JSON object printed.
pub fn validate_path_json(path: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--output", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = validate_path(path, &args);
    let value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {stdout} {stderr}"));
    (code, value)
}

/// (record, line, column, message) of every error in a JSON report.
pub fn errors(report: &Value) -> Vec<(u64, u64, Option<String>, String)> {
    report["errors"]
        .as_array()
        .expect("errors array")
        .iter()
        .map(|e| {
            (
                e["record"].as_u64().expect("record"),
                e["line"].as_u64().expect("line"),
                e["column"].as_str().map(str::to_owned),
                e["message"].as_str().expect("message").to_owned(),
            )
        })
        .collect()
}
