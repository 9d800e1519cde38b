//! Real object stores on loopback for the tests: Azurite (Microsoft's Azure Storage emulator,
//! from npm) and moto's S3 server (from PyPI), installed into .cache/ by
//! scripts/object-stores.sh, which the first test to need them runs.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};

/// Azurite's well-known development account and key (public, documented by Microsoft).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The paths of `azurite-blob` and `moto_server`, installed once per test binary.
fn tools() -> &'static (PathBuf, PathBuf) {
    static TOOLS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = Command::new(root.join("scripts/object-stores.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/object-stores.sh runs");
        assert!(out.status.success(), "scripts/object-stores.sh failed");
        let text = String::from_utf8(out.stdout).expect("paths");
        let mut lines = text.lines().map(PathBuf::from);
        (lines.next().expect("azurite"), lines.next().expect("moto"))
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Waits until `port` answers: `false` when `child` exited first (it lost the port).
pub fn wait_for_port(port: u16, child: &mut Child, what: &str) -> bool {
    for _ in 0..600 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on {port} within 60 s");
}

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
    https: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
}

/// Azurite's blob service on a free port, data in a temporary directory.
pub fn start_azurite() -> Server {
    azurite(false)
}

/// Azurite keeping blobs in memory (for the benchmark's 1 GiB blob: no disk copy).
pub fn start_azurite_in_memory() -> Server {
    azurite(true)
}

fn azurite(in_memory: bool) -> Server {
    let (azurite, _) = tools();
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().to_path_buf();
    let command = move |port: u16| {
        let mut command = Command::new(azurite);
        command
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args(["--silent", "--skipApiVersionCheck", "--disableTelemetry"]);
        // Azurite refuses a --location together with in-memory persistence.
        if in_memory {
            command.args(["--inMemoryPersistence", "--extentMemoryLimit", "3072"]);
        } else {
            command.arg("--location").arg(&location);
        }
        command
    };
    spawn(command, dir, "azurite-blob")
}

/// Azurite over HTTPS (`cert_pem`, `key_pem`: files of a certificate for 127.0.0.1 from a test
/// CA) that also takes Entra ID bearer tokens (`--oauth basic`: it reads the token's issuer,
/// audience and lifetime; it cannot check a signature, having no keys).
pub fn start_azurite_https_oauth(cert_pem: &Path, key_pem: &Path) -> Server {
    let (azurite, _) = tools();
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().to_path_buf();
    let command = |port: u16| {
        let mut command = Command::new(azurite);
        command
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args(["--silent", "--skipApiVersionCheck", "--disableTelemetry"])
            .args(["--oauth", "basic"])
            .arg("--cert")
            .arg(cert_pem)
            .arg("--key")
            .arg(key_pem)
            .arg("--location")
            .arg(&location);
        command
    };
    let mut server = spawn(command, dir, "azurite-blob (https)");
    server.https = true;
    server
}

/// moto's S3 server on a free port.
pub fn start_moto() -> Server {
    let (_, moto) = tools();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().to_path_buf();
    let command = |port: u16| {
        let mut command = Command::new(moto);
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(&cwd);
        command
    };
    spawn(command, dir, "moto_server")
}

/// Starts `command(port)` on a free port (output discarded) and waits until it listens.
/// Tests start servers side by side, so two may be handed the same free port: the one that
/// loses the bind exits, while the port answers (the other's). A server still running a moment
/// after its port answers is the one listening; one that exited is started again elsewhere.
fn spawn(command: impl Fn(u16) -> Command, dir: tempfile::TempDir, what: &str) -> Server {
    for _ in 0..5 {
        let port = free_port();
        let mut child = command(port)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} starts: {e}"));
        if !wait_for_port(port, &mut child, what) {
            continue;
        }
        std::thread::sleep(Duration::from_millis(300));
        if matches!(child.try_wait(), Ok(None)) {
            return Server {
                child,
                port,
                _dir: dir,
                https: false,
            };
        }
    }
    panic!("{what} lost its port to another server five times");
}

impl Server {
    /// Azurite: the account URL of the development account.
    pub fn azure_account_url(&self) -> String {
        format!("{}/{AZURITE_ACCOUNT}", self.url())
    }

    /// Azurite: creates a container (Shared Key signed, as Azure requires).
    pub async fn create_container(&self, name: &str) {
        self.create_container_with(&reqwest::Client::new(), name)
            .await
    }

    /// [`Server::create_container`] through `client` (one that trusts a test CA).
    pub async fn create_container_with(&self, client: &reqwest::Client, name: &str) {
        let url = format!("{}/{name}?restype=container", self.azure_account_url());
        let date = httpdate();
        let version = "2021-08-06";
        let to_sign = format!(
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n\
             /{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{name}\nrestype:container"
        );
        let response = client
            .put(&url)
            .header("x-ms-date", &date)
            .header("x-ms-version", version)
            .header("content-length", "0")
            .header(
                "authorization",
                format!("SharedKey {AZURITE_ACCOUNT}:{}", sign(&to_sign)),
            )
            .send()
            .await
            .expect("azurite answers");
        assert!(
            response.status().is_success(),
            "create container: {} {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
    }

    /// moto: creates a bucket (moto does not check signatures by default).
    pub async fn create_bucket(&self, name: &str) {
        let response = reqwest::Client::new()
            .put(format!("{}/{name}", self.url()))
            .send()
            .await
            .expect("moto answers");
        assert!(response.status().is_success(), "{}", response.status());
    }
}

/// An account SAS for Azurite's development account (blob service, objects, `permissions`).
pub fn account_sas(permissions: &str) -> String {
    let (version, expiry) = ("2019-12-12", "2099-01-01T00:00:00Z");
    let to_sign = format!("{AZURITE_ACCOUNT}\n{permissions}\nb\nsco\n\n{expiry}\n\n\n{version}\n");
    let signature = sign(&to_sign);
    let query: String = url_encode(&signature);
    format!("sv={version}&ss=b&srt=sco&sp={permissions}&se={expiry}&sig={query}")
}

fn url_encode(text: &str) -> String {
    serde_urlencoded::to_string([("x", text)]).unwrap()[2..].to_owned()
}

/// HMAC-SHA256 with the development key, base64 (Shared Key and SAS signatures).
fn sign(text: &str) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(AZURITE_KEY)
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(&key, text.as_bytes()))
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// The current time as an HTTP date (`Tue, 01 Dec 2026 19:00:00 GMT`).
fn httpdate() -> String {
    jiff::Timestamp::now()
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// A reverse proxy in front of a store that answers the first `failures` requests with 503 (as a
/// throttled or restarting store does) and forwards everything else. Returns its URL and a
/// counter of the 503s it served.
pub async fn flaky_proxy(
    upstream: String,
    failures: usize,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let proxy = FaultProxy::start(upstream, failures, None).await;
    (proxy.url.clone(), proxy.served.clone())
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A reverse proxy over real TCP in front of a store: answers the first `failures` requests
/// with 503 (and `Retry-After: retry_after` when given), forwards the rest, and records every
/// request it got (headers and body), so a test can see what the client sent.
pub struct FaultProxy {
    pub url: String,
    pub served: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<SeenRequest>>>,
}

impl FaultProxy {
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }

    pub async fn start(upstream: String, failures: usize, retry_after: Option<u64>) -> FaultProxy {
        proxy(upstream, failures, retry_after).await
    }
}

async fn proxy(upstream: String, failures: usize, retry_after: Option<u64>) -> FaultProxy {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Body;
    use axum::extract::{Request, State};
    use axum::response::Response;

    use std::sync::Mutex;

    #[derive(Clone)]
    struct Proxy {
        upstream: String,
        failures: usize,
        retry_after: Option<u64>,
        served: Arc<AtomicUsize>,
        seen: Arc<Mutex<Vec<SeenRequest>>>,
        client: reqwest::Client,
    }

    async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        proxy.seen.lock().unwrap().push(SeenRequest {
            method: parts.method.to_string(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map_or("/".into(), |p| p.to_string()),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: body.to_vec(),
        });
        if proxy.served.fetch_add(1, Ordering::SeqCst) < proxy.failures {
            let mut busy = Response::builder().status(503);
            if let Some(secs) = proxy.retry_after {
                busy = busy.header("retry-after", secs.to_string());
            }
            return busy
                .body(Body::from("<Error><Code>ServerBusy</Code></Error>"))
                .unwrap();
        }
        proxy.served.fetch_sub(1, Ordering::SeqCst);
        let url = format!(
            "{}{}",
            proxy.upstream,
            parts.uri.path_and_query().map_or("/", |p| p.as_str())
        );
        let mut upstream = proxy.client.request(parts.method, url).body(body);
        for (name, value) in &parts.headers {
            if name != "host" {
                upstream = upstream.header(name, value);
            }
        }
        let answer = upstream.send().await.expect("upstream answers");
        let mut response = Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            response = response.header(name, value);
        }
        response
            .body(Body::from_stream(answer.bytes_stream()))
            .unwrap()
    }

    let served = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let proxy = Proxy {
        upstream,
        failures,
        retry_after,
        served: served.clone(),
        seen: seen.clone(),
        client: reqwest::Client::new(),
    };
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    FaultProxy { url, served, seen }
}
