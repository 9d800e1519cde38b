//! Builds the `object_store` client for one object: endpoint, credentials, retries, timeouts.
//!
//! One [`ObjectCredentials`] variant per way of authenticating; the environment variant reads
//! the variables each ecosystem's own tools read (those `object_store` reads).

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsCredentialProvider};
use object_store::azure::{AzureConfigKey, AzureCredentialProvider, MicrosoftAzureBuilder};
use object_store::{ClientConfigKey, ObjectStore, RetryConfig};
use secrecy::{ExposeSecret, SecretString};

use super::error::ObjectSourceError;
use super::location::ObjectLocation;
use super::retry::RetryingClient;
use crate::upload::{RetryPolicy, Sleeper, TokioSleeper};

/// Bytes asked for in one ranged GET: large enough that request overhead is small, small enough
/// that a retried range repeats little.
pub const DEFAULT_RANGE_LEN: u64 = 32 * 1024 * 1024;

const CONNECT_TIMEOUT: &str = "30s";

/// How the operator or the command line authenticates to the store.
#[derive(Clone, Default)]
pub enum ObjectCredentials {
    /// `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_SAS_TOKEN`, `AZURE_STORAGE_USE_EMULATOR`, …;
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, and each SDK's web/workload identity variables.
    #[default]
    Environment,
    /// An Azure storage account key (shared key).
    AzureAccountKey(SecretString),
    /// An Azure SAS token (the query string, with or without the leading `?`).
    AzureSasToken(SecretString),
    /// Static S3 credentials.
    S3Keys {
        access_key_id: SecretString,
        secret_access_key: SecretString,
        session_token: Option<SecretString>,
    },
    /// Short-lived Azure credentials from a provider (Entra ID workload identity:
    /// [`super::EntraStorageToken`]).
    AzureProvider(AzureCredentialProvider),
    /// Short-lived S3 credentials from a provider (STS web identity:
    /// [`super::StsWebIdentity`]).
    S3Provider(AwsCredentialProvider),
}

impl std::fmt::Debug for ObjectCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ObjectCredentials::Environment => "Environment",
            ObjectCredentials::AzureAccountKey(_) => "AzureAccountKey(..)",
            ObjectCredentials::AzureSasToken(_) => "AzureSasToken(..)",
            ObjectCredentials::S3Keys { .. } => "S3Keys(..)",
            ObjectCredentials::AzureProvider(_) => "AzureProvider(..)",
            ObjectCredentials::S3Provider(_) => "S3Provider(..)",
        })
    }
}

/// Everything needed to reach one object.
#[derive(Clone)]
pub struct StoreConfig {
    pub location: ObjectLocation,
    pub credentials: ObjectCredentials,
    /// S3 region (else `AWS_REGION`, else `us-east-1`).
    pub region: Option<String>,
    /// S3 endpoint (else `AWS_ENDPOINT_URL`), for GovCloud FIPS endpoints, VPC endpoints or
    /// S3-compatible stores.
    pub endpoint: Option<String>,
    /// The uploader's retry policy, for every request to the store: transport errors, 408, 429
    /// and 5xx are retried with backoff and jitter, honouring `Retry-After`; 403 and 404 fail at
    /// once.
    pub retry: RetryPolicy,
    /// Waits between attempts (tests record them instead).
    pub sleeper: Arc<dyn Sleeper>,
    /// Timeout of one request (the body of a ranged read included).
    pub request_timeout: Duration,
    /// Bytes asked for in one ranged GET.
    pub range_len: u64,
    /// Extra trusted CA bundle (`--ca-file`), as for the uploader's connections.
    pub ca_file: Option<std::path::PathBuf>,
    /// Where the store's requests may go. `None` (the command line, library callers): the
    /// published hosts, this config's own `endpoint` and account URL, and the endpoints the
    /// store clients' environment variables name, all chosen by whoever runs it. The operator
    /// gives its administrator's policy, and nothing else is trusted.
    pub egress: Option<Arc<crate::net::EgressPolicy>>,
}

impl StoreConfig {
    pub fn new(location: ObjectLocation) -> Self {
        StoreConfig {
            location,
            credentials: ObjectCredentials::Environment,
            region: None,
            endpoint: None,
            retry: RetryPolicy::default(),
            sleeper: Arc::new(TokioSleeper),
            request_timeout: Duration::from_secs(300),
            range_len: DEFAULT_RANGE_LEN,
            ca_file: None,
            egress: None,
        }
    }

    /// The client for this object's container or bucket.
    pub fn build(&self) -> Result<Arc<dyn ObjectStore>, ObjectSourceError> {
        // object_store's own retries ignore Retry-After: off, RetryingClient retries instead.
        let retry = RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        };
        // Every connection is configured as the uploader's are (proxies, trusted CAs,
        // timeouts): the one client builder of the crate.
        let http = crate::http_client::build(&crate::http_client::HttpClientConfig {
            request_timeout: self.request_timeout,
            connect_timeout: Duration::from_secs(30),
            ca_file: self.ca_file.clone(),
            egress: self
                .egress
                .clone()
                .unwrap_or_else(|| Arc::new(self.own_egress())),
        })
        .map_err(|e| ObjectSourceError::Configuration(e.to_string()))?;
        let connector = SharedClient(RetryingClient {
            http,
            retry: self.retry.clone(),
            sleeper: self.sleeper.clone(),
            allow_http: false,
        });
        // Set key by key: replacing the client options would drop those read from the
        // environment (AWS_ALLOW_HTTP, …).
        let timeout = format!("{}s", self.request_timeout.as_secs().max(1));
        let built: Result<Arc<dyn ObjectStore>, object_store::Error> = match &self.location {
            ObjectLocation::AzureBlob {
                account_url,
                container,
                ..
            } => {
                let mut builder = MicrosoftAzureBuilder::from_env()
                    .with_container_name(container)
                    .with_retry(retry)
                    .with_config(AzureConfigKey::Client(ClientConfigKey::Timeout), &timeout)
                    .with_config(
                        AzureConfigKey::Client(ClientConfigKey::ConnectTimeout),
                        CONNECT_TIMEOUT,
                    );
                if let Some(url) = account_url {
                    let account = account_name(url).ok_or_else(|| {
                        ObjectSourceError::Configuration(format!(
                            "cannot tell the storage account from {url:?}: expected \
                             https://ACCOUNT.blob.core.windows.net (or .usgovcloudapi.net) or an \
                             emulator URL ending in /ACCOUNT"
                        ))
                    })?;
                    if url.starts_with("http://") {
                        builder = builder.with_allow_http(true);
                    }
                    builder = builder
                        .with_account(account)
                        .with_endpoint(url.trim_end_matches('/').to_owned())
                        .with_use_emulator(false);
                }
                builder = match &self.credentials {
                    ObjectCredentials::AzureAccountKey(key) => {
                        builder.with_access_key(key.expose_secret())
                    }
                    ObjectCredentials::AzureSasToken(sas) => {
                        builder.with_sas_authorization(sas_pairs(sas.expose_secret()))
                    }
                    ObjectCredentials::AzureProvider(provider) => {
                        builder.with_credentials(provider.clone())
                    }
                    _ => builder,
                };
                builder
                    .with_http_connector(connector)
                    .build()
                    .map(|s| Arc::new(s) as _)
            }
            ObjectLocation::S3 { bucket, .. } => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_retry(retry)
                    .with_config(
                        AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                        &timeout,
                    )
                    .with_config(
                        AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                        CONNECT_TIMEOUT,
                    );
                if let Some(region) = &self.region {
                    builder = builder.with_region(region);
                }
                if let Some(endpoint) = &self.endpoint {
                    if endpoint.starts_with("http://") {
                        builder = builder.with_allow_http(true);
                    }
                    builder = builder.with_endpoint(endpoint);
                }
                match &self.credentials {
                    ObjectCredentials::S3Keys {
                        access_key_id,
                        secret_access_key,
                        session_token,
                    } => {
                        builder = builder
                            .with_access_key_id(access_key_id.expose_secret())
                            .with_secret_access_key(secret_access_key.expose_secret());
                        if let Some(token) = session_token {
                            builder = builder.with_token(token.expose_secret());
                        }
                    }
                    ObjectCredentials::S3Provider(provider) => {
                        builder = builder.with_credentials(provider.clone());
                    }
                    _ => {}
                }
                builder
                    .with_http_connector(connector)
                    .build()
                    .map(|s| Arc::new(s) as _)
            }
        };
        // Builder errors name settings, not values; still, keep only their kind of text.
        built.map_err(|e| {
            ObjectSourceError::Configuration(format!(
                "cannot configure the {} client for {}: {}",
                self.location.kind().container_word(),
                self.location.display_name(),
                super::location::display_url(&e.to_string())
            ))
        })
    }
}

impl StoreConfig {
    /// The policy of a store whose caller chose its endpoints (see [`StoreConfig::egress`]).
    fn own_egress(&self) -> crate::net::EgressPolicy {
        let mut policy = crate::net::EgressPolicy::published_only();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let configured = [
            "AZURITE_BLOB_STORAGE_URL",
            "AZURE_STORAGE_ENDPOINT",
            "AZURE_ENDPOINT",
            "AZURE_AUTHORITY_HOST",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT",
            "AWS_ENDPOINT_URL_STS",
        ]
        .into_iter()
        .filter_map(var);
        let own = [self.endpoint.clone(), self.location.account_url()];
        for url in configured.chain(own.into_iter().flatten()) {
            policy = policy.allowing_origin_of(&url);
        }
        if var("AZURE_STORAGE_USE_EMULATOR").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            && var("AZURITE_BLOB_STORAGE_URL").is_none()
        {
            // object_store's default emulator address.
            policy = policy.allowing_origin_of("http://127.0.0.1:10000");
        }
        policy
    }
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("location", &self.location)
            .field("credentials", &self.credentials)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// Hands object_store the crate's own HTTP client (see `http_client`), with its retries.
#[derive(Debug)]
struct SharedClient(RetryingClient);

impl object_store::client::HttpConnector for SharedClient {
    fn connect(
        &self,
        options: &object_store::ClientOptions,
    ) -> object_store::Result<object_store::client::HttpClient> {
        let allow_http = options
            .get_config_value(&ClientConfigKey::AllowHttp)
            .is_some_and(|v| v == "true");
        Ok(object_store::client::HttpClient::new(RetryingClient {
            allow_http,
            ..self.0.clone()
        }))
    }
}

/// `ACCOUNT` of `https://ACCOUNT.blob.core.windows.net`, or the last path segment of an
/// emulator's account URL (`http://127.0.0.1:10000/devstoreaccount1`).
pub fn account_name(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1.trim_end_matches('/');
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let account = if host.contains(".blob.") {
        host.split('.').next()?
    } else {
        path.rsplit('/').next()?
    };
    (!account.is_empty()).then(|| account.to_owned())
}

/// A SAS token's query pairs (`sv=…&sig=…`, with or without a leading `?`).
fn sas_pairs(sas: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(sas.trim_start_matches('?')).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names() {
        assert_eq!(
            account_name("https://agencyhr.blob.core.usgovcloudapi.net").as_deref(),
            Some("agencyhr")
        );
        assert_eq!(
            account_name("http://127.0.0.1:10000/devstoreaccount1/").as_deref(),
            Some("devstoreaccount1")
        );
        assert_eq!(account_name("http://127.0.0.1:10000"), None);
    }

    #[test]
    fn sas_tokens_with_or_without_question_mark() {
        let pairs = sas_pairs("?sv=2024-11-04&sig=a%2Bb");
        assert_eq!(pairs[0], ("sv".into(), "2024-11-04".into()));
        assert_eq!(pairs[1], ("sig".into(), "a+b".into()));
        assert_eq!(sas_pairs("sv=1"), [("sv".to_owned(), "1".to_owned())]);
    }

    #[test]
    fn credentials_do_not_print() {
        let keys = ObjectCredentials::S3Keys {
            access_key_id: "AKIDEXAMPLE".to_owned().into(),
            secret_access_key: "wJalrXUtnFEMI".to_owned().into(),
            session_token: None,
        };
        let text = format!("{keys:?}");
        assert!(!text.contains("AKID") && !text.contains("wJal"), "{text}");
    }
}
