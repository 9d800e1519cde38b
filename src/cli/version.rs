//! `hrconnector version`: the version, the commit it was built from, and whether the cryptography runs on the FIPS 140-3
//! module (what a compliance check or `kubectl exec ... version` reads).

use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::common::{OutputFormat, print_stdout};
use crate::fips::{self, FipsStatus};

#[derive(Debug, Args)]
pub struct VersionArgs {
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VersionReport {
    version: &'static str,
    /// The commit the binary was built from (build.rs), or `unknown`.
    commit: &'static str,
    /// True when the module is linked, in FIPS mode, and the TLS provider is FIPS.
    fips: bool,
    crypto_library: String,
    fips_status: FipsStatus,
}

pub fn run(args: VersionArgs) -> ExitCode {
    let status = fips::status();
    let report = VersionReport {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("HRCONNECTOR_COMMIT"),
        fips: status.fips(),
        crypto_library: fips::crypto_library(),
        fips_status: status,
    };
    let text = match args.output {
        OutputFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => format!("{json}\n"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(super::EXIT_FAILED);
            }
        },
        OutputFormat::Text => format!(
            "hrconnector {}\ncommit: {}\nfips: {}\ncrypto: {}\n",
            report.version, report.commit, report.fips, report.crypto_library
        ),
    };
    if let Err(e) = print_stdout(&text) {
        eprintln!("error: cannot write to stdout: {e}");
        return ExitCode::from(super::EXIT_FAILED);
    }
    ExitCode::SUCCESS
}
