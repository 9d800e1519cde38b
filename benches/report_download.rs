//! A report URL (issue 21): `hrconnector validate --source https://…` (release binary: download
//! the report into a temporary file, then validate it) against `curl` fetching the same report
//! to disk, from the same local TLS server (a CA made here, a bearer token), best of
//! HRCONNECTOR_BENCH_ROUNDS (default 5) each, interleaved. Target: ≤ 1.1× curl.
//!
//! It also accounts for processor time (`getrusage`): the server's (this process's threads
//! while a client runs), curl's and ours, and the `csv` crate's bare parse of the report on one
//! thread, to show what any client that validates must add to curl's work on two cores.
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
    let served = body.clone();
    let router = Router::new().route(
        "/v1/reports/42",
        get(move |headers: axum::http::HeaderMap| {
            let body = served.clone();
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
    // Processor time of the round with the best wall time, each side: (server, client).
    let (mut ours_cpu, mut theirs_cpu) = (Default::default(), Default::default());
    for round in 1..=rounds() {
        let mut curl = Command::new("curl");
        curl.args(["-sS", "--fail", "--cacert"])
            .arg(&ca)
            .args(["-H", &format!("Authorization: Bearer {TOKEN}"), "-o"])
            .arg(&out)
            .arg(&url);
        let before = processor_times();
        let (c, _) = run(&mut curl, true);
        let curl_cpu = cpu_since(before);
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
        let before = processor_times();
        let (v, output) = run(&mut validate, true);
        let validate_cpu = cpu_since(before);
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("validate's JSON");
        assert_eq!(report["valid"], true, "{report}");
        println!(
            "  round {round}: curl to disk {}; hrconnector validate (download + validate) {} ({:.2}x); \
             processor time server + client: curl's {} + {}, ours {} + {}",
            secs(c),
            secs(v),
            v.as_secs_f64() / c.as_secs_f64(),
            secs(curl_cpu.0),
            secs(curl_cpu.1),
            secs(validate_cpu.0),
            secs(validate_cpu.1),
        );
        if v < ours {
            ours = v;
            ours_cpu = validate_cpu;
        }
        if c < theirs {
            theirs = c;
            theirs_cpu = curl_cpu;
        }
    }
    processor_bound(&body, theirs, theirs_cpu, ours_cpu);
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

/// Processor time (server, client) since `before` (from [`processor_times`]).
fn cpu_since(before: (Duration, Duration)) -> (Duration, Duration) {
    let after = processor_times();
    (
        after.0.saturating_sub(before.0),
        after.1.saturating_sub(before.1),
    )
}

/// What ≤ LIMIT× curl leaves for validation on this machine's cores: a run cannot take less
/// wall time than its processor time (server's and client's) spread over every core, so a client
/// that downloads as curl does has, for validating, at most `cores × LIMIT × curl's wall time`
/// less curl's run's processor time. Printed beside the `csv` crate's bare parse of the report
/// on one thread, the least any validation with it costs.
fn processor_bound(
    body: &[u8],
    curl_wall: Duration,
    curl_cpu: (Duration, Duration),
    ours_cpu: (Duration, Duration),
) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let parse = (0..3)
        .map(|_| {
            let start = std::time::Instant::now();
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(true)
                .from_reader(body);
            let mut record = csv::ByteRecord::new();
            let mut records = 0u64;
            while reader.read_byte_record(&mut record).expect("parses") {
                records += 1;
            }
            assert!(records > 0);
            start.elapsed()
        })
        .min()
        .unwrap_or_default();
    let curl_total = (curl_cpu.0 + curl_cpu.1).as_secs_f64();
    let budget = cores * LIMIT * curl_wall.as_secs_f64() - curl_total;
    println!(
        "  processor time of the best rounds: curl's run {:.3} s (server {} + curl {}), ours {:.3} s \
         (server {} + hrconnector {}); {cores} cores",
        curl_total,
        secs(curl_cpu.0),
        secs(curl_cpu.1),
        (ours_cpu.0 + ours_cpu.1).as_secs_f64(),
        secs(ours_cpu.0),
        secs(ours_cpu.1),
    );
    println!(
        "  ours can take no less than its processor time over {cores} cores: {:.3} s ({:.2}x curl)",
        (ours_cpu.0 + ours_cpu.1).as_secs_f64() / cores,
        (ours_cpu.0 + ours_cpu.1).as_secs_f64() / cores / curl_wall.as_secs_f64()
    );
    println!(
        "  <= {LIMIT}x curl leaves {budget:.3} s of processor time for validating {:.1} MB; \
         the csv crate's bare parse of it alone takes {} (best of 3, one thread)",
        body.len() as f64 / 1e6,
        secs(parse)
    );
}
