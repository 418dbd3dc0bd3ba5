//! Accepting connections: HTTP/1.1 over hyper with limits a hostile client cannot
//! get around. `axum::serve` sets no timer, so a client that never finishes its
//! headers would hold its connection (and its task) forever; here every connection
//! has a header-read deadline, a cap on header size and count, and the number of
//! open connections is bounded (past it, accepting waits and the kernel's backlog
//! holds new clients). Each request carries its client's address (`ConnectInfo`),
//! which the failed-authentication limit is keyed by.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// The read buffer a request's line and headers must fit in: when it fills before
/// they end, the client gets `431 Request Header Fields Too Large` and the
/// connection closes. hyper checks between reads, so a head that arrives in one last
/// read may pass up to about twice this; four times this is always refused.
pub const HEADER_BYTES_MAX: usize = 64 * 1024;
/// The most header fields a request may have (431 past it).
pub const HEADER_COUNT_MAX: usize = 100;

/// How long a client may take over what it sends (see `caja serve --help`).
#[derive(Clone, Copy, Debug)]
pub struct ClientLimits {
    /// From the start of a request (or of an idle kept-alive connection) until its
    /// headers are in; past it the connection is closed without an answer.
    pub header_read_timeout: Duration,
    /// Until a write's whole body is in; past it the answer is 408 in the family's
    /// error format (see `request::WriteRequest`).
    pub body_read_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ClientLimits {
    fn default() -> Self {
        ClientLimits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_connections: 10_000,
        }
    }
}

/// The body-read deadline, as the write extractor finds it in the request.
#[derive(Clone, Copy, Debug)]
pub struct BodyReadTimeout(pub Duration);

/// Serve `app` on `listener` until `shutdown` resolves; then stop accepting, let
/// requests in flight finish (idle connections close), and return.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ClientLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(HEADER_COUNT_MAX)
        .max_buf_size(HEADER_BYTES_MAX);
    let builder = builder.http1_only();
    let app = app.layer(axum::Extension(BodyReadTimeout(limits.body_read_timeout)));
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, or a connection reset before it was
                    // taken: wait a moment rather than spin, and go on.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // A request may end its connection without an answer (`X-Caja-Fault`).
        let hang_up = super::faults::DropConnection::default();
        let dropper = hang_up.clone();
        let service = app.clone().map_request(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(remote));
            request.extensions_mut().insert(dropper.clone());
            request
        });
        let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            tokio::select! {
                ended = connection => if let Err(err) = ended {
                    tracing::debug!(error = %err, "connection ended with an error");
                },
                // Dropping the connection closes its socket, unanswered.
                () = hang_up.0.notified() => tracing::debug!("connection closed by a fault"),
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
