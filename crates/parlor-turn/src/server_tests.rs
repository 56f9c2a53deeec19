//! The server's protocol and policy, driven without sockets.

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::stun::{Builder, Class, Message};

const SECRET: &[u8] = b"test-secret-0123456789";
const REALM: &str = "parlor";
const NOW_UNIX: u64 = 1_800_000_000;

fn router() -> SocketAddr {
    "10.0.0.1:7601".parse().unwrap()
}

#[derive(Default)]
struct TestIo {
    to_client: Vec<(ClientId, Vec<u8>)>,
    to_peer: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    opened: Vec<SocketAddr>,
    closed: Vec<SocketAddr>,
}

impl Io for TestIo {
    fn to_client(&mut self, client: &ClientId, data: &[u8]) {
        self.to_client.push((*client, data.to_vec()));
    }
    fn to_peer(&mut self, relay: SocketAddr, peer: SocketAddr, data: &[u8]) {
        self.to_peer.push((relay, peer, data.to_vec()));
    }
    fn open_relay(&mut self, _family_of: SocketAddr) -> std::io::Result<SocketAddr> {
        let addr = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            50_000 + self.opened.len() as u16,
        );
        self.opened.push(addr);
        Ok(addr)
    }
    fn close_relay(&mut self, relay: SocketAddr) {
        self.closed.push(relay);
    }
}

impl TestIo {
    /// The last message to a client, parsed.
    fn last(&self) -> Message<'_> {
        Message::parse(&self.to_client.last().expect("a reply").1).expect("a STUN reply")
    }
    fn last_error(&self) -> Option<u16> {
        let m = self.last();
        let v = m.get(stun::ERROR_CODE)?;
        Some(u16::from(v[2]) * 100 + u16::from(v[3]))
    }
}

fn client(port: u16) -> ClientId {
    ClientId {
        transport: Transport::Udp,
        addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)), port),
        conn: 0,
    }
}

struct Cred {
    username: String,
    password: String,
}

fn cred(user: &str, expiry: u64, secret: &[u8]) -> Cred {
    let username = format!("{expiry}:{user}");
    let password = auth::rest_password(secret, &username);
    Cred { username, password }
}

fn good(user: &str) -> Cred {
    cred(user, NOW_UNIX + 3600, SECRET)
}

fn server() -> TurnServer {
    TurnServer::new(
        Config::new(REALM, SECRET.to_vec(), vec![router()]),
        b"nonce key",
    )
}

struct Session {
    client: ClientId,
    cred: Cred,
    nonce: String,
    next_tid: u8,
}

impl Session {
    fn tid(&mut self) -> [u8; 12] {
        self.next_tid += 1;
        [self.next_tid; 12]
    }

    /// Sends an authenticated request built by `f`; returns the reply's error code.
    fn request(
        &mut self,
        s: &mut TurnServer,
        io: &mut TestIo,
        now: Instant,
        method: u16,
        f: impl FnOnce(Builder) -> Builder,
    ) -> Option<u16> {
        let tid = self.tid();
        let key = auth::long_term_key(&self.cred.username, REALM, &self.cred.password);
        let b = Builder::new(method, Class::Request, tid)
            .attr(stun::USERNAME, self.cred.username.as_bytes())
            .attr(stun::REALM, REALM.as_bytes())
            .attr(stun::NONCE, self.nonce.as_bytes());
        let bytes = f(b).integrity(&key).fingerprint();
        s.on_client(self.client, &bytes, now, NOW_UNIX, io);
        let reply = io.last();
        assert_eq!(reply.transaction_id(), tid);
        io.last_error()
    }
}

/// A client's first Allocate (the 401 challenge), then the authenticated one.
fn allocate(
    s: &mut TurnServer,
    io: &mut TestIo,
    now: Instant,
    client: ClientId,
    cred: Cred,
) -> (Session, Option<u16>) {
    let first = Builder::new(stun::ALLOCATE, Class::Request, [0; 12])
        .attr(stun::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
        .build();
    s.on_client(client, &first, now, NOW_UNIX, io);
    assert_eq!(io.last_error(), Some(401));
    let nonce = io.last().nonce().unwrap().to_owned();
    assert_eq!(io.last().realm(), Some(REALM));
    let mut session = Session {
        client,
        cred,
        nonce,
        next_tid: 0,
    };
    let code = session.request(s, io, now, stun::ALLOCATE, |b| {
        b.attr(stun::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
    });
    (session, code)
}

#[test]
fn allocate_permission_channel_and_data_both_ways() {
    let (mut s, mut io, now) = (server(), TestIo::default(), Instant::now());
    let (mut c, code) = allocate(&mut s, &mut io, now, client(4000), good("conn-1"));
    assert_eq!(code, None);
    let reply = io.last();
    let relay = reply.xor_address(stun::XOR_RELAYED_ADDRESS).unwrap();
    assert_eq!(relay, io.opened[0]);
    assert_eq!(
        reply.xor_address(stun::XOR_MAPPED_ADDRESS),
        Some(c.client.addr)
    );
    assert!(reply.verify_integrity(&auth::long_term_key(
        &c.cred.username,
        REALM,
        &c.cred.password
    )));

    // Send indications need a permission first.
    let send = |peer: SocketAddr| {
        Builder::new(stun::SEND, Class::Indication, [7; 12])
            .xor_address(stun::XOR_PEER_ADDRESS, peer)
            .attr(stun::DATA_ATTR, b"hello")
            .build()
    };
    s.on_client(c.client, &send(router()), now, NOW_UNIX, &mut io);
    assert!(io.to_peer.is_empty());
    assert_eq!(
        c.request(&mut s, &mut io, now, stun::CREATE_PERMISSION, |b| b
            .xor_address(stun::XOR_PEER_ADDRESS, router())),
        None
    );
    s.on_client(c.client, &send(router()), now, NOW_UNIX, &mut io);
    assert_eq!(io.to_peer, vec![(relay, router(), b"hello".to_vec())]);

    // The peer answers: a Data indication (no channel yet), then ChannelData once bound.
    s.on_peer(relay, router(), b"back", now, &mut io);
    let data = io.last();
    assert_eq!((data.method, data.class), (stun::DATA, Class::Indication));
    assert_eq!(data.get(stun::DATA_ATTR), Some(&b"back"[..]));
    assert_eq!(data.xor_address(stun::XOR_PEER_ADDRESS), Some(router()));
    assert_eq!(
        c.request(&mut s, &mut io, now, stun::CHANNEL_BIND, |b| b
            .attr(stun::CHANNEL_NUMBER, &[0x40, 0x01, 0, 0])
            .xor_address(stun::XOR_PEER_ADDRESS, router())),
        None
    );
    let mut cd = Vec::new();
    stun::write_channel_data(&mut cd, 0x4001, b"via channel");
    s.on_client(c.client, &cd, now, NOW_UNIX, &mut io);
    assert_eq!(io.to_peer.last().unwrap().2, b"via channel");
    s.on_peer(relay, router(), b"back again", now, &mut io);
    assert_eq!(
        stun::parse_channel_data(&io.to_client.last().unwrap().1),
        Some((0x4001, &b"back again"[..]))
    );
    // Another peer's datagram on the relay (no permission) is dropped.
    let before = io.to_client.len();
    s.on_peer(
        relay,
        "10.0.0.99:5000".parse().unwrap(),
        b"stranger",
        now,
        &mut io,
    );
    assert_eq!(io.to_client.len(), before);

    // Refresh with lifetime 0 ends the allocation and closes its relay.
    assert_eq!(
        c.request(&mut s, &mut io, now, stun::REFRESH, |b| b
            .u32_attr(stun::LIFETIME, 0)),
        None
    );
    assert_eq!(io.closed, vec![relay]);
    assert_eq!(s.stats().allocations, 0);
}

#[test]
fn forged_and_expired_credentials_are_refused() {
    let (mut s, mut io, now) = (server(), TestIo::default(), Instant::now());
    let (_, code) = allocate(
        &mut s,
        &mut io,
        now,
        client(4001),
        cred("conn", NOW_UNIX + 60, b"another secret"),
    );
    assert_eq!(code, Some(401), "a password made with another secret");
    let (_, code) = allocate(
        &mut s,
        &mut io,
        now,
        client(4002),
        cred("conn", NOW_UNIX - 1, SECRET),
    );
    assert_eq!(code, Some(401), "expired a second ago");
    let (_, code) = allocate(
        &mut s,
        &mut io,
        now,
        client(4003),
        Cred {
            username: "alice".into(),
            password: "x".into(),
        },
    );
    assert_eq!(code, Some(401), "not a REST username");
    assert!(io.opened.is_empty());
    assert_eq!(s.stats().auth_failures, 3);
    // A forged nonce is refused too, with a fresh challenge.
    let (mut c, code) = allocate(&mut s, &mut io, now, client(4004), good("conn"));
    assert_eq!(code, None);
    c.nonce = "12345-0000".into();
    assert_eq!(
        c.request(&mut s, &mut io, now, stun::REFRESH, |b| b),
        Some(401)
    );
}

#[test]
fn relaying_anywhere_but_the_router_and_own_relays_is_forbidden() {
    let (mut s, mut io, now) = (server(), TestIo::default(), Instant::now());
    let (mut a, _) = allocate(&mut s, &mut io, now, client(4010), good("a"));
    let (mut b, _) = allocate(&mut s, &mut io, now, client(4011), good("b"));
    let b_relay = io.opened[1];
    for stranger in ["8.8.8.8:53", "10.0.0.2:7601", "[2001:db8::1]:7601"] {
        let peer: SocketAddr = stranger.parse().unwrap();
        assert_eq!(
            a.request(&mut s, &mut io, now, stun::CREATE_PERMISSION, |x| x
                .xor_address(stun::XOR_PEER_ADDRESS, peer)),
            Some(403),
            "{stranger}"
        );
        assert_eq!(
            a.request(&mut s, &mut io, now, stun::CHANNEL_BIND, |x| x
                .attr(stun::CHANNEL_NUMBER, &[0x40, 0x02, 0, 0])
                .xor_address(stun::XOR_PEER_ADDRESS, peer)),
            Some(403)
        );
    }
    // The router's IP, another port: a permission (IP-wide) is granted, a channel to that
    // port is not, and neither is a datagram to it.
    let other_port: SocketAddr = "10.0.0.1:22".parse().unwrap();
    assert_eq!(
        a.request(&mut s, &mut io, now, stun::CREATE_PERMISSION, |x| x
            .xor_address(stun::XOR_PEER_ADDRESS, other_port)),
        None
    );
    assert_eq!(
        a.request(&mut s, &mut io, now, stun::CHANNEL_BIND, |x| x
            .attr(stun::CHANNEL_NUMBER, &[0x40, 0x03, 0, 0])
            .xor_address(stun::XOR_PEER_ADDRESS, other_port)),
        Some(403)
    );
    let send = Builder::new(stun::SEND, Class::Indication, [7; 12])
        .xor_address(stun::XOR_PEER_ADDRESS, other_port)
        .attr(stun::DATA_ATTR, b"ssh?")
        .build();
    s.on_client(a.client, &send, now, NOW_UNIX, &mut io);
    assert!(io.to_peer.is_empty());
    // Another client's relay on this server is a fine peer (a peer-to-peer call, both relayed).
    assert_eq!(
        a.request(&mut s, &mut io, now, stun::CHANNEL_BIND, |x| x
            .attr(stun::CHANNEL_NUMBER, &[0x40, 0x04, 0, 0])
            .xor_address(stun::XOR_PEER_ADDRESS, b_relay)),
        None
    );
    assert!(s.stats().forbidden_peers >= 6);
    let _ = &mut b;
}

#[test]
fn quotas_per_user_and_per_allocation() {
    let mut config = Config::new(REALM, SECRET.to_vec(), vec![router()]);
    config.max_allocations_per_user = 2;
    config.max_permissions = 1;
    config.bytes_per_second = 3000;
    let mut s = TurnServer::new(config, b"k");
    let (mut io, now) = (TestIo::default(), Instant::now());
    assert_eq!(
        allocate(&mut s, &mut io, now, client(5000), good("same")).1,
        None
    );
    let (mut second, code) = allocate(&mut s, &mut io, now, client(5001), good("same"));
    assert_eq!(code, None);
    assert_eq!(
        allocate(&mut s, &mut io, now, client(5002), good("same")).1,
        Some(486)
    );
    assert_eq!(
        allocate(&mut s, &mut io, now, client(5003), good("other")).1,
        None,
        "another user has its own quota"
    );
    // Released, the user may allocate again.
    assert_eq!(
        second.request(&mut s, &mut io, now, stun::REFRESH, |b| b
            .u32_attr(stun::LIFETIME, 0)),
        None
    );
    let (mut again, code) = allocate(&mut s, &mut io, now, client(5004), good("same"));
    assert_eq!(code, None);
    // One permission per allocation here: a second peer IP is refused with 508.
    assert_eq!(
        again.request(&mut s, &mut io, now, stun::CREATE_PERMISSION, |b| b
            .xor_address(stun::XOR_PEER_ADDRESS, router())),
        None
    );
    let other_relay = io.opened[0];
    assert_ne!(other_relay.ip(), "10.9.9.9".parse::<IpAddr>().unwrap());
    // The rate: 3000 bytes a second, so the fourth 1000-byte datagram at once is dropped.
    assert_eq!(
        again.request(&mut s, &mut io, now, stun::CHANNEL_BIND, |b| b
            .attr(stun::CHANNEL_NUMBER, &[0x40, 0x01, 0, 0])
            .xor_address(stun::XOR_PEER_ADDRESS, router())),
        None
    );
    let mut cd = Vec::new();
    stun::write_channel_data(&mut cd, 0x4001, &[0; 1000]);
    for _ in 0..4 {
        s.on_client(again.client, &cd, now, NOW_UNIX, &mut io);
    }
    assert_eq!(io.to_peer.len(), 3);
    // A second later the bucket has refilled.
    s.on_client(
        again.client,
        &cd,
        now + Duration::from_secs(1),
        NOW_UNIX,
        &mut io,
    );
    assert_eq!(io.to_peer.len(), 4);
    assert!(s.stats().quota_refusals >= 1);
}

#[test]
fn allocations_expire_and_requests_outside_the_rules_get_their_errors() {
    let (mut s, mut io, now) = (server(), TestIo::default(), Instant::now());
    let (mut c, _) = allocate(&mut s, &mut io, now, client(6000), good("x"));
    // A second Allocate on the same 5-tuple: 437.
    assert_eq!(
        c.request(&mut s, &mut io, now, stun::ALLOCATE, |b| b
            .attr(stun::REQUESTED_TRANSPORT, &[17, 0, 0, 0])),
        Some(437)
    );
    // Another user's credentials on this allocation: 441.
    let mut intruder = Session {
        client: c.client,
        cred: good("y"),
        nonce: c.nonce.clone(),
        next_tid: 50,
    };
    assert_eq!(
        intruder.request(&mut s, &mut io, now, stun::REFRESH, |b| b),
        Some(441)
    );
    // TCP relays are not offered: 442; an unknown comprehension-required attribute: 420.
    let (mut t, _) = allocate(&mut s, &mut io, now, client(6001), good("z"));
    let _ = &mut t;
    let mut fresh = Session {
        client: client(6002),
        cred: good("w"),
        nonce: c.nonce.clone(),
        next_tid: 90,
    };
    assert_eq!(
        fresh.request(&mut s, &mut io, now, stun::ALLOCATE, |b| b
            .attr(stun::REQUESTED_TRANSPORT, &[6, 0, 0, 0])),
        Some(442)
    );
    assert_eq!(
        fresh.request(&mut s, &mut io, now, stun::ALLOCATE, |b| b
            .attr(0x7777, b"????")),
        Some(420)
    );
    // Garbage is dropped without an answer.
    let before = io.to_client.len();
    s.on_client(
        c.client,
        b"\x16\x03\x01 not stun at all",
        now,
        NOW_UNIX,
        &mut io,
    );
    assert_eq!(io.to_client.len(), before);
    // Time passes: the default lifetime (10 min) ends every allocation.
    let next = s.on_timeout(now + Duration::from_secs(601), &mut io);
    assert_eq!(next, None);
    assert_eq!(s.stats().allocations, 0);
    assert_eq!(io.closed.len(), 2);
}

#[test]
fn binding_requests_are_answered_without_credentials() {
    let (mut s, mut io, now) = (server(), TestIo::default(), Instant::now());
    let req = Builder::new(stun::BINDING, Class::Request, [3; 12]).build();
    s.on_client(client(7000), &req, now, NOW_UNIX, &mut io);
    let m = io.last();
    assert_eq!((m.method, m.class), (stun::BINDING, Class::Success));
    assert_eq!(
        m.xor_address(stun::XOR_MAPPED_ADDRESS),
        Some(client(7000).addr)
    );
}
