//! `--csv-file-path F` or `--source URL`: the source of `validate` and `upload`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use tokio::runtime::Handle;

use crate::source::{
    CsvSource, FileSource, HttpAuth, HttpsSource, HttpsSourceConfig, ObjectLocation, ObjectSource,
    SftpLocation, SftpSource, SftpSourceConfig, SshAuth, StoreConfig, TempFileSource, TrustedHosts,
};

/// Where the CSV is read from: exactly one of the two.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct SourceArgs {
    /// The HR CSV file (or workbook), or `-` for standard input. Standard input is read whole
    /// into a temporary file first (validation reads it before anything is sent): a stream
    /// cannot resume mid-way, though a checkpoint still recognises identical content. A file
    /// name with `*` or `?` (quoted, so the shell leaves it alone) takes the newest matching
    /// file of the directory (by modification time; ties: the greatest name).
    #[arg(long)]
    pub csv_file_path: Option<PathBuf>,
    /// The HR CSV in object storage: az://CONTAINER/BLOB,
    /// https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB (Azure Government:
    /// …blob.core.usgovcloudapi.net…) or s3://BUCKET/KEY. Account, endpoint and credentials come
    /// from the usual environment variables (AZURE_STORAGE_ACCOUNT_NAME,
    /// AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_USE_EMULATOR,
    /// AZURITE_BLOB_STORAGE_URL, AZURE_CLIENT_ID + AZURE_TENANT_ID + AZURE_FEDERATED_TOKEN_FILE;
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,
    /// AWS_ENDPOINT_URL, AWS_ALLOW_HTTP, AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE). Any other
    /// https:// URL is a report to download (Workday RaaS, BambooHR), authenticated by the
    /// --http-* flags. sftp://USER@HOST[:PORT]/PATH is a file on an SFTP server (the path is
    /// absolute; /~/PATH is relative to the login directory), logged in with --ssh-* flags and
    /// checked against --ssh-known-hosts. A last
    /// segment with `*` takes the newest matching object or file of its prefix (`?` would start
    /// a query, which is refused: use `*`).
    #[arg(long, value_name = "URL")]
    pub source: Option<String>,
}

/// How a remote source authenticates: a report URL (`--source https://…` that is no Azure
/// blob) at most one way, an SFTP server with a key or a password and its known host keys.
/// Secrets come from files, never from the command line.
#[derive(Debug, Clone, Default, Args)]
pub struct ReportAuthArgs {
    #[command(flatten)]
    pub ssh: SshArgs,
    /// User for HTTP basic authentication of a report URL (Workday: the integration system
    /// user; BambooHR: the API key, with any password).
    #[arg(long, requires = "http_basic_password_file",
          conflicts_with_all = ["http_bearer_token_file", "http_oauth_token_url"])]
    pub http_basic_user: Option<String>,
    /// File holding the basic-authentication password.
    #[arg(long, requires = "http_basic_user")]
    pub http_basic_password_file: Option<PathBuf>,
    /// File holding a bearer token for the report URL.
    #[arg(long, conflicts_with = "http_oauth_token_url")]
    pub http_bearer_token_file: Option<PathBuf>,
    /// OAuth 2.0 token endpoint: a token by the client-credentials grant, sent as a bearer token.
    #[arg(long, requires_all = ["http_oauth_client_id", "http_oauth_client_secret_file"])]
    pub http_oauth_token_url: Option<String>,
    /// OAuth 2.0 client ID.
    #[arg(long, requires = "http_oauth_token_url")]
    pub http_oauth_client_id: Option<String>,
    /// File holding the OAuth 2.0 client secret.
    #[arg(long, requires = "http_oauth_token_url")]
    pub http_oauth_client_secret_file: Option<PathBuf>,
    /// OAuth 2.0 scope, if the token endpoint wants one.
    #[arg(long, requires = "http_oauth_token_url")]
    pub http_oauth_scope: Option<String>,
}

/// How `--source sftp://…` logs in, and which host keys it trusts.
#[derive(Debug, Clone, Default, Args)]
pub struct SshArgs {
    /// File holding the SSH private key (OpenSSH or PEM format, unencrypted) for
    /// --source sftp://….
    #[arg(long, conflicts_with = "ssh_password_file")]
    pub ssh_private_key_file: Option<PathBuf>,
    /// File holding the SSH password for --source sftp://….
    #[arg(long)]
    pub ssh_password_file: Option<PathBuf>,
    /// The server's host keys, in OpenSSH known_hosts format (`[host]:port` entries for a port
    /// other than 22; `ssh-keyscan -p PORT HOST` prints them). Required for sftp://: a host key
    /// is never trusted on first use.
    #[arg(long, value_name = "FILE")]
    pub ssh_known_hosts: Option<PathBuf>,
}

impl SshArgs {
    fn given(&self) -> bool {
        self.ssh_private_key_file.is_some()
            || self.ssh_password_file.is_some()
            || self.ssh_known_hosts.is_some()
    }

    fn auth(&self) -> Result<SshAuth, String> {
        let auth = match (&self.ssh_private_key_file, &self.ssh_password_file) {
            (Some(file), _) => SshAuth::PrivateKey(read_secret(file, "--ssh-private-key-file")?),
            (None, Some(file)) => SshAuth::Password(read_secret(file, "--ssh-password-file")?),
            (None, None) => {
                return Err(
                    "--source sftp://… needs --ssh-private-key-file or --ssh-password-file".into(),
                );
            }
        };
        // Named by the flag it came from.
        let flag = match &auth {
            SshAuth::PrivateKey(_) => "--ssh-private-key-file",
            SshAuth::Password(_) => "--ssh-password-file",
        };
        auth.check(flag).map_err(|e| e.to_string())?;
        Ok(auth)
    }

    fn known_hosts(&self) -> Result<TrustedHosts, String> {
        let Some(path) = &self.ssh_known_hosts else {
            return Err(
                "--source sftp://… needs --ssh-known-hosts FILE (OpenSSH known_hosts \
                        format, e.g. from `ssh-keyscan -p PORT HOST` checked with the server's \
                        owner): host keys are never trusted on first use"
                    .into(),
            );
        };
        let what = format!("--ssh-known-hosts {}", path.display());
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {what}: {e}"))?;
        TrustedHosts::parse(&text, &what)
    }
}

impl ReportAuthArgs {
    fn given(&self) -> bool {
        self.http_basic_user.is_some()
            || self.http_bearer_token_file.is_some()
            || self.http_oauth_token_url.is_some()
    }

    /// The credential the flags give (clap has checked that they come in whole sets).
    pub fn auth(&self) -> Result<HttpAuth, String> {
        if let (Some(user), Some(file)) = (&self.http_basic_user, &self.http_basic_password_file) {
            return Ok(HttpAuth::Basic {
                user: user.clone(),
                password: read_secret(file, "--http-basic-password-file")?,
            });
        }
        if let Some(file) = &self.http_bearer_token_file {
            return Ok(HttpAuth::Bearer {
                token: read_secret(file, "--http-bearer-token-file")?,
            });
        }
        if let (Some(token_url), Some(client_id), Some(file)) = (
            &self.http_oauth_token_url,
            &self.http_oauth_client_id,
            &self.http_oauth_client_secret_file,
        ) {
            return Ok(HttpAuth::OAuth2 {
                token_url: token_url.clone(),
                client_id: client_id.clone(),
                client_secret: read_secret(file, "--http-oauth-client-secret-file")?,
                scope: self.http_oauth_scope.clone(),
            });
        }
        Ok(HttpAuth::None)
    }
}

/// A secret from a file, without the line break an editor adds.
fn read_secret(path: &std::path::Path, flag: &str) -> Result<secrecy::SecretString, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {flag} {}: {e}", path.display()))?;
    let value = text.trim_end_matches(['\r', '\n']);
    if value.is_empty() {
        return Err(format!("{flag} {} is empty", path.display()));
    }
    Ok(value.to_owned().into())
}

/// Whether `--source` names a report to download rather than an object in a store.
fn is_report_url(url: &str) -> bool {
    url.starts_with("https://") && !crate::source::object::is_azure_blob_url(url)
}

fn is_sftp_url(url: &str) -> bool {
    url.starts_with("sftp://")
}

impl SourceArgs {
    /// The source, checked to exist for an object (a HEAD, so that a missing object, container
    /// or bucket, or a denied read, is a usage error before anything starts); a report URL is
    /// downloaded here, once for the whole command. `runtime` drives the network reads.
    pub async fn open(
        &self,
        runtime: Handle,
        max_attempts: u32,
        ca_file: Option<&std::path::Path>,
        report_auth: &ReportAuthArgs,
    ) -> Result<Arc<dyn CsvSource>, String> {
        if report_auth.given() && !self.source.as_deref().is_some_and(is_report_url) {
            return Err("the --http-* flags are for --source https://… (a report URL)".into());
        }
        if report_auth.ssh.given() && !self.source.as_deref().is_some_and(is_sftp_url) {
            return Err("the --ssh-* flags are for --source sftp://…".into());
        }
        match (&self.csv_file_path, &self.source) {
            (Some(path), _) if path.as_os_str() == "-" => TempFileSource::from_stdin()
                .map(|s| Arc::new(s) as Arc<dyn CsvSource>)
                .map_err(|e| format!("cannot read standard input: {e}")),
            (Some(path), _) => {
                let file = FileSource::new(path);
                if !file.is_pattern() {
                    return Ok(Arc::new(file));
                }
                // A pattern: the match is chosen once, for the whole command.
                let pinned = file.pin().map_err(|e| e.to_string())?;
                let meta = std::fs::metadata(pinned.name()).map_err(|e| e.to_string())?;
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|t| jiff::Timestamp::try_from(t).ok())
                    .map_or_else(|| "unknown".to_owned(), |t| t.to_string());
                eprintln!(
                    "note: {} chose {} ({} bytes, modified {modified})",
                    self.name(),
                    pinned.name(),
                    meta.len()
                );
                Ok(pinned)
            }
            (None, Some(url)) if is_report_url(url) => {
                let auth = report_auth.auth()?;
                // The command's user chose these hosts: they are allowed, and nothing else.
                let mut egress = crate::net::EgressPolicy::published_only().allowing_origin_of(url);
                if let HttpAuth::OAuth2 { token_url, .. } = &auth {
                    egress = egress.allowing_origin_of(token_url);
                }
                let client = crate::http_client::build(&crate::http_client::HttpClientConfig {
                    ca_file: ca_file.map(ToOwned::to_owned),
                    egress: Arc::new(egress),
                    ..Default::default()
                })
                .map_err(|e| e.to_string())?;
                let source = HttpsSource::new(
                    HttpsSourceConfig {
                        url: url.clone(),
                        auth,
                        client,
                        retry: crate::upload::RetryPolicy {
                            max_attempts,
                            ..Default::default()
                        },
                        sleeper: Arc::new(crate::upload::TokioSleeper),
                        max_bytes: crate::source::https::DEFAULT_MAX_REPORT_BYTES,
                        // One download per command: nothing earlier to ask about.
                        cache: None,
                    },
                    runtime,
                )
                .map_err(|e| e.to_string())?;
                // One download for the whole command, read by validation as it arrives.
                let report = source.start().await.map_err(|e| e.to_string())?;
                eprintln!(
                    "note: downloading {} (ETag {}, Last-Modified {})",
                    source.name(),
                    report.etag().unwrap_or("none"),
                    report.last_modified().unwrap_or("none"),
                );
                Ok(Arc::new(report))
            }
            (None, Some(url)) if is_sftp_url(url) => {
                open_sftp(url, &report_auth.ssh, runtime, max_attempts, &self.name()).await
            }
            (None, Some(url)) => {
                let location = ObjectLocation::parse(url).map_err(|e| e.to_string())?;
                let mut config = StoreConfig::new(location);
                config.retry.max_attempts = max_attempts;
                config.ca_file = ca_file.map(ToOwned::to_owned);
                let object = ObjectSource::new(&config, runtime).map_err(|e| e.to_string())?;
                let version = object.head().await.map_err(|e| e.to_string())?;
                if version.chosen.is_none() {
                    return Ok(Arc::new(object));
                }
                // A pattern: the match is chosen once, for the whole command.
                let pinned = object.pin_version(&version);
                eprintln!(
                    "note: {} chose {} ({} bytes, modified {}, ETag {})",
                    self.name(),
                    pinned.name(),
                    version.size,
                    version.last_modified,
                    version.etag.as_deref().unwrap_or("none"),
                );
                Ok(pinned)
            }
            (None, None) => Err("give --csv-file-path or --source".into()),
        }
    }

    /// How messages name the source.
    pub fn name(&self) -> String {
        match (&self.csv_file_path, &self.source) {
            (Some(path), _) if path.as_os_str() == "-" => "standard input".into(),
            (Some(path), _) => path.display().to_string(),
            (None, Some(url)) if is_sftp_url(url) => SftpLocation::parse(url)
                .map(|l| l.display_name())
                .unwrap_or_else(|_| "the sftp:// source".into()),
            (None, Some(url)) => ObjectLocation::parse(url)
                .map(|l| l.display_name())
                .unwrap_or_else(|_| crate::source::object::display_url(url).to_owned()),
            (None, None) => String::new(),
        }
    }
}

/// `--source sftp://…`: the file (or the newest of the pattern) pinned for the whole command.
async fn open_sftp(
    url: &str,
    ssh: &SshArgs,
    runtime: Handle,
    max_attempts: u32,
    name: &str,
) -> Result<Arc<dyn CsvSource>, String> {
    let location = SftpLocation::parse(url).map_err(|e| e.to_string())?;
    let known_hosts = ssh.known_hosts()?;
    let auth = ssh.auth()?;
    // The command's user chose this server: it is allowed, and nothing else.
    let egress =
        crate::net::EgressPolicy::published_only().allowing_origin_of(&location.origin_url());
    let source = SftpSource::new(
        SftpSourceConfig {
            location,
            auth,
            known_hosts: Arc::new(known_hosts),
            egress: Arc::new(egress),
            retry: crate::upload::RetryPolicy {
                max_attempts,
                ..Default::default()
            },
            sleeper: Arc::new(crate::upload::TokioSleeper),
        },
        runtime,
    )
    .map_err(|e| e.to_string())?;
    let version = source.head().await.map_err(|e| e.to_string())?;
    let pinned = source.pin_version(&version);
    let verb = if version.chosen.is_some() {
        "chose"
    } else {
        "reads"
    };
    eprintln!(
        "note: {name} {verb} {} ({} bytes, modified {})",
        pinned.name(),
        version.size,
        version.modified_text()
    );
    Ok(pinned)
}
