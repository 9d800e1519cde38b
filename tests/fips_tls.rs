//! TLS in FIPS mode against the emulator over HTTPS, once with an ECDSA P-256 and once with an
//! RSA 2048 server certificate. In the `fips` build (CI: `cargo test --features fips --test
//! fips_tls`): `hrconnector upload --require-fips` succeeds with certificate authentication (its
//! RS256 client assertion signed by the module), and a handshake made with the uploader's own
//! TLS configuration negotiates a FIPS-approved suite and group. In the default build:
//! `--require-fips` refuses to start, exit status 2, and sends nothing. `controller
//! --require-fips` checks the Kubernetes API client's TLS configuration too.

mod common;

use std::sync::Arc;

use common::cli::*;
use common::tls::*;
use common::*;
use hrconnector::http_client::{HttpClientConfig, tls_config};
use rustls::pki_types::ServerName;

/// `upload --require-fips` with the certificate app over HTTPS to `url`, trusting the test CA.
async fn upload_requiring_fips(s: &TlsSetup, url: &str) -> Run {
    let ca = s.pki.write_ca(s.dir.path()).to_string_lossy().into_owned();
    let cert = fixture("certs/test-app.crt").to_string_lossy().into_owned();
    let key = fixture("certs/test-app.key").to_string_lossy().into_owned();
    let extra = [
        "--require-fips",
        "--certificate-file",
        &cert,
        "--private-key-file",
        &key,
        "--ca-file",
        &ca,
    ];
    hrconnector(&upload_args(url, &s.csv, CERT_APP, &extra), &[]).await
}

/// What a handshake with the uploader's TLS configuration negotiated with the emulator.
// The default build's test reads only the first two.
#[cfg_attr(not(feature = "fips"), allow(dead_code))]
#[derive(Debug)]
struct Negotiated {
    config_fips: bool,
    connection_fips: bool,
    suite: rustls::SupportedCipherSuite,
    group_fips: bool,
}

async fn handshake(s: &TlsSetup, emu: &hrconnector::emulator::EmulatorHandle) -> Negotiated {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let config = tls_config(&HttpClientConfig {
        ca_file: Some(s.pki.write_ca(s.dir.path())),
        ..HttpClientConfig::default()
    })
    .unwrap();
    let config_fips = config.fips();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(emu.addr()).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let tls = connector.connect(name, tcp).await.expect("handshake");
    let (_, conn) = tls.get_ref();
    Negotiated {
        config_fips,
        connection_fips: conn.fips(),
        suite: conn.negotiated_cipher_suite().expect("a suite"),
        group_fips: conn
            .negotiated_key_exchange_group()
            .expect("a key exchange group")
            .fips(),
    }
}

#[cfg(feature = "fips")]
async fn fips_upload_with(key: ServerKey) {
    let s = TlsSetup::new();
    let emu =
        start_https_emulator_with(&s.pki.server_with_key(ServerCert::Good, key), &s.issuer).await;
    let url = emu.url();
    assert!(url.starts_with("https://"));

    let n = handshake(&s, &emu).await;
    assert!(n.config_fips && n.connection_fips, "{key:?}: {n:?}");
    assert!(
        n.suite.fips(),
        "{key:?}: {:?} is not FIPS-approved",
        n.suite
    );
    assert!(n.group_fips, "{key:?}: {n:?}");

    let run = upload_requiring_fips(&s, &url).await;
    assert_eq!(run.code, 0, "{key:?}: {}", run.stderr);
    assert_eq!(json(&run)["result"], "Succeeded", "{}", run.stdout);
    assert_eq!(emu.received_records(JOB), s.records);
}

#[cfg(feature = "fips")]
#[tokio::test(flavor = "multi_thread")]
async fn fips_upload_over_tls_with_an_ecdsa_p256_server_certificate() {
    fips_upload_with(ServerKey::EcdsaP256).await;
}

#[cfg(feature = "fips")]
#[tokio::test(flavor = "multi_thread")]
async fn fips_upload_over_tls_with_an_rsa_2048_server_certificate() {
    fips_upload_with(ServerKey::Rsa2048).await;
}

#[cfg(feature = "fips")]
#[tokio::test(flavor = "multi_thread")]
async fn the_fips_build_reports_fips_and_offers_no_unapproved_suite() {
    let run = hrconnector(&["version", "--output", "json"], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run);
    assert_eq!(v["fips"], true, "{v}");
    assert_eq!(v["fipsStatus"]["moduleInFipsMode"], true, "{v}");
    let config = tls_config(&HttpClientConfig::default()).unwrap();
    let provider = config.crypto_provider();
    assert!(provider.cipher_suites.iter().all(|c| c.fips()));
    assert!(provider.kx_groups.iter().all(|k| k.fips()));
    // ChaCha20-Poly1305 is not FIPS-approved; the default build offers it, this one must not.
    assert!(
        !provider
            .cipher_suites
            .iter()
            .any(|c| format!("{:?}", c.suite()).contains("CHACHA20")),
        "{:?}",
        provider.cipher_suites
    );
}

#[cfg(feature = "fips")]
#[test]
fn a_tls_config_with_an_unapproved_suite_is_refused_by_name() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.cipher_suites =
        vec![rustls::crypto::aws_lc_rs::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256];
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let err = hrconnector::fips::require(&[("the Kubernetes API", &tls)]).unwrap_err();
    assert_eq!(
        err,
        hrconnector::fips::NotFips::TlsConfigNotFips("the Kubernetes API".into())
    );
    assert!(err.to_string().contains("the Kubernetes API"), "{err}");
}

#[cfg(not(feature = "fips"))]
#[tokio::test(flavor = "multi_thread")]
async fn a_default_build_refuses_require_fips_with_exit_2_and_sends_nothing() {
    for key in [ServerKey::EcdsaP256, ServerKey::Rsa2048] {
        let s = TlsSetup::new();
        let emu =
            start_https_emulator_with(&s.pki.server_with_key(ServerCert::Good, key), &s.issuer)
                .await;
        // The same TLS set-up works, and is not FIPS in this build.
        let n = handshake(&s, &emu).await;
        assert!(!n.config_fips && !n.connection_fips, "{key:?}: {n:?}");

        let run = upload_requiring_fips(&s, &emu.url()).await;
        assert_eq!(run.code, 2, "{key:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("not a FIPS build") && run.stderr.contains("-fips"),
            "{}",
            run.stderr
        );
        assert!(emu.requests().is_empty(), "{:?}", emu.requests());
        assert!(emu.received_records(JOB).is_empty());
    }
}

#[cfg(not(feature = "fips"))]
#[tokio::test(flavor = "multi_thread")]
async fn a_default_build_reports_fips_false_and_the_environment_variable_also_refuses() {
    let run = hrconnector(&["version", "--output", "json"], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(json(&run)["fips"], false, "{}", run.stdout);
    let text = hrconnector(&["version"], &[]).await;
    assert!(text.stdout.contains("fips: false"), "{}", text.stdout);

    let s = TlsSetup::new();
    let dry_run = upload_args(
        "http://127.0.0.1:9",
        &s.csv,
        APP,
        &["--app-secret", SECRET, "--dry-run"],
    );
    let run = hrconnector(&dry_run, &[("HRCONNECTOR_REQUIRE_FIPS", "1")]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--require-fips"), "{}", run.stderr);
    // "0" turns it off: the dry run goes ahead.
    let run = hrconnector(&dry_run, &[("HRCONNECTOR_REQUIRE_FIPS", "0")]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// `controller --require-fips` against an API server URL nothing answers (https, so kube builds
/// its TLS configuration); how it ends, and what it printed.
fn controller_requiring_fips() -> (Option<i32>, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters: [{name: x, cluster: {server: \"https://127.0.0.1:1\"}}]\nusers: [{name: x, user: {}}]\ncontexts: [{name: x, context: {cluster: x, user: x}}]\n",
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args([
            "controller",
            "--require-fips",
            "--metrics-bind-address",
            "127.0.0.1:0",
        ])
        .env("KUBECONFIG", &kubeconfig)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = String::new();
    for line in BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        log.push_str(&line);
        log.push('\n');
        if line.contains("controller starting") {
            // Past the check: stop it.
            let _ = child.kill();
            break;
        }
    }
    let status = child.wait().unwrap();
    (status.code(), log)
}

#[cfg(feature = "fips")]
#[test]
fn the_controller_starts_with_require_fips_on_the_kubernetes_api_tls_too() {
    let (_, log) = controller_requiring_fips();
    assert!(log.contains("FIPS 140-3: every TLS connection"), "{log}");
    assert!(log.contains("controller starting"), "{log}");
}

#[cfg(not(feature = "fips"))]
#[test]
fn a_default_build_controller_refuses_require_fips_with_exit_2() {
    let (code, log) = controller_requiring_fips();
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("not a FIPS build"), "{log}");
    assert!(!log.contains("controller starting"), "{log}");
}

/// `hrconnector version | grep -q 'fips: true'` (scripts/fips-check.sh, a compliance check):
/// the reader may close the pipe after the line it wants. `version` then stops quietly with
/// exit 0; it used to panic ("failed printing to stdout: Broken pipe", exit 101), which failed
/// the FIPS check under `set -o pipefail` whenever grep won the race.
#[test]
fn version_stops_quietly_when_its_reader_closes_the_pipe() {
    for output in ["text", "json"] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        // Closed before the process starts: its first write meets a broken pipe every time.
        drop(reader);
        let child = std::process::Command::new(BIN)
            .args(["version", "--output", output])
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{output}: {stderr}");
        assert!(!stderr.contains("panicked"), "{output}: {stderr}");
    }
}
