//! The egress policy's cost per request: the same upload requests (multipart chunks of 5,000
//! records, as the uploader sends them) to the in-process emulator over loopback, sent through
//! the crate's `HttpClient` (policy checked before every request, redirect policy installed,
//! with 20 administrator prefixes ahead of the matching one) and through a plain
//! `reqwest::Client` with the same timeouts (no policy), interleaved, best of the rounds each.
//! Target: with the policy ≤ 1.02× without.
//!
//! The uploader's and validation's end-to-end figures with and without the policy are
//! `upload_e2e` with `HRCONNECTOR_BENCH_BEFORE` set to a build from before it (BENCHMARKS.md).
//!
//! `cargo bench --bench egress_cost` (`HRCONNECTOR_BENCH_ROUNDS`, default 5).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hrconnector::http_client::{self, HttpClientConfig};
use hrconnector::net::EgressPolicy;
use reqwest::multipart::{Form, Part};
use support::*;

const REQUESTS: usize = 200;
const RECORDS_PER_CALL: u64 = 5_000;

fn chunk() -> bytes::Bytes {
    let dir = scratch_dir();
    let path = dir.path().join("chunk.csv");
    generate_csv(&path, RECORDS_PER_CALL).expect("generate");
    std::fs::read(&path).expect("read").into()
}

fn form(body: &bytes::Bytes) -> Form {
    let part = Part::stream_with_length(reqwest::Body::from(body.clone()), body.len() as u64)
        .file_name("chunk.csv")
        .mime_str("text/csv")
        .expect("mime");
    Form::new().part("file", part)
}

/// The time of `REQUESTS` requests made by `send`, one after another, each answered 2xx.
fn timed<F, Fut, E>(runtime: &tokio::runtime::Runtime, send: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<reqwest::Response, E>>,
    E: std::fmt::Debug,
{
    let start = Instant::now();
    runtime.block_on(async {
        for _ in 0..REQUESTS {
            let response = send().await.expect("send");
            assert!(response.status().is_success());
            response.bytes().await.expect("body");
        }
    });
    start.elapsed()
}

fn main() {
    if !under_cargo_bench() {
        return;
    }
    let (runtime, emu) = runtime_with_emulator();
    let url = emu.url();
    let upload_url = format!("{url}/api/signals?jobid={JOB}");
    let body = chunk();
    let token = runtime.block_on(async {
        let answer: serde_json::Value = reqwest::Client::new()
            .post(format!("{url}/{TENANT}/oauth2/token?api-version=1.0"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", APP),
                ("client_secret", SECRET),
                ("resource", hrconnector::cloud::CONNECTOR_RESOURCE),
            ])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token JSON");
        answer["access_token"].as_str().expect("token").to_string()
    });

    // The worst realistic case for the check: the matching prefix is the last of 21.
    let mut prefixes: Vec<String> = (0..20)
        .map(|i| format!("https://proxy-{i}.agency.example/hr/"))
        .collect();
    prefixes.push(url.clone());
    let policy = EgressPolicy::new(&prefixes).expect("prefixes");
    let with_policy = http_client::build(&HttpClientConfig {
        egress: Arc::new(policy),
        ..HttpClientConfig::default()
    })
    .expect("client");
    let without = reqwest::Client::builder()
        .timeout(Duration::from_secs(400))
        .connect_timeout(Duration::from_secs(30))
        .build()
        .expect("plain client");

    println!(
        "egress policy cost: {REQUESTS} uploads of {RECORDS_PER_CALL} records ({:.0} KB each) per round",
        body.len() as f64 / 1e3
    );
    let (mut best_with, mut best_without) = (Duration::MAX, Duration::MAX);
    let rounds = rounds();
    for round in 1..=rounds {
        let w = timed(&runtime, || {
            without
                .post(&upload_url)
                .bearer_auth(&token)
                .multipart(form(&body))
                .send()
        });
        let p = timed(&runtime, || {
            with_policy
                .post(&upload_url)
                .bearer_auth(&token)
                .multipart(form(&body))
                .send()
        });
        println!(
            "  round {round}: without {} | with {} ({:.3}x)",
            secs(w),
            secs(p),
            p.as_secs_f64() / w.as_secs_f64()
        );
        best_without = best_without.min(w);
        best_with = best_with.min(p);
    }
    let ratio = best_with.as_secs_f64() / best_without.as_secs_f64();
    let bytes = (body.len() * REQUESTS) as u64;
    throughput_line("without the policy", rounds, best_without, bytes, None);
    throughput_line("with the policy", rounds, best_with, bytes, None);
    println!(
        "  with / without: {ratio:.3}x (target <= 1.02x): {}",
        verdict(ratio <= 1.02)
    );

    // The check alone, per call: what the policy adds to each request and redirect hop.
    let url = reqwest::Url::parse(&upload_url).expect("url");
    let policy = with_policy.egress();
    let n = 1_000_000;
    let start = Instant::now();
    for _ in 0..n {
        assert!(std::hint::black_box(policy).allows(std::hint::black_box(&url)));
    }
    let per_check = start.elapsed().as_nanos() as f64 / n as f64;
    let per_request = best_with.as_nanos() as f64 / REQUESTS as f64;
    println!(
        "  one check: {per_check:.0} ns ({:.5} % of one request's {:.2} ms)",
        per_check / per_request * 100.0,
        per_request / 1e6
    );
}
