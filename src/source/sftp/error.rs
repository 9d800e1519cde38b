//! Why an SFTP drop cannot be read, worded for the person who has to fix it.

use std::io;

use crate::net::EgressRefused;
use crate::source::pattern::NoMatch;

/// Why an SFTP drop cannot be read. Never holds a key, a password or file content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SftpSourceError {
    #[error("{0}")]
    Location(String),
    #[error("{0}")]
    Credentials(String),
    #[error("connecting to {name}: {refused}")]
    EndpointNotAllowed {
        name: String,
        refused: EgressRefused,
    },
    /// The host presented a key the known-hosts text does not list for it (or revokes).
    #[error(
        "{host}: the host key does not match: the server presented {fingerprint}, which {why}; \
         nothing was read (if the server's key really changed, put its new key in the known \
         hosts, from `ssh-keyscan -p {port} {host_only}` checked with the server's owner)"
    )]
    HostKey {
        host: String,
        host_only: String,
        port: u16,
        fingerprint: String,
        why: &'static str,
    },
    #[error(
        "{host}: the server presented a host certificate; only plain host keys listed in the \
         known hosts are accepted"
    )]
    HostCertificate { host: String },
    #[error(
        "{name}: the server refused {credential} of user {user:?}; check the user and the \
         credential in the job's Secret"
    )]
    Refused {
        name: String,
        user: String,
        credential: &'static str,
    },
    #[error(
        "cannot reach {name}: the proxy {proxy} from HTTPS_PROXY will not tunnel to it: {why} \
         (allow the tunnel on the proxy, or list the host in NO_PROXY to connect directly)"
    )]
    ProxyRefused {
        name: String,
        proxy: String,
        why: String,
    },
    #[error("cannot reach {name} after {attempts} attempt(s): {detail}")]
    Unreachable {
        name: String,
        detail: String,
        attempts: u32,
    },
    #[error("{name}: no such file on the server")]
    NotFound { name: String },
    #[error("{name}: permission denied on the server (user {user:?})")]
    PermissionDenied { name: String, user: String },
    #[error("{name}: {what} is not a regular file")]
    NotAFile { name: String, what: String },
    #[error("{name}: {detail}")]
    Server { name: String, detail: String },
    #[error("{0}")]
    NoMatch(NoMatch),
    #[error(
        "SFTP is not available in the FIPS build: the SSH library's ciphers and key exchange \
         (russh) do not run on the FIPS 140-3 module; deliver the file by HTTPS, object \
         storage, a ConfigMap or a volume, or use the default build"
    )]
    NotInFips,
}

/// The SFTP-source error inside an I/O error of a pinned read, if it is one.
pub fn sftp_error(error: &io::Error) -> Option<&SftpSourceError> {
    error.get_ref()?.downcast_ref::<SftpSourceError>()
}

impl SftpSourceError {
    /// The Ready condition's reason for a job whose source fails this way.
    pub fn reason(&self) -> &'static str {
        match self {
            SftpSourceError::Location(_) | SftpSourceError::NotInFips => "InvalidSource",
            SftpSourceError::Credentials(_) => "InvalidSource",
            SftpSourceError::EndpointNotAllowed { .. } => {
                crate::upload::reason::ENDPOINT_NOT_ALLOWED
            }
            // A server presenting a key nobody vouched for: a person must look, not a retry.
            SftpSourceError::HostKey { .. } | SftpSourceError::HostCertificate { .. } => {
                // crd::conditions::reason::HOST_KEY_NOT_TRUSTED (the crd layer is above this one).
                "HostKeyNotTrusted"
            }
            SftpSourceError::Refused { .. }
            | SftpSourceError::PermissionDenied { .. }
            | SftpSourceError::ProxyRefused { .. } => "SourceAccessDenied",
            SftpSourceError::NotFound { .. } | SftpSourceError::NoMatch(_) => "SourceNotFound",
            SftpSourceError::Unreachable { .. } => "SourceUnreachable",
            SftpSourceError::NotAFile { .. } | SftpSourceError::Server { .. } => "SourceUnreadable",
        }
    }

    /// As the `io::Error` a [`crate::source::CsvSource`] hands out; the message stays whole.
    pub fn into_io(self) -> io::Error {
        let kind = match &self {
            SftpSourceError::NotFound { .. } | SftpSourceError::NoMatch(_) => {
                io::ErrorKind::NotFound
            }
            SftpSourceError::PermissionDenied { .. }
            | SftpSourceError::Refused { .. }
            | SftpSourceError::ProxyRefused { .. }
            | SftpSourceError::HostKey { .. }
            | SftpSourceError::HostCertificate { .. }
            | SftpSourceError::EndpointNotAllowed { .. } => io::ErrorKind::PermissionDenied,
            SftpSourceError::Location(_)
            | SftpSourceError::Credentials(_)
            | SftpSourceError::NotAFile { .. }
            | SftpSourceError::NotInFips => io::ErrorKind::InvalidInput,
            SftpSourceError::Unreachable { .. } | SftpSourceError::Server { .. } => {
                io::ErrorKind::Other
            }
        };
        io::Error::new(kind, self)
    }

    /// A configuration the next attempt would fail the same way: no retry helps.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, SftpSourceError::Unreachable { .. })
    }
}
