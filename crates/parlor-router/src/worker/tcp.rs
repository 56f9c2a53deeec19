//! The worker's TCP side: ICE over TCP (RFC 6544) on a passive candidate.
//!
//! The worker listens on one TCP port beside its UDP socket. Each accepted connection is a
//! stream of RFC 4571 frames ([`crate::ice_tcp`]); a frame is handed to a transport as a
//! datagram with `Protocol::Tcp`. A connection belongs to no transport until a STUN
//! binding request on it names a transport's ICE ufrag and that transport accepts it
//! (MESSAGE-INTEGRITY checked by str0m); from then on it carries that transport's traffic
//! only. What str0m sends with `Protocol::Tcp` goes back on the connection the peer
//! address names. A connection that no transport claims within [`CLAIM_TIMEOUT`], or
//! whose transport is gone, is closed; at most [`MAX_CONNECTIONS`] are open, and
//! [`crate::ice_tcp::MAX_CONNECTIONS_PER_IP`] from one address.

use std::io::{Read as _, Write as _};

use mio::net::{TcpListener, TcpStream};

use super::*;
use crate::IceTcpStats;
use crate::ice_tcp::{FrameReader, FrameWriter};

/// mio tokens of connections start here (`Token(CONN_BASE + slab key)`).
pub(super) const CONN_BASE: usize = 16;
/// A connection must carry a valid ICE check within this time of its accept.
const CLAIM_TIMEOUT: Duration = Duration::from_secs(10);
/// The most connections open at once; more are closed at accept.
const MAX_CONNECTIONS: usize = 4096;

pub(super) struct TcpSide {
    pub listener: TcpListener,
    /// The passive candidate's address (the advertised IP, the listener's port).
    pub advertised: SocketAddr,
    pub conns: Slab<Conn>,
    /// Connections by peer address, for str0m's `Protocol::Tcp` transmits.
    by_peer: HashMap<SocketAddr, usize>,
    /// Connections with frames queued and not written in this pass.
    dirty: Vec<usize>,
    /// Open connections per peer IP.
    per_ip: HashMap<std::net::IpAddr, usize>,
    pub stats: IceTcpStats,
}

pub(super) struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    accepted: Instant,
    /// The transport this connection carries, once a check on it was accepted.
    pub transport: Option<usize>,
    reader: FrameReader,
    writer: FrameWriter,
    /// In `dirty` already.
    dirty: bool,
    /// Registered for writability (a write could not finish).
    waiting_writable: bool,
}

impl TcpSide {
    pub(super) fn bind(
        addr: SocketAddr,
        advertise_ip: std::net::IpAddr,
        poll: &Poll,
    ) -> Result<TcpSide, RouterError> {
        let mut listener = TcpListener::bind(addr)
            .map_err(|e| RouterError::Start(format!("cannot listen on TCP {addr}: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| RouterError::Start(e.to_string()))?;
        poll.registry()
            .register(&mut listener, TCP_LISTENER, Interest::READABLE)
            .map_err(|e| RouterError::Start(e.to_string()))?;
        Ok(TcpSide {
            listener,
            advertised: SocketAddr::new(advertise_ip, local.port()),
            conns: Slab::new(),
            by_peer: HashMap::new(),
            dirty: Vec::new(),
            per_ip: HashMap::new(),
            stats: IceTcpStats::default(),
        })
    }
}

impl Worker {
    /// Accepts every pending connection.
    pub(super) fn tcp_accept(&mut self) {
        let Some(tcp) = self.tcp.as_mut() else {
            return;
        };
        loop {
            match tcp.listener.accept() {
                Ok((mut stream, peer)) => {
                    let from_ip = tcp.per_ip.get(&peer.ip()).copied().unwrap_or(0);
                    if tcp.conns.len() >= MAX_CONNECTIONS
                        || from_ip >= crate::ice_tcp::MAX_CONNECTIONS_PER_IP
                    {
                        tcp.stats.refused += 1;
                        continue; // dropped: closed
                    }
                    let _ = stream.set_nodelay(true);
                    let entry = tcp.conns.vacant_entry();
                    let token = Token(CONN_BASE + entry.key());
                    if let Err(e) =
                        self.poll
                            .registry()
                            .register(&mut stream, token, Interest::READABLE)
                    {
                        tracing::debug!(error = %e, "cannot register a TCP connection");
                        continue;
                    }
                    entry.insert(Conn {
                        stream,
                        peer,
                        accepted: Instant::now(),
                        transport: None,
                        reader: FrameReader::default(),
                        writer: FrameWriter::default(),
                        dirty: false,
                        waiting_writable: false,
                    });
                    *tcp.per_ip.entry(peer.ip()).or_default() += 1;
                    tcp.stats.accepted += 1;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and the like: keep the listener, try again on the next event.
                    tracing::warn!(error = %e, "TCP accept failed");
                    return;
                }
            }
        }
    }

    /// Handles readiness of connection `c`.
    pub(super) fn tcp_ready(&mut self, c: usize, readable: bool, writable: bool) {
        if writable {
            self.tcp_write(c);
        }
        if readable {
            self.tcp_read(c);
        }
    }

    fn tcp_read(&mut self, c: usize) {
        loop {
            let Some(conn) = self.tcp.as_mut().and_then(|t| t.conns.get_mut(c)) else {
                return;
            };
            match conn.stream.read(conn.reader.spare()) {
                Ok(0) => return self.tcp_close(c),
                Ok(n) => {
                    conn.reader.filled(n);
                    self.tcp_frames(c);
                    if self.outbox.len() >= outbox::BATCH / 4 {
                        self.flush_outbox();
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return self.tcp_close(c),
            }
        }
        self.forward_pending();
        self.flush_closing();
    }

    /// Hands every complete frame of connection `c` to its transport.
    fn tcp_frames(&mut self, c: usize) {
        let Some(tcp) = self.tcp.as_mut() else {
            return;
        };
        // The reader is taken out while its frames are handled (they borrow it).
        let Some(conn) = tcp.conns.get_mut(c) else {
            return;
        };
        let mut reader = std::mem::take(&mut conn.reader);
        let (peer, local) = (conn.peer, tcp.advertised);
        while let Some(frame) = reader.next_frame() {
            self.on_tcp_frame(c, peer, local, frame, Instant::now());
        }
        if let Some(conn) = self.tcp.as_mut().and_then(|t| t.conns.get_mut(c)) {
            conn.reader = reader;
        }
    }

    fn on_tcp_frame(
        &mut self,
        c: usize,
        peer: SocketAddr,
        local: SocketAddr,
        data: &[u8],
        now: Instant,
    ) {
        self.stats.datagrams_received += 1;
        let Some(tcp) = self.tcp.as_mut() else {
            return;
        };
        tcp.stats.frames_received += 1;
        let Some(claimed) = tcp.conns.get(c).map(|c| c.transport) else {
            return;
        };
        let (key, claim) = if stun::is_stun(data) {
            match stun::local_ufrag(data).and_then(|u| self.by_ufrag.get(u)) {
                Some(&k) if claimed.is_none_or(|t| t == k) => (k, claimed.is_none()),
                _ => return self.drop_datagram(),
            }
        } else {
            match claimed {
                Some(k) => (k, false),
                None => return self.drop_datagram(),
            }
        };
        let Ok(receive) = Receive::new(Protocol::Tcp, peer, local, data) else {
            return self.drop_datagram();
        };
        let input = Input::Receive(now, receive);
        let Some(t) = self.transports.get_mut(key) else {
            return self.drop_datagram();
        };
        if claim {
            match catch_unwind(AssertUnwindSafe(|| t.rtc.accepts(&input))) {
                Ok(true) => {
                    let tcp = self
                        .tcp
                        .as_mut()
                        .expect("a connection implies the TCP side");
                    if let Some(old) = tcp.by_peer.insert(peer, c)
                        && old != c
                    {
                        // A stale entry (the peer's port reused): the new one wins.
                        tracing::debug!(%peer, "TCP peer address reused");
                    }
                    tcp.conns[c].transport = Some(key);
                }
                Ok(false) => return self.drop_datagram(),
                Err(_) => return self.fail(key, "panic in accepts"),
            }
        }
        self.receive(key, input);
    }

    /// Queues a datagram str0m sends over TCP on the connection to `peer`.
    pub(super) fn tcp_transmit(&mut self, peer: SocketAddr, contents: &[u8]) {
        let Some(tcp) = self.tcp.as_mut() else {
            return self.stats.datagrams_send_dropped += 1;
        };
        let Some(&c) = tcp.by_peer.get(&peer) else {
            return self.stats.datagrams_send_dropped += 1;
        };
        let conn = &mut tcp.conns[c];
        if !conn.writer.push(contents) {
            return self.stats.datagrams_send_dropped += 1;
        }
        tcp.stats.frames_sent += 1;
        if !conn.dirty {
            conn.dirty = true;
            tcp.dirty.push(c);
        }
    }

    /// Writes what every connection has queued (called with the UDP outbox's flush).
    pub(super) fn tcp_flush(&mut self) {
        let Some(tcp) = self.tcp.as_mut() else {
            return;
        };
        // Taken out while written (a write can close a connection), put back for reuse.
        let mut dirty = std::mem::take(&mut tcp.dirty);
        for &c in &dirty {
            if let Some(conn) = self.tcp.as_mut().and_then(|t| t.conns.get_mut(c)) {
                conn.dirty = false;
            }
            self.tcp_write(c);
        }
        dirty.clear();
        if let Some(tcp) = self.tcp.as_mut() {
            tcp.dirty = dirty;
        }
    }

    fn tcp_write(&mut self, c: usize) {
        let Some(tcp) = self.tcp.as_mut() else {
            return;
        };
        let Some(conn) = tcp.conns.get_mut(c) else {
            return;
        };
        while conn.writer.pending() > 0 {
            match conn.stream.write(conn.writer.unwritten()) {
                Ok(0) => return self.tcp_close(c),
                Ok(n) => conn.writer.wrote(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return self.tcp_close(c),
            }
        }
        let want_writable = conn.writer.pending() > 0;
        if want_writable != conn.waiting_writable {
            let interest = if want_writable {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let token = Token(CONN_BASE + c);
            if self
                .poll
                .registry()
                .reregister(&mut conn.stream, token, interest)
                .is_ok()
            {
                conn.waiting_writable = want_writable;
            }
        }
    }

    pub(super) fn tcp_close(&mut self, c: usize) {
        let Some(tcp) = self.tcp.as_mut() else {
            return;
        };
        let Some(mut conn) = tcp.conns.try_remove(c) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut conn.stream);
        if tcp.by_peer.get(&conn.peer) == Some(&c) {
            tcp.by_peer.remove(&conn.peer);
        }
        tcp.dirty.retain(|&d| d != c);
        if let Some(n) = tcp.per_ip.get_mut(&conn.peer.ip()) {
            *n -= 1;
            if *n == 0 {
                tcp.per_ip.remove(&conn.peer.ip());
            }
        }
        tcp.stats.closed += 1;
    }

    /// Closes the connections of transport `key` (it is gone).
    pub(super) fn tcp_forget(&mut self, key: usize) {
        let Some(tcp) = self.tcp.as_ref() else {
            return;
        };
        let gone: Vec<usize> = tcp
            .conns
            .iter()
            .filter(|(_, conn)| conn.transport == Some(key))
            .map(|(c, _)| c)
            .collect();
        for c in gone {
            self.tcp_close(c);
        }
    }

    /// Closes connections no transport claimed in time.
    pub(super) fn tcp_housekeeping(&mut self, now: Instant) {
        let Some(tcp) = self.tcp.as_ref() else {
            return;
        };
        let stale: Vec<usize> = tcp
            .conns
            .iter()
            .filter(|(_, conn)| {
                conn.transport.is_none() && now.duration_since(conn.accepted) > CLAIM_TIMEOUT
            })
            .map(|(c, _)| c)
            .collect();
        for c in stale {
            self.tcp_close(c);
        }
    }
}
