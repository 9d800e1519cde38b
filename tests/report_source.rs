//! HR reports at HTTPS URLs (Workday RaaS, BambooHR): `validate` and `upload --source
//! https://…` against a report server started here over TLS with a CA the test made, with
//! basic, bearer and OAuth 2.0 client-credentials authentication; refusals named by the
//! credential used, retries of 503, an untrusted certificate, and no secret in anything printed
//! at trace level.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use common::cli::*;
use common::tls::*;
use common::*;
use futures_util::StreamExt;

const BASIC_USER: &str = "isu_hr_connector";
const BASIC_PASSWORD: &str = "basic-password-7f3a9c";
const BEARER: &str = "bearer-token-51d2e8";
const CLIENT_ID: &str = "hr-report-client";
const CLIENT_SECRET: &str = "oauth-client-secret-9b4e61";
const ISSUED: &str = "issued-access-token-c0ffee";

#[derive(Default)]
struct Counts {
    report: AtomicUsize,
    token: AtomicUsize,
    flaky: AtomicUsize,
    cut: AtomicUsize,
    ranges: std::sync::Mutex<Vec<String>>,
    /// Conditional requests: (the validator sent, whether the whole report was sent).
    conditional: std::sync::Mutex<Vec<(String, bool)>>,
    /// The version the /versioned routes serve; a new one is a new report.
    version: AtomicUsize,
}

/// The first answer of a cut route: the headers of the whole report, half its body, then the
/// connection drops.
fn cut_body(csv: &str, headers: &[(&'static str, &'static str)]) -> Response {
    let half = axum::body::Bytes::copy_from_slice(&csv.as_bytes()[..csv.len() / 2]);
    // The half first; the error a moment later, once the client has read it.
    let chunks = futures_util::stream::iter([Some(half), None]).then(|chunk| async move {
        match chunk {
            Some(half) => Ok(half),
            None => {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                Err(std::io::Error::other("the server went away"))
            }
        }
    });
    let mut response = Response::new(axum::body::Body::from_stream(chunks));
    let h = response.headers_mut();
    h.insert("content-length", csv.len().into());
    for (k, v) in headers {
        h.insert(*k, axum::http::HeaderValue::from_static(v));
    }
    response
}

/// A report of several validation segments (256 KiB each) with one bad record: 30,000 records.
fn long_report() -> String {
    let mut csv = String::from("EmailAddress,TerminationDate,LastWorkingDate\n");
    for i in 0..30_000 {
        let email = if i == 21_337 {
            "not-an-email".to_owned()
        } else {
            format!("employee{i:06}@contoso.com")
        };
        csv.push_str(&format!(
            "{email},2026-03-{:02}T09:00:00Z,2026-04-{:02}T17:30:00Z\n",
            1 + i % 28,
            1 + i % 28
        ));
    }
    csv
}

/// `csv` with its length declared, in pieces of 64 KiB a few milliseconds apart.
fn slowly(csv: String) -> Response {
    let len = csv.len();
    let pieces: Vec<axum::body::Bytes> = csv
        .into_bytes()
        .chunks(64 << 10)
        .map(axum::body::Bytes::copy_from_slice)
        .collect();
    let body = futures_util::stream::iter(pieces).then(|piece| async move {
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        Ok::<_, std::io::Error>(piece)
    });
    let mut response = Response::new(axum::body::Body::from_stream(body));
    response.headers_mut().insert("content-length", len.into());
    response
}

struct Server {
    csv: String,
    counts: Counts,
}

fn authorized(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected)
}

fn report(server: &Server, ok: bool) -> Response {
    server.counts.report.fetch_add(1, Ordering::SeqCst);
    if !ok {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    (
        [("content-type", "text/csv"), ("etag", "\"report-v1\"")],
        server.csv.clone(),
    )
        .into_response()
}

/// 304 when the request's `header` names the current `validator`, else the report (of the
/// current version: a record more per version) with the validator.
fn conditional(
    server: &Server,
    headers: &HeaderMap,
    header: &str,
    validator: &str,
    sent: (&'static str, String),
) -> Response {
    let asked = headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let same = asked == validator;
    server
        .counts
        .conditional
        .lock()
        .unwrap()
        .push((asked, !same));
    if same {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut csv = server.csv.clone();
    for i in 0..server.counts.version.load(Ordering::SeqCst) {
        csv.push_str(&format!(
            "new{i}@contoso.com,2026-03-01T09:00:00Z,2026-03-15T17:00:00Z\n"
        ));
    }
    (
        [("content-type", "text/csv".to_owned()), (sent.0, sent.1)],
        csv,
    )
        .into_response()
}

fn router(server: Arc<Server>) -> Router {
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{BASIC_USER}:{BASIC_PASSWORD}"))
    );
    Router::new()
        // Workday RaaS: basic authentication of an integration system user.
        .route(
            "/ccx/service/customreport2/agency/isu/terminations",
            get(
                move |State(s): State<Arc<Server>>, h: HeaderMap| async move {
                    report(&s, authorized(&h, &basic))
                },
            ),
        )
        // A report behind a bearer token.
        .route(
            "/v1/reports/42",
            get(|State(s): State<Arc<Server>>, h: HeaderMap| async move {
                report(&s, authorized(&h, &format!("Bearer {BEARER}")))
            }),
        )
        .route(
            "/oauth2/token",
            post(|State(s): State<Arc<Server>>, body: String| async move {
                s.counts.token.fetch_add(1, Ordering::SeqCst);
                let form: Vec<(String, String)> =
                    serde_urlencoded::from_str(&body).unwrap_or_default();
                let has = |k: &str, v: &str| form.iter().any(|(a, b)| a == k && b == v);
                if has("grant_type", "client_credentials")
                    && has("client_id", CLIENT_ID)
                    && has("client_secret", CLIENT_SECRET)
                {
                    axum::Json(serde_json::json!({
                        "access_token": ISSUED, "token_type": "Bearer", "expires_in": 3600
                    }))
                    .into_response()
                } else {
                    (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(serde_json::json!({"error": "invalid_client"})),
                    )
                        .into_response()
                }
            }),
        )
        .route(
            "/oauth/report",
            get(|State(s): State<Arc<Server>>, h: HeaderMap| async move {
                report(&s, authorized(&h, &format!("Bearer {ISSUED}")))
            }),
        )
        // Busy twice, then the report.
        .route(
            "/flaky/report",
            get(|State(s): State<Arc<Server>>| async move {
                if s.counts.flaky.fetch_add(1, Ordering::SeqCst) < 2 {
                    return (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "0")])
                        .into_response();
                }
                report(&s, true)
            }),
        )
        // Cut once; it serves ranges of a strong ETag, so the rest is asked for and sent.
        .route(
            "/resumable/report",
            get(|State(s): State<Arc<Server>>, h: HeaderMap| async move {
                let range = h
                    .get("range")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                if s.counts.cut.fetch_add(1, Ordering::SeqCst) == 0 {
                    return cut_body(&s.csv, &[("etag", "\"v1\""), ("accept-ranges", "bytes")]);
                }
                let Some(range) = range else {
                    return report(&s, true);
                };
                let if_range = h
                    .get("if-range")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                s.counts
                    .ranges
                    .lock()
                    .unwrap()
                    .push(format!("{range} if-range {if_range}"));
                let from: usize = range
                    .trim_start_matches("bytes=")
                    .trim_end_matches('-')
                    .parse()
                    .unwrap();
                let rest = s.csv.as_bytes()[from..].to_vec();
                (
                    StatusCode::PARTIAL_CONTENT,
                    [
                        (
                            "content-range",
                            format!("bytes {from}-{}/{}", s.csv.len() - 1, s.csv.len()),
                        ),
                        ("etag", "\"v1\"".to_owned()),
                    ],
                    rest,
                )
                    .into_response()
            }),
        )
        // Cut, with no ranges offered: what was read cannot be taken back.
        .route(
            "/fragile/report",
            get(|State(s): State<Arc<Server>>| async move {
                s.counts.cut.fetch_add(1, Ordering::SeqCst);
                cut_body(&s.csv, &[])
            }),
        )
        // Validators and conditional requests: an ETag, or only a Last-Modified.
        .route(
            "/versioned/etag",
            get(|State(s): State<Arc<Server>>, h: HeaderMap| async move {
                let etag = format!("\"v{}\"", s.counts.version.load(Ordering::SeqCst));
                conditional(&s, &h, "if-none-match", &etag, ("etag", etag.clone()))
            }),
        )
        .route(
            "/versioned/date",
            get(|State(s): State<Arc<Server>>, h: HeaderMap| async move {
                let date = format!(
                    "Tue, 0{} Dec 2026 08:00:00 GMT",
                    1 + s.counts.version.load(Ordering::SeqCst)
                );
                conditional(
                    &s,
                    &h,
                    "if-modified-since",
                    &date,
                    ("last-modified", date.clone()),
                )
            }),
        )
        .route("/slow/report", get(|| async { slowly(long_report()) }))
        .route(
            "/forbidden/report",
            get(|State(s): State<Arc<Server>>| async move {
                s.counts.report.fetch_add(1, Ordering::SeqCst);
                StatusCode::FORBIDDEN
            }),
        )
        .with_state(server)
}

struct Setup {
    tls: TlsSetup,
    ca: String,
    server: Arc<Server>,
    base: String,
    _handle: hrconnector::emulator::RouterHandle,
}

impl Setup {
    async fn new() -> Self {
        let tls = TlsSetup::new();
        let csv = std::fs::read_to_string(&tls.csv).unwrap();
        let server = Arc::new(Server {
            csv,
            counts: Counts::default(),
        });
        let handle = hrconnector::emulator::serve_tls(
            router(server.clone()),
            ([127, 0, 0, 1], 0).into(),
            &tls.pki.server(ServerCert::Good),
        )
        .await
        .expect("report server");
        let ca = tls
            .pki
            .write_ca(tls.dir.path())
            .to_string_lossy()
            .into_owned();
        let base = format!("https://127.0.0.1:{}", handle.addr.port());
        Setup {
            tls,
            ca,
            server,
            base,
            _handle: handle,
        }
    }

    fn secret_file(&self, name: &str, value: &str) -> String {
        let path = self.tls.dir.path().join(name);
        std::fs::write(&path, format!("{value}\n")).unwrap();
        path.to_string_lossy().into_owned()
    }

    async fn validate(&self, path: &str, auth: &[&str]) -> Run {
        let url = format!("{}{path}", self.base);
        let mut args = vec!["validate", "--source", &url, "--ca-file", &self.ca];
        args.extend_from_slice(auth);
        let run = hrconnector(&args, &[]).await;
        assert_no_secret(&run);
        run
    }

    fn basic(&self) -> Vec<String> {
        vec![
            "--http-basic-user".into(),
            BASIC_USER.into(),
            "--http-basic-password-file".into(),
            self.secret_file("basic", BASIC_PASSWORD),
        ]
    }
}

fn assert_no_secret(run: &Run) {
    for secret in [BASIC_PASSWORD, BEARER, CLIENT_SECRET, ISSUED] {
        assert!(
            !run.printed(secret),
            "a secret was printed:\n{}{}",
            run.stdout,
            run.stderr
        );
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workday_report_with_basic_auth_is_validated_and_uploaded() {
    let s = Setup::new().await;
    let path = "/ccx/service/customreport2/agency/isu/terminations?format=csv";
    let run = s.validate(path, &strs(&s.basic())).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let name = format!(
        "{}/ccx/service/customreport2/agency/isu/terminations",
        s.base
    );
    assert!(
        run.stdout.contains(&format!("{name}: 5 records, valid")),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("\"report-v1\""),
        "the download is described: {}",
        run.stderr
    );
    assert!(!run.printed("format=csv"), "the URL's query is not shown");

    let emu = start_emulator().await;
    let url = format!("{}{path}", s.base);
    let emu_url = emu.url();
    let mut args = upload_args(&emu_url, "unused", APP, &["--app-secret", SECRET]);
    let at = args
        .iter()
        .position(|a| *a == "--csv-file-path")
        .expect("a file arg");
    args.splice(
        at..at + 2,
        ["--source", url.as_str(), "--ca-file", s.ca.as_str()],
    );
    let basic = s.basic();
    args.extend(strs(&basic));
    let up = hrconnector(&args, &[]).await;
    assert_no_secret(&up);
    assert_eq!(up.code, 0, "{}{}", up.stdout, up.stderr);
    assert_eq!(json(&up)["result"], "Succeeded");
    assert_eq!(emu.received_records(JOB), s.tls.records);
    assert_eq!(
        emu.log(JOB).first().map(|e| e.file_name.clone()).as_deref(),
        Some("terminations")
    );
    // One download for the whole command: validation and sending read the same bytes.
    assert_eq!(s.server.counts.report.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_and_oauth_client_credentials() {
    let s = Setup::new().await;
    let bearer = s.secret_file("bearer", BEARER);
    let run = s
        .validate(
            "/v1/reports/42?format=CSV",
            &["--http-bearer-token-file", &bearer],
        )
        .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    let token_url = format!("{}/oauth2/token", s.base);
    let secret = s.secret_file("client-secret", CLIENT_SECRET);
    let oauth = [
        "--http-oauth-token-url",
        token_url.as_str(),
        "--http-oauth-client-id",
        CLIENT_ID,
        "--http-oauth-client-secret-file",
        secret.as_str(),
        "--http-oauth-scope",
        "reports.read",
    ];
    let run = s.validate("/oauth/report", &oauth).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(s.server.counts.token.load(Ordering::SeqCst), 1);

    // A wrong client secret: the token endpoint's refusal, naming the client and its code.
    let wrong = s.secret_file("wrong-secret", "not-the-secret");
    let mut bad = oauth;
    bad[5] = wrong.as_str();
    let run = s.validate("/oauth/report", &bad).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "refused client \"{CLIENT_ID}\" (HTTP 401, invalid_client)"
        )),
        "{}",
        run.stderr
    );
    assert!(!run.printed("not-the-secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_fail_at_once_naming_the_credential() {
    let s = Setup::new().await;
    let wrong = s.secret_file("wrong", "wrong-password");
    let path = "/ccx/service/customreport2/agency/isu/terminations?format=csv";
    let run = s
        .validate(
            path,
            &[
                "--http-basic-user",
                BASIC_USER,
                "--http-basic-password-file",
                &wrong,
            ],
        )
        .await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "HTTP 401: basic credentials of user \"{BASIC_USER}\" were refused"
        )),
        "{}",
        run.stderr
    );
    assert!(!run.printed("wrong-password"));
    assert_eq!(
        s.server.counts.report.load(Ordering::SeqCst),
        1,
        "no retry of a 401"
    );

    let run = s.validate("/forbidden/report", &strs(&s.basic())).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("HTTP 403"), "{}", run.stderr);
    assert_eq!(
        s.server.counts.report.load(Ordering::SeqCst),
        2,
        "no retry of a 403"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_server_is_asked_again_and_an_untrusted_one_is_not() {
    let s = Setup::new().await;
    let run = s.validate("/flaky/report", &[]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(s.server.counts.flaky.load(Ordering::SeqCst), 3);

    // Without the CA: the certificate is named as the problem, at once.
    let url = format!("{}/v1/reports/42", s.base);
    let bearer = s.secret_file("bearer", BEARER);
    let run = hrconnector(
        &[
            "validate",
            "--source",
            &url,
            "--http-bearer-token-file",
            &bearer,
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("is not trusted"), "{}", run.stderr);
    assert!(run.stderr.contains("--ca-file"), "{}", run.stderr);
    assert_no_secret(&run);

    // The flags are for report URLs only.
    let run = hrconnector(
        &[
            "validate",
            "--csv-file-path",
            &s.tls.csv,
            "--http-bearer-token-file",
            &bearer,
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("for --source https://"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_download_that_breaks_off_resumes_where_ranges_allow_and_fails_clearly_where_not() {
    let s = Setup::new().await;
    let run = s.validate("/resumable/report", &[]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("5 records, valid"), "{}", run.stdout);
    let half = s.server.csv.len() / 2;
    assert_eq!(
        *s.server.counts.ranges.lock().unwrap(),
        [format!("bytes={half}- if-range \"v1\"")],
        "the rest asked for from where it stopped, for the same version"
    );

    let run = s.validate("/fragile/report", &[]).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("broke off after") && run.stderr.contains("cannot be resumed"),
        "{}",
        run.stderr
    );
}

/// A long report arriving slowly, its length declared, is validated as it arrives (read at any
/// offset, each read waiting for its bytes, in segments on two threads): with the same result as
/// the same bytes validated from a file.
#[tokio::test(flavor = "multi_thread")]
async fn a_long_report_is_validated_as_it_arrives_as_a_file_would_be() {
    let s = Setup::new().await;
    let run = s.validate("/slow/report", &["--output", "json"]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let arrived: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let file = s.tls.dir.path().join("long.csv");
    std::fs::write(&file, long_report()).unwrap();
    let local = hrconnector(
        &[
            "validate",
            "--output",
            "json",
            "--csv-file-path",
            &file.to_string_lossy(),
        ],
        &[],
    )
    .await;
    let local: serde_json::Value = serde_json::from_str(&local.stdout).expect("JSON");
    assert_eq!(arrived, local);
    assert_eq!(arrived["records"], 30_000, "{arrived}");
    assert_eq!(arrived["errors"][0]["line"], 21_339, "{arrived}");
}

/// The operator's way: a source that keeps its last download asks conditionally, and a 304
/// reads the kept bytes again (validated and hashed as a new download); a new version is
/// downloaded. The server has not sent the report again when nothing changed.
#[tokio::test(flavor = "multi_thread")]
async fn a_kept_download_makes_the_next_request_conditional() {
    use hrconnector::source::https::ReportCache;
    use hrconnector::source::{CsvSource, HttpAuth, HttpsSource, HttpsSourceConfig};
    let s = Setup::new().await;
    for (path, header_value) in [("/versioned/etag", "\"v"), ("/versioned/date", "Tue, 0")] {
        s.server.counts.version.store(0, Ordering::SeqCst);
        s.server.counts.conditional.lock().unwrap().clear();
        let url = format!("{}{path}?format=csv", s.base);
        let client = hrconnector::http_client::build(&hrconnector::http_client::HttpClientConfig {
            ca_file: Some(s.ca.clone().into()),
            egress: Arc::new(
                hrconnector::net::EgressPolicy::published_only().allowing_origin_of(&url),
            ),
            ..Default::default()
        })
        .unwrap();
        let cache = Arc::new(ReportCache::default());
        let source = HttpsSource::new(
            HttpsSourceConfig {
                url: url.clone(),
                auth: HttpAuth::None,
                client,
                retry: Default::default(),
                sleeper: Arc::new(hrconnector::upload::TokioSleeper),
                max_bytes: 1 << 20,
                cache: Some(cache),
            },
            tokio::runtime::Handle::current(),
        )
        .unwrap();
        let read = |report: hrconnector::source::https::PinnedReport| async move {
            tokio::task::spawn_blocking(move || {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut report.open().unwrap(), &mut bytes).unwrap();
                bytes
            })
            .await
            .unwrap()
        };
        let first = read(source.start().await.unwrap()).await;
        assert_eq!(first, s.server.csv.as_bytes(), "{path}");
        // Nothing changed: asked with the validator, answered 304, the kept bytes read again.
        let second = read(source.start().await.unwrap()).await;
        assert_eq!(second, first, "{path}");
        // A new version: asked with the old validator, sent whole.
        s.server.counts.version.store(1, Ordering::SeqCst);
        let third = read(source.start().await.unwrap()).await;
        assert!(
            third.len() > first.len(),
            "{path}: the new version was read"
        );
        let log = s.server.counts.conditional.lock().unwrap().clone();
        assert_eq!(log.len(), 3, "{path}: {log:?}");
        assert_eq!(
            log[0],
            (String::new(), true),
            "{path}: the first request is plain"
        );
        assert!(
            log[1].0.starts_with(header_value) && !log[1].1,
            "{path}: the second is conditional and not sent again: {log:?}"
        );
        assert!(log[2].1, "{path}: a changed report is sent: {log:?}");
    }
}
