//! `hrconnector upload`: validate a CSV file and send it to the HR connector.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use super::common::{ColumnArgs, OutputFormat};
use crate::cloud::Cloud;
use crate::hrdata::FileSource;
use crate::upload::{
    AppCredentials, CertificateCredential, ClientAuth, CredentialError, FileCheckpointStore,
    NoCheckpoint, RetryPolicy, RunResult, UploadReport, UploadRequest, Uploader, UploaderConfig,
};

/// The cloud names accepted on the command line. There is no default on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CloudArg {
    Commercial,
    Gcc,
    GccHigh,
    Dod,
}

impl From<CloudArg> for Cloud {
    fn from(c: CloudArg) -> Cloud {
        match c {
            CloudArg::Commercial => Cloud::Commercial,
            CloudArg::Gcc => Cloud::Gcc,
            CloudArg::GccHigh => Cloud::GccHigh,
            CloudArg::Dod => Cloud::Dod,
        }
    }
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The Microsoft cloud of the tenant. Required: there is no default, so government data
    /// cannot reach the commercial cloud by accident.
    #[arg(long, value_enum)]
    pub cloud: CloudArg,
    /// Directory (tenant) ID of the Entra ID app.
    #[arg(long)]
    pub tenant_id: String,
    /// Application (client) ID of the Entra ID app.
    #[arg(long)]
    pub app_id: String,
    /// Client secret. Prefer --app-secret-file or HRCONNECTOR_APP_SECRET: arguments are
    /// visible to other users of the machine.
    #[arg(long, env = "HRCONNECTOR_APP_SECRET", hide_env_values = true,
          conflicts_with_all = ["app_secret_file", "certificate_file"])]
    pub app_secret: Option<String>,
    /// File holding the client secret (a trailing newline is ignored).
    #[arg(long, conflicts_with = "certificate_file")]
    pub app_secret_file: Option<PathBuf>,
    /// PEM certificate registered on the app, for certificate authentication.
    #[arg(long, requires = "private_key_file")]
    pub certificate_file: Option<PathBuf>,
    /// PEM RSA private key of --certificate-file.
    #[arg(long, requires = "certificate_file")]
    pub private_key_file: Option<PathBuf>,
    /// The connector job ID shown in the Purview portal.
    #[arg(long)]
    pub job_id: String,
    /// The HR CSV file.
    #[arg(long)]
    pub csv_file_path: PathBuf,
    /// Data records per request; the header row is repeated in every request.
    #[arg(long, default_value_t = crate::upload::DEFAULT_RECORDS_PER_CALL as u32,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub records_per_call: u32,
    /// Overrides the cloud's Entra ID authority (private endpoints, proxies, tests).
    #[arg(long)]
    pub authority_url: Option<String>,
    /// Overrides the cloud's ingestion base URL.
    #[arg(long)]
    pub ingestion_url: Option<String>,
    /// Overrides the `resource` of the token request.
    #[arg(long)]
    pub resource: Option<String>,
    /// Where to keep progress, so that an interrupted upload resumes and unchanged content is
    /// not sent again. Without it every run sends the whole file.
    #[arg(long)]
    pub checkpoint_file: Option<PathBuf>,
    /// Send the file even if the checkpoint says this content was already sent.
    #[arg(long)]
    pub force: bool,
    /// Validate and report what would be sent; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Attempts per request before giving up on a transient failure.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
    /// Timeout of one HTTP request, in seconds.
    #[arg(long, default_value_t = 400)]
    pub request_timeout_seconds: u64,
    #[command(flatten)]
    pub columns: ColumnArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

pub fn run(args: UploadArgs) -> ExitCode {
    let credentials = match load_credentials(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    let report = runtime.block_on(upload(&args, credentials));
    print_report(&report, args.output);
    exit_code(&report)
}

async fn upload(args: &UploadArgs, credentials: AppCredentials) -> UploadReport {
    let endpoints = Cloud::from(args.cloud).endpoints().with_overrides(
        args.authority_url.as_deref(),
        args.ingestion_url.as_deref(),
        args.resource.as_deref(),
    );
    let mut config = UploaderConfig::new(endpoints, credentials);
    config.retry = RetryPolicy {
        max_attempts: args.max_attempts,
        ..RetryPolicy::default()
    };
    config.request_timeout = Duration::from_secs(args.request_timeout_seconds.max(1));
    let request = UploadRequest {
        source: Arc::new(FileSource {
            path: args.csv_file_path.clone(),
        }),
        job_id: args.job_id.clone(),
        validation: args.columns.validation_options(),
        records_per_call: args.records_per_call as usize,
        force: args.force,
        dry_run: args.dry_run,
        cancel: cancel_on_signal(),
    };
    let uploader = match Uploader::new(config) {
        Ok(u) => u,
        Err(e) => return super::report::failed_report(&e),
    };
    match &args.checkpoint_file {
        Some(path) => {
            uploader
                .run(&request, &FileCheckpointStore { path: path.clone() })
                .await
        }
        None => uploader.run(&request, &NoCheckpoint).await,
    }
}

/// Ctrl-C or SIGTERM lets the chunk in flight finish (and be checkpointed), then stops.
fn cancel_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let child = token.clone();
    tokio::spawn(async move {
        super::signals::shutdown_signal().await;
        tracing::warn!("stopping after the chunk in flight");
        child.cancel();
    });
    token
}

fn load_credentials(args: &UploadArgs) -> Result<AppCredentials, CredentialError> {
    let auth = match (
        &args.app_secret,
        &args.app_secret_file,
        &args.certificate_file,
        &args.private_key_file,
    ) {
        (Some(secret), _, _, _) => ClientAuth::Secret(SecretString::from(secret.clone())),
        (None, Some(path), _, _) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CredentialError::Missing(format!(
                    "cannot read --app-secret-file {}: {e}",
                    path.display()
                ))
            })?;
            let secret = text.trim_end_matches(['\r', '\n']);
            if secret.is_empty() {
                return Err(CredentialError::Missing(format!(
                    "--app-secret-file {} is empty",
                    path.display()
                )));
            }
            ClientAuth::Secret(SecretString::from(secret.to_string()))
        }
        (None, None, Some(cert), Some(key)) => {
            let read = |p: &PathBuf, what: &str| {
                std::fs::read(p).map_err(|e| {
                    CredentialError::Missing(format!("cannot read {what} {}: {e}", p.display()))
                })
            };
            ClientAuth::Certificate(CertificateCredential::from_pem(
                &read(cert, "--certificate-file")?,
                &read(key, "--private-key-file")?,
            )?)
        }
        _ => {
            return Err(CredentialError::Missing(
                "no app credential: give --app-secret-file, HRCONNECTOR_APP_SECRET, --app-secret, or --certificate-file with --private-key-file".into(),
            ));
        }
    };
    Ok(AppCredentials {
        tenant_id: args.tenant_id.clone(),
        app_id: args.app_id.clone(),
        auth,
    })
}

fn print_report(report: &UploadReport, output: OutputFormat) {
    match output {
        OutputFormat::Json => super::report::print_json(report),
        OutputFormat::Text => super::report::print_text(report),
    }
}

fn exit_code(report: &UploadReport) -> ExitCode {
    match report.result {
        RunResult::Failed => ExitCode::from(super::EXIT_FAILED),
        _ => ExitCode::SUCCESS,
    }
}
