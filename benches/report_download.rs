//! A report URL (issue 21): `hrconnector validate --source https://…` (release binary: download
//! the report into a temporary file, then validate it) against `curl` fetching the same report
//! to disk, from the same local TLS server (a CA made here, a bearer token), best of
//! HRCONNECTOR_BENCH_ROUNDS (default 5) each, interleaved. Target: ≤ 1.1× curl.
//!
//! `cargo bench --bench report_download` (HRCONNECTOR_BENCH_REPORT_MIB: the report's size,
//! default 100)

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use hrconnector::emulator::{TlsIdentity, serve_tls};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use support::*;

const TOKEN: &str = "bench-report-token-5a1f";
const LIMIT: f64 = 1.1;

/// A CA and a server certificate for 127.0.0.1 it signed: (CA PEM, server identity).
fn pki() -> (String, TlsIdentity) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    // Distinct names: a leaf whose issuer name is its own reads as self-signed.
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name
        .push(DnType::CommonName, "hrconnector bench CA");
    let ca_pem = ca.self_signed(&ca_key).expect("CA").pem();
    let key = KeyPair::generate().expect("server key");
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    server.distinguished_name = DistinguishedName::new();
    server
        .distinguished_name
        .push(DnType::CommonName, "report server");
    let cert = server
        .signed_by(&key, &Issuer::from_params(&ca, &ca_key))
        .expect("server cert");
    (
        ca_pem,
        TlsIdentity {
            cert_chain_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        },
    )
}

fn main() {
    if !under_cargo_bench() {
        return;
    }
    let mib: u64 = std::env::var("HRCONNECTOR_BENCH_REPORT_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let dir = scratch_dir();
    let csv = dir.path().join("report.csv");
    // About 100 bytes a record.
    let size = generate_csv(&csv, mib * 1024 * 1024 / 100).expect("generate");
    let body = Bytes::from(std::fs::read(&csv).expect("read"));
    std::fs::remove_file(&csv).expect("delete");
    let (ca_pem, identity) = pki();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).expect("write CA");
    let token = dir.path().join("token");
    std::fs::write(&token, TOKEN).expect("write token");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let body = Arc::new(body);
    let router = Router::new().route(
        "/v1/reports/42",
        get(move |headers: axum::http::HeaderMap| {
            let body = body.clone();
            async move {
                let ok = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v == format!("Bearer {TOKEN}"));
                if ok {
                    Ok(([("content-type", "text/csv")], (*body).clone()))
                } else {
                    Err(axum::http::StatusCode::UNAUTHORIZED)
                }
            }
        }),
    );
    let server = runtime
        .block_on(serve_tls(router, ([127, 0, 0, 1], 0).into(), &identity))
        .expect("report server");
    let url = format!(
        "https://127.0.0.1:{}/v1/reports/42?format=CSV",
        server.addr.port()
    );
    let out = dir.path().join("curl.csv");

    println!(
        "report download: {:.1} MB over TLS from a local server (bearer token), best of {}",
        size as f64 / 1e6,
        rounds()
    );
    let (mut ours, mut theirs) = (Duration::MAX, Duration::MAX);
    for round in 1..=rounds() {
        let mut curl = Command::new("curl");
        curl.args(["-sS", "--fail", "--cacert"])
            .arg(&ca)
            .args(["-H", &format!("Authorization: Bearer {TOKEN}"), "-o"])
            .arg(&out)
            .arg(&url);
        let (c, _) = run(&mut curl, true);
        assert_eq!(
            std::fs::metadata(&out).expect("curl's file").len(),
            size,
            "curl fetched the whole report"
        );
        std::fs::remove_file(&out).expect("delete");
        let mut validate = Command::new(BIN);
        validate
            .args([
                "validate",
                "--output",
                "json",
                "--source",
                &url,
                "--ca-file",
            ])
            .arg(&ca)
            .arg("--http-bearer-token-file")
            .arg(&token);
        let (v, output) = run(&mut validate, true);
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("validate's JSON");
        assert_eq!(report["valid"], true, "{report}");
        println!(
            "  round {round}: curl to disk {}; hrconnector validate (download + validate) {} ({:.2}x)",
            secs(c),
            secs(v),
            v.as_secs_f64() / c.as_secs_f64()
        );
        ours = ours.min(v);
        theirs = theirs.min(c);
    }
    let ratio = ours.as_secs_f64() / theirs.as_secs_f64();
    println!(
        "RESULT report URL: hrconnector validate / curl = {ratio:.2}x ({} vs {}, {:.1} MB; target <= {LIMIT:.1}x): {}",
        secs(ours),
        secs(theirs),
        size as f64 / 1e6,
        verdict(ratio <= LIMIT)
    );
    drop(server);
}
