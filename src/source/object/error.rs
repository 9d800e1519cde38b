//! Why an object cannot be read, worded for the person who has to fix it.
//!
//! `object_store`'s own error text is never passed on: it carries the request URL, and a SAS
//! token travels in the URL's query. Only the store's error code (`BlobNotFound`,
//! `NoSuchBucket`, `AuthorizationPermissionMismatch`, …) and the innermost transport error are
//! kept.

use super::federated::CredentialFailure;
use super::location::StoreKind;
use super::retry::PlainHttpRefused;

/// Why an object source cannot be read. The message names the object, container or bucket, or
/// the permission that is missing; it never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectSourceError {
    /// The `--source` URL or the job's `spec.source` does not name an object.
    #[error("{0}")]
    Location(String),
    /// Credentials or endpoint settings are missing or malformed.
    #[error("{0}")]
    Configuration(String),
    /// The container (Azure) or bucket (S3) does not exist.
    #[error("{what} {name:?} does not exist ({code}); check the name and the account or endpoint")]
    ContainerNotFound {
        what: &'static str,
        name: String,
        code: String,
    },
    /// The source names a pattern, and no object of its prefix matches it.
    #[error(transparent)]
    NoMatch(crate::source::pattern::NoMatch),
    /// The container or bucket exists, the object does not.
    #[error("{name} does not exist ({code}): no object at that name")]
    ObjectNotFound { name: String, code: String },
    /// The credentials were refused or lack the read permission.
    #[error("access to {name} denied ({code}): {permission}")]
    AccessDenied {
        name: String,
        code: String,
        permission: String,
    },
    /// The storage credential could not be obtained (Entra ID token exchange, STS).
    #[error("no credentials for {name}: {detail}")]
    Credentials {
        name: String,
        detail: String,
        unreachable: bool,
    },
    /// No answer from the endpoint (DNS, connection, TLS, timeout), after retries.
    #[error("cannot reach the object store for {name}: {detail}")]
    Unreachable { name: String, detail: String },
    /// Any other refusal by the store.
    #[error("reading {name} failed: {detail}")]
    Other { name: String, detail: String },
    /// The egress policy refused a request for the object (a redirect elsewhere, an STS or
    /// store endpoint no prefix allows): nothing was sent there.
    #[error("reading {name}: {refused}")]
    EndpointNotAllowed {
        name: String,
        refused: crate::net::EgressRefused,
    },
}

impl ObjectSourceError {
    /// A one-word CamelCase reason, for the `Ready` condition and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            ObjectSourceError::Location(_) | ObjectSourceError::Configuration(_) => "InvalidSource",
            ObjectSourceError::ContainerNotFound { .. }
            | ObjectSourceError::ObjectNotFound { .. }
            | ObjectSourceError::NoMatch(_) => "SourceNotFound",
            ObjectSourceError::AccessDenied { .. } => "SourceAccessDenied",
            ObjectSourceError::Credentials { unreachable, .. } => {
                if *unreachable {
                    "SourceUnreachable"
                } else {
                    "SourceAccessDenied"
                }
            }
            ObjectSourceError::Unreachable { .. } => "SourceUnreachable",
            ObjectSourceError::Other { .. } => "SourceUnreadable",
            ObjectSourceError::EndpointNotAllowed { .. } => {
                crate::upload::reason::ENDPOINT_NOT_ALLOWED
            }
        }
    }

    /// As an I/O error for the CSV layer (which maps it to exit status 2, `SourceUnreadable`).
    pub fn into_io(self) -> std::io::Error {
        let kind = match self {
            ObjectSourceError::ContainerNotFound { .. }
            | ObjectSourceError::ObjectNotFound { .. }
            | ObjectSourceError::NoMatch(_) => std::io::ErrorKind::NotFound,
            ObjectSourceError::AccessDenied { .. } => std::io::ErrorKind::PermissionDenied,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, self)
    }
}

/// The object-store error inside an I/O error of an object source's reader, if it is one.
pub fn object_error(error: &std::io::Error) -> Option<&ObjectSourceError> {
    error.get_ref()?.downcast_ref::<ObjectSourceError>()
}

/// What went wrong, from an `object_store` error, without its text.
pub(crate) enum Failure {
    NotFound {
        code: Option<String>,
    },
    Denied {
        code: Option<String>,
    },
    /// `If-Match` failed: the object is no longer the one that was pinned.
    Precondition,
    /// A credential provider of ours could not get a credential.
    Credential(CredentialFailure),
    /// The egress policy refused a request (the store's, or a credential provider's).
    NotAllowed(crate::net::EgressRefused),
    /// A setting refuses the request (plain HTTP not allowed).
    Configuration {
        detail: String,
    },
    Transport {
        detail: String,
    },
    Other {
        detail: String,
    },
}

impl Failure {
    pub fn of(error: &object_store::Error) -> Failure {
        if let Some(refused) = crate::net::egress::refusal_in(error) {
            return Failure::NotAllowed(refused);
        }
        if let Some(refused) = credential_failure(error).and_then(|f| f.refused) {
            return Failure::NotAllowed(refused);
        }
        if let Some(failure) = credential_failure(error) {
            return Failure::Credential(failure);
        }
        if let Some(refused) = find::<PlainHttpRefused>(error) {
            return Failure::Configuration {
                detail: refused.to_string(),
            };
        }
        let code = error_code(error);
        match error {
            object_store::Error::NotFound { .. } => Failure::NotFound { code },
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => Failure::Denied { code },
            object_store::Error::Precondition { .. } => Failure::Precondition,
            _ => match transport_detail(error) {
                Some(detail) => Failure::Transport { detail },
                None => Failure::Other {
                    detail: code.unwrap_or_else(|| "the store answered with an error".into()),
                },
            },
        }
    }

    /// The error for object `name` (a display URL without query) of a store of `kind`.
    pub fn into_error(self, kind: StoreKind, name: &str, container: &str) -> ObjectSourceError {
        match self {
            Failure::NotFound { code } => {
                let code = code.unwrap_or_else(|| "HTTP 404".into());
                if matches!(code.as_str(), "ContainerNotFound" | "NoSuchBucket") {
                    ObjectSourceError::ContainerNotFound {
                        what: kind.container_word(),
                        name: container.to_owned(),
                        code,
                    }
                } else {
                    ObjectSourceError::ObjectNotFound {
                        name: name.to_owned(),
                        code,
                    }
                }
            }
            Failure::Denied { code } => ObjectSourceError::AccessDenied {
                name: name.to_owned(),
                permission: kind.read_permission(container, code.as_deref()),
                code: code.unwrap_or_else(|| "HTTP 403".into()),
            },
            Failure::Precondition => ObjectSourceError::Other {
                name: name.to_owned(),
                detail: "the object changed while it was read".into(),
            },
            Failure::Configuration { detail } => {
                ObjectSourceError::Configuration(format!("{name}: {detail}"))
            }
            Failure::NotAllowed(refused) => ObjectSourceError::EndpointNotAllowed {
                name: name.to_owned(),
                refused,
            },
            Failure::Credential(failure) => ObjectSourceError::Credentials {
                name: name.to_owned(),
                detail: failure.detail,
                unreachable: failure.unreachable,
            },
            Failure::Transport { detail } => ObjectSourceError::Unreachable {
                name: name.to_owned(),
                detail,
            },
            Failure::Other { detail } => ObjectSourceError::Other {
                name: name.to_owned(),
                detail,
            },
        }
    }
}

/// The credential failure of our own providers, wherever object_store wrapped it.
fn credential_failure(error: &object_store::Error) -> Option<CredentialFailure> {
    find::<CredentialFailure>(error).cloned()
}

/// The first error of type `T` in `error`'s chain of causes.
fn find<T: std::error::Error + 'static>(error: &object_store::Error) -> Option<&T> {
    let mut cause: &(dyn std::error::Error + 'static) = error;
    loop {
        if let Some(found) = cause.downcast_ref::<T>() {
            return Some(found);
        }
        cause = cause.source()?;
    }
}

/// The store's error code from the XML body (`<Code>BlobNotFound</Code>`), when there is one.
fn error_code(error: &object_store::Error) -> Option<String> {
    let text = error.to_string();
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    let code = &text[start..start + len];
    // Codes are short CamelCase words; anything else is not one.
    (code.len() <= 64 && code.chars().all(|c| c.is_ascii_alphanumeric())).then(|| code.to_owned())
}

/// For a request that got no HTTP answer: the innermost cause (e.g. `Connection refused (os
/// error 111)`), which, unlike the outer layers, does not repeat the URL.
fn transport_detail(error: &object_store::Error) -> Option<String> {
    let mut cause: &dyn std::error::Error = error;
    let mut transport = false;
    while let Some(next) = cause.source() {
        if next.is::<object_store::client::HttpError>() {
            transport = true;
        }
        cause = next;
    }
    transport.then(|| {
        let text = cause.to_string();
        // Defence in depth: should an inner layer still name the URL, drop its query.
        match text.find('?') {
            Some(at) => format!("{}…", &text[..at]),
            None => text,
        }
    })
}
