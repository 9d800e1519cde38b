//! Access tokens from Entra ID's token endpoints (client credentials), cached until shortly
//! before they expire: v1 (`resource`) for a secret or a certificate, v2 (`scope`) for a
//! federated assertion, which Entra ID only accepts there. The sample script fetches a token for every chunk; one token per hour is
//! enough.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::http_client::{HttpClient, SendError, untrusted_certificate};
use crate::net::body::{ANSWER_LIMIT, read_bounded};
use crate::net::egress::origin;

use super::assertion::client_assertion;
use super::credentials::{AppCredentials, ClientAuth};
use super::error::UploadError;
use super::http_error::{describe_transport_error, truncate_body};
use super::retry::{RetryPolicy, Sleeper, is_retryable_status, retry_after};

const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Fetches and caches bearer tokens for one app and one resource.
pub struct TokenClient {
    http: HttpClient,
    token_url: String,
    resource: String,
    credentials: AppCredentials,
    retry: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    cache: Mutex<Option<CachedToken>>,
}

struct CachedToken {
    token: SecretString,
    refresh_at: Instant,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: SecretString,
    /// A string in v1 answers, a number in v2 ones: accept both.
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct AadError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

impl TokenClient {
    pub fn new(
        http: HttpClient,
        token_url: String,
        resource: String,
        credentials: AppCredentials,
        retry: RetryPolicy,
        sleeper: Arc<dyn Sleeper>,
    ) -> Self {
        TokenClient {
            http,
            token_url,
            resource,
            credentials,
            retry,
            sleeper,
            cache: Mutex::new(None),
        }
    }

    /// A valid bearer token, from the cache while it has at least a few minutes left.
    pub async fn bearer(&self) -> Result<SecretString, UploadError> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(cached.token.clone());
        }
        let (token, lifetime) = self.fetch_with_retry().await?;
        // Refresh five minutes early, or half-way through a short-lived token.
        let margin = Duration::from_secs(300).min(lifetime / 2);
        *cache = Some(CachedToken {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime - margin,
        });
        Ok(token)
    }

    async fn fetch_with_retry(&self) -> Result<(SecretString, Duration), UploadError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (last, wait_hint) = match self.fetch_once().await {
                Ok(answer) => return Ok(answer),
                Err(FetchError::Fatal(e)) => return Err(e),
                Err(FetchError::Transient {
                    message,
                    retry_after,
                }) => (message, retry_after),
            };
            if attempt >= self.retry.max_attempts {
                return Err(UploadError::Unavailable {
                    what: "token endpoint",
                    attempts: attempt,
                    last,
                });
            }
            let wait = self.retry.delay(attempt, wait_hint);
            tracing::warn!(attempt, wait_ms = wait.as_millis() as u64, error = %last, "token request failed, retrying");
            self.sleeper.sleep(wait).await;
        }
    }

    async fn fetch_once(&self) -> Result<(SecretString, Duration), FetchError> {
        let creds = &self.credentials;
        let mut form: Vec<(&str, String)> = vec![
            ("client_id", creds.app_id.clone()),
            ("grant_type", "client_credentials".into()),
        ];
        if creds.auth.uses_v2_endpoint() {
            form.push((
                "scope",
                format!("{}/.default", self.resource.trim_end_matches('/')),
            ));
        } else {
            form.push(("resource", self.resource.clone()));
            form.push(("tenant_id", creds.tenant_id.clone()));
        }
        match &creds.auth {
            ClientAuth::Secret(secret) => {
                form.push(("client_secret", secret.expose_secret().to_string()))
            }
            ClientAuth::Certificate(cert) => {
                let assertion = client_assertion(cert, &creds.app_id, &self.token_url)
                    .map_err(|e| FetchError::Fatal(e.into()))?;
                form.push(("client_assertion_type", CLIENT_ASSERTION_TYPE.into()));
                form.push(("client_assertion", assertion));
            }
            ClientAuth::Federated(source) => {
                let assertion = source
                    .fetch()
                    .await
                    .map_err(|e| FetchError::Fatal(e.into()))?;
                form.push(("client_assertion_type", CLIENT_ASSERTION_TYPE.into()));
                form.push(("client_assertion", assertion.expose_secret().to_string()));
            }
        }
        // The origin only: the path holds the tenant, which may come from a Secret.
        let authority = reqwest::Url::parse(&self.token_url)
            .map(|u| origin(&u))
            .unwrap_or_default();
        tracing::debug!(authority = %authority, "requesting access token");
        let scrub = |text: String| creds.scrubber.scrub(&text);
        let response = self
            .http
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| match e {
                SendError::Refused(refused) => {
                    FetchError::Fatal(UploadError::EndpointNotAllowed(refused))
                }
                SendError::Transport(e) => match untrusted_certificate(&e) {
                    Some(cert) => FetchError::Fatal(UploadError::UntrustedCertificate(cert)),
                    None => FetchError::Transient {
                        message: scrub(describe_transport_error(&e)),
                        retry_after: None,
                    },
                },
            })?;
        let status = response.status();
        let wait_hint = retry_after(response.headers());
        let body =
            read_bounded(response, ANSWER_LIMIT)
                .await
                .map_err(|e| FetchError::Transient {
                    message: scrub(describe_transport_error(&e)),
                    retry_after: None,
                })?;
        if status.is_success() && body.cut {
            return Err(FetchError::Fatal(UploadError::Authentication {
                status: status.as_u16(),
                error: "invalid_response".into(),
                description: format!(
                    "the token endpoint's answer is larger than {} KiB, which no token is; check the authority URL",
                    ANSWER_LIMIT / 1024
                ),
            }));
        }
        let body = body.bytes;
        if status.is_success() {
            let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
                FetchError::Fatal(UploadError::Authentication {
                    status: status.as_u16(),
                    error: "invalid_response".into(),
                    description: format!("the token endpoint's answer is not a token: {e}"),
                })
            })?;
            let lifetime = answer
                .expires_in
                .and_then(|v| match v {
                    serde_json::Value::String(s) => s.parse::<u64>().ok(),
                    serde_json::Value::Number(n) => n.as_u64(),
                    _ => None,
                })
                .unwrap_or(3599);
            return Ok((answer.access_token, Duration::from_secs(lifetime)));
        }
        // Entra's descriptions echo what they were sent (AADSTS90002 names the tenant).
        let (error, description) = match serde_json::from_slice::<AadError>(&body) {
            Ok(e) if !e.error.is_empty() || !e.error_description.is_empty() => {
                (scrub(e.error), scrub(e.error_description))
            }
            _ => ("http_error".to_string(), scrub(truncate_body(&body))),
        };
        if is_retryable_status(status) {
            return Err(FetchError::Transient {
                message: format!("HTTP {status}: {error}: {description}"),
                retry_after: wait_hint,
            });
        }
        Err(FetchError::Fatal(UploadError::Authentication {
            status: status.as_u16(),
            error,
            description,
        }))
    }
}

enum FetchError {
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    Fatal(UploadError),
}
