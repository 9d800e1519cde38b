//! Why a report cannot be read, worded for the person who has to fix it.

use std::io;

use crate::net::EgressRefused;

/// Why a report cannot be read, worded for the person who has to fix it. Never holds a
/// credential, nor the URL's query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpsSourceError {
    #[error("{0}")]
    Location(String),
    /// 401 or 403: the credential is wrong or lacks the right.
    #[error(
        "{name}: HTTP {status}: {credential} {verb} refused; check the credentials and who the report is shared with"
    )]
    Refused {
        name: String,
        status: u16,
        credential: String,
        verb: &'static str,
    },
    #[error("{name}: HTTP 404: no report at that URL")]
    NotFound { name: String },
    #[error("{name}: HTTP {status} after {attempts} attempt(s)")]
    Status {
        name: String,
        status: u16,
        attempts: u32,
    },
    #[error("cannot reach {name} after {attempts} attempt(s): {detail}")]
    Unreachable {
        name: String,
        detail: String,
        attempts: u32,
    },
    #[error("{name}: the report is larger than {limit} bytes; nothing of it is used")]
    TooLarge { name: String, limit: u64 },
    #[error("{name}: the OAuth 2.0 token endpoint {token_url} {problem}")]
    Token {
        name: String,
        token_url: String,
        problem: String,
        refused: bool,
    },
    #[error("reading {name}: {refused}")]
    EndpointNotAllowed {
        name: String,
        refused: EgressRefused,
    },
    /// The server's certificate failed verification: a configuration error, no retry helps.
    #[error(
        "{name}: the certificate of {host} is not trusted ({problem}); give its CA with --ca-file (the chart's trustedCA)"
    )]
    UntrustedCertificate {
        name: String,
        host: String,
        problem: String,
    },
    /// The download broke off and could not be resumed: the run stops, and the next one
    /// downloads the report again.
    #[error("{name}: the download broke off after {at} bytes and cannot be resumed: {why}")]
    BrokenOff {
        name: String,
        at: u64,
        why: &'static str,
    },
    #[error("{name}: writing the downloaded report: {detail}")]
    Disk { name: String, detail: String },
}

impl HttpsSourceError {
    /// A one-word CamelCase reason, for the `Ready` condition and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            HttpsSourceError::Location(_) => "InvalidSource",
            HttpsSourceError::Refused { .. } => "SourceAccessDenied",
            HttpsSourceError::Token { refused: true, .. } => "SourceAccessDenied",
            HttpsSourceError::NotFound { .. } => "SourceNotFound",
            HttpsSourceError::Unreachable { .. } | HttpsSourceError::Token { .. } => {
                "SourceUnreachable"
            }
            HttpsSourceError::EndpointNotAllowed { .. } => {
                crate::upload::reason::ENDPOINT_NOT_ALLOWED
            }
            HttpsSourceError::UntrustedCertificate { .. } => {
                crate::upload::reason::UNTRUSTED_CERTIFICATE
            }
            HttpsSourceError::Status { .. }
            | HttpsSourceError::BrokenOff { .. }
            | HttpsSourceError::TooLarge { .. }
            | HttpsSourceError::Disk { .. } => "SourceUnreadable",
        }
    }

    pub fn into_io(self) -> io::Error {
        let kind = match self {
            HttpsSourceError::NotFound { .. } => io::ErrorKind::NotFound,
            HttpsSourceError::Refused { .. } => io::ErrorKind::PermissionDenied,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}

/// The report-source error inside an I/O error of a pinned read, if it is one.
pub fn https_error(error: &io::Error) -> Option<&HttpsSourceError> {
    error.get_ref()?.downcast_ref::<HttpsSourceError>()
}

impl HttpsSourceError {
    pub(super) fn with_attempts(mut self, n: u32) -> Self {
        match &mut self {
            HttpsSourceError::Status { attempts, .. }
            | HttpsSourceError::Unreachable { attempts, .. } => *attempts = n,
            _ => {}
        }
        self
    }
}
