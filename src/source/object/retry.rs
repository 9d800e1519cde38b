//! Every request to the store is retried as the uploader's are ([`crate::upload::retry`]):
//! transport errors, 408, 429 and 5xx (but 501) with exponential backoff and jitter, honouring
//! the store's `Retry-After`; everything else (403, 404, 412, …) is handed back at once.
//!
//! `object_store`'s own retries never read `Retry-After` (its backoff ignores what a throttled
//! store asks for), so they are switched off and this layer, under `object_store`, is the only
//! one.

use std::sync::Arc;

use async_trait::async_trait;
use object_store::client::{HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpService};

use crate::upload::retry::{is_retryable_status, retry_after};
use crate::upload::{RetryPolicy, Sleeper};

/// The crate's HTTP client with the uploader's retry policy.
#[derive(Clone)]
pub(super) struct RetryingClient {
    pub http: crate::http_client::HttpClient,
    pub retry: RetryPolicy,
    pub sleeper: Arc<dyn Sleeper>,
    /// `object_store`'s `allow_http` for this client (`AWS_ALLOW_HTTP`, `AZURE_ALLOW_HTTP`, an
    /// emulator, an `http://` endpoint in a job's spec): its own client would refuse plain HTTP
    /// otherwise, and so does this one.
    pub allow_http: bool,
}

/// A plain-HTTP request that `allow_http` does not allow.
#[derive(Debug, thiserror::Error)]
#[error(
    "the endpoint {0} is plain HTTP, which is refused unless allowed (AWS_ALLOW_HTTP=true for S3, \
     AZURE_ALLOW_HTTP=true for Azure): credentials and HR data would travel unencrypted; use an \
     https:// endpoint"
)]
pub struct PlainHttpRefused(pub String);

impl std::fmt::Debug for RetryingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RetryingClient({:?})", self.retry)
    }
}

#[async_trait]
impl HttpService for RetryingClient {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        if !self.allow_http && parts.uri.scheme_str() == Some("http") {
            let host = parts.uri.authority().map_or("", |a| a.as_str());
            return Err(HttpError::new(
                HttpErrorKind::Unknown,
                PlainHttpRefused(format!("http://{host}")),
            ));
        }
        // GET and HEAD can be sent again even when the first try may have reached the store.
        let idempotent = parts.method.is_safe();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = HttpRequest::from_parts(parts.clone(), body.clone());
            let last = attempt >= self.retry.max_attempts;
            let (wait, why) = match self.http.call(request).await {
                Ok(response) if last || !is_retryable_status(response.status()) => {
                    return Ok(response);
                }
                Ok(response) => (
                    self.retry.delay(attempt, retry_after(response.headers())),
                    format!("HTTP {}", response.status()),
                ),
                Err(e) if last || !retryable(&e, idempotent) => return Err(e),
                // The innermost cause only: outer layers may name the URL (and a SAS query).
                Err(e) => (self.retry.delay(attempt, None), innermost(&e)),
            };
            tracing::warn!(
                method = %parts.method,
                path = parts.uri.path(),
                attempt,
                wait_ms = wait.as_millis() as u64,
                error = %why,
                "object store request failed, retrying"
            );
            self.sleeper.sleep(wait).await;
        }
    }
}

fn retryable(error: &HttpError, idempotent: bool) -> bool {
    match error.kind() {
        // Nothing reached the store.
        HttpErrorKind::Connect | HttpErrorKind::Request => true,
        HttpErrorKind::Timeout | HttpErrorKind::Interrupted => idempotent,
        _ => false,
    }
}

fn innermost(error: &HttpError) -> String {
    crate::net::innermost_cause(error)
}
