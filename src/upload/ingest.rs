//! One POST of one chunk to the ingestion endpoint: `multipart/form-data` with a `file` part.

use std::time::Duration;

use bytes::Bytes;
use reqwest::multipart::{Form, Part};
use secrecy::{ExposeSecret, SecretString};

use crate::http_client::{HttpClient, SendError, UntrustedCertificate, untrusted_certificate};
use crate::net::EgressRefused;
use crate::net::body::{ERROR_BODY_LIMIT, read_bounded};

use super::http_error::{describe_transport_error, truncate_body};
use super::retry::{is_retryable_status, retry_after};

/// How one attempt went.
#[derive(Debug)]
pub enum AttemptOutcome {
    /// Any 2xx: the service has the chunk.
    Accepted,
    /// Worth another attempt (transport error, timeout, 408/429/5xx).
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The service refused the chunk; retrying would not help.
    Refused { status: u16, message: String },
    /// The server's certificate is not trusted; retrying would not help.
    Untrusted(UntrustedCertificate),
    /// The egress policy refused the request (or a redirect): nothing was sent.
    NotAllowed(EgressRefused),
}

/// Posts `body` (header row + records) as the part `file` named `file_name`.
pub async fn post_chunk(
    http: &HttpClient,
    upload_url: &str,
    bearer: &SecretString,
    file_name: &str,
    body: Bytes,
) -> AttemptOutcome {
    let length = body.len() as u64;
    let part = Part::stream_with_length(reqwest::Body::from(body), length)
        .file_name(file_name.to_string());
    let part = match part.mime_str("text/csv") {
        Ok(part) => part,
        Err(e) => {
            return AttemptOutcome::Refused {
                status: 0,
                message: format!("could not build the request: {e}"),
            };
        }
    };
    let response = http
        .post(upload_url)
        .bearer_auth(bearer.expose_secret())
        .multipart(Form::new().part("file", part))
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(SendError::Refused(refused)) => return AttemptOutcome::NotAllowed(refused),
        Err(SendError::Transport(e)) => {
            if let Some(cert) = untrusted_certificate(&e) {
                return AttemptOutcome::Untrusted(cert);
            }
            return AttemptOutcome::Transient {
                message: describe_transport_error(&e),
                retry_after: None,
            };
        }
    };
    let status = response.status();
    let wait_hint = retry_after(response.headers());
    // The body is only read for the error text; a failure to read it is itself transient.
    let body = match read_bounded(response, ERROR_BODY_LIMIT).await {
        Ok(b) => b.bytes,
        Err(e) if !status.is_success() => {
            return AttemptOutcome::Transient {
                message: describe_transport_error(&e),
                retry_after: wait_hint,
            };
        }
        Err(_) => Bytes::new(),
    };
    if status.is_success() {
        return AttemptOutcome::Accepted;
    }
    let message = format!("HTTP {status}: {}", truncate_body(&body));
    if is_retryable_status(status) {
        AttemptOutcome::Transient {
            message,
            retry_after: wait_hint,
        }
    } else {
        AttemptOutcome::Refused {
            status: status.as_u16(),
            message: truncate_body(&body),
        }
    }
}
