//! The one place that builds outbound HTTP clients (Entra ID, the ingestion service, and later
//! object stores), so every connection is configured the same way:
//!
//! - timeouts (connect and whole request);
//! - proxies from `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (reqwest reads them; lower-case
//!   spellings too). The Kubernetes client is built elsewhere and never uses these;
//! - trust: the public (Mozilla) roots, the system store (or `SSL_CERT_FILE` / `SSL_CERT_DIR`
//!   when set, as OpenSSL does), and an extra bundle (`--ca-file`), all at once, so one bundle
//!   holding an agency's TLS-inspection CA works with or without the proxy in the path.
//!
//! [`untrusted_certificate`] recognises a server certificate that failed verification, which is
//! a configuration error (no retry helps) and gets its own reason.

use std::error::Error as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;

/// How to build a client. `Default`: 400 s requests, 30 s connects, no extra CA.
#[derive(Debug, Clone)]
pub struct HttpClientConfig {
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Extra PEM bundle trusted in addition to the public and system roots.
    pub ca_file: Option<PathBuf>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            request_timeout: Duration::from_secs(400),
            connect_timeout: Duration::from_secs(30),
            ca_file: None,
        }
    }
}

/// The client could not be built: the trusted CA bundle is unusable.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    #[error("cannot read the CA bundle {path} ({source}); check --ca-file / the chart's trustedCA")]
    CaFileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the CA bundle {path} holds no PEM certificate ({problem}); it must contain one or more '-----BEGIN CERTIFICATE-----' blocks"
    )]
    CaFileNotPem { path: PathBuf, problem: String },
    #[error(
        "the CA bundle {path}: certificate {index} cannot be used as a trust anchor: {problem}"
    )]
    CaCertificateInvalid {
        path: PathBuf,
        index: usize,
        problem: String,
    },
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// Builds a client with the timeouts, proxies and trust of `config`.
pub fn build(config: &HttpClientConfig) -> Result<reqwest::Client, HttpClientError> {
    let tls = tls_config(config.ca_file.as_deref())?;
    reqwest::Client::builder()
        .timeout(config.request_timeout)
        .connect_timeout(config.connect_timeout)
        .user_agent(concat!("hrconnector/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(|e| HttpClientError::Build(e.to_string()))
}

fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, HttpClientError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    // The system store, or SSL_CERT_FILE / SSL_CERT_DIR. A missing store (a distroless image) is
    // fine: the public roots above are compiled in.
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!(error = %e, "skipping part of the system certificate store");
    }
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        for (index, der) in read_ca_file(path)?.into_iter().enumerate() {
            roots
                .add(der)
                .map_err(|e| HttpClientError::CaCertificateInvalid {
                    path: path.to_path_buf(),
                    index: index + 1,
                    problem: e.to_string(),
                })?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpClientError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}

/// The certificates of a PEM bundle; anything else in it (comments, keys) is ignored.
fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, HttpClientError> {
    let bytes = std::fs::read(path).map_err(|source| HttpClientError::CaFileUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let not_pem = |problem: String| HttpClientError::CaFileNotPem {
        path: path.to_path_buf(),
        problem,
    };
    let blocks = pem::parse_many(&bytes).map_err(|e| not_pem(e.to_string()))?;
    let certs: Vec<_> = blocks
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| CertificateDer::from(b.into_contents()))
        .collect();
    if certs.is_empty() {
        return Err(not_pem("no CERTIFICATE block found".into()));
    }
    Ok(certs)
}

/// The proxy the environment routes `url` through (`HTTPS_PROXY` / `HTTP_PROXY` minus
/// `NO_PROXY`), as reqwest decides it, without any user name or password it holds.
pub fn proxy_for(url: &reqwest::Url) -> Option<String> {
    let uri: axum::http::Uri = url.as_str().parse().ok()?;
    let intercept = hyper_util::client::proxy::matcher::Matcher::from_env().intercept(&uri)?;
    let proxy = intercept.uri();
    let host = proxy.host()?;
    Some(match proxy.port_u16() {
        Some(port) => format!("{}://{host}:{port}", proxy.scheme_str().unwrap_or("http")),
        None => format!("{}://{host}", proxy.scheme_str().unwrap_or("http")),
    })
}

/// A server certificate this client does not trust, worded for the person who must fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UntrustedCertificate {
    /// The host the client was connecting to (the proxy's target, not the proxy).
    pub host: String,
    /// What is wrong with the certificate ("issued by an unknown CA", …).
    pub problem: String,
}

/// `Some` when `error` is a TLS certificate verification failure.
pub fn untrusted_certificate(error: &reqwest::Error) -> Option<UntrustedCertificate> {
    let host = error
        .url()
        .and_then(|u| u.host_str())
        .unwrap_or("the server")
        .to_string();
    let problem = find_problem(error.source()?)?;
    Some(UntrustedCertificate { host, problem })
}

/// Walks the cause chain, looking into `io::Error`s too: their `source` skips the error they
/// wrap, and TLS failures arrive as a rustls error inside an io::Error inside another.
fn find_problem(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(problem) = certificate_problem(error) {
        return Some(problem);
    }
    if let Some(inner) = error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        && let Some(problem) = find_problem(inner)
    {
        return Some(problem);
    }
    find_problem(error.source()?)
}

fn certificate_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(cert) = e.downcast_ref::<rustls::Error>()? else {
        return None;
    };
    Some(match cert {
        C::UnknownIssuer => "it is issued by a CA that is not trusted".into(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "it is not valid for this host name".into()
        }
        C::Expired | C::ExpiredContext { .. } => "it has expired".into(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".into(),
        C::Revoked => "it is revoked".into(),
        C::BadSignature => "its signature is invalid".into(),
        other => format!("it failed verification ({other:?})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_that_is_not_pem_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "this is not a certificate\n").unwrap();
        let err = build(&HttpClientConfig {
            ca_file: Some(path.clone()),
            ..HttpClientConfig::default()
        })
        .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, HttpClientError::CaFileNotPem { .. }),
            "{text}"
        );
        assert!(text.contains(&path.display().to_string()), "{text}");
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let err = build(&HttpClientConfig {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..HttpClientConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn builds_without_a_ca_file() {
        build(&HttpClientConfig::default()).unwrap();
    }
}
