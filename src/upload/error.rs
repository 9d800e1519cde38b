//! What can go wrong in an upload, worded for the person who has to fix it.
//!
//! No variant carries a secret, a token or a CSV value: these messages end up in logs, in
//! Kubernetes status and in Events.

use crate::hrdata::CsvError;
use crate::http_client::{HttpClientError, UntrustedCertificate};

/// Why an upload run stopped.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The credentials could not be read or parsed (before anything was sent).
    #[error("credentials: {0}")]
    Credentials(#[from] CredentialError),

    /// The file is unreadable or has the wrong shape.
    #[error(transparent)]
    Csv(#[from] CsvError),

    /// `--invalid-rows reject` and some records failed validation: nothing was sent.
    #[error("{rejected} invalid record(s), nothing was sent; first: {first}")]
    InvalidRecords { rejected: u64, first: String },

    /// `--invalid-rows skip` and more records failed validation than the ceiling allows, or
    /// none passed: nothing was sent.
    #[error(
        "{rejected} of {total} records are invalid, over the ceiling of {ceiling} invalid records; nothing was sent. Fix the export, or raise the ceiling with --max-rejected (spec.maxRejected) if so many invalid rows are expected{}",
        first_error_suffix(.first)
    )]
    TooManyRejected {
        rejected: u64,
        total: u64,
        ceiling: super::policy::MaxRejected,
        first: String,
    },

    /// Fewer valid records than `--min-records` (`spec.minRecords`): nothing was sent.
    #[error(
        "{records} valid record(s), fewer than the minimum of {minimum} (--min-records, spec.minRecords); nothing was sent. An export with fewer rows than usual is more often broken than quiet"
    )]
    TooFewRecords { records: u64, minimum: u64 },

    /// Entra ID refused to issue a token (wrong secret, unknown app, wrong tenant, …).
    #[error("authentication failed (HTTP {status}, {error}): {description}")]
    Authentication {
        status: u16,
        error: String,
        description: String,
    },

    /// A server's TLS certificate failed verification: a configuration error, never retried.
    #[error(
        "the TLS certificate of {} is not trusted: {}. Nothing was sent. If a proxy inspects TLS, trust its CA with --ca-file (or SSL_CERT_FILE), or the Helm chart's trustedCA.configMap; otherwise check the endpoint URL",
        .0.host, .0.problem
    )]
    UntrustedCertificate(UntrustedCertificate),

    /// The egress policy refused a request or a redirect: nothing was sent there.
    #[error(transparent)]
    EndpointNotAllowed(crate::net::EgressRefused),

    /// The HTTP client could not be set up (an unusable CA bundle).
    #[error(transparent)]
    HttpClient(#[from] HttpClientError),

    /// The ingestion service refused the upload and retrying would not help.
    #[error("upload rejected by the service (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },

    /// The service stayed unavailable (or unreachable) for every attempt.
    #[error("{what} unavailable after {attempts} attempt(s): {last}")]
    Unavailable {
        what: &'static str,
        attempts: u32,
        last: String,
    },

    /// The checkpoint could not be read or written.
    #[error("checkpoint: {0}")]
    Checkpoint(String),

    /// The source changed between validation and upload.
    #[error("the source changed while it was being uploaded; the next run sends the new content")]
    SourceChanged,

    /// A worker task of the run died (a bug or the process running out of resources).
    #[error(
        "{0}; nothing more was sent, and the next run resumes after the last acknowledged chunk"
    )]
    Internal(String),

    /// The run was asked to stop (shutdown) after its last acknowledged chunk.
    #[error(
        "stopped before the upload completed; the next run resumes after the last acknowledged chunk"
    )]
    Cancelled,
}

fn first_error_suffix(first: &str) -> String {
    if first.is_empty() {
        String::new()
    } else {
        format!("; first: {first}")
    }
}

/// The reasons of failed uploads ([`UploadError::reason`]); the operator's condition reasons
/// include them (`crd::conditions::reason`).
pub mod reason {
    pub const INVALID_CREDENTIALS: &str = "InvalidCredentials";
    pub const SOURCE_UNREADABLE: &str = "SourceUnreadable";
    pub const INVALID_CSV: &str = "InvalidCsv";
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// The service's TLS certificate is not trusted (a configuration error, never retried).
    pub const UNTRUSTED_CERTIFICATE: &str = "UntrustedCertificate";
    /// The trusted CA bundle given to the operator cannot be used.
    pub const INVALID_TRUSTED_CA: &str = "InvalidTrustedCA";
    pub const UPLOAD_FAILED: &str = "UploadFailed";
    pub const CHECKPOINT_FAILED: &str = "CheckpointFailed";
    pub const SOURCE_CHANGED: &str = "SourceChanged";
    pub const INTERRUPTED: &str = "Interrupted";
    pub const INTERNAL_ERROR: &str = "InternalError";
    /// The egress policy refused a request (a host no prefix allows, a redirect elsewhere).
    pub const ENDPOINT_NOT_ALLOWED: &str = "EndpointNotAllowed";
    /// More records failed validation than `--max-rejected` allows (or none passed).
    pub const TOO_MANY_REJECTED: &str = "TooManyRejected";
    /// Fewer valid records than `--min-records`.
    pub const TOO_FEW_RECORDS: &str = "TooFewRecords";

    /// Every reason above.
    pub const ALL: [&str; 14] = [
        INVALID_CREDENTIALS,
        SOURCE_UNREADABLE,
        INVALID_CSV,
        AUTHENTICATION_FAILED,
        UNTRUSTED_CERTIFICATE,
        INVALID_TRUSTED_CA,
        UPLOAD_FAILED,
        CHECKPOINT_FAILED,
        SOURCE_CHANGED,
        INTERRUPTED,
        INTERNAL_ERROR,
        ENDPOINT_NOT_ALLOWED,
        TOO_MANY_REJECTED,
        TOO_FEW_RECORDS,
    ];
}

impl UploadError {
    /// A one-word CamelCase reason, for Kubernetes conditions and metrics labels.
    pub fn reason(&self) -> &'static str {
        match self {
            UploadError::Credentials(_) => reason::INVALID_CREDENTIALS,
            // An object store's own reason (SourceNotFound, SourceAccessDenied, …) when it is one.
            UploadError::Csv(CsvError::Io { error, .. }) => {
                crate::source::object::object_error(error)
                    .map_or(reason::SOURCE_UNREADABLE, |e| e.reason())
            }
            UploadError::Csv(_) | UploadError::InvalidRecords { .. } => reason::INVALID_CSV,
            UploadError::TooManyRejected { .. } => reason::TOO_MANY_REJECTED,
            UploadError::TooFewRecords { .. } => reason::TOO_FEW_RECORDS,
            UploadError::Authentication { .. } => reason::AUTHENTICATION_FAILED,
            UploadError::UntrustedCertificate(_) => reason::UNTRUSTED_CERTIFICATE,
            UploadError::HttpClient(_) => reason::INVALID_TRUSTED_CA,
            UploadError::EndpointNotAllowed(_) => reason::ENDPOINT_NOT_ALLOWED,
            UploadError::Rejected { .. } | UploadError::Unavailable { .. } => reason::UPLOAD_FAILED,
            UploadError::Checkpoint(_) => reason::CHECKPOINT_FAILED,
            UploadError::SourceChanged => reason::SOURCE_CHANGED,
            UploadError::Cancelled => reason::INTERRUPTED,
            UploadError::Internal(_) => reason::INTERNAL_ERROR,
        }
    }
}

/// The app credentials are unusable.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("the certificate is not a PEM-encoded X.509 certificate: {0}")]
    Certificate(String),
    #[error("the private key is not a PEM-encoded RSA private key (PKCS#1 or PKCS#8): {0}")]
    PrivateKey(String),
    #[error("the client assertion could not be signed: {0}")]
    Signing(String),
    #[error("{0}")]
    Missing(String),
    /// The federated assertion (workload identity) could not be obtained.
    #[error("{0}")]
    Federated(String),
}
