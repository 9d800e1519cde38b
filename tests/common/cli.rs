//! Running the real `hrconnector` binary as a user does, with a clean environment.

use serde_json::Value;
use tokio::process::Command;

use super::{JOB, TENANT};

pub const BIN: &str = env!("CARGO_BIN_EXE_hrconnector");

/// Variables of the machine running the tests that would change what the binary does.
/// (HRCONNECTOR_REQUIRE_FIPS is left through on purpose: CI runs the upload tests of the `fips`
/// build with it set, so every upload they start must pass the check.)
const AMBIENT: &[&str] = &[
    "HRCONNECTOR_APP_SECRET",
    "HRCONNECTOR_CA_FILE",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Whether `text` appears anywhere in what the run printed.
    pub fn printed(&self, text: &str) -> bool {
        self.stdout.contains(text) || self.stderr.contains(text)
    }
}

/// Runs the binary at trace level (so leak checks see everything it could log).
pub async fn hrconnector(args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for var in AMBIENT {
        cmd.env_remove(var);
    }
    let out = cmd
        .env("RUST_LOG", "trace")
        .envs(envs.iter().copied())
        .output()
        .await
        .expect("binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn json(run: &Run) -> Value {
    serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr))
}

/// `upload --output json` of `csv` for `app` to the emulator at `url` (authority and ingestion, HTTP or HTTPS),
/// then `extra`.
pub fn upload_args<'a>(
    url: &'a str,
    csv: &'a str,
    app: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "upload",
        "--cloud",
        "gcc-high",
        "--tenant-id",
        TENANT,
        "--app-id",
        app,
        "--job-id",
        JOB,
        "--csv-file-path",
        csv,
        "--authority-url",
        url,
        "--ingestion-url",
        url,
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    args
}
