//! The egress policy and bounded reads on the object-store and STS paths, over real HTTP:
//! a store that redirects elsewhere, a store whose error answer claims a 1 TiB body, and an
//! STS answer far larger than any.

mod common;

use std::process::Stdio;
use std::sync::Arc;

use common::RawServer;

const ACCOUNT: &str = "devstoreaccount1";
// Azurite's well-known development key (public, documented by Microsoft).
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// `hrconnector validate --source az://hr-exports/leavers.csv` against `store` as the emulator.
async fn validate_blob(store: &str) -> (Option<i32>, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hrconnector"))
        .args(["validate", "--source", "az://hr-exports/leavers.csv"])
        .env("AZURE_STORAGE_USE_EMULATOR", "true")
        .env("AZURITE_BLOB_STORAGE_URL", store)
        .env("AZURE_STORAGE_ACCOUNT_NAME", ACCOUNT)
        .env("AZURE_STORAGE_ACCOUNT_KEY", ACCOUNT_KEY)
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run hrconnector");
    (
        out.status.code(),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn a_store_redirect_to_another_origin_is_refused_and_never_followed() {
    let target = RawServer::start(
        |_| b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec(),
        0,
    )
    .await;
    let to = target.url.clone();
    let bouncer = RawServer::start(
        move |_| {
            format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {to}/{ACCOUNT}/hr-exports/leavers.csv\r\ncontent-length: 0\r\n\r\n"
            )
            .into_bytes()
        },
        0,
    )
    .await;
    let (code, out) = validate_blob(&bouncer.url).await;
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("not allowed by the egress policy"), "{out}");
    assert!(out.contains("a redirect never leaves the origin"), "{out}");
    assert!(bouncer.connection_count() >= 1);
    assert_eq!(target.connection_count(), 0, "the redirect was followed");
    assert!(!out.contains("sig="), "{out}");
}

#[tokio::test]
async fn a_store_error_claiming_a_1_tib_body_is_read_to_a_bound() {
    // HEAD says there is an object; the GET that reads it answers 404 claiming 1 TiB and sends
    // 8 MiB. Before the bound, object_store sized a buffer by the claim and the process aborted.
    let store = RawServer::start(
        |request| {
            if request.starts_with("HEAD") {
                // `connection: close`: the trailer bytes follow every answer, and a connection
                // reused after them made the next request fail before any GET was sent.
                b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 100\r\netag: \"0x1\"\r\nlast-modified: Tue, 01 Dec 2026 10:00:00 GMT\r\nx-ms-blob-type: BlockBlob\r\n\r\n".to_vec()
            } else {
                b"HTTP/1.1 404 Not Found\r\ncontent-type: application/xml\r\ncontent-length: 1099511627776\r\n\r\n<?xml version=\"1.0\"?><Error><Code>BlobNotFound</Code>".to_vec()
            }
        },
        8 * 1024 * 1024,
    )
    .await;
    let (code, out) = validate_blob(&store.url).await;
    assert!(code.is_some(), "killed by a signal: {out}");
    assert_ne!(code, Some(134), "aborted: {out}");
    assert!(!out.contains("memory allocation"), "{out}");
    assert_ne!(code, Some(0), "{out}");
    let received = String::from_utf8_lossy(&store.received.lock().unwrap()).into_owned();
    assert!(
        received.contains("HEAD ") && received.contains("GET "),
        "HEAD and GET reached the store: {received}"
    );
}

/// The STS web identity provider the operator builds for `webIdentity`, with a JWT-shaped token.
fn sts_provider(
    http: hrconnector::http_client::HttpClient,
    endpoint: &str,
    dir: &std::path::Path,
) -> hrconnector::source::object::StsWebIdentity {
    use hrconnector::source::object::{StsWebIdentity, StsWebIdentityConfig};
    use hrconnector::upload::{FederatedTokenFile, RetryPolicy, TokioSleeper};
    let token_file = dir.join("token");
    std::fs::write(&token_file, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln").unwrap();
    StsWebIdentity::new(StsWebIdentityConfig {
        http,
        endpoint: endpoint.to_string(),
        role_arn: "arn:aws:iam::123456789012:role/hr-reader".into(),
        session_name: "s".into(),
        assertion: Arc::new(FederatedTokenFile { path: token_file }),
        retry: RetryPolicy::default(),
        sleeper: Arc::new(TokioSleeper),
    })
}

#[tokio::test]
async fn an_sts_answer_larger_than_any_is_refused_after_1_mib() {
    use object_store::CredentialProvider;

    // 200 claiming 600 MiB and sending 64 MiB: the answer is cut at 1 MiB and refused.
    let sts = RawServer::start(
        |_| b"HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: 629145600\r\n\r\n<AssumeRoleWithWebIdentityResponse>".to_vec(),
        64 * 1024 * 1024,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let provider = sts_provider(common::http_for(&sts.url), &sts.url, dir.path());
    let err = provider.get_credential().await.expect_err("no credentials");
    let text = format!("{err:?}");
    assert!(text.contains("larger than 1024 KiB"), "{text}");
    assert_eq!(sts.connection_count(), 1, "refused, not retried");
}

#[tokio::test]
async fn an_sts_endpoint_no_prefix_allows_receives_nothing() {
    use object_store::CredentialProvider;

    let recorder = RawServer::start(
        |_| b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec(),
        0,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    // The operator's client with no prefix: the published hosts only.
    let http = hrconnector::http_client::build(&Default::default()).unwrap();
    let provider = sts_provider(http, &recorder.url, dir.path());
    let err = provider.get_credential().await.expect_err("refused");
    assert!(
        format!("{err:?}").contains("not allowed by the egress policy"),
        "{err:?}"
    );
    assert_eq!(recorder.connection_count(), 0);
}
