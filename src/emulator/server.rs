//! The listener: our own accept loop (so a handler can reset its TCP connection), the router,
//! and the handle tests hold.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower::Service;

use super::config::EmulatorConfig;
use super::faults::Fault;
use super::state::{LogEntry, RequestRecord, State};
use super::{control, ingest, record, token};

/// Largest request body accepted. The real service's limit is not published; this is generous
/// enough for 50,000-row chunks of wide files.
pub const MAX_BODY_BYTES: usize = 512 * 1024 * 1024;
/// How long shutdown waits for open connections to finish their current request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Fired by a handler to make its connection task drop the connection (a TCP reset).
#[derive(Clone)]
pub(crate) struct KillSwitch {
    notify: Arc<Notify>,
}

/// Resets the connection this request came in on, without answering.
pub(crate) async fn reset_connection(kill: &KillSwitch) -> Response {
    kill.notify.notify_one();
    // The connection task drops this future along with the connection. Should that not happen
    // (an HTTP/2 stream runs on its own task), give up after a while instead of leaking.
    tokio::time::sleep(Duration::from_secs(30)).await;
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// Reads and discards the body, so an early error answer is not lost to a reset caused by
/// closing a socket with unread data.
pub(crate) async fn drain(body: Body) {
    let _ = axum::body::to_bytes(body, MAX_BODY_BYTES).await;
}

/// Reads the first chunk of the body (part of it, for any body bigger than one frame).
pub(crate) async fn read_some(body: Body) {
    let _ = body.into_data_stream().next().await;
}

/// The answer for an injected `Status` fault.
pub(crate) fn status_fault(
    status: u16,
    retry_after: Option<u64>,
    body: Option<String>,
    default: Response,
) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut response = match body {
        Some(text) => (code, text).into_response(),
        None => {
            let mut r = default;
            *r.status_mut() = code;
            r
        }
    };
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(secs));
    }
    response
}

fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/token", post(token::token))
        .route("/{tenant}/oauth2/v2.0/token", post(token::token_v2))
        .route("/api/signals", post(ingest::upload))
        .route("/api/log", get(ingest::log))
        .merge(control::routes())
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            record::record,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// A running emulator. Dropping it without [`EmulatorHandle::shutdown`] leaves it serving until
/// the runtime ends.
pub struct EmulatorHandle {
    addr: SocketAddr,
    scheme: &'static str,
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// The certificate chain and key the emulator serves HTTPS with (PEM).
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_chain_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsIdentity { .. }")
    }
}

/// Starts the emulator on `listen` (port 0 picks a free port), serving plain HTTP.
pub async fn start(config: EmulatorConfig, listen: SocketAddr) -> io::Result<EmulatorHandle> {
    start_with(config, listen, None).await
}

/// Starts the emulator serving HTTPS with `identity`.
pub async fn start_tls(
    config: EmulatorConfig,
    listen: SocketAddr,
    identity: &TlsIdentity,
) -> io::Result<EmulatorHandle> {
    start_with(config, listen, Some(acceptor(identity)?)).await
}

/// Another server a test needs beside the emulator (an HR system's report endpoint, say),
/// served the emulator's way over TLS with `identity`. It stops when the handle is dropped.
pub struct RouterHandle {
    pub addr: SocketAddr,
    _shutdown: watch::Sender<bool>,
}

/// Serves `router` on `listen` over TLS with `identity`.
pub async fn serve_tls(
    router: Router,
    listen: SocketAddr,
    identity: &TlsIdentity,
) -> io::Result<RouterHandle> {
    let tls = acceptor(identity)?;
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    tokio::spawn(accept_loop(listener, router, Some(tls), shutdown_rx));
    Ok(RouterHandle {
        addr,
        _shutdown: shutdown,
    })
}

fn acceptor(identity: &TlsIdentity) -> io::Result<tokio_rustls::TlsAcceptor> {
    let invalid = |what: &str, e: String| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("TLS {what}: {e}"))
    };
    let chain = pem::parse_many(&identity.cert_chain_pem)
        .map_err(|e| invalid("certificate", e.to_string()))?
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| rustls::pki_types::CertificateDer::from(b.into_contents()))
        .collect::<Vec<_>>();
    let key_block = pem::parse_many(&identity.key_pem)
        .map_err(|e| invalid("key", e.to_string()))?
        .into_iter()
        .find(|b| b.tag().ends_with("PRIVATE KEY"))
        .ok_or_else(|| invalid("key", "no PRIVATE KEY block".into()))?;
    let key = rustls::pki_types::PrivateKeyDer::try_from(key_block.into_contents())
        .map_err(|e| invalid("key", e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("versions", e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid("identity", e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The scheme the emulator serves, for the `aud` of certificate assertions.
#[derive(Clone, Copy)]
pub(crate) struct Scheme(pub &'static str);

async fn start_with(
    config: EmulatorConfig,
    listen: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> io::Result<EmulatorHandle> {
    let state = Arc::new(State::new(config)?);
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let task = tokio::spawn(accept_loop(
        listener,
        router(state.clone()),
        tls,
        shutdown_rx,
    ));
    tracing::info!(%addr, scheme, "emulator listening");
    Ok(EmulatorHandle {
        addr,
        scheme,
        state,
        shutdown,
        task,
    })
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl EmulatorHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (or `https://`; no trailing slash); the IP is the one listened on.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Queues a fault behind any already queued for the same target.
    pub fn inject(&self, fault: Fault) {
        self.state.faults.push(fault);
    }

    /// Slows every later upload down by `d` (zero turns it off). The pause comes after the
    /// bearer/job checks and before the body is read and stored, so a client killed during it
    /// may or may not have its records stored, depending on whether its whole body had already
    /// reached the emulator's socket — the uncertainty a real client faces too.
    pub fn set_upload_delay(&self, d: Duration) {
        self.state.set_upload_delay(d);
    }

    pub fn log(&self, job_id: &str) -> Vec<LogEntry> {
        self.state
            .with_job(job_id, |j| j.log.clone())
            .unwrap_or_default()
    }

    pub fn received_records(&self, job_id: &str) -> Vec<Vec<String>> {
        self.state
            .with_job(job_id, |j| j.records.clone())
            .unwrap_or_default()
    }

    pub fn received_headers(&self, job_id: &str) -> Vec<Vec<String>> {
        self.state
            .with_job(job_id, |j| j.headers.clone())
            .unwrap_or_default()
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        super::faults::lock(&self.state.requests)
            .iter()
            .map(|r| super::faults::lock(r).clone())
            .collect()
    }

    pub fn token_requests(&self) -> usize {
        self.state.token_count()
    }

    pub fn upload_requests(&self) -> usize {
        self.state.upload_count()
    }

    /// The most uploads this emulator was handling at the same time.
    pub fn max_concurrent_uploads(&self) -> usize {
        self.state
            .max_uploads_in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Access tokens issued and not yet pruned (expired ones go when the next is issued), so
    /// leak tests can search output for them. Never exposed over HTTP.
    pub fn issued_tokens(&self) -> Vec<String> {
        super::faults::lock(&self.state.tokens)
            .keys()
            .cloned()
            .collect()
    }

    /// Stops accepting, lets open connections finish their request (up to 5 s), then returns.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve(stream, peer, router.clone(), tls.clone(), shutdown.clone()));
                }
                Err(e) => {
                    // Usually EMFILE; back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.shutdown().await;
    }
}

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: watch::Receiver<bool>,
) {
    let reset = Arc::new(AtomicBool::new(false));
    let stream = ResettableStream {
        inner: stream,
        reset: reset.clone(),
    };
    match tls {
        None => serve_conn(stream, Scheme("http"), peer, router, reset, shutdown).await,
        Some(acceptor) => match acceptor.accept(stream).await {
            Ok(tls_stream) => {
                serve_conn(tls_stream, Scheme("https"), peer, router, reset, shutdown).await
            }
            // The client did not trust us, or spoke plain HTTP: what TLS tests provoke.
            Err(e) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
        },
    }
}

async fn serve_conn<I>(
    io: I,
    scheme: Scheme,
    peer: SocketAddr,
    router: Router,
    reset: Arc<AtomicBool>,
    mut shutdown: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let kill = KillSwitch {
        notify: Arc::new(Notify::new()),
    };
    let io = TokioIo::new(io);
    let handler_kill = kill.clone();
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(handler_kill.clone());
            req.extensions_mut().insert(scheme);
            let mut router = router.clone();
            async move { router.call(req.map(Body::new)).await }
        });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = kill.notify.notified() => {
                tracing::info!(%peer, "resetting connection (injected fault)");
                reset.store(true, Ordering::SeqCst);
                return; // drops `conn`, and with it the socket
            }
            _ = shutdown.changed(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// A TCP stream that, when dropped after a kill, closes with `SO_LINGER` 0 so the peer sees a
/// reset rather than an orderly close. Normal closes stay orderly, so no answer is ever cut off.
struct ResettableStream {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::SeqCst)
            && let Err(e) = self.inner.set_zero_linger()
        {
            tracing::warn!(error = %e, "could not set SO_LINGER 0");
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
