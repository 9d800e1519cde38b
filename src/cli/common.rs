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

/// `--require-fips` / `HRCONNECTOR_REQUIRE_FIPS=1` (`1`, `true`, `yes`, `on`; `0`, `false`, ... off).
#[derive(Debug, Clone, Args)]
pub struct FipsArgs {
    /// Refuse to start unless the cryptography runs on the FIPS 140-3 module (a build with
    /// `--features fips`, the image tagged -fips) and every TLS configuration reports FIPS.
    /// A build without it exits with status 2.
    #[arg(long, env = "HRCONNECTOR_REQUIRE_FIPS", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub require_fips: bool,
}

impl FipsArgs {
    /// Checks `--require-fips` against the outbound HTTP clients' TLS (trusting `ca_file`) and
    /// `more` (named for the message); the message to print before exiting with status 2.
    pub fn check(
        &self,
        ca_file: Option<&std::path::Path>,
        more: &[(&str, &rustls::ClientConfig)],
    ) -> Result<(), String> {
        if !self.require_fips {
            return Ok(());
        }
        let http = crate::http_client::tls_config(&crate::http_client::HttpClientConfig {
            ca_file: ca_file.map(Into::into),
            ..Default::default()
        })
        .map_err(|e| e.to_string())?;
        let mut configs = vec![("Entra ID and the ingestion service", &http)];
        configs.extend_from_slice(more);
        crate::fips::require(&configs).map_err(|e| e.to_string())?;
        tracing::info!(
            "FIPS 140-3: every TLS connection and signature uses the AWS-LC FIPS module"
        );
        Ok(())
    }
}
