//! `--csv-file-path F` or `--source URL`: the source of `validate` and `upload`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use tokio::runtime::Handle;

use crate::source::{
    CsvSource, FileSource, ObjectLocation, ObjectSource, StoreConfig, TempFileSource,
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
    /// AWS_ENDPOINT_URL, AWS_ALLOW_HTTP, AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE). A last
    /// segment with `*` takes the newest matching object of its prefix (`?` would start a
    /// query, which is refused: use `*`).
    #[arg(long, value_name = "URL")]
    pub source: Option<String>,
}

impl SourceArgs {
    /// The source, checked to exist for an object (a HEAD, so that a missing object, container
    /// or bucket, or a denied read, is a usage error before anything starts). `runtime` drives
    /// an object source's reads.
    pub async fn open(
        &self,
        runtime: Handle,
        max_attempts: u32,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Arc<dyn CsvSource>, String> {
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
            (None, Some(url)) => ObjectLocation::parse(url)
                .map(|l| l.display_name())
                .unwrap_or_else(|_| crate::source::object::display_url(url).to_owned()),
            (None, None) => String::new(),
        }
    }
}
