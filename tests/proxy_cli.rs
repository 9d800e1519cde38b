//! `hrconnector upload` through a real HTTP CONNECT proxy (tinyproxy) to the HTTPS emulator:
//! the token and ingestion requests go through it, `NO_PROXY` hosts do not, and a proxy that
//! refuses connections is named in the error.

mod common;

use common::cli::*;
use common::proxy::Tinyproxy;
use common::tls::*;
use common::*;

async fn upload(
    authority: &str,
    ingestion: &str,
    csv: &str,
    ca: &str,
    env: &[(&str, &str)],
) -> Run {
    hrconnector(
        &[
            "upload",
            "--cloud",
            "gcc",
            "--tenant-id",
            TENANT,
            "--app-id",
            APP,
            "--app-secret",
            SECRET,
            "--job-id",
            JOB,
            "--csv-file-path",
            csv,
            "--authority-url",
            authority,
            "--ingestion-url",
            ingestion,
            "--ca-file",
            ca,
            "--max-attempts",
            "2",
            "--output",
            "json",
        ],
        env,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn token_and_ingestion_requests_go_through_the_proxy_and_no_proxy_hosts_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, records) = write_csv(dir.path(), "hr.csv", 3);
    let csv = csv.to_string_lossy().into_owned();
    let pki = TestPki::new();
    let emu = start_https_emulator(&pki, ServerCert::Good, &TokenIssuer::new()).await;
    let port = emu.addr().port();
    let ca = pki.write_ca(dir.path()).to_string_lossy().into_owned();
    let proxy = Tinyproxy::start(port).await;
    // Two host names for the one emulator, so the token and the upload need a tunnel each.
    let authority = format!("https://localhost:{port}");
    let ingestion = format!("https://127.0.0.1:{port}");

    let run = upload(
        &authority,
        &ingestion,
        &csv,
        &ca,
        &[("HTTPS_PROXY", &proxy.url)],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(emu.received_records(JOB), records);
    let connects = proxy.connects();
    assert!(
        connects.contains(&format!("localhost:{port}"))
            && connects.contains(&format!("127.0.0.1:{port}")),
        "tinyproxy log: {}",
        proxy.log_text()
    );

    // NO_PROXY=localhost: the token request goes direct, the upload still through the proxy.
    let before = connects.len();
    let run = upload(
        &authority,
        &ingestion,
        &csv,
        &ca,
        &[("HTTPS_PROXY", &proxy.url), ("NO_PROXY", "localhost")],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let new: Vec<String> = proxy.connects().split_off(before);
    assert_eq!(new, [format!("127.0.0.1:{port}")], "{}", proxy.log_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_that_refuses_connections_is_named_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = write_csv(dir.path(), "hr.csv", 2);
    let csv = csv.to_string_lossy().into_owned();
    let pki = TestPki::new();
    let emu = start_https_emulator(&pki, ServerCert::Good, &TokenIssuer::new()).await;
    let ca = pki.write_ca(dir.path()).to_string_lossy().into_owned();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proxy = format!("http://user:pa55w0rd@127.0.0.1:{closed}");
    let run = upload(
        &emu.url(),
        &emu.url(),
        &csv,
        &ca,
        &[("HTTPS_PROXY", &proxy)],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = json(&run);
    let message = report["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("proxy http://127.0.0.1:{closed}"))
            && message.contains("HTTPS_PROXY"),
        "{message}"
    );
    assert!(!run.printed("pa55w0rd"), "the proxy password leaked");
    assert!(emu.requests().is_empty());
}
