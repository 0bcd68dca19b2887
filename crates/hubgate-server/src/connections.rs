//! Accepting and serving connections, with limits no client can get around:
//!
//! - a **header-read timeout**: a connection that has not sent a whole
//!   request head within it (slowloris, or a socket that never says
//!   anything) is closed;
//! - an **idle timeout**: a keep-alive connection with no request in flight
//!   that moves no bytes for that long is closed;
//! - a **connection cap** below the process's file limit: at the cap, a new
//!   connection still gets in (so `/healthz` and real clients are served) and
//!   the connection that has been open longest without a request in flight
//!   is closed to make room.
//!
//! Requests themselves are bounded by the router's timeout layer.
//!
//! With a TLS acceptor, each connection's handshake must finish within the
//! header-read timeout, and the protocol is the one ALPN chose (HTTP/2 or
//! HTTP/1.1); responses then carry `Strict-Transport-Security`. The limits
//! count the bytes on the socket, under TLS.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

/// The limits every connection is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From accepting a connection, or from the first byte of each further
    /// request, to the whole request head.
    pub header_read_timeout: Duration,
    /// A connection without a request in flight that moves no bytes.
    pub idle_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
}

/// File descriptors kept back from the connection cap for the store, logs
/// and the process itself.
pub const FILE_HEADROOM: usize = 64;

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: default_max_connections(),
        }
    }
}

/// The soft limit on open files (`RLIMIT_NOFILE`), from `/proc/self/limits`.
pub fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The most connections this process can hold with [`FILE_HEADROOM`] left
/// over (at most 10,000, at least 16).
pub fn max_connections_allowed() -> usize {
    open_file_limit()
        .map_or(10_000, |limit| limit.saturating_sub(FILE_HEADROOM))
        .clamp(16, 10_000)
}

/// The default cap: [`max_connections_allowed`].
pub fn default_max_connections() -> usize {
    max_connections_allowed()
}

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn now_ms() -> u64 {
    EPOCH.elapsed().as_millis() as u64
}

/// What the watchdog and the cap know about one connection.
struct Conn {
    in_flight: AtomicUsize,
    /// Milliseconds since [`EPOCH`] of the last byte read or written.
    last_activity: AtomicU64,
    /// When the request head now being awaited started (0: none awaited).
    head_since: AtomicU64,
    /// Chosen to make room at the cap; closing.
    evicting: std::sync::atomic::AtomicBool,
    close: Notify,
}

impl Conn {
    fn new() -> Self {
        let now = now_ms().max(1);
        Self {
            in_flight: AtomicUsize::new(0),
            last_activity: AtomicU64::new(now),
            head_since: AtomicU64::new(now),
            evicting: std::sync::atomic::AtomicBool::new(false),
            close: Notify::new(),
        }
    }

    fn read(&self) {
        let now = now_ms().max(1);
        self.last_activity.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            let _ = self
                .head_since
                .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    fn wrote(&self) {
        self.last_activity.store(now_ms().max(1), Ordering::Relaxed);
    }

    /// Why this connection should be closed now, if it should.
    fn expired(&self, limits: &ConnectionLimits) -> Option<CloseReason> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let now = now_ms();
        let head = self.head_since.load(Ordering::Relaxed);
        if head != 0 && now.saturating_sub(head) > limits.header_read_timeout.as_millis() as u64 {
            return Some(CloseReason::HeaderTimeout);
        }
        let last = self.last_activity.load(Ordering::Relaxed);
        if head == 0 && now.saturating_sub(last) > limits.idle_timeout.as_millis() as u64 {
            return Some(CloseReason::IdleTimeout);
        }
        None
    }
}

/// Counts a request in flight on its connection while alive.
struct InFlight(Arc<Conn>);

impl InFlight {
    fn start(conn: Arc<Conn>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::Relaxed);
        conn.head_since.store(0, Ordering::Relaxed);
        Self(conn)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.head_since.store(0, Ordering::Relaxed);
        self.0.wrote();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A TCP stream that reports its reads and writes to its [`Conn`].
struct Tracked {
    stream: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.read();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.wrote();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.wrote();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The open connections, oldest first.
#[derive(Default)]
struct Registry {
    next_id: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<Conn>>>,
}

impl Registry {
    fn open(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Conn>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new connection, first closing the oldest one without a
    /// request in flight if the cap is reached. Connections being closed
    /// still count (their sockets are open until their tasks end), and past
    /// the cap plus [`EVICTION_SLACK`] new ones are turned away, so a burst
    /// of connections cannot outrun the closing and exhaust file
    /// descriptors. `None`: the new one is turned away.
    fn admit(&self, max: usize) -> Option<(u64, Arc<Conn>)> {
        let mut open = self.open();
        if open.len() >= max + EVICTION_SLACK {
            return None;
        }
        if open.len() >= max {
            let victim = open.values().find(|c| {
                c.in_flight.load(Ordering::Relaxed) == 0 && !c.evicting.load(Ordering::Relaxed)
            })?;
            victim.evicting.store(true, Ordering::Relaxed);
            victim.close.notify_one();
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new());
        open.insert(id, conn.clone());
        Some((id, conn))
    }

    fn remove(&self, id: u64) {
        self.open().remove(&id);
    }

    /// Frees a file descriptor when `accept` ran out of them.
    fn evict_one(&self) {
        let open = self.open();
        if let Some(victim) = open.values().find(|c| {
            c.in_flight.load(Ordering::Relaxed) == 0 && !c.evicting.load(Ordering::Relaxed)
        }) {
            victim.evicting.store(true, Ordering::Relaxed);
            victim.close.notify_one();
        }
    }
}

/// Connections over the cap that may be open while others are being closed
/// to make room for them.
const EVICTION_SLACK: usize = 16;

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests
/// in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: ConnectionLimits,
    metrics: Arc<dyn Fn(ConnectionEvent) + Send + Sync>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let registry = Arc::new(Registry::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut tasks = tokio::task::JoinSet::new();
    let mut last_accept_error: Option<Instant> = None;
    loop {
        while tasks.try_join_next().is_some() {}
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                if is_connection_error(&error) {
                    continue;
                }
                // Out of file descriptors (or memory): make room, say so at
                // most every ten seconds, and do not spin.
                if last_accept_error.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                    tracing::error!(%error, "accept error");
                    last_accept_error = Some(Instant::now());
                }
                metrics(ConnectionEvent::AcceptError);
                registry.evict_one();
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some((id, conn)) = registry.admit(limits.max_connections) else {
            metrics(ConnectionEvent::Refused);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        metrics(ConnectionEvent::Opened);
        let app = app.clone();
        let registry = registry.clone();
        let mut stop = stop_rx.clone();
        let metrics = metrics.clone();
        let tls = tls.clone();
        tasks.spawn(async move {
            let tracked = Tracked {
                stream,
                conn: conn.clone(),
            };
            let reason = match tls {
                None => {
                    serve_connection(tracked, peer, Protocol::Http1, app, conn, limits, &mut stop)
                        .await
                }
                Some(acceptor) => match handshake(&acceptor, tracked, &conn, limits).await {
                    Ok(stream) => {
                        let protocol = match stream.get_ref().1.alpn_protocol() {
                            Some(b"h2") => Protocol::TlsHttp2,
                            _ => Protocol::TlsHttp1,
                        };
                        serve_connection(stream, peer, protocol, app, conn, limits, &mut stop).await
                    }
                    Err(reason) => reason,
                },
            };
            registry.remove(id);
            metrics(ConnectionEvent::Closed(reason));
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
}

/// What happened to a connection, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEvent {
    Opened,
    /// Turned away: at the cap with every connection busy.
    Refused,
    AcceptError,
    Closed(CloseReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client or the protocol ended it.
    Done,
    HeaderTimeout,
    IdleTimeout,
    /// Closed to make room at the cap.
    Evicted,
    /// The TLS handshake failed (a plain-http client, a rejected certificate).
    TlsHandshake,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Done => "done",
            CloseReason::HeaderTimeout => "header_timeout",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::Evicted => "evicted",
            CloseReason::TlsHandshake => "tls_handshake",
        }
    }
}

/// How a connection speaks, once accepted (and its TLS handshake done).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http1,
    TlsHttp1,
    TlsHttp2,
}

/// HSTS for responses served over TLS: a year, as the operator who turned
/// TLS on means it.
const STRICT_TRANSPORT_SECURITY: axum::http::HeaderValue =
    axum::http::HeaderValue::from_static("max-age=31536000");

/// The TLS handshake, bounded by the header-read timeout (a client that
/// never finishes it is a slowloris too) and by eviction at the cap.
async fn handshake(
    acceptor: &tokio_rustls::TlsAcceptor,
    io: Tracked,
    conn: &Conn,
    limits: ConnectionLimits,
) -> Result<tokio_rustls::server::TlsStream<Tracked>, CloseReason> {
    tokio::select! {
        accepted = tokio::time::timeout(limits.header_read_timeout, acceptor.accept(io)) => match accepted {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(error)) => {
                tracing::debug!(%error, "TLS handshake failed");
                Err(CloseReason::TlsHandshake)
            }
            Err(_) => Err(CloseReason::HeaderTimeout),
        },
        () = conn.close.notified() => Err(CloseReason::Evicted),
    }
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    protocol: Protocol,
    app: Router,
    conn: Arc<Conn>,
    limits: ConnectionLimits,
    stop: &mut watch::Receiver<bool>,
) -> CloseReason
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(stream);
    let tracked = conn.clone();
    let tls = protocol != Protocol::Http1;
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        if tls {
            request
                .extensions_mut()
                .insert(crate::client_origin::ArrivedOverTls);
        }
        let in_flight = InFlight::start(tracked.clone());
        let app = app.clone();
        async move {
            let mut response =
                tower::ServiceExt::oneshot(app, request.map(axum::body::Body::new)).await;
            drop(in_flight);
            if tls && let Ok(response) = &mut response {
                response.headers_mut().insert(
                    axum::http::header::STRICT_TRANSPORT_SECURITY,
                    STRICT_TRANSPORT_SECURITY,
                );
            }
            response
        }
    });
    let mut builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    builder = match protocol {
        Protocol::TlsHttp2 => builder.http2_only(),
        Protocol::Http1 | Protocol::TlsHttp1 => builder.http1_only(),
    };
    let connection = builder.serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let tick = (limits.header_read_timeout.min(limits.idle_timeout) / 4)
        .clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut watchdog = tokio::time::interval(tick);
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stopping = *stop.borrow();
    if stopping {
        connection.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return CloseReason::Done;
            }
            () = conn.close.notified() => return CloseReason::Evicted,
            _ = watchdog.tick() => if let Some(reason) = conn.expired(&limits) {
                return reason;
            },
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
