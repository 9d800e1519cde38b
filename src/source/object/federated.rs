//! Secret-less credentials for object storage: a service account token (from the TokenRequest
//! API or a projected token file, any [`AssertionSource`]) exchanged for the store's own
//! short-lived credential, kept until shortly before it expires and then exchanged again.
//!
//! - Azure Blob Storage: [`EntraStorageToken`], an Entra ID token for
//!   `https://storage.azure.com/.default` from the v2 endpoint with the service account token as
//!   federated client assertion (the uploader's own [`TokenClient`]), sent as a bearer token.
//! - S3: [`StsWebIdentity`], temporary credentials from STS `AssumeRoleWithWebIdentity`.
//!
//! Both are `object_store` credential providers; neither puts a token in an error or a log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use object_store::CredentialProvider;
use object_store::aws::AwsCredential;
use object_store::azure::AzureCredential;
use secrecy::ExposeSecret;
use tokio::sync::Mutex;

use crate::http_client::{HttpClient, SendError, untrusted_certificate};
use crate::net::body::{ANSWER_LIMIT, read_bounded};
use crate::upload::retry::{is_retryable_status, retry_after};
use crate::upload::token::TokenClient;
use crate::upload::{AssertionSource, RetryPolicy, Sleeper};

/// The Entra ID resource of Azure Storage, in every Azure cloud (Azure Government included).
pub const STORAGE_RESOURCE: &str = "https://storage.azure.com";

/// STS API version of `AssumeRoleWithWebIdentity`.
const STS_VERSION: &str = "2011-06-15";
/// Lifetime asked of STS credentials (the role's maximum session duration may allow more).
const STS_SECONDS: u64 = 3600;

/// Why a storage credential could not be obtained; travels inside the `object_store` error of
/// the request that needed it, so that the source's error can name it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail}")]
pub struct CredentialFailure {
    pub detail: String,
    /// No answer from the token service (after retries), rather than a refusal.
    pub unreachable: bool,
    /// The egress policy refused the token request: nothing was sent.
    pub refused: Option<crate::net::EgressRefused>,
}

impl CredentialFailure {
    fn into_store_error(self, store: &'static str) -> object_store::Error {
        object_store::Error::Generic {
            store,
            source: Box::new(self),
        }
    }
}

/// An Entra ID bearer token for Azure Storage, fetched with a federated assertion.
pub struct EntraStorageToken {
    tokens: TokenClient,
    /// The token URL, for messages.
    token_url: String,
}

impl EntraStorageToken {
    /// `tokens` must ask for [`STORAGE_RESOURCE`] with a federated assertion (the v2 endpoint).
    pub fn new(tokens: TokenClient, token_url: String) -> Self {
        EntraStorageToken { tokens, token_url }
    }
}

impl std::fmt::Debug for EntraStorageToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EntraStorageToken({})", self.token_url)
    }
}

#[async_trait]
impl CredentialProvider for EntraStorageToken {
    type Credential = AzureCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AzureCredential>> {
        // TokenClient caches the token and asks again five minutes before it expires.
        match self.tokens.bearer().await {
            Ok(token) => Ok(Arc::new(AzureCredential::BearerToken(
                token.expose_secret().to_owned(),
            ))),
            Err(e) => {
                let unreachable = matches!(e, crate::upload::UploadError::Unavailable { .. });
                let refused = match &e {
                    crate::upload::UploadError::EndpointNotAllowed(refused) => {
                        Some(refused.clone())
                    }
                    _ => None,
                };
                Err(CredentialFailure {
                    detail: format!(
                        "cannot get a storage token (scope {STORAGE_RESOURCE}/.default) from {}: {e}",
                        self.token_url
                    ),
                    unreachable,
                    refused,
                }
                .into_store_error("MicrosoftAzure"))
            }
        }
    }
}

/// Temporary S3 credentials from STS `AssumeRoleWithWebIdentity`.
pub struct StsWebIdentity {
    http: HttpClient,
    endpoint: String,
    role_arn: String,
    session_name: String,
    assertion: Arc<dyn AssertionSource>,
    retry: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    cache: Mutex<Option<Cached>>,
}

struct Cached {
    credential: Arc<AwsCredential>,
    refresh_at: Instant,
}

impl std::fmt::Debug for StsWebIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StsWebIdentity({} at {})", self.role_arn, self.endpoint)
    }
}

/// What `StsWebIdentity::new` needs.
pub struct StsWebIdentityConfig {
    pub http: HttpClient,
    /// `https://sts.REGION.amazonaws.com`, or a VPC endpoint.
    pub endpoint: String,
    pub role_arn: String,
    /// `RoleSessionName`: shown in CloudTrail; 2 to 64 of `[A-Za-z0-9+=,.@-]` (others are
    /// replaced).
    pub session_name: String,
    pub assertion: Arc<dyn AssertionSource>,
    pub retry: RetryPolicy,
    pub sleeper: Arc<dyn Sleeper>,
}

/// The default STS endpoint of an AWS region (GovCloud's `us-gov-west-1` included).
pub fn sts_endpoint(region: &str) -> String {
    format!("https://sts.{region}.amazonaws.com")
}

impl StsWebIdentity {
    pub fn new(config: StsWebIdentityConfig) -> Self {
        StsWebIdentity {
            http: config.http,
            endpoint: config.endpoint,
            role_arn: config.role_arn,
            session_name: session_name(&config.session_name),
            assertion: config.assertion,
            retry: config.retry,
            sleeper: config.sleeper,
            cache: Mutex::new(None),
        }
    }

    async fn assume_with_retry(&self) -> Result<(AwsCredential, Duration), CredentialFailure> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (last, hint) = match self.assume_once().await {
                Ok(answer) => return Ok(answer),
                Err(Attempt::Fatal(failure)) => return Err(failure),
                Err(Attempt::Transient { message, hint }) => (message, hint),
            };
            if attempt >= self.retry.max_attempts {
                return Err(CredentialFailure {
                    detail: format!(
                        "STS AssumeRoleWithWebIdentity at {} did not answer after {attempt} attempts: {last}",
                        self.endpoint
                    ),
                    unreachable: true,
                    refused: None,
                });
            }
            let wait = self.retry.delay(attempt, hint);
            tracing::warn!(attempt, wait_ms = wait.as_millis() as u64, error = %last, "STS request failed, retrying");
            self.sleeper.sleep(wait).await;
        }
    }

    async fn assume_once(&self) -> Result<(AwsCredential, Duration), Attempt> {
        let token = self
            .assertion
            .fetch()
            .await
            .map_err(|e| Attempt::fatal(e.to_string()))?;
        let form = [
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", STS_VERSION),
            ("RoleArn", self.role_arn.as_str()),
            ("RoleSessionName", self.session_name.as_str()),
            ("WebIdentityToken", token.expose_secret()),
            ("DurationSeconds", &STS_SECONDS.to_string()),
        ];
        let response = self
            .http
            .post(&self.endpoint)
            .header("accept", "application/xml")
            .form(&form)
            .send()
            .await
            .map_err(|e| match e {
                SendError::Refused(refused) => Attempt::Fatal(CredentialFailure {
                    detail: refused.to_string(),
                    unreachable: false,
                    refused: Some(refused),
                }),
                SendError::Transport(e) => match untrusted_certificate(&e) {
                    Some(cert) => Attempt::fatal(format!(
                        "the STS endpoint {} presented a certificate that is not trusted ({}); \
                         add its CA with --ca-file or SSL_CERT_FILE",
                        cert.host, cert.problem
                    )),
                    None => Attempt::Transient {
                        message: crate::upload::describe_transport_error(&e),
                        hint: None,
                    },
                },
            })?;
        let status = response.status();
        let hint = retry_after(response.headers());
        // Read to a bound: an STS answer is a few KiB; a 600 MiB one is not an answer.
        let body = read_bounded(response, ANSWER_LIMIT)
            .await
            .map_err(|e| Attempt::Transient {
                message: crate::upload::describe_transport_error(&e),
                hint: None,
            })?;
        if body.cut && status.is_success() {
            return Err(Attempt::fatal(format!(
                "the answer of STS at {} is larger than {} KiB, which no STS answer is",
                self.endpoint,
                ANSWER_LIMIT / 1024
            )));
        }
        let body = String::from_utf8_lossy(&body.bytes).into_owned();
        if status.is_success() {
            return parse_credentials(&body).ok_or_else(|| {
                Attempt::fatal(format!(
                    "the answer of STS at {} holds no credentials",
                    self.endpoint
                ))
            });
        }
        let code = tag(&body, "Code").unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        // AWS's messages say what is wrong with the role or the token; never the token itself.
        let message = tag(&body, "Message")
            .filter(|m| !m.contains(token.expose_secret()))
            .map(|m| m.chars().take(300).collect::<String>())
            .unwrap_or_default();
        let text = format!("{code}: {message}");
        if is_retryable_status(status) {
            return Err(Attempt::Transient {
                message: text,
                hint,
            });
        }
        Err(Attempt::fatal(format!(
            "STS refused AssumeRoleWithWebIdentity for {} ({text}); the role's trust policy must \
             allow the cluster's OIDC issuer, the audience sts.amazonaws.com and this service \
             account as subject",
            self.role_arn
        )))
    }
}

enum Attempt {
    Transient {
        message: String,
        hint: Option<Duration>,
    },
    Fatal(CredentialFailure),
}

impl Attempt {
    fn fatal(detail: String) -> Self {
        Attempt::Fatal(CredentialFailure {
            detail,
            unreachable: false,
            refused: None,
        })
    }
}

#[async_trait]
impl CredentialProvider for StsWebIdentity {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(cached.credential.clone());
        }
        let (credential, lifetime) = self
            .assume_with_retry()
            .await
            .map_err(|e| e.into_store_error("S3"))?;
        // Refresh five minutes early, or half-way through a short session.
        let margin = Duration::from_secs(300).min(lifetime / 2);
        let credential = Arc::new(credential);
        *cache = Some(Cached {
            credential: credential.clone(),
            refresh_at: Instant::now() + lifetime - margin,
        });
        Ok(credential)
    }
}

/// The credentials and their remaining lifetime, from an `AssumeRoleWithWebIdentityResponse`.
fn parse_credentials(body: &str) -> Option<(AwsCredential, Duration)> {
    let credentials = tag(body, "Credentials")?;
    let key_id = tag(&credentials, "AccessKeyId")?;
    let secret_key = tag(&credentials, "SecretAccessKey")?;
    let token = tag(&credentials, "SessionToken");
    let lifetime = tag(&credentials, "Expiration")
        .and_then(|at| at.parse::<jiff::Timestamp>().ok())
        .and_then(|at| Duration::try_from(at.duration_since(jiff::Timestamp::now())).ok())
        .unwrap_or(Duration::from_secs(STS_SECONDS));
    Some((
        AwsCredential {
            key_id,
            secret_key,
            token,
        },
        lifetime,
    ))
}

/// The text of the first `<name>…</name>` element (STS answers are small and flat enough).
fn tag(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{name}>"))?;
    let text = xml[start..start + len].trim();
    (!text.is_empty()).then(|| unescape(text))
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// A `RoleSessionName` STS accepts: `[\w+=,.@-]{2,64}`.
fn session_name(wanted: &str) -> String {
    let mut name: String = wanted
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    while name.len() < 2 {
        name.push('-');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_sts_answer() {
        let body = "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
            <AssumeRoleWithWebIdentityResult><Credentials>\
            <SessionToken>FQoGZXIvYXdzE&amp;x</SessionToken>\
            <SecretAccessKey>wJalrXUtnFEMI</SecretAccessKey>\
            <Expiration>2099-01-01T00:00:00Z</Expiration>\
            <AccessKeyId>ASIAEXAMPLE</AccessKeyId>\
            </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
        let (credential, lifetime) = parse_credentials(body).expect("credentials");
        assert_eq!(credential.key_id, "ASIAEXAMPLE");
        assert_eq!(credential.secret_key, "wJalrXUtnFEMI");
        assert_eq!(credential.token.as_deref(), Some("FQoGZXIvYXdzE&x"));
        assert!(lifetime > Duration::from_secs(3600 * 24 * 365));
        assert!(parse_credentials("<ErrorResponse/>").is_none());
    }

    #[test]
    fn session_names_are_what_sts_accepts() {
        assert_eq!(
            session_name("hrconnector.hr.leavers"),
            "hrconnector.hr.leavers"
        );
        assert_eq!(session_name("a/b c"), "a-b-c");
        assert_eq!(session_name(&"x".repeat(90)).len(), 64);
        assert_eq!(session_name("a"), "a-");
    }
}
