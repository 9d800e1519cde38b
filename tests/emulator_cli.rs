//! `hrconnector emulator` as a process: it prints its URL and the demo registration (never the
//! secret), serves the demo app, refuses non-loopback addresses, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use hrconnector::emulator::{DEMO_APP_ID, DEMO_APP_SECRET, DEMO_JOB_ID, DEMO_TENANT_ID};

const BIN: &str = env!("CARGO_BIN_EXE_hrconnector");

#[test]
fn refuses_non_loopback_without_the_flag() {
    let out = Command::new(BIN)
        .args(["emulator", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-non-loopback"));
}

#[cfg(unix)]
#[test]
fn serves_the_demo_app_and_stops_on_sigterm() {
    let mut child = Command::new(BIN)
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("Ctrl-C");
        banner.push(line);
        if done {
            break;
        }
    }
    let banner = banner.join("\n");
    assert!(banner.contains(DEMO_TENANT_ID) && banner.contains(DEMO_APP_ID));
    assert!(banner.contains(DEMO_JOB_ID));
    assert!(!banner.contains(DEMO_APP_SECRET), "secret printed");
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap()
        .to_string();

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let r = c
            .post(format!("{url}/{DEMO_TENANT_ID}/oauth2/token?api-version=1.0"))
            .form(&[
                ("client_id", DEMO_APP_ID),
                ("client_secret", DEMO_APP_SECRET),
                ("grant_type", "client_credentials"),
                ("resource", hrconnector::cloud::CONNECTOR_RESOURCE),
                ("tenant_id", DEMO_TENANT_ID),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let token: serde_json::Value = r.json().await.unwrap();
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::text("Email,TerminationDate,LastWorkingDate\na@x.com,2024-01-01T00:00:00Z,2024-01-01T00:00:00Z\n")
                .file_name("demo.csv"),
        );
        let r = c
            .post(format!("{url}/api/signals?jobid={DEMO_JOB_ID}"))
            .bearer_auth(token["access_token"].as_str().unwrap())
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}
