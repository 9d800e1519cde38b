//! An HR report at an HTTPS URL (Workday RaaS, BambooHR's report API) as a [`CsvSource`].
//!
//! A report is generated anew for each request, so two GETs need not return the same bytes:
//! pinning downloads it once, streamed into a temporary file to a bound, and the validation
//! pass and the sending pass both read that file ("what is sent is what was validated"); the
//! validation reads the file as it grows, beside the download ([`download`]). The SHA-256 of
//! those bytes decides "Unchanged", as for every source.
//!
//! Requests go through the crate's one HTTP client (egress policy, proxies, trusted CAs, FIPS).
//! 401 and 403 fail at once, naming the credential used (never its value); 408, 429, 5xx and
//! transport failures are tried again under the upload's retry policy. A body that breaks off
//! is resumed with a range request where the server offers ranges and a strong validator
//! (`If-Range`), and otherwise fails the run: bytes already read cannot be taken back.

mod cache;
mod download;
mod error;

use std::io::{self, Read};
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tokio::runtime::Handle;

use self::cache::Conditional;
pub use self::cache::ReportCache;
pub use self::download::PinnedReport;
use self::download::{Body, Download, Progress};
pub use self::error::{HttpsSourceError, https_error};
use super::CsvSource;
use crate::http_client::{HttpClient, SendError};
use crate::net::body::{ANSWER_LIMIT, read_bounded};
use crate::upload::retry::{is_retryable_status, retry_after};
use crate::upload::{RetryPolicy, Sleeper};

/// A report larger than this is refused (the disk it is downloaded to is the bound).
pub const DEFAULT_MAX_REPORT_BYTES: u64 = 4 << 30;

/// How the report server is told who is asking.
#[derive(Clone, Default)]
pub enum HttpAuth {
    #[default]
    None,
    /// HTTP basic authentication (Workday's integration system user, BambooHR's API key).
    Basic {
        user: String,
        password: SecretString,
    },
    /// A bearer token given as it is.
    Bearer { token: SecretString },
    /// OAuth 2.0 client credentials: a token from `token_url`, then sent as a bearer token.
    OAuth2 {
        token_url: String,
        client_id: String,
        client_secret: SecretString,
        scope: Option<String>,
    },
}

impl HttpAuth {
    /// Which credential was used, for a message: never its value.
    pub fn describe(&self) -> String {
        match self {
            HttpAuth::None => "the request without credentials".into(),
            HttpAuth::Basic { user, .. } => format!("basic credentials of user {user:?}"),
            HttpAuth::Bearer { .. } => "the bearer token".into(),
            HttpAuth::OAuth2 { client_id, .. } => {
                format!("an OAuth 2.0 token of client {client_id:?}")
            }
        }
    }
}

impl std::fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Where the report is and how to fetch it.
#[derive(Clone)]
pub struct HttpsSourceConfig {
    /// `https://…`, its query included (`?format=csv`); messages show it without the query.
    pub url: String,
    pub auth: HttpAuth,
    pub client: HttpClient,
    pub retry: RetryPolicy,
    pub sleeper: Arc<dyn Sleeper>,
    pub max_bytes: u64,
    /// The job's last download, for a conditional request (the operator keeps one per job);
    /// `None`: every request downloads the report.
    pub cache: Option<Arc<ReportCache>>,
}

/// A report at an HTTPS URL, not yet downloaded.
#[derive(Clone)]
pub struct HttpsSource {
    config: Arc<HttpsSourceConfig>,
    name: String,
    runtime: Handle,
}

/// What a resumed request must match: the version the download started with.
#[derive(Clone, Debug, Default)]
struct Validators {
    etag: Option<String>,
    last_modified: Option<String>,
    /// The server said it serves byte ranges.
    ranges: bool,
}

impl Validators {
    fn of(response: &reqwest::Response) -> Self {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Validators {
            etag: header("etag"),
            last_modified: header("last-modified"),
            ranges: header("accept-ranges").is_some_and(|v| v.eq_ignore_ascii_case("bytes")),
        }
    }

    /// What `If-Range` sends: only a strong validator may resume a download.
    fn if_range(&self) -> Option<&str> {
        if !self.ranges {
            return None;
        }
        match &self.etag {
            Some(etag) if !etag.starts_with("W/") => Some(etag),
            Some(_) => None,
            None => self.last_modified.as_deref(),
        }
    }
}

impl HttpsSource {
    /// The report of `config`, fetched through `runtime`. Only `https://` URLs are taken.
    pub fn new(config: HttpsSourceConfig, runtime: Handle) -> Result<Self, HttpsSourceError> {
        let url = reqwest::Url::parse(&config.url).map_err(|e| {
            HttpsSourceError::Location(format!(
                "{:?} is not a URL: {e}",
                super::object::display_url(&config.url)
            ))
        })?;
        if url.scheme() != "https" || url.host_str().is_none() {
            return Err(HttpsSourceError::Location(format!(
                "{:?}: a report URL must be https://HOST/…",
                super::object::display_url(&config.url)
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(HttpsSourceError::Location(
                "a report URL must not carry credentials; use the basic, bearer or OAuth settings"
                    .into(),
            ));
        }
        let name = super::object::display_url(&config.url).to_owned();
        Ok(HttpsSource {
            config: Arc::new(config),
            name,
            runtime,
        })
    }

    /// Starts one download: the request (tried again on 408, 429, 5xx and transport failures)
    /// until the server answers with the report, whose body then streams into a temporary file
    /// on a task of its own. Readers of the pinned report read the file as it grows, so
    /// validation runs beside the download.
    pub async fn start(&self) -> Result<PinnedReport, HttpsSourceError> {
        let mut token = None;
        let kept = (self.config.cache.as_ref()).and_then(|cache| cache.reusable(&self.config.url));
        let response = self
            .request(&mut token, None, kept.as_ref().map(|(_, c)| c))
            .await?;
        if response.status() == reqwest::StatusCode::NOT_MODIFIED
            && let Some((report, _)) = kept
        {
            tracing::info!(source = %self.name, "the report is not modified since the last download; reading that one again");
            return Ok(report);
        }
        let validators = Validators::of(&response);
        let declared = response
            .content_length()
            .filter(|&len| len <= self.config.max_bytes);
        let disk = |e: io::Error| HttpsSourceError::Disk {
            name: self.name.clone(),
            detail: e.to_string(),
        };
        let file = tempfile::NamedTempFile::new().map_err(disk)?;
        let reader = file.reopen().map_err(disk)?;
        let (writer, path) = file.into_parts();
        let progress = Arc::new(Progress::default());
        let body = Body {
            source: self.clone(),
            token,
            validators: validators.clone(),
            file: writer,
            progress: progress.clone(),
        };
        self.runtime.spawn(body.stream(response));
        let report = PinnedReport::new(Download {
            name: self.name.clone(),
            file: Arc::new(reader),
            _path: path,
            progress,
            etag: validators.etag,
            last_modified: validators.last_modified,
            declared,
        });
        if let Some(cache) = &self.config.cache {
            cache.keep(&self.config.url, &report);
        }
        Ok(report)
    }

    /// A request answered with the report (or, `resume` given, with the rest of it from that
    /// offset), tried again under the retry policy.
    async fn request(
        &self,
        token: &mut Option<SecretString>,
        resume: Option<(u64, &str)>,
        conditional: Option<&Conditional>,
    ) -> Result<reqwest::Response, HttpsSourceError> {
        let policy = &self.config.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failed = match self.try_request(token, resume, conditional).await {
                Ok(response) => return Ok(response),
                Err(Attempt::Fatal(error)) => return Err(error),
                Err(Attempt::Again { error, wait }) => (error, wait),
            };
            if attempt >= policy.max_attempts.max(1) {
                return Err(failed.0.with_attempts(attempt));
            }
            let wait = policy.delay(attempt, failed.1);
            tracing::warn!(source = %self.name, attempt, ?wait, error = %failed.0, "the report could not be read; trying again");
            self.config.sleeper.sleep(wait).await;
        }
    }

    async fn try_request(
        &self,
        token: &mut Option<SecretString>,
        resume: Option<(u64, &str)>,
        conditional: Option<&Conditional>,
    ) -> Result<reqwest::Response, Attempt> {
        let config = &self.config;
        let mut request = config
            .client
            .get(&config.url)
            .header("accept", "text/csv, */*");
        if let Some((from, if_range)) = resume {
            request = request
                .header("range", &format!("bytes={from}-"))
                .header("if-range", if_range);
        }
        request = match conditional {
            Some(Conditional::IfNoneMatch(etag)) => request.header("if-none-match", etag.as_str()),
            Some(Conditional::IfModifiedSince(date)) => {
                request.header("if-modified-since", date.as_str())
            }
            None => request,
        };
        request = match &config.auth {
            HttpAuth::None => request,
            HttpAuth::Basic { user, password } => {
                request.basic_auth(user, password.expose_secret())
            }
            HttpAuth::Bearer { token } => request.bearer_auth(token.expose_secret()),
            HttpAuth::OAuth2 { .. } => {
                let bearer = match token {
                    Some(t) => t.clone(),
                    None => token.insert(self.oauth_token().await?).clone(),
                };
                request.bearer_auth(bearer.expose_secret())
            }
        };
        let response = request.send().await.map_err(|e| self.send_error(e))?;
        let status = response.status();
        if matches!(status.as_u16(), 401 | 403) {
            return Err(Attempt::Fatal(HttpsSourceError::Refused {
                name: self.name.clone(),
                status: status.as_u16(),
                credential: config.auth.describe(),
                verb: if matches!(config.auth, HttpAuth::Basic { .. }) {
                    "were"
                } else {
                    "was"
                },
            }));
        }
        // Only asked-for: the kept download is still the report.
        if status == reqwest::StatusCode::NOT_MODIFIED && conditional.is_some() {
            return Ok(response);
        }
        if status.as_u16() == 404 {
            return Err(Attempt::Fatal(HttpsSourceError::NotFound {
                name: self.name.clone(),
            }));
        }
        if !status.is_success() {
            let error = HttpsSourceError::Status {
                name: self.name.clone(),
                status: status.as_u16(),
                attempts: 1,
            };
            return Err(if is_retryable_status(status) {
                Attempt::Again {
                    error,
                    wait: retry_after(response.headers()),
                }
            } else {
                Attempt::Fatal(error)
            });
        }
        // A resumed request must continue the same version: a whole new answer means the
        // report changed (If-Range) or the server ignores ranges.
        if let Some((at, _)) = resume
            && status.as_u16() != 206
        {
            return Err(Attempt::Fatal(HttpsSourceError::BrokenOff {
                name: self.name.clone(),
                at,
                why: "the server answered with the whole report (it changed since, or it \
                      ignores ranges)",
            }));
        }
        Ok(response)
    }

    /// A token by the client-credentials grant.
    async fn oauth_token(&self) -> Result<SecretString, Attempt> {
        let HttpAuth::OAuth2 {
            token_url,
            client_id,
            client_secret,
            scope,
        } = &self.config.auth
        else {
            return Err(Attempt::Fatal(HttpsSourceError::Location(
                "no OAuth 2.0 settings".into(),
            )));
        };
        let token_error = |problem: String, refused: bool| HttpsSourceError::Token {
            name: self.name.clone(),
            token_url: super::object::display_url(token_url).to_owned(),
            problem,
            refused,
        };
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.expose_secret()),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope.as_str()));
        }
        let response = self
            .config
            .client
            .post(token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| match e {
                SendError::Refused(refused) => {
                    Attempt::Fatal(HttpsSourceError::EndpointNotAllowed {
                        name: self.name.clone(),
                        refused,
                    })
                }
                SendError::Transport(e) => Attempt::Again {
                    error: token_error(format!("did not answer: {}", innermost(&e)), false),
                    wait: None,
                },
            })?;
        let status = response.status();
        let headers_wait = retry_after(response.headers());
        let body = read_bounded(response, ANSWER_LIMIT)
            .await
            .map(|b| b.bytes)
            .unwrap_or_default();
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if !status.is_success() {
            // An OAuth error code is a short word (invalid_client); anything else is not shown.
            let code = answer["error"]
                .as_str()
                .filter(|c| {
                    c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                })
                .map(|c| format!(", {c}"))
                .unwrap_or_default();
            let refused = matches!(status.as_u16(), 400 | 401 | 403);
            let error = token_error(
                format!(
                    "refused client {client_id:?} (HTTP {}{code})",
                    status.as_u16()
                ),
                refused,
            );
            return Err(if is_retryable_status(status) {
                Attempt::Again {
                    error,
                    wait: headers_wait,
                }
            } else {
                Attempt::Fatal(error)
            });
        }
        match answer["access_token"].as_str() {
            Some(token) if !token.is_empty() => Ok(SecretString::from(token.to_owned())),
            _ => Err(Attempt::Fatal(token_error(
                "answered without an access_token".into(),
                false,
            ))),
        }
    }

    fn send_error(&self, error: SendError) -> Attempt {
        match error {
            SendError::Refused(refused) => Attempt::Fatal(HttpsSourceError::EndpointNotAllowed {
                name: self.name.clone(),
                refused,
            }),
            SendError::Transport(e) => {
                if let Some(cert) = crate::http_client::untrusted_certificate(&e) {
                    return Attempt::Fatal(HttpsSourceError::UntrustedCertificate {
                        name: self.name.clone(),
                        host: cert.host,
                        problem: cert.problem,
                    });
                }
                Attempt::Again {
                    error: self.unreachable(&e),
                    wait: None,
                }
            }
        }
    }

    fn unreachable(&self, error: &reqwest::Error) -> HttpsSourceError {
        HttpsSourceError::Unreachable {
            name: self.name.clone(),
            detail: innermost(error),
            attempts: 1,
        }
    }
}

/// One attempt's failure: final, or worth another attempt (after the server's wait, if any).
enum Attempt {
    Fatal(HttpsSourceError),
    Again {
        error: HttpsSourceError,
        wait: Option<std::time::Duration>,
    },
}

/// The innermost cause of a transport error, without the URL (its query may hold a token).
fn innermost(error: &reqwest::Error) -> String {
    crate::net::innermost_cause(error)
}

impl CsvSource for HttpsSource {
    /// Downloads the report now and reads that download.
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        self.pin()?.open()
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    /// One download, read by every reader of the pinned source.
    fn pin(&self) -> io::Result<Arc<dyn CsvSource>> {
        let pinned = self
            .runtime
            .block_on(self.start())
            .map_err(HttpsSourceError::into_io)?;
        Ok(Arc::new(pinned))
    }
}
