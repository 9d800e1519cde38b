//! `hrconnector controller` as a process: it starts, and stops on SIGTERM, even when the API
//! server cannot be reached (a pod must not hang until its grace period runs out); a trusted CA
//! bundle it cannot use stops it at start.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_hrconnector");

#[test]
fn stops_on_sigterm_while_the_api_server_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: every API request is refused.
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters: [{name: x, cluster: {server: \"http://127.0.0.1:1\"}}]\nusers: [{name: x, user: {}}]\ncontexts: [{name: x, context: {cluster: x, user: x}}]\n",
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["controller", "--metrics-bind-address", "127.0.0.1:0"])
        .env("KUBECONFIG", &kubeconfig)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    // Bounded waits: these detect a hang, they do not measure speed.
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        let started = line.contains("controller starting");
        log.push(line);
        if started {
            break;
        }
    }
    assert!(
        log.iter().any(|l| l.contains("controller starting")),
        "{log:#?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut status = None;
    for _ in 0..300 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
        log.push(line);
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!(
            "the controller did not stop within 30 s of SIGTERM:\n{}",
            log.join("\n")
        );
    };
    assert!(status.success(), "exit {status:?}:\n{}", log.join("\n"));
    assert!(
        !log.iter().any(|l| l.contains("panicked")),
        "{}",
        log.join("\n")
    );
}

/// A `--ca-file` (the chart's trustedCA) that is missing or not PEM stops the operator at start,
/// naming the file, before it looks for the cluster: not at a job's first run.
#[test]
fn a_ca_file_that_is_missing_or_not_pem_stops_the_operator_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("agency-ca.der");
    std::fs::write(&not_pem, b"\x30\x82\x01\x0a binary DER, not PEM").unwrap();
    let missing = dir.path().join("absent.pem");
    // No cluster at all: the error must come before any API request.
    let kubeconfig = dir.path().join("no-kubeconfig");
    for (file, problem) in [(&not_pem, "PEM"), (&missing, "cannot read")] {
        let out = Command::new(BIN)
            .args(["controller", "--metrics-bind-address", "127.0.0.1:0"])
            .arg("--ca-file")
            .arg(file)
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("HRCONNECTOR_CA_FILE")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&file.display().to_string()) && stderr.contains(problem),
            "{stderr}"
        );
        assert!(!stderr.contains("Kubernetes API"), "{stderr}");
    }
}

/// A watched namespace that is no namespace name (`--namespace`), or a token audience that
/// cannot be one (`--allow-token-audience`), stops the operator at start, naming the value,
/// before it looks for the cluster.
#[test]
fn a_bad_namespace_or_token_audience_stops_the_operator_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("no-kubeconfig");
    for (flag, value, problem) in [
        (
            "--namespace",
            "hr,Payroll",
            "--namespace \"Payroll\" is not a namespace name",
        ),
        (
            "--allow-token-audience",
            "api://AzureADTokenExchange,a b",
            "--allow-token-audience \"a b\"",
        ),
    ] {
        let out = Command::new(BIN)
            .args([
                "controller",
                "--metrics-bind-address",
                "127.0.0.1:0",
                flag,
                value,
            ])
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("HRCONNECTOR_WATCH_NAMESPACE")
            .env_remove("HRCONNECTOR_ALLOW_TOKEN_AUDIENCE")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(problem), "{stderr}");
        assert!(!stderr.contains("Kubernetes API"), "{stderr}");
    }
}
