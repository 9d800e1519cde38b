//! `hrconnector upload`: validate a CSV file and send it to the HR connector.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use super::common::{ColumnArgs, FipsArgs, OutputFormat};
use super::source::SourceArgs;
use crate::cloud::Cloud;
use crate::upload::{
    AppCredentials, CertificateCredential, Checkpoint, ClientAuth, CredentialError,
    FederatedTokenFile, FileCheckpointStore, MaxRejected, MemoryCheckpointStore, NoCheckpoint,
    RetryPolicy, RunPolicy, RunResult, UploadReport, UploadRequest, Uploader, UploaderConfig,
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
    /// Directory (tenant) ID of the Entra ID app. Exactly one of --tenant-id,
    /// HRCONNECTOR_TENANT_ID or --tenant-id-file.
    #[arg(long, env = "HRCONNECTOR_TENANT_ID")]
    pub tenant_id: Option<String>,
    /// File holding the tenant ID (a Secret key mounted as a file; a trailing newline is ignored).
    #[arg(long)]
    pub tenant_id_file: Option<PathBuf>,
    /// Application (client) ID of the Entra ID app. Exactly one of --app-id, HRCONNECTOR_APP_ID
    /// or --app-id-file.
    #[arg(long, env = "HRCONNECTOR_APP_ID")]
    pub app_id: Option<String>,
    /// File holding the app ID (a trailing newline is ignored).
    #[arg(long)]
    pub app_id_file: Option<PathBuf>,
    /// Client secret. Prefer --app-secret-file or HRCONNECTOR_APP_SECRET: arguments are
    /// visible to other users of the machine.
    #[arg(long, env = "HRCONNECTOR_APP_SECRET", hide_env_values = true,
          conflicts_with_all = ["app_secret_file", "certificate_file"])]
    pub app_secret: Option<String>,
    /// File holding the client secret (a trailing newline is ignored).
    #[arg(long, conflicts_with = "certificate_file")]
    pub app_secret_file: Option<PathBuf>,
    /// Authenticate with workload identity federation: a service account token sent as a
    /// federated client assertion to the v2 token endpoint; no secret. The app, tenant, token
    /// file and authority come from AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE
    /// and AZURE_AUTHORITY_HOST (what the Azure Workload Identity webhook injects) unless
    /// --app-id, --tenant-id, --federated-token-file or --authority-url are given.
    #[arg(long, conflicts_with_all = ["app_secret", "app_secret_file", "certificate_file"])]
    pub workload_identity: bool,
    /// The projected service account token, read again for every token request (the kubelet
    /// rotates it). Overrides AZURE_FEDERATED_TOKEN_FILE.
    #[arg(long, requires = "workload_identity")]
    pub federated_token_file: Option<PathBuf>,
    /// PEM bundle of extra trusted CAs (an agency's TLS-inspection CA), trusted in addition to
    /// the public roots and the system store (or SSL_CERT_FILE).
    #[arg(long, env = "HRCONNECTOR_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// PEM certificate registered on the app, for certificate authentication.
    #[arg(long, requires = "private_key_file")]
    pub certificate_file: Option<PathBuf>,
    /// PEM RSA private key of --certificate-file.
    #[arg(long, requires = "certificate_file")]
    pub private_key_file: Option<PathBuf>,
    /// The connector job ID shown in the Purview portal.
    #[arg(long)]
    pub job_id: String,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub report_auth: super::source::ReportAuthArgs,
    /// Data records per request; the header row is repeated in every request.
    #[arg(long, default_value_t = crate::upload::DEFAULT_RECORDS_PER_CALL as u32,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub records_per_call: u32,
    /// Overrides the cloud's Entra ID authority (private endpoints, proxies, tests), and
    /// AZURE_AUTHORITY_HOST with --workload-identity.
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
    /// Resume from this checkpoint instead of a checkpoint file: the SHA-256 (hex) of the
    /// content already partly sent. Used by the operator's upload Jobs.
    #[arg(long, requires = "resume_records", conflicts_with = "checkpoint_file",
          value_parser = parse_sha256)]
    pub resume_sha256: Option<String>,
    /// Records of --resume-sha256's content already acknowledged by the service. When it equals
    /// the file's accepted records, the run reports Unchanged and sends nothing.
    #[arg(long, requires = "resume_sha256", conflicts_with = "checkpoint_file")]
    pub resume_records: Option<u64>,
    /// When --resume-sha256's content was last sent in full (RFC 3339), for
    /// --resend-unchanged-after. Used by the operator's upload Jobs.
    #[arg(long, requires = "resume_sha256")]
    pub resume_completed_at: Option<jiff::Timestamp>,
    /// With --invalid-rows skip, the most records that may fail validation: a count (5) or a
    /// percentage of the file's records (10%). More fails the run (TooManyRejected) before
    /// anything is sent; a file with no valid record left always fails.
    #[arg(long, default_value = "10%", value_parser = parse_max_rejected)]
    pub max_rejected: MaxRejected,
    /// Fewer valid records than this fail the run (TooFewRecords) before anything is sent. With
    /// 0, the default, a file without records is reported as NothingToUpload (exit 0).
    #[arg(long, default_value_t = 0)]
    pub min_records: u64,
    /// Send unchanged content again when its last upload (per --checkpoint-file or --resume-*)
    /// is older than this: 14d, 36h, 90m. Default 14d when the file holds EmployeeProfile
    /// records (the service deletes profiles not refreshed for 30 days), else never.
    #[arg(long, value_parser = crate::upload::policy::parse_age)]
    pub resend_unchanged_after: Option<Duration>,
    /// Also write the JSON report to this file (e.g. /dev/termination-log), at most 4096 bytes.
    #[arg(long)]
    pub result_file: Option<PathBuf>,
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
    #[command(flatten)]
    pub input: super::input::InputArgs,
    #[command(flatten)]
    pub fips: FipsArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

pub fn run(args: UploadArgs) -> ExitCode {
    if let Err(message) = args.fips.check(&[]) {
        eprintln!("error: {message}");
        write_result_file(&args, &UploadReport::failed("FipsRequired", message));
        return ExitCode::from(super::EXIT_USAGE);
    }
    let options = args
        .columns
        .validation_options()
        .and_then(|v| Ok((v, args.input.input_options()?)));
    let (validation, input) = match options {
        Ok(options) => options,
        Err(usage) => {
            eprintln!("error: {usage}");
            let report = UploadReport::failed("InvalidArguments", usage);
            write_result_file(&args, &report);
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    let credentials = match load_credentials(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            // The operator reads the result file even when the pod could not start the upload.
            let report = UploadReport::from_error(&e.into());
            write_result_file(&args, &report);
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
    let source = runtime.block_on(args.source.open(
        runtime.handle().clone(),
        args.max_attempts,
        args.ca_file.as_deref(),
        &args.report_auth,
    ));
    let source = match source {
        Ok(source) => source,
        Err(message) => {
            eprintln!("error: {message}");
            let report = UploadReport::failed("SourceUnreadable", message);
            write_result_file(&args, &report);
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    let chosen_name = source.name();
    // The conversion reads on this thread, outside the runtime, which serves an object's reads.
    let conversion = match crate::convert::convert(
        source,
        &input,
        &validation,
        args.records_per_call as usize,
    ) {
        Ok(conversion) => conversion,
        Err(e) => {
            let message = e.to_string();
            eprintln!("error: {message}");
            let report = UploadReport::failed(crate::upload::reason::INVALID_CSV, message);
            print_report(&report, args.output);
            write_result_file(&args, &report);
            return ExitCode::from(super::EXIT_FAILED);
        }
    };
    let mut report = runtime.block_on(upload(&args, conversion, credentials));
    // The file a pattern chose (the source was pinned when it was opened).
    if report.source.is_none() && chosen_name != args.source.name() {
        report.source = Some(chosen_name);
    }
    print_report(&report, args.output);
    write_result_file(&args, &report);
    exit_code(&report)
}

/// Writes `--result-file`; a failure is logged, never turns a finished upload into an error.
fn write_result_file(args: &UploadArgs, report: &UploadReport) {
    let Some(path) = &args.result_file else {
        return;
    };
    match super::report::bounded_json(report, super::report::RESULT_FILE_LIMIT) {
        Ok(json) => {
            if let Err(e) = std::fs::write(path, json) {
                eprintln!("error: cannot write --result-file {}: {e}", path.display());
            }
        }
        Err(e) => eprintln!("error: cannot encode the report: {e}"),
    }
}

fn parse_max_rejected(text: &str) -> Result<MaxRejected, String> {
    text.parse()
}

/// A content SHA-256: 64 hex digits, kept lower-case as the reports print it.
fn parse_sha256(s: &str) -> Result<String, String> {
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err("expected a SHA-256: 64 hexadecimal digits".into())
    }
}

async fn upload(
    args: &UploadArgs,
    conversion: crate::convert::Conversion,
    credentials: AppCredentials,
) -> UploadReport {
    let crate::convert::Conversion {
        source,
        validation,
        report: conversion,
    } = conversion;
    let cloud = Cloud::from(args.cloud);
    let authority = authority(args, cloud, std::env::var("AZURE_AUTHORITY_HOST").ok());
    let endpoints = cloud.endpoints().with_overrides(
        authority.as_deref(),
        args.ingestion_url.as_deref(),
        args.resource.as_deref(),
    );
    let mut config = UploaderConfig::new(endpoints, credentials);
    config.ca_file = args.ca_file.clone();
    config.retry = RetryPolicy {
        max_attempts: args.max_attempts,
        ..RetryPolicy::default()
    };
    config.request_timeout = Duration::from_secs(args.request_timeout_seconds.max(1));
    let request = UploadRequest {
        source,
        job_id: args.job_id.clone(),
        validation,
        records_per_call: args.records_per_call as usize,
        force: args.force,
        dry_run: args.dry_run,
        policy: RunPolicy {
            max_rejected: args.max_rejected,
            min_records: args.min_records,
            resend_unchanged_after: args.resend_unchanged_after,
        },
        cancel: cancel_on_signal(),
        conversion: conversion.converted.then(|| Arc::new(conversion)),
    };
    let uploader = match Uploader::new(config) {
        Ok(u) => u,
        Err(e) => return UploadReport::from_error(&e),
    };
    match (&args.checkpoint_file, resume_checkpoint(args)) {
        (Some(path), _) => {
            uploader
                .run(&request, &FileCheckpointStore { path: path.clone() })
                .await
        }
        (None, Some(seed)) => {
            uploader
                .run(&request, &MemoryCheckpointStore::new(Some(seed)))
                .await
        }
        (None, None) => uploader.run(&request, &NoCheckpoint).await,
    }
}

/// The checkpoint given by --resume-sha256/--resume-records (clap makes them come in pairs).
/// `complete` stays false: the uploader treats "all accepted records acknowledged" as complete.
fn resume_checkpoint(args: &UploadArgs) -> Option<Checkpoint> {
    match (&args.resume_sha256, args.resume_records) {
        (Some(sha), Some(records)) => Some(Checkpoint {
            job_id: args.job_id.clone(),
            source_sha256: sha.clone(),
            records_acknowledged: records,
            complete: false,
            completed_at: args.resume_completed_at,
        }),
        _ => None,
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

/// The authority to use instead of the cloud's: --authority-url, then (with
/// --workload-identity) AZURE_AUTHORITY_HOST. Warns when the variable names another host than
/// the cloud's: a GCC High or DoD app lives in the `.us` authority even when the cluster (and so
/// the webhook's default) is in commercial Azure.
fn authority(args: &UploadArgs, cloud: Cloud, env_host: Option<String>) -> Option<String> {
    if let Some(url) = &args.authority_url {
        return Some(url.clone());
    }
    let host = env_host.filter(|h| args.workload_identity && !h.trim().is_empty())?;
    let host = host.trim().trim_end_matches('/').to_string();
    let published = cloud.endpoints().authority_url;
    if host_of(&host) != host_of(&published) {
        tracing::warn!(
            azure_authority_host = %host,
            cloud = %cloud,
            cloud_authority = %published,
            "AZURE_AUTHORITY_HOST names {host}, but the {cloud} cloud's authority is {published}; using AZURE_AUTHORITY_HOST. If the app is registered in the {cloud} cloud, pass --authority-url {published}"
        );
    }
    Some(host)
}

/// The host of an authority URL, lower-case, without scheme, port, path.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', ':'])
        .next()
        .unwrap_or(rest)
        .to_ascii_lowercase()
}

/// `--flag`, else the Azure Workload Identity webhook's variable.
fn flag_or_env(value: &Option<String>, env: &str) -> Option<String> {
    value
        .clone()
        .or_else(|| std::env::var(env).ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn workload_identity_credentials(args: &UploadArgs) -> Result<AppCredentials, CredentialError> {
    let missing = |flag: &str, env: &str| {
        CredentialError::Missing(format!(
            "--workload-identity needs {flag} or {env} (the Azure Workload Identity webhook sets it)"
        ))
    };
    let path = args
        .federated_token_file
        .clone()
        .or_else(|| std::env::var_os("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from))
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| missing("--federated-token-file", "AZURE_FEDERATED_TOKEN_FILE"))?;
    let file = FederatedTokenFile { path };
    // Read once now so a bad file stops the run before anything is sent.
    file.read()?;
    Ok(AppCredentials {
        tenant_id: flag_or_env(&args.tenant_id, "AZURE_TENANT_ID")
            .ok_or_else(|| missing("--tenant-id", "AZURE_TENANT_ID"))?,
        app_id: flag_or_env(&args.app_id, "AZURE_CLIENT_ID")
            .ok_or_else(|| missing("--app-id", "AZURE_CLIENT_ID"))?,
        auth: ClientAuth::Federated(Arc::new(file)),
        scrubber: Default::default(),
    })
}

fn load_credentials(args: &UploadArgs) -> Result<AppCredentials, CredentialError> {
    if args.workload_identity {
        return workload_identity_credentials(args);
    }
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
                "no app credential: give --app-secret-file, HRCONNECTOR_APP_SECRET, --app-secret, --certificate-file with --private-key-file, or --workload-identity".into(),
            ));
        }
    };
    let tenant_id = one_value(
        &args.tenant_id,
        &args.tenant_id_file,
        "--tenant-id",
        "HRCONNECTOR_TENANT_ID",
    )?;
    let app_id = one_value(
        &args.app_id,
        &args.app_id_file,
        "--app-id",
        "HRCONNECTOR_APP_ID",
    )?;
    Ok(AppCredentials {
        scrubber: read_values_scrubber(args, &tenant_id, &app_id, &auth),
        tenant_id,
        app_id,
        auth,
    })
}

/// The values read from files (an upload Job's mounted Secret) or the environment, which
/// service errors must not echo. A value typed on the command line is the caller's own.
fn read_values_scrubber(
    args: &UploadArgs,
    tenant_id: &str,
    app_id: &str,
    auth: &ClientAuth,
) -> crate::net::Scrubber {
    let mut scrubber = crate::net::Scrubber::default();
    let source = |file: &Option<PathBuf>, flag: &str, env: &str| match file {
        Some(_) => Some(format!("{flag}-file")),
        None => std::env::var_os(env).map(|_| env.to_string()),
    };
    if args.tenant_id.is_none()
        && let Some(from) = source(&args.tenant_id_file, "--tenant-id", "HRCONNECTOR_TENANT_ID")
    {
        scrubber.add(tenant_id, format!("tenant ID from {from}"));
    }
    if args.app_id.is_none()
        && let Some(from) = source(&args.app_id_file, "--app-id", "HRCONNECTOR_APP_ID")
    {
        scrubber.add(app_id, format!("app ID from {from}"));
    }
    if let ClientAuth::Secret(secret) = auth {
        scrubber.add(secret.expose_secret(), "the app secret");
    }
    scrubber
}

/// A value given exactly once: on the command line or in the environment, or in a file.
fn one_value(
    value: &Option<String>,
    file: &Option<PathBuf>,
    flag: &str,
    env: &str,
) -> Result<String, CredentialError> {
    let value = match (value, file) {
        (Some(_), Some(_)) => {
            return Err(CredentialError::Missing(format!(
                "give {flag} (or {env}) or {flag}-file, not both"
            )));
        }
        (None, None) => {
            return Err(CredentialError::Missing(format!(
                "missing {flag}: give {flag}, {env} or {flag}-file"
            )));
        }
        (Some(v), None) => v.trim().to_string(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| {
                CredentialError::Missing(format!("cannot read {flag}-file {}: {e}", path.display()))
            })?
            .trim_end_matches(['\r', '\n'])
            .to_string(),
    };
    if value.is_empty() {
        return Err(CredentialError::Missing(format!("{flag} is empty")));
    }
    Ok(value)
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
