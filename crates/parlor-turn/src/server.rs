//! The TURN server's state machine, without I/O (RFC 8656, UDP relays).
//!
//! The I/O edge hands it what clients send ([`TurnServer::on_client`]), what arrives on a
//! relay from a peer ([`TurnServer::on_peer`]) and the time; it answers through the
//! [`Io`] it is given: datagrams to clients and to peers (borrowed, never copied into a
//! new allocation), relay sockets opened and closed. Time is passed in, so the whole
//! protocol is tested without sockets.
//!
//! Policy, beyond the RFC:
//! - **Credentials** are the TURN REST API's ([`crate::auth`]): checked from the shared
//!   secret alone, refused once expired (401), never stored.
//! - **Peers**: a permission or channel is granted only towards an allowed peer: the
//!   addresses in [`Config::allowed_peers`] (the media router; port 0 allows every port of
//!   that IP) and this server's own relays (two relayed clients of a peer-to-peer call).
//!   Anything else is 403 Forbidden: never an open relay.
//! - **Quotas**: allocations in all and per username (486), permissions and channels per
//!   allocation (508), and each allocation's relayed bytes per second (a token bucket;
//!   excess is dropped, as a congested path would).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::auth::{self, NonceCheck, Nonces};
use crate::stun::{self, Builder, Class, Message};

/// How a client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

/// A client's end: its transport, its address, and for streams the I/O edge's connection
/// number (the 5-tuple of RFC 8656).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientId {
    pub transport: Transport,
    pub addr: SocketAddr,
    pub conn: u64,
}

/// What the server does to the world.
pub trait Io {
    /// Sends `data` to a client.
    fn to_client(&mut self, client: &ClientId, data: &[u8]);
    /// Sends `data` from the relay `relay` to `peer`.
    fn to_peer(&mut self, relay: SocketAddr, peer: SocketAddr, data: &[u8]);
    /// Opens a relay socket for `family_of`'s address family; returns its address.
    fn open_relay(&mut self, family_of: SocketAddr) -> std::io::Result<SocketAddr>;
    fn close_relay(&mut self, relay: SocketAddr);
}

/// Settings of a server.
#[derive(Clone)]
pub struct Config {
    pub realm: String,
    /// The TURN REST API shared secret.
    pub secret: Vec<u8>,
    /// Peers relays may send to (port 0: any port of that IP), beside this server's own
    /// relays.
    pub allowed_peers: Vec<SocketAddr>,
    pub max_allocations: usize,
    pub max_allocations_per_user: usize,
    pub max_permissions: usize,
    pub max_channels: usize,
    /// Relayed bytes a second per allocation, each way together; bursts of a second's worth.
    pub bytes_per_second: u64,
    pub max_lifetime: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("realm", &self.realm)
            .field("secret", &"<redacted>")
            .field("allowed_peers", &self.allowed_peers)
            .field("max_allocations", &self.max_allocations)
            .field("max_allocations_per_user", &self.max_allocations_per_user)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Defaults: 10 000 allocations, 64 per username, 32 permissions and channels per
    /// allocation, 5 MB/s (40 Mbit/s) per allocation, lifetimes up to an hour.
    pub fn new(realm: impl Into<String>, secret: Vec<u8>, allowed_peers: Vec<SocketAddr>) -> Self {
        Config {
            realm: realm.into(),
            secret,
            allowed_peers,
            max_allocations: 10_000,
            max_allocations_per_user: 64,
            max_permissions: 32,
            max_channels: 32,
            bytes_per_second: 5_000_000,
            max_lifetime: Duration::from_secs(3600),
        }
    }
}

const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);
const PERMISSION_LIFETIME: Duration = Duration::from_secs(300);
const CHANNEL_LIFETIME: Duration = Duration::from_secs(600);
const SOFTWARE_NAME: &[u8] = b"parlor";
/// Attributes this server understands (comprehension-required ones outside this list get
/// 420).
const KNOWN: &[u16] = &[
    stun::USERNAME,
    stun::MESSAGE_INTEGRITY,
    stun::ERROR_CODE,
    stun::CHANNEL_NUMBER,
    stun::LIFETIME,
    stun::XOR_PEER_ADDRESS,
    stun::DATA_ATTR,
    stun::REALM,
    stun::NONCE,
    stun::REQUESTED_ADDRESS_FAMILY,
    stun::REQUESTED_TRANSPORT,
    stun::DONT_FRAGMENT,
    // ICE's own, in Binding requests some clients send to a TURN port.
    0x0024,
    0x0025,
];

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub allocations: usize,
    pub allocations_created: u64,
    pub auth_failures: u64,
    pub forbidden_peers: u64,
    pub quota_refusals: u64,
    pub relayed_to_peers: u64,
    pub relayed_to_clients: u64,
    /// Datagrams dropped: no permission, over the rate, malformed.
    pub dropped: u64,
}

struct Allocation {
    username: String,
    relay: SocketAddr,
    expires: Instant,
    /// The Allocate transaction that made it (a retransmission gets the same answer).
    transaction: [u8; 12],
    permissions: Vec<(std::net::IpAddr, Instant)>,
    channels: Vec<(u16, SocketAddr, Instant)>,
    bucket: TokenBucket,
}

impl Allocation {
    /// Grants (or refreshes) the permission of `ip`; false when the allocation already has
    /// `max` others.
    fn permit(&mut self, ip: std::net::IpAddr, now: Instant, max: usize) -> bool {
        let at = self.permissions.iter().position(|(p, _)| *p == ip);
        match at {
            Some(i) => self.permissions[i].1 = now + PERMISSION_LIFETIME,
            None if self.permissions.len() < max => {
                self.permissions.push((ip, now + PERMISSION_LIFETIME))
            }
            None => return false,
        }
        true
    }
}

struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn take(&mut self, n: usize, rate: u64, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * rate as f64).min(rate as f64);
        if self.tokens >= n as f64 {
            self.tokens -= n as f64;
            true
        } else {
            false
        }
    }
}

/// The server.
pub struct TurnServer {
    config: Config,
    nonces: Nonces,
    allocations: HashMap<ClientId, Allocation>,
    by_relay: HashMap<SocketAddr, ClientId>,
    per_user: HashMap<String, usize>,
    stats: Stats,
    /// Scratch for ChannelData and Data indications going to clients.
    scratch: Vec<u8>,
}

impl std::fmt::Debug for TurnServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnServer")
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// An authenticated request's credentials.
struct Authed {
    username: String,
    key: [u8; 16],
}

impl TurnServer {
    /// `nonce_key`: a random key of this process (nonces it issued are checked with it).
    pub fn new(config: Config, nonce_key: &[u8]) -> Self {
        TurnServer {
            config,
            nonces: Nonces::new(nonce_key),
            allocations: HashMap::new(),
            by_relay: HashMap::new(),
            per_user: HashMap::new(),
            stats: Stats::default(),
            scratch: Vec::with_capacity(2048),
        }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            allocations: self.allocations.len(),
            ..self.stats
        }
    }

    /// Something a client sent: a STUN message or ChannelData. `unix`: now in Unix seconds
    /// (credential expiry, nonces).
    pub fn on_client(
        &mut self,
        client: ClientId,
        data: &[u8],
        now: Instant,
        unix: u64,
        io: &mut dyn Io,
    ) {
        if let Some((channel, payload)) = stun::parse_channel_data(data) {
            return self.channel_from_client(client, channel, payload, now, io);
        }
        let Ok(msg) = Message::parse(data) else {
            self.stats.dropped += 1;
            return;
        };
        match (msg.method, msg.class) {
            (stun::BINDING, Class::Request) => {
                let reply = Builder::reply(&msg, Class::Success)
                    .xor_address(stun::XOR_MAPPED_ADDRESS, client.addr)
                    .attr(stun::SOFTWARE, SOFTWARE_NAME)
                    .fingerprint();
                io.to_client(&client, &reply);
            }
            (stun::SEND, Class::Indication) => self.send_indication(client, &msg, now, io),
            (method, Class::Request)
                if matches!(
                    method,
                    stun::ALLOCATE | stun::REFRESH | stun::CREATE_PERMISSION | stun::CHANNEL_BIND
                ) =>
            {
                let unknown = msg.unknown_required(KNOWN);
                if !unknown.is_empty() {
                    let mut v = Vec::new();
                    for t in unknown {
                        v.extend_from_slice(&t.to_be_bytes());
                    }
                    let reply = Builder::reply(&msg, Class::Error)
                        .error(420, "Unknown Attribute")
                        .attr(stun::UNKNOWN_ATTRIBUTES, &v)
                        .fingerprint();
                    return io.to_client(&client, &reply);
                }
                let Some(authed) = self.authenticate(&client, &msg, unix, io) else {
                    return;
                };
                match method {
                    stun::ALLOCATE => self.allocate(client, &msg, authed, now, io),
                    stun::REFRESH => self.refresh(client, &msg, authed, now, io),
                    stun::CREATE_PERMISSION => {
                        self.create_permission(client, &msg, authed, now, io)
                    }
                    _ => self.channel_bind(client, &msg, authed, now, io),
                }
            }
            // Responses, other indications, unknown methods: nothing to answer.
            (_, Class::Request) => {
                let reply = Builder::reply(&msg, Class::Error)
                    .error(400, "Bad Request")
                    .fingerprint();
                io.to_client(&client, &reply);
            }
            _ => self.stats.dropped += 1,
        }
    }

    /// A datagram that arrived on relay `relay` from `peer`.
    pub fn on_peer(
        &mut self,
        relay: SocketAddr,
        peer: SocketAddr,
        data: &[u8],
        now: Instant,
        io: &mut dyn Io,
    ) {
        let Some(client) = self.by_relay.get(&relay).copied() else {
            self.stats.dropped += 1;
            return;
        };
        let rate = self.config.bytes_per_second;
        let Some(a) = self.allocations.get_mut(&client) else {
            return;
        };
        if !a
            .permissions
            .iter()
            .any(|(ip, exp)| *ip == peer.ip() && *exp > now)
            || !a.bucket.take(data.len(), rate, now)
        {
            self.stats.dropped += 1;
            return;
        }
        self.scratch.clear();
        if let Some(&(channel, _, _)) = a
            .channels
            .iter()
            .find(|(_, p, exp)| *p == peer && *exp > now)
        {
            stun::write_channel_data(&mut self.scratch, channel, data);
            io.to_client(&client, &self.scratch);
        } else {
            let tid = indication_tid(data);
            let msg = Builder::new(stun::DATA, Class::Indication, tid)
                .xor_address(stun::XOR_PEER_ADDRESS, peer)
                .attr(stun::DATA_ATTR, data)
                .build();
            io.to_client(&client, &msg);
        }
        self.stats.relayed_to_clients += 1;
    }

    /// A stream client went away: its allocation ends with it.
    pub fn client_gone(&mut self, client: &ClientId, io: &mut dyn Io) {
        self.release(client, io);
    }

    /// Expires allocations, permissions and channels; returns when to call it next.
    pub fn on_timeout(&mut self, now: Instant, io: &mut dyn Io) -> Option<Instant> {
        let expired: Vec<ClientId> = self
            .allocations
            .iter()
            .filter(|(_, a)| a.expires <= now)
            .map(|(c, _)| *c)
            .collect();
        for c in expired {
            self.release(&c, io);
        }
        for a in self.allocations.values_mut() {
            a.permissions.retain(|(_, exp)| *exp > now);
            a.channels.retain(|(_, _, exp)| *exp > now);
        }
        self.allocations.values().map(|a| a.expires).min()
    }

    // ---- requests -------------------------------------------------------------------

    /// Checks a request's long-term credentials; answers 401/438 itself when they fail.
    fn authenticate(
        &mut self,
        client: &ClientId,
        msg: &Message<'_>,
        unix: u64,
        io: &mut dyn Io,
    ) -> Option<Authed> {
        let mut challenge = |this: &mut Self, code: u16, reason: &str| {
            let reply = Builder::reply(msg, Class::Error)
                .error(code, reason)
                .attr(stun::REALM, this.config.realm.as_bytes())
                .attr(stun::NONCE, this.nonces.issue(unix).as_bytes())
                .fingerprint();
            io.to_client(client, &reply);
            None
        };
        let (Some(username), Some(nonce), Some(_realm)) =
            (msg.username(), msg.nonce(), msg.realm())
        else {
            // The first request of a client carries no credentials: the challenge.
            return challenge(self, 401, "Unauthorized");
        };
        match self.nonces.check(nonce, unix) {
            NonceCheck::Valid => {}
            NonceCheck::Stale => return challenge(self, 438, "Stale Nonce"),
            NonceCheck::Forged => {
                self.stats.auth_failures += 1;
                return challenge(self, 401, "Unauthorized");
            }
        }
        let valid_until = auth::username_expiry(username);
        let password = auth::rest_password(&self.config.secret, username);
        let key = auth::long_term_key(username, &self.config.realm, &password);
        if valid_until.is_none_or(|exp| exp < unix) || !msg.verify_integrity(&key) {
            self.stats.auth_failures += 1;
            tracing::debug!(client = %client.addr, "TURN request with wrong or expired credentials");
            return challenge(self, 401, "Unauthorized");
        }
        Some(Authed {
            username: username.to_owned(),
            key,
        })
    }

    fn error(
        &self,
        client: &ClientId,
        msg: &Message<'_>,
        key: &[u8],
        code: u16,
        reason: &str,
        io: &mut dyn Io,
    ) {
        let reply = Builder::reply(msg, Class::Error)
            .error(code, reason)
            .integrity(key)
            .fingerprint();
        io.to_client(client, &reply);
    }

    /// A success answer with nothing but integrity.
    fn success(&self, client: &ClientId, msg: &Message<'_>, key: &[u8], io: &mut dyn Io) {
        let reply = Builder::reply(msg, Class::Success)
            .integrity(key)
            .fingerprint();
        io.to_client(client, &reply);
    }

    fn allocate(
        &mut self,
        client: ClientId,
        msg: &Message<'_>,
        authed: Authed,
        now: Instant,
        io: &mut dyn Io,
    ) {
        let key = authed.key;
        if let Some(a) = self.allocations.get(&client) {
            if a.transaction == msg.transaction_id() && a.username == authed.username {
                // A retransmission of the request that made it: the same success.
                let (relay, lifetime) = (a.relay, a.expires.saturating_duration_since(now));
                return self.allocate_success(&client, msg, &key, relay, lifetime, io);
            }
            return self.error(&client, msg, &key, 437, "Allocation Mismatch", io);
        }
        // UDP relays only (17); TCP allocations (RFC 6062) are not offered.
        match msg.get(stun::REQUESTED_TRANSPORT) {
            Some([17, ..]) => {}
            Some(_) => {
                return self.error(
                    &client,
                    msg,
                    &key,
                    442,
                    "Unsupported Transport Protocol",
                    io,
                );
            }
            None => return self.error(&client, msg, &key, 400, "Bad Request", io),
        }
        if msg.get(stun::EVEN_PORT).is_some() || msg.get(stun::RESERVATION_TOKEN).is_some() {
            return self.error(&client, msg, &key, 508, "Insufficient Capacity", io);
        }
        let per_user = self.per_user.get(&authed.username).copied().unwrap_or(0);
        if per_user >= self.config.max_allocations_per_user
            || self.allocations.len() >= self.config.max_allocations
        {
            self.stats.quota_refusals += 1;
            return self.error(&client, msg, &key, 486, "Allocation Quota Reached", io);
        }
        let relay = match io.open_relay(client.addr) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open a TURN relay socket");
                return self.error(&client, msg, &key, 508, "Insufficient Capacity", io);
            }
        };
        let lifetime = self.lifetime(msg);
        self.allocations.insert(
            client,
            Allocation {
                username: authed.username.clone(),
                relay,
                expires: now + lifetime,
                transaction: msg.transaction_id(),
                permissions: Vec::new(),
                channels: Vec::new(),
                bucket: TokenBucket {
                    tokens: self.config.bytes_per_second as f64,
                    last: now,
                },
            },
        );
        self.by_relay.insert(relay, client);
        *self.per_user.entry(authed.username).or_default() += 1;
        self.stats.allocations_created += 1;
        self.allocate_success(&client, msg, &key, relay, lifetime, io);
    }

    fn allocate_success(
        &self,
        client: &ClientId,
        msg: &Message<'_>,
        key: &[u8],
        relay: SocketAddr,
        lifetime: Duration,
        io: &mut dyn Io,
    ) {
        let reply = Builder::reply(msg, Class::Success)
            .xor_address(stun::XOR_RELAYED_ADDRESS, relay)
            .xor_address(stun::XOR_MAPPED_ADDRESS, client.addr)
            .u32_attr(stun::LIFETIME, lifetime.as_secs() as u32)
            .attr(stun::SOFTWARE, SOFTWARE_NAME)
            .integrity(key)
            .fingerprint();
        io.to_client(client, &reply);
    }

    fn lifetime(&self, msg: &Message<'_>) -> Duration {
        msg.u32_attr(stun::LIFETIME)
            .map(|s| Duration::from_secs(s.into()))
            .unwrap_or(DEFAULT_LIFETIME)
            .clamp(DEFAULT_LIFETIME, self.config.max_lifetime)
    }

    /// The allocation of `client`, if it belongs to `authed`; answers 437/441 otherwise.
    fn own_allocation(
        &mut self,
        client: &ClientId,
        msg: &Message<'_>,
        authed: &Authed,
        io: &mut dyn Io,
    ) -> bool {
        match self.allocations.get(client) {
            None => {
                self.error(client, msg, &authed.key, 437, "Allocation Mismatch", io);
                false
            }
            Some(a) if a.username != authed.username => {
                self.error(client, msg, &authed.key, 441, "Wrong Credentials", io);
                false
            }
            Some(_) => true,
        }
    }

    fn refresh(
        &mut self,
        client: ClientId,
        msg: &Message<'_>,
        authed: Authed,
        now: Instant,
        io: &mut dyn Io,
    ) {
        if !self.own_allocation(&client, msg, &authed, io) {
            return;
        }
        let requested = msg.u32_attr(stun::LIFETIME);
        let lifetime = if requested == Some(0) {
            self.release(&client, io);
            Duration::ZERO
        } else {
            let lifetime = self.lifetime(msg);
            if let Some(a) = self.allocations.get_mut(&client) {
                a.expires = now + lifetime;
            }
            lifetime
        };
        let reply = Builder::reply(msg, Class::Success)
            .u32_attr(stun::LIFETIME, lifetime.as_secs() as u32)
            .integrity(&authed.key)
            .fingerprint();
        io.to_client(&client, &reply);
    }

    /// Whether a relay may send to `peer` (the IP, for a permission; the whole address,
    /// for a channel or a datagram).
    fn peer_allowed(&self, peer: SocketAddr, ip_only: bool) -> bool {
        let allowed = |a: &SocketAddr| {
            a.ip() == peer.ip() && (ip_only || a.port() == 0 || a.port() == peer.port())
        };
        self.config.allowed_peers.iter().any(allowed) || self.by_relay.keys().any(allowed)
    }

    fn create_permission(
        &mut self,
        client: ClientId,
        msg: &Message<'_>,
        authed: Authed,
        now: Instant,
        io: &mut dyn Io,
    ) {
        if !self.own_allocation(&client, msg, &authed, io) {
            return;
        }
        // Every XOR-PEER-ADDRESS before MESSAGE-INTEGRITY.
        let tid = msg.transaction_id();
        let mut peers = Vec::new();
        for (typ, value, _) in msg.attributes().filter_map(Result::ok) {
            if typ == stun::MESSAGE_INTEGRITY {
                break;
            }
            if typ == stun::XOR_PEER_ADDRESS {
                match stun::decode_xor_address(value, &tid) {
                    Some(p) => peers.push(p),
                    None => return self.error(&client, msg, &authed.key, 400, "Bad Request", io),
                }
            }
        }
        if peers.is_empty() {
            return self.error(&client, msg, &authed.key, 400, "Bad Request", io);
        }
        if let Some(p) = peers.iter().find(|p| !self.peer_allowed(**p, true)) {
            self.stats.forbidden_peers += 1;
            tracing::debug!(peer = %p, "TURN permission refused: not an allowed peer");
            return self.error(&client, msg, &authed.key, 403, "Forbidden", io);
        }
        let max = self.config.max_permissions;
        let a = self.allocations.get_mut(&client).expect("checked above");
        // All or nothing: refused if the new ones do not all fit.
        let new = peers
            .iter()
            .filter(|p| !a.permissions.iter().any(|(ip, _)| *ip == p.ip()))
            .count();
        if a.permissions.len() + new > max {
            self.stats.quota_refusals += 1;
            return self.error(&client, msg, &authed.key, 508, "Insufficient Capacity", io);
        }
        for p in &peers {
            a.permit(p.ip(), now, max);
        }
        self.success(&client, msg, &authed.key, io);
    }

    fn channel_bind(
        &mut self,
        client: ClientId,
        msg: &Message<'_>,
        authed: Authed,
        now: Instant,
        io: &mut dyn Io,
    ) {
        if !self.own_allocation(&client, msg, &authed, io) {
            return;
        }
        let channel = msg
            .get(stun::CHANNEL_NUMBER)
            .and_then(|v| v.get(..2))
            .map(|v| u16::from_be_bytes([v[0], v[1]]));
        let (Some(channel), Some(peer)) = (channel, msg.xor_address(stun::XOR_PEER_ADDRESS)) else {
            return self.error(&client, msg, &authed.key, 400, "Bad Request", io);
        };
        if !(0x4000..=0x4FFF).contains(&channel) {
            return self.error(&client, msg, &authed.key, 400, "Bad Request", io);
        }
        if !self.peer_allowed(peer, false) {
            self.stats.forbidden_peers += 1;
            return self.error(&client, msg, &authed.key, 403, "Forbidden", io);
        }
        let max = self.config.max_channels;
        let max_perm = self.config.max_permissions;
        let a = self.allocations.get_mut(&client).expect("checked above");
        // A channel is one peer and a peer one channel (RFC 8656 §11.2).
        let conflict = a
            .channels
            .iter()
            .any(|(c, p, _)| (*c == channel) != (*p == peer));
        if conflict {
            return self.error(&client, msg, &authed.key, 400, "Bad Request", io);
        }
        let known = a.channels.iter().position(|(c, _, _)| *c == channel);
        let permitted = a.permissions.iter().any(|(ip, _)| *ip == peer.ip());
        if known.is_none() && a.channels.len() >= max
            || !permitted && a.permissions.len() >= max_perm
        {
            self.stats.quota_refusals += 1;
            return self.error(&client, msg, &authed.key, 508, "Insufficient Capacity", io);
        }
        match known {
            Some(i) => a.channels[i].2 = now + CHANNEL_LIFETIME,
            None => a.channels.push((channel, peer, now + CHANNEL_LIFETIME)),
        }
        // A channel installs (or refreshes) the permission of its peer.
        a.permit(peer.ip(), now, max_perm);
        self.success(&client, msg, &authed.key, io);
    }

    // ---- data -----------------------------------------------------------------------

    fn send_indication(
        &mut self,
        client: ClientId,
        msg: &Message<'_>,
        now: Instant,
        io: &mut dyn Io,
    ) {
        let (Some(peer), Some(data)) = (
            msg.xor_address(stun::XOR_PEER_ADDRESS),
            msg.get(stun::DATA_ATTR),
        ) else {
            self.stats.dropped += 1;
            return;
        };
        self.relay_to_peer(client, peer, data, now, io);
    }

    fn channel_from_client(
        &mut self,
        client: ClientId,
        channel: u16,
        data: &[u8],
        now: Instant,
        io: &mut dyn Io,
    ) {
        let peer = self
            .allocations
            .get(&client)
            .and_then(|a| {
                a.channels
                    .iter()
                    .find(|(c, _, exp)| *c == channel && *exp > now)
            })
            .map(|(_, p, _)| *p);
        match peer {
            Some(peer) => self.relay_to_peer(client, peer, data, now, io),
            None => self.stats.dropped += 1,
        }
    }

    fn relay_to_peer(
        &mut self,
        client: ClientId,
        peer: SocketAddr,
        data: &[u8],
        now: Instant,
        io: &mut dyn Io,
    ) {
        let allowed = self.peer_allowed(peer, false);
        let rate = self.config.bytes_per_second;
        let Some(a) = self.allocations.get_mut(&client) else {
            self.stats.dropped += 1;
            return;
        };
        let permitted = a
            .permissions
            .iter()
            .any(|(ip, exp)| *ip == peer.ip() && *exp > now);
        if !allowed || !permitted || !a.bucket.take(data.len(), rate, now) {
            self.stats.dropped += 1;
            return;
        }
        io.to_peer(a.relay, peer, data);
        self.stats.relayed_to_peers += 1;
    }

    fn release(&mut self, client: &ClientId, io: &mut dyn Io) {
        let Some(a) = self.allocations.remove(client) else {
            return;
        };
        self.by_relay.remove(&a.relay);
        if let Some(n) = self.per_user.get_mut(&a.username) {
            *n -= 1;
            if *n == 0 {
                self.per_user.remove(&a.username);
            }
        }
        io.close_relay(a.relay);
    }
}

/// A transaction ID for a Data indication: indications are not answered, so it only has to
/// vary; taken from the data.
fn indication_tid(data: &[u8]) -> [u8; 12] {
    let mut tid = [0u8; 12];
    let h = crc32fast::hash(data).to_be_bytes();
    tid[..4].copy_from_slice(&h);
    tid[4..8].copy_from_slice(&(data.len() as u32).to_be_bytes());
    tid
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
