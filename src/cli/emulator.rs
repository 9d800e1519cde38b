//! `hrconnector emulator`: serves the local token and ingestion endpoints until Ctrl-C/SIGTERM.
//!
//! With no app flags it registers the demo app ([`crate::emulator::DEMO_APP_ID`] in
//! [`crate::emulator::DEMO_TENANT_ID`], secret [`crate::emulator::DEMO_APP_SECRET`]) and the demo
//! job. It listens on loopback only unless `--allow-non-loopback` is given: it is a test tool
//! that accepts fake credentials and injects faults on request.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::emulator::{self, AppRegistration, EmulatorConfig};

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Allow a listen address that is not loopback.
    #[arg(long)]
    allow_non_loopback: bool,
    /// Tenant of the app to register (default: the demo tenant).
    #[arg(long)]
    tenant_id: Option<String>,
    /// App (client) id to register (default: the demo app).
    #[arg(long)]
    app_id: Option<String>,
    /// Client secret of the registered app.
    #[arg(long, env = "HRCONNECTOR_EMULATOR_APP_SECRET", hide_env_values = true)]
    app_secret: Option<String>,
    /// PEM file holding the app's X.509 certificate, for certificate (client assertion) auth.
    #[arg(long)]
    certificate_file: Option<PathBuf>,
    /// Connector job id to accept (repeatable). Without any, the demo app's config accepts the
    /// demo job and a custom app's config accepts any job id.
    #[arg(long = "job-id")]
    job_ids: Vec<String>,
    /// The `resource` tokens are issued for.
    #[arg(long, default_value = crate::cloud::CONNECTOR_RESOURCE)]
    resource: String,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, default_value_t = 3599)]
    token_lifetime_seconds: u64,
    /// Do not keep received records in memory (for benchmarks); counts and logs are kept.
    #[arg(long)]
    no_keep_records: bool,
    /// A federated identity credential of the custom app, `ISSUER|SUBJECT|AUDIENCE`
    /// (repeatable), e.g. `https://kubernetes.default.svc|system:serviceaccount:hr:uploader|api://AzureADTokenExchange`.
    #[arg(long = "federated-credential", value_parser = parse_federated)]
    federated_credentials: Vec<emulator::FederatedCredential>,
    /// An issuer whose tokens federated credentials accept, `ISSUER=PUBLIC_KEY_PEM_FILE`
    /// (repeatable).
    #[arg(long = "trusted-issuer")]
    trusted_issuers: Vec<String>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key-file).
    #[arg(long, requires = "tls_key_file")]
    tls_cert_file: Option<PathBuf>,
    /// PEM private key of --tls-cert-file.
    #[arg(long, requires = "tls_cert_file")]
    tls_key_file: Option<PathBuf>,
}

fn parse_federated(s: &str) -> Result<emulator::FederatedCredential, String> {
    let mut parts = s.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(issuer), Some(subject), Some(audience))
            if !issuer.is_empty() && !subject.is_empty() && !audience.is_empty() =>
        {
            Ok(emulator::FederatedCredential {
                issuer: issuer.into(),
                subject: subject.into(),
                audience: audience.into(),
            })
        }
        _ => Err("expected ISSUER|SUBJECT|AUDIENCE".into()),
    }
}

/// A command line that cannot be served.
#[derive(Debug, thiserror::Error)]
enum ArgsError {
    #[error(
        "refusing to listen on non-loopback address {0}: the emulator accepts test credentials; pass --allow-non-loopback to do it anyway"
    )]
    NotLoopback(SocketAddr),
    #[error("--tenant-id and --app-id must be given together")]
    PartialApp,
    #[error(
        "a custom app needs --app-secret (or HRCONNECTOR_EMULATOR_APP_SECRET), --certificate-file or --federated-credential"
    )]
    NoCredential,
    #[error("cannot read certificate file {path}: {source}")]
    Certificate {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--trusted-issuer {0:?}: expected ISSUER=PUBLIC_KEY_PEM_FILE")]
    TrustedIssuer(String),
}

fn read_text(path: &PathBuf) -> Result<String, ArgsError> {
    std::fs::read_to_string(path).map_err(|source| ArgsError::Read {
        path: path.clone(),
        source,
    })
}

fn build_config(args: &EmulatorArgs) -> Result<EmulatorConfig, ArgsError> {
    if !args.listen.ip().is_loopback() && !args.allow_non_loopback {
        return Err(ArgsError::NotLoopback(args.listen));
    }
    let custom = args.tenant_id.is_some()
        || args.app_id.is_some()
        || args.app_secret.is_some()
        || args.certificate_file.is_some()
        || !args.federated_credentials.is_empty();
    let mut config = if custom {
        let (Some(tenant_id), Some(app_id)) = (&args.tenant_id, &args.app_id) else {
            return Err(ArgsError::PartialApp);
        };
        if args.app_secret.is_none()
            && args.certificate_file.is_none()
            && args.federated_credentials.is_empty()
        {
            return Err(ArgsError::NoCredential);
        }
        let certificate_pem =
            match &args.certificate_file {
                Some(path) => Some(std::fs::read_to_string(path).map_err(|source| {
                    ArgsError::Certificate {
                        path: path.clone(),
                        source,
                    }
                })?),
                None => None,
            };
        EmulatorConfig {
            apps: vec![AppRegistration {
                tenant_id: tenant_id.clone(),
                app_id: app_id.clone(),
                secret: args.app_secret.clone(),
                certificate_pem,
                federated_credentials: args.federated_credentials.clone(),
            }],
            ..EmulatorConfig::default()
        }
    } else {
        EmulatorConfig::demo()
    };
    if !args.job_ids.is_empty() {
        config.jobs = args.job_ids.clone();
    }
    config.resource = args.resource.clone();
    config.token_lifetime = Duration::from_secs(args.token_lifetime_seconds);
    config.keep_records = !args.no_keep_records;
    for spec in &args.trusted_issuers {
        let (issuer, file) = spec
            .split_once('=')
            .ok_or_else(|| ArgsError::TrustedIssuer(spec.clone()))?;
        config.issuers.push(emulator::TrustedIssuer {
            issuer: issuer.to_string(),
            public_key_pem: read_text(&PathBuf::from(file))?,
        });
    }
    Ok(config)
}

pub fn run(args: EmulatorArgs) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();

    let config = match build_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hrconnector emulator: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hrconnector emulator: cannot start the async runtime: {e}");
            return ExitCode::from(super::EXIT_FAILED);
        }
    };
    let tls = match (&args.tls_cert_file, &args.tls_key_file) {
        (Some(cert), Some(key)) => match (read_text(cert), read_text(key)) {
            (Ok(cert_chain_pem), Ok(key_pem)) => Some(emulator::TlsIdentity {
                cert_chain_pem,
                key_pem,
            }),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("hrconnector emulator: {e}");
                return ExitCode::from(super::EXIT_USAGE);
            }
        },
        _ => None,
    };
    runtime.block_on(serve(config, args.listen, tls))
}

async fn serve(
    config: EmulatorConfig,
    listen: SocketAddr,
    tls: Option<emulator::TlsIdentity>,
) -> ExitCode {
    // Printed before `start` consumes the config; never the secret.
    let apps: Vec<(String, String, bool, bool)> = config
        .apps
        .iter()
        .map(|a| {
            (
                a.tenant_id.clone(),
                a.app_id.clone(),
                a.secret.is_some(),
                a.certificate_pem.is_some(),
            )
        })
        .collect();
    let jobs = config.jobs.clone();
    let resource = config.resource.clone();

    let started = match &tls {
        Some(identity) => emulator::start_tls(config, listen, identity).await,
        None => emulator::start(config, listen).await,
    };
    let handle = match started {
        Ok(h) => h,
        Err(e) => {
            eprintln!("hrconnector emulator: cannot listen on {listen}: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    let url = handle.url();
    println!("hrconnector emulator listening on {url}");
    println!("  token:  POST {url}/{{tenant}}/oauth2/token?api-version=1.0");
    println!("  token:  POST {url}/{{tenant}}/oauth2/v2.0/token (federated assertions)");
    println!("  upload: POST {url}/api/signals?jobid={{job}}");
    println!("  log:    GET  {url}/api/log?jobid={{job}}");
    println!("  resource: {resource}");
    for (tenant, app, secret, cert) in apps {
        let creds = match (secret, cert) {
            (true, true) => "secret, certificate",
            (true, false) => "secret",
            (false, true) => "certificate",
            (false, false) => "federated credentials",
        };
        println!("  tenant {tenant}  app {app}  ({creds})");
    }
    if jobs.is_empty() {
        println!("  jobs: any job id is accepted");
    } else {
        for job in &jobs {
            println!("  job {job}");
        }
    }
    println!("  control (emulator only): {url}/_emulator/{{faults,upload-delay,received,stats}}");
    println!("Ctrl-C stops it.");

    shutdown_signal().await;
    tracing::info!("stopping: finishing open requests");
    handle.shutdown().await;
    tracing::info!("emulator stopped");
    ExitCode::SUCCESS
}

/// Waits for Ctrl-C, or SIGTERM on Unix (what Kubernetes and `kill` send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    fn parse(argv: &[&str]) -> EmulatorArgs {
        Wrapper::try_parse_from(std::iter::once("emulator").chain(argv.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn demo_app_by_default() {
        let c = build_config(&parse(&[])).unwrap();
        assert_eq!(c.apps[0].app_id, emulator::DEMO_APP_ID);
        assert_eq!(c.jobs, vec![emulator::DEMO_JOB_ID.to_string()]);
        assert!(c.keep_records);
    }

    #[test]
    fn refuses_non_loopback_and_half_apps() {
        assert!(matches!(
            build_config(&parse(&["--listen", "0.0.0.0:8080"])),
            Err(ArgsError::NotLoopback(_))
        ));
        assert!(
            build_config(&parse(&[
                "--listen",
                "0.0.0.0:8080",
                "--allow-non-loopback"
            ]))
            .is_ok()
        );
        assert!(matches!(
            build_config(&parse(&["--tenant-id", "t", "--app-secret", "s"])),
            Err(ArgsError::PartialApp)
        ));
        assert!(matches!(
            build_config(&parse(&["--tenant-id", "t", "--app-id", "a"])),
            Err(ArgsError::NoCredential)
        ));
    }

    #[test]
    fn custom_app_and_jobs() {
        let c = build_config(&parse(&[
            "--tenant-id",
            "t",
            "--app-id",
            "a",
            "--app-secret",
            "s",
            "--job-id",
            "j1",
            "--job-id",
            "j2",
            "--token-lifetime-seconds",
            "60",
            "--no-keep-records",
        ]))
        .unwrap();
        assert_eq!(c.apps[0].secret.as_deref(), Some("s"));
        assert_eq!(c.jobs, vec!["j1", "j2"]);
        assert_eq!(c.token_lifetime, Duration::from_secs(60));
        assert!(!c.keep_records);
    }
}
