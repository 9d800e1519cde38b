//! Connections to a host that is not spoken to over HTTP (an SFTP server) through the HTTP proxy
//! the environment names for it (`HTTPS_PROXY`, minus `NO_PROXY`), as an HTTP `CONNECT` tunnel:
//! agencies reach outside hosts only through their proxy.
//!
//! Written here rather than taken from hyper-util's `Tunnel`: that one reads the proxy's answer
//! in blocks and drops whatever follows it, which loses the first bytes of a protocol whose
//! server speaks first (SSH sends its banner as soon as the tunnel stands).

use hyper::http::{HeaderValue, Uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most of a proxy's answer to `CONNECT` that is read: its status line and headers.
const MAX_ANSWER: usize = 16 * 1024;

/// A proxy from the environment: where it is and how to log in to it.
pub struct Proxy {
    uri: Uri,
    authorization: Option<HeaderValue>,
}

/// Why no tunnel was made. The proxy is named by the caller, without any password it holds.
#[derive(Debug, thiserror::Error)]
pub enum TunnelError {
    #[error("only an http:// proxy can tunnel this connection")]
    Scheme,
    #[error("cannot connect to the proxy: {0}")]
    Connect(std::io::Error),
    #[error("the tunnel broke while it was being set up: {0}")]
    Io(std::io::Error),
    #[error("it answered CONNECT {target} with `{status}`")]
    Refused {
        target: String,
        status: String,
        code: u16,
    },
    #[error("it closed the connection instead of answering CONNECT")]
    Closed,
    #[error("its answer to CONNECT is not HTTP, or longer than 16 KiB")]
    Garbled,
}

impl TunnelError {
    /// The proxy will not tunnel this connection however often it is asked (a 4xx answer: the
    /// proxy's policy, or its login), or cannot be used for it at all.
    pub fn is_refusal(&self) -> bool {
        match self {
            TunnelError::Scheme => true,
            TunnelError::Refused { code, .. } => (400..500).contains(code),
            _ => false,
        }
    }
}

impl Proxy {
    /// The proxy the environment routes connections to `host:port` through: `HTTPS_PROXY` (or
    /// `https_proxy`, `ALL_PROXY`) unless `NO_PROXY` lists the host, as for every HTTPS request.
    pub fn for_host(host: &str, port: u16) -> Option<Proxy> {
        let target: Uri = format!("https://{}/", authority(host, port)).parse().ok()?;
        let intercept =
            hyper_util::client::proxy::matcher::Matcher::from_env().intercept(&target)?;
        Some(Proxy {
            uri: intercept.uri().clone(),
            authorization: intercept.basic_auth().cloned(),
        })
    }

    /// The proxy's scheme, host and port, without a user name or password.
    pub fn display(&self) -> String {
        display(&self.uri)
    }

    /// A TCP stream to `host:port` through the proxy; the first byte read from it is the
    /// server's.
    pub async fn connect(&self, host: &str, port: u16) -> Result<TcpStream, TunnelError> {
        if self.uri.scheme_str() != Some("http") {
            return Err(TunnelError::Scheme);
        }
        let proxy_host = self.uri.host().ok_or(TunnelError::Scheme)?;
        let proxy_host = proxy_host.trim_start_matches('[').trim_end_matches(']');
        let mut stream = TcpStream::connect((proxy_host, self.uri.port_u16().unwrap_or(80)))
            .await
            .map_err(TunnelError::Connect)?;
        let target = authority(host, port);
        let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n").into_bytes();
        if let Some(auth) = &self.authorization {
            request.extend_from_slice(b"Proxy-Authorization: ");
            request.extend_from_slice(auth.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"\r\n");
        stream.write_all(&request).await.map_err(TunnelError::Io)?;
        let status = read_answer(&mut stream).await?;
        let code = status
            .split_whitespace()
            .nth(1)
            .filter(|c| c.len() == 3 && status.starts_with("HTTP/1."))
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or(TunnelError::Garbled)?;
        if !(200..300).contains(&code) {
            return Err(TunnelError::Refused {
                target,
                status,
                code,
            });
        }
        Ok(stream)
    }
}

/// `host:port`, an IPv6 address in brackets.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Reads the proxy's answer up to and including the blank line that ends it, a byte at a time
/// so that nothing after it is taken from the tunnelled server; returns its status line.
async fn read_answer(stream: &mut TcpStream) -> Result<String, TunnelError> {
    let mut answer = Vec::with_capacity(256);
    while !answer.ends_with(b"\r\n\r\n") {
        if answer.len() == MAX_ANSWER {
            return Err(TunnelError::Garbled);
        }
        match stream.read_u8().await {
            Ok(byte) => answer.push(byte),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(TunnelError::Closed);
            }
            Err(e) => return Err(TunnelError::Io(e)),
        }
    }
    let line = answer.split(|&b| b == b'\r').next().unwrap_or_default();
    // The status line only: a header could echo something of the request.
    Ok(String::from_utf8_lossy(line).chars().take(200).collect())
}

/// A proxy's scheme, host and port, for a message: never its user name or password.
pub fn display(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    match (uri.host(), uri.port_u16()) {
        (Some(host), Some(port)) => format!("{scheme}://{host}:{port}"),
        (Some(host), None) => format!("{scheme}://{host}"),
        (None, _) => format!("{scheme}://(no host)"),
    }
}
