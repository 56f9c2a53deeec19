//! A TURN client over UDP, without I/O: what the native client needs to offer a relayed
//! candidate. It allocates (answering the 401 challenge with long-term credentials), binds
//! a channel to each peer it sends to, wraps outgoing datagrams in ChannelData, unwraps
//! what the server relays, and refreshes the allocation and its channels before they
//! expire.
//!
//! The I/O edge sends what [`TurnClient::poll_transmit`] returns to the server, feeds what
//! the server sends to [`TurnClient::on_server`], and calls [`TurnClient::on_timeout`] when
//! [`TurnClient::next_timeout`] comes.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::auth;
use crate::stun::{self, Builder, Class, Message};

/// Where the allocation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Allocate sent, waiting.
    Allocating,
    /// Allocated: the relayed address.
    Allocated(SocketAddr),
    /// The server refused (the error code) or never answered.
    Failed(Option<u16>),
}

const RETRANSMIT: Duration = Duration::from_millis(500);
const ATTEMPTS: u32 = 7;
/// Refreshed this long before the server would expire them.
const REFRESH_EVERY: Duration = Duration::from_secs(240);

struct Channel {
    number: u16,
    peer: SocketAddr,
    bound: bool,
    /// When to (re)send its ChannelBind.
    due: Instant,
}

/// A TURN client.
pub struct TurnClient {
    server: SocketAddr,
    username: String,
    password: String,
    realm: Option<String>,
    nonce: Option<String>,
    state: State,
    /// The outstanding Allocate: its transaction, bytes, next retransmission, attempts.
    allocate: Option<([u8; 12], Instant, u32)>,
    next_refresh: Option<Instant>,
    channels: Vec<Channel>,
    out: VecDeque<Vec<u8>>,
    tid_counter: u64,
    tid_salt: [u8; 4],
}

impl std::fmt::Debug for TurnClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnClient")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl TurnClient {
    /// Starts allocating on `server` with `username` and `password`.
    pub fn new(server: SocketAddr, username: &str, password: &str, now: Instant) -> Self {
        let mut c = TurnClient {
            server,
            username: username.to_owned(),
            password: password.to_owned(),
            realm: None,
            nonce: None,
            state: State::Allocating,
            allocate: None,
            next_refresh: None,
            channels: Vec::new(),
            out: VecDeque::new(),
            tid_counter: 0,
            tid_salt: (now.elapsed().as_nanos() as u32 ^ std::process::id()).to_be_bytes(),
        };
        c.send_allocate(now, 0);
        c
    }

    pub fn server(&self) -> SocketAddr {
        self.server
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The next datagram to send to the server.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// Wraps `data` for `peer` (a channel is bound on first use; until it is, the
    /// datagram is dropped, as a lossy path would: ICE retransmits).
    pub fn send_to(&mut self, peer: SocketAddr, data: &[u8], now: Instant) -> Option<Vec<u8>> {
        let State::Allocated(_) = self.state else {
            return None;
        };
        match self.channels.iter().find(|c| c.peer == peer) {
            Some(c) if c.bound => {
                let mut out = Vec::with_capacity(data.len() + 8);
                stun::write_channel_data(&mut out, c.number, data);
                Some(out)
            }
            Some(_) => None,
            None => {
                let number = 0x4000 + self.channels.len() as u16;
                if number > 0x4FFF {
                    return None;
                }
                self.channels.push(Channel {
                    number,
                    peer,
                    bound: false,
                    due: now,
                });
                self.on_timeout(now);
                None
            }
        }
    }

    /// Something the server sent: a reply (handled here), or relayed data (returned with
    /// the peer it came from).
    pub fn on_server<'a>(
        &mut self,
        data: &'a [u8],
        now: Instant,
    ) -> Option<(SocketAddr, &'a [u8])> {
        if let Some((number, payload)) = stun::parse_channel_data(data) {
            let c = self
                .channels
                .iter()
                .find(|c| c.number == number && c.bound)?;
            return Some((c.peer, payload));
        }
        let msg = Message::parse(data).ok()?;
        if (msg.method, msg.class) == (stun::DATA, Class::Indication) {
            let peer = msg.xor_address(stun::XOR_PEER_ADDRESS)?;
            return Some((peer, msg.get(stun::DATA_ATTR)?));
        }
        let code = msg
            .get(stun::ERROR_CODE)
            .filter(|v| v.len() >= 4)
            .map(|v| u16::from(v[2]) * 100 + u16::from(v[3]));
        let ours = |tid: [u8; 12]| msg.transaction_id() == tid;
        match msg.method {
            stun::ALLOCATE if self.allocate.is_some_and(|(tid, _, _)| ours(tid)) => {
                let attempts = self.allocate.map_or(0, |a| a.2);
                match (msg.class, code) {
                    (Class::Success, _) if self.verify(&msg) => {
                        self.allocate = None;
                        self.state = match msg.xor_address(stun::XOR_RELAYED_ADDRESS) {
                            Some(relayed) => State::Allocated(relayed),
                            None => State::Failed(None),
                        };
                        self.next_refresh = Some(now + REFRESH_EVERY);
                    }
                    (Class::Error, Some(401 | 438))
                        if self.nonce.is_none() || code == Some(438) =>
                    {
                        self.realm = msg.realm().map(str::to_owned);
                        self.nonce = msg.nonce().map(str::to_owned);
                        self.send_allocate(now, attempts);
                    }
                    (Class::Error, code) => {
                        self.allocate = None;
                        self.state = State::Failed(code);
                    }
                    _ => {}
                }
            }
            stun::CHANNEL_BIND | stun::REFRESH => {
                if code == Some(438) {
                    self.nonce = msg.nonce().map(str::to_owned);
                }
                if msg.class == Class::Success
                    && msg.method == stun::CHANNEL_BIND
                    && self.verify(&msg)
                {
                    let tid = msg.transaction_id();
                    let n = u16::from_be_bytes([tid[10], tid[11]]);
                    if let Some(c) = self.channels.iter_mut().find(|c| c.number == n) {
                        c.bound = true;
                        c.due = now + REFRESH_EVERY;
                    }
                }
            }
            _ => {}
        }
        None
    }

    /// When [`TurnClient::on_timeout`] wants to run next.
    pub fn next_timeout(&self) -> Option<Instant> {
        let channels = self.channels.iter().map(|c| c.due).min();
        [self.allocate.map(|a| a.1), self.next_refresh, channels]
            .into_iter()
            .flatten()
            .min()
    }

    /// Retransmits the Allocate, refreshes, (re)binds channels.
    pub fn on_timeout(&mut self, now: Instant) {
        if let Some((_, at, attempts)) = self.allocate
            && at <= now
        {
            if attempts >= ATTEMPTS {
                self.allocate = None;
                self.state = State::Failed(None);
            } else {
                self.send_allocate(now, attempts);
            }
        }
        if !matches!(self.state, State::Allocated(_)) {
            return;
        }
        if self.next_refresh.is_some_and(|t| t <= now) {
            self.next_refresh = Some(now + REFRESH_EVERY);
            let tid = self.tid(0);
            let msg = self.signed(
                Builder::new(stun::REFRESH, Class::Request, tid).u32_attr(stun::LIFETIME, 600),
            );
            self.out.push_back(msg);
        }
        let due: Vec<(u16, SocketAddr, bool)> = self
            .channels
            .iter()
            .filter(|c| c.due <= now)
            .map(|c| (c.number, c.peer, c.bound))
            .collect();
        for (number, peer, bound) in due {
            let tid = self.tid(number);
            let msg = self.signed(
                Builder::new(stun::CHANNEL_BIND, Class::Request, tid)
                    .attr(
                        stun::CHANNEL_NUMBER,
                        &[(number >> 8) as u8, number as u8, 0, 0],
                    )
                    .xor_address(stun::XOR_PEER_ADDRESS, peer),
            );
            self.out.push_back(msg);
            if let Some(c) = self.channels.iter_mut().find(|c| c.number == number) {
                // Unbound: try again soon; bound: refresh before it expires.
                c.due = now + if bound { REFRESH_EVERY } else { RETRANSMIT * 2 };
            }
        }
    }

    fn send_allocate(&mut self, now: Instant, attempts: u32) {
        let tid = self.tid(0);
        let b = Builder::new(stun::ALLOCATE, Class::Request, tid)
            .attr(stun::REQUESTED_TRANSPORT, &[17, 0, 0, 0]);
        let msg = if self.nonce.is_some() {
            self.signed(b)
        } else {
            b.fingerprint()
        };
        self.out.push_back(msg);
        let backoff = RETRANSMIT * 2u32.pow(attempts.min(4));
        self.allocate = Some((tid, now + backoff, attempts + 1));
    }

    fn key(&self) -> [u8; 16] {
        auth::long_term_key(
            &self.username,
            self.realm.as_deref().unwrap_or(""),
            &self.password,
        )
    }

    fn signed(&self, b: Builder) -> Vec<u8> {
        b.attr(stun::USERNAME, self.username.as_bytes())
            .attr(stun::REALM, self.realm.as_deref().unwrap_or("").as_bytes())
            .attr(stun::NONCE, self.nonce.as_deref().unwrap_or("").as_bytes())
            .integrity(&self.key())
            .fingerprint()
    }

    fn verify(&self, msg: &Message<'_>) -> bool {
        msg.verify_integrity(&self.key())
    }

    /// A transaction ID; the last two bytes carry `tag` (a channel number), so a
    /// ChannelBind's success says which channel it bound.
    fn tid(&mut self, tag: u16) -> [u8; 12] {
        self.tid_counter += 1;
        let mut tid = [0u8; 12];
        tid[..4].copy_from_slice(&self.tid_salt);
        tid[4..10].copy_from_slice(&self.tid_counter.to_be_bytes()[2..]);
        tid[10..].copy_from_slice(&tag.to_be_bytes());
        tid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{ClientId, Config, Io, Transport, TurnServer};

    /// The client against this crate's server, through an in-memory "network".
    #[derive(Default)]
    struct Net {
        to_client: Vec<Vec<u8>>,
        to_peer: Vec<(SocketAddr, Vec<u8>)>,
    }

    impl Io for Net {
        fn to_client(&mut self, _c: &ClientId, data: &[u8]) {
            self.to_client.push(data.to_vec());
        }
        fn to_peer(&mut self, _relay: SocketAddr, peer: SocketAddr, data: &[u8]) {
            self.to_peer.push((peer, data.to_vec()));
        }
        fn open_relay(&mut self, _f: SocketAddr) -> std::io::Result<SocketAddr> {
            Ok("10.0.0.1:50000".parse().unwrap())
        }
        fn close_relay(&mut self, _relay: SocketAddr) {}
    }

    #[test]
    fn allocates_binds_a_channel_and_relays_both_ways() {
        let router: SocketAddr = "10.0.0.1:7601".parse().unwrap();
        let mut server = TurnServer::new(
            Config::new("parlor", b"secret".to_vec(), vec![router]),
            b"k",
        );
        let unix = 1_800_000_000u64;
        let username = format!("{}:conn", unix + 600);
        let password = auth::rest_password(b"secret", &username);
        let now = Instant::now();
        let me = ClientId {
            transport: Transport::Udp,
            addr: "192.0.2.1:40000".parse().unwrap(),
            conn: 0,
        };
        let mut client =
            TurnClient::new("10.0.0.1:3478".parse().unwrap(), &username, &password, now);
        let mut net = Net::default();
        let pump = |client: &mut TurnClient, server: &mut TurnServer, net: &mut Net| {
            let mut relayed = Vec::new();
            for _ in 0..10 {
                while let Some(m) = client.poll_transmit() {
                    server.on_client(me, &m, now, unix, net);
                }
                for m in std::mem::take(&mut net.to_client) {
                    if let Some((peer, data)) = client.on_server(&m, now) {
                        relayed.push((peer, data.to_vec()));
                    }
                }
            }
            relayed
        };
        pump(&mut client, &mut server, &mut net);
        assert_eq!(
            client.state(),
            State::Allocated("10.0.0.1:50000".parse().unwrap())
        );
        // The first datagram to a peer binds a channel; once bound, data flows.
        assert_eq!(client.send_to(router, b"check", now), None);
        pump(&mut client, &mut server, &mut net);
        let wrapped = client.send_to(router, b"check", now).expect("bound");
        server.on_client(me, &wrapped, now, unix, &mut net);
        assert_eq!(net.to_peer, vec![(router, b"check".to_vec())]);
        server.on_peer(
            "10.0.0.1:50000".parse().unwrap(),
            router,
            b"answer",
            now,
            &mut net,
        );
        let back = pump(&mut client, &mut server, &mut net);
        assert_eq!(back, vec![(router, b"answer".to_vec())]);
    }

    #[test]
    fn wrong_credentials_fail_the_allocation() {
        let mut server = TurnServer::new(Config::new("parlor", b"secret".to_vec(), vec![]), b"k");
        let now = Instant::now();
        let me = ClientId {
            transport: Transport::Udp,
            addr: "192.0.2.1:40000".parse().unwrap(),
            conn: 0,
        };
        let mut client = TurnClient::new(
            "10.0.0.1:3478".parse().unwrap(),
            "1900000000:x",
            "wrong",
            now,
        );
        let mut net = Net::default();
        for _ in 0..4 {
            while let Some(m) = client.poll_transmit() {
                server.on_client(me, &m, now, 1_800_000_000, &mut net);
            }
            for m in std::mem::take(&mut net.to_client) {
                client.on_server(&m, now);
            }
        }
        assert_eq!(client.state(), State::Failed(Some(401)));
    }
}
