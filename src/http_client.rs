//! The one place that builds outbound HTTP clients (Entra ID, the ingestion service, object
//! stores, STS), so every connection is configured the same way:
//!
//! - the egress policy ([`crate::net::egress`]): [`HttpClient`] checks every request before it
//!   is sent and every redirect hop (a redirect never leaves the origin it started at); it hands
//!   out no raw `reqwest::Client`, so a source or credential added later cannot skip the check;
//! - bounded bodies for `object_store` (its error path would size a buffer by the peer's
//!   `Content-Length`): see [`HttpClient`]'s `HttpService`;
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

use reqwest::Url;
use rustls::pki_types::CertificateDer;

use crate::net::egress::{EgressPolicy, EgressRefused, origin, refusal_in, same_origin};

/// How to build a client. `Default`: 400 s requests, 30 s connects, no extra CA, and only the
/// published hosts allowed.
#[derive(Debug, Clone)]
pub struct HttpClientConfig {
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Extra PEM bundle trusted in addition to the public and system roots.
    pub ca_file: Option<PathBuf>,
    /// Where requests may go.
    pub egress: Arc<EgressPolicy>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            request_timeout: Duration::from_secs(400),
            connect_timeout: Duration::from_secs(30),
            ca_file: None,
            egress: Arc::new(EgressPolicy::published_only()),
        }
    }
}

/// Redirects followed at most (each hop within the first request's origin).
const MAX_REDIRECTS: usize = 5;

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

/// Builds a client with the timeouts, proxies, trust and egress policy of `config`.
pub fn build(config: &HttpClientConfig) -> Result<HttpClient, HttpClientError> {
    let tls = tls_config(config)?;
    let inner = reqwest::Client::builder()
        .timeout(config.request_timeout)
        .connect_timeout(config.connect_timeout)
        .user_agent(concat!("hrconnector/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls)
        .redirect(redirect_policy(config.egress.clone()))
        .build()
        .map_err(|e| HttpClientError::Build(e.to_string()))?;
    Ok(HttpClient {
        inner,
        egress: config.egress.clone(),
    })
}

/// Every hop is checked: it must stay on the origin the request started at (a 307 re-sends the
/// body, which may hold a client secret) and pass the egress policy.
fn redirect_policy(egress: Arc<EgressPolicy>) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let to = attempt.url().clone();
        let from = attempt.previous().first().cloned();
        if let Some(from) = from.filter(|from| !same_origin(from, &to)) {
            let refused = EgressRefused {
                what: format!("a redirect from {}", origin(&from)),
                origin: origin(&to),
                why: "a redirect never leaves the origin the request was sent to",
            };
            return attempt.error(refused);
        }
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        match egress.check(&to, "a redirect") {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    })
}

/// The crate's HTTP client: reqwest's, with the egress policy checked before every request.
#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    egress: Arc<EgressPolicy>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("egress", &self.egress)
            .finish_non_exhaustive()
    }
}

/// Why a request got no answer: refused by the egress policy (nothing sent), or a transport
/// failure.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Refused(EgressRefused),
    #[error(transparent)]
    Transport(reqwest::Error),
}

impl HttpClient {
    /// A POST to `url`, sent by [`Request::send`] once the policy allows it.
    pub fn post(&self, url: &str) -> Request {
        self.request(reqwest::Method::POST, url)
    }

    /// A GET to `url`.
    pub fn get(&self, url: &str) -> Request {
        self.request(reqwest::Method::GET, url)
    }

    pub fn request(&self, method: reqwest::Method, url: &str) -> Request {
        Request {
            egress: self.egress.clone(),
            inner: self.inner.clone(),
            builder: self.inner.request(method, url),
        }
    }

    /// The policy this client enforces.
    pub fn egress(&self) -> &EgressPolicy {
        &self.egress
    }
}

/// A request being built; only [`Request::send`] sends it, after the policy's check.
pub struct Request {
    egress: Arc<EgressPolicy>,
    inner: reqwest::Client,
    builder: reqwest::RequestBuilder,
}

impl Request {
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn form<T: serde::Serialize + ?Sized>(mut self, form: &T) -> Self {
        self.builder = self.builder.form(form);
        self
    }

    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        self.builder = self.builder.basic_auth(user, Some(password));
        self
    }

    pub fn bearer_auth(mut self, token: &str) -> Self {
        self.builder = self.builder.bearer_auth(token);
        self
    }

    pub fn multipart(mut self, form: reqwest::multipart::Form) -> Self {
        self.builder = self.builder.multipart(form);
        self
    }

    /// Checks the URL against the egress policy, then sends. A refused request sends nothing.
    pub async fn send(self) -> Result<reqwest::Response, SendError> {
        let request = self.builder.build().map_err(SendError::Transport)?;
        self.egress
            .check(request.url(), "a request")
            .map_err(SendError::Refused)?;
        self.inner
            .execute(request)
            .await
            .map_err(|e| match refusal_in(&e) {
                Some(refused) => SendError::Refused(refused),
                None => SendError::Transport(e),
            })
    }
}

/// `object_store`'s requests go through the same check, and its bodies are bounded: an error
/// answer is read to [`crate::net::body::ERROR_BODY_LIMIT`] here, and no body reports the
/// size its `Content-Length` claims (object_store sizes its buffer by that hint: a store
/// claiming 1 TiB aborted the process).
#[async_trait::async_trait]
impl object_store::client::HttpService for HttpClient {
    async fn call(
        &self,
        request: object_store::client::HttpRequest,
    ) -> Result<object_store::client::HttpResponse, object_store::client::HttpError> {
        use object_store::client::{HttpError, HttpErrorKind, HttpService};
        let url = Url::parse(&request.uri().to_string())
            .map_err(|e| HttpError::new(HttpErrorKind::Request, e))?;
        self.egress
            .check(&url, "an object store request")
            .map_err(|e| HttpError::new(HttpErrorKind::Request, e))?;
        let response = HttpService::call(&self.inner, request).await?;
        bounded_store_response(response).await
    }
}

async fn bounded_store_response(
    response: object_store::client::HttpResponse,
) -> Result<object_store::client::HttpResponse, object_store::client::HttpError> {
    use futures_util::StreamExt as _;
    use object_store::client::HttpResponseBody;
    let (mut parts, body) = response.into_parts();
    if parts.status.is_success() || parts.status.is_redirection() {
        return Ok(object_store::client::HttpResponse::from_parts(
            parts,
            HttpResponseBody::new(UnsizedBody(body)),
        ));
    }
    let mut stream = body.bytes_stream();
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let room = crate::net::body::ERROR_BODY_LIMIT - buf.len();
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if chunk.len() >= room {
            break;
        }
    }
    parts.headers.remove(reqwest::header::CONTENT_LENGTH);
    Ok(object_store::client::HttpResponse::from_parts(
        parts,
        HttpResponseBody::from(buf.freeze()),
    ))
}

/// A body that reports no size: the peer's `Content-Length` is a claim, not a buffer size.
struct UnsizedBody(object_store::client::HttpResponseBody);

impl http_body::Body for UnsizedBody {
    type Data = bytes::Bytes;
    type Error = object_store::client::HttpError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.0).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }
}

/// The TLS configuration [`build`] gives its client: trust as described above, the aws-lc-rs
/// provider (the FIPS module in a `fips` build: see [`crate::fips`]), HTTP/2 and HTTP/1.1.
pub fn tls_config(config: &HttpClientConfig) -> Result<rustls::ClientConfig, HttpClientError> {
    let ca_file = config.ca_file.as_deref();
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
    intercept.uri().host()?;
    Some(crate::net::tunnel::display(intercept.uri()))
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
