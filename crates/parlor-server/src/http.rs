//! The HTTP server's connections: accept, cap per source address, time out slow clients,
//! drain gracefully on shutdown.
//!
//! `axum::serve` has no timeouts: a client that sends half its headers, or keeps an idle
//! connection open, holds a socket and its memory for ever, and one source could take
//! every file descriptor. Here each connection is served by hyper with
//! [`HttpLimits::header_timeout`] on the request head (which also covers an idle kept-alive
//! connection waiting for its next request), the body timeout is a layer on the app
//! (see `server.rs`), and no source IP address holds more than
//! [`HttpLimits::max_connections_per_ip`] connections at once: a connection over the cap
//! is closed at once, before anything is read. A WebSocket counts until its upgrade (the
//! signaling layer closes one that sends no valid token within 10 s).
//!
//! With TLS (`crate::tls`), the handshake runs in the connection's own task under the same
//! header timeout, after the per-address cap; then the connection is served the same way.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::config::HttpLimits;

/// Open connections per source address.
#[derive(Clone, Default)]
struct PerAddress(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One counted connection; uncounted when dropped.
struct Slot {
    counts: PerAddress,
    ip: IpAddr,
}

impl PerAddress {
    fn acquire(&self, ip: IpAddr, cap: usize) -> Option<Slot> {
        let mut counts = crate::signaling::lock(&self.0);
        let n = counts.entry(ip).or_default();
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(Slot {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = crate::signaling::lock(&self.counts.0);
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// The largest request head (request line and headers) read, in bytes.
pub const MAX_REQUEST_HEAD_BYTES: usize = 64 * 1024;

/// Serves `app` on `listener` (over TLS when `tls` is given) until `shutdown` completes,
/// then lets in-flight connections finish (WebSockets are closed by their own tasks when
/// the server drops its state).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // A request's head (line and headers) must fit in 64 KiB: hyper answers 431 past
        // it (its default buffer is ~400 KiB per connection).
        .max_buf_size(MAX_REQUEST_HEAD_BYTES)
        .keep_alive(true);
    let builder = builder.http1_only();
    let graceful = GracefulShutdown::new();
    let per_address = PerAddress::default();
    let mut refused_logged_at: Option<tokio::time::Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer): (_, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(slot) = per_address.acquire(peer.ip(), limits.max_connections_per_ip) else {
            // Logged at most once a second: a flood must not flood the log too.
            if refused_logged_at.is_none_or(|t| t.elapsed() > Duration::from_secs(1)) {
                tracing::warn!(
                    source = %peer.ip(),
                    limit = limits.max_connections_per_ip,
                    "connection refused: too many open connections from this address"
                );
                refused_logged_at = Some(tokio::time::Instant::now());
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        // Handlers that want the client's address (the signaling layer, for the
        // Inspector) read it as axum's `ConnectInfo`.
        let service = TowerToHyperService::new(tower_http::add_extension::AddExtension::new(
            app.clone(),
            axum::extract::ConnectInfo(peer),
        ));
        match &tls {
            None => {
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _slot = slot;
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "HTTP connection ended with an error");
                    }
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let builder = builder.clone();
                // The watcher is taken before the handshake, so a shutdown also waits for
                // (or cuts) handshakes in flight.
                let watcher = graceful.watcher();
                let handshake_timeout = limits.header_timeout;
                tokio::spawn(async move {
                    let _slot = slot;
                    let stream = match tokio::time::timeout(
                        handshake_timeout,
                        acceptor.accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(source = %peer.ip(), error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(source = %peer.ip(), "TLS handshake timed out");
                            return;
                        }
                    };
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(error = %e, "HTTPS connection ended with an error");
                    }
                });
            }
        }
    }
    drop(listener);
    // In-flight requests get a moment to finish; upgraded WebSockets are not waited for.
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_address_and_released() {
        let counts = PerAddress::default();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let s1 = counts.acquire(a, 2).unwrap();
        let _s2 = counts.acquire(a, 2).unwrap();
        assert!(counts.acquire(a, 2).is_none());
        assert!(
            counts.acquire(b, 2).is_some(),
            "another address is not affected"
        );
        drop(s1);
        assert!(counts.acquire(a, 2).is_some());
    }
}
