//! The embedded TURN server's core (parlor-turn) on arbitrary sequences from many clients:
//! raw bytes, requests correctly signed with valid credentials but arbitrary attributes,
//! peers' datagrams, time passing, clients going away. It never panics, and none of it
//! disturbs a bystander: a client that allocated first and bound a channel to the media
//! router still relays to it, and only to it, at the end.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use parlor_turn::auth;
use parlor_turn::stun::{self, Builder, Class};
use parlor_turn::{ClientId, Config, Io, Transport, TurnServer};

const SECRET: &[u8] = b"fuzz-secret-0123456789";
const UNIX: u64 = 1_800_000_000;

#[derive(Arbitrary, Debug)]
enum Op {
    Raw { client: u8, bytes: Vec<u8> },
    Signed { client: u8, method: u8, attrs: Vec<(u16, Vec<u8>)>, peer: Option<(u8, u16)>, lifetime: Option<u32>, channel: Option<u16> },
    ChannelData { client: u8, channel: u16, data: Vec<u8> },
    Peer { relay: u8, peer: (u8, u16), data: Vec<u8> },
    Tick(u8),
    Gone(u8),
}

#[derive(Default)]
struct Net {
    to_client: Vec<(ClientId, Vec<u8>)>,
    to_peer: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    relays: Vec<SocketAddr>,
    next: u16,
}

impl Io for Net {
    fn to_client(&mut self, c: &ClientId, data: &[u8]) {
        self.to_client.push((*c, data.to_vec()));
    }
    fn to_peer(&mut self, relay: SocketAddr, peer: SocketAddr, data: &[u8]) {
        self.to_peer.push((relay, peer, data.to_vec()));
    }
    fn open_relay(&mut self, _f: SocketAddr) -> std::io::Result<SocketAddr> {
        self.next = self.next.wrapping_add(1);
        let r = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40_000 + self.next % 20_000);
        self.relays.push(r);
        Ok(r)
    }
    fn close_relay(&mut self, relay: SocketAddr) {
        self.relays.retain(|r| *r != relay);
    }
}

fn router() -> SocketAddr {
    "10.0.0.1:7601".parse().unwrap()
}

fn client(n: u8) -> ClientId {
    ClientId {
        transport: if n % 3 == 0 { Transport::Tcp } else { Transport::Udp },
        addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)), 5000),
        conn: u64::from(n % 3 == 0) * u64::from(n),
    }
}

fn peer((ip, port): (u8, u16)) -> SocketAddr {
    // Mostly the router and its host, sometimes anywhere.
    let ip = match ip % 4 {
        0 | 1 => Ipv4Addr::new(10, 0, 0, 1),
        2 => Ipv4Addr::new(10, 0, 0, ip),
        _ => Ipv4Addr::new(ip, 8, 8, 8),
    };
    SocketAddr::new(IpAddr::V4(ip), if port % 2 == 0 { 7601 } else { port })
}

/// Signs a request as `user` would: valid credentials, the server's nonce.
fn signed(user: &str, nonce: &str, method: u16, tid: [u8; 12], f: impl FnOnce(Builder) -> Builder) -> Vec<u8> {
    let username = format!("{}:{user}", UNIX + 3600);
    let password = auth::rest_password(SECRET, &username);
    let key = auth::long_term_key(&username, "parlor", &password);
    f(Builder::new(method, Class::Request, tid))
        .attr(stun::USERNAME, username.as_bytes())
        .attr(stun::REALM, b"parlor")
        .attr(stun::NONCE, nonce.as_bytes())
        .integrity(&key)
        .fingerprint()
}

fuzz_target!(|ops: Vec<Op>| {
    let mut s = TurnServer::new(Config::new("parlor", SECRET.to_vec(), vec![router()]), b"nonce key");
    let mut net = Net::default();
    let mut now = Instant::now();
    // A challenge to learn a nonce, then the bystander's allocation and channel.
    let victim = ClientId { transport: Transport::Udp, addr: "198.51.100.7:4000".parse().unwrap(), conn: 0 };
    let probe = Builder::new(stun::ALLOCATE, Class::Request, [1; 12]).attr(stun::REQUESTED_TRANSPORT, &[17, 0, 0, 0]).build();
    s.on_client(victim, &probe, now, UNIX, &mut net);
    let nonce = stun::Message::parse(&net.to_client.last().unwrap().1).unwrap().nonce().unwrap().to_owned();
    s.on_client(victim, &signed("victim", &nonce, stun::ALLOCATE, [2; 12], |b| b.attr(stun::REQUESTED_TRANSPORT, &[17, 0, 0, 0])), now, UNIX, &mut net);
    let victim_relay = *net.relays.last().expect("the bystander allocated");
    s.on_client(victim, &signed("victim", &nonce, stun::CHANNEL_BIND, [3; 12], |b| b.attr(stun::CHANNEL_NUMBER, &[0x40, 0x00, 0, 0]).xor_address(stun::XOR_PEER_ADDRESS, router())), now, UNIX, &mut net);

    let mut elapsed = Duration::ZERO;
    for (i, op) in ops.into_iter().enumerate().take(200) {
        let tid = { let mut t = [0u8; 12]; t[..8].copy_from_slice(&(i as u64).to_be_bytes()); t[8] = 9; t };
        match op {
            Op::Raw { client: c, bytes } => s.on_client(client(c), &bytes, now, UNIX, &mut net),
            Op::Signed { client: c, method, attrs, peer: p, lifetime, channel } => {
                let method = [stun::ALLOCATE, stun::REFRESH, stun::CREATE_PERMISSION, stun::CHANNEL_BIND, stun::BINDING, stun::SEND][method as usize % 6];
                let user = format!("user{}", c % 4);
                let msg = signed(&user, &nonce, method, tid, |mut b| {
                    if method == stun::ALLOCATE {
                        b = b.attr(stun::REQUESTED_TRANSPORT, &[17, 0, 0, 0]);
                    }
                    if let Some(p) = p {
                        b = b.xor_address(stun::XOR_PEER_ADDRESS, peer(p));
                    }
                    if let Some(l) = lifetime {
                        b = b.u32_attr(stun::LIFETIME, l);
                    }
                    if let Some(ch) = channel {
                        b = b.attr(stun::CHANNEL_NUMBER, &[(ch >> 8) as u8, ch as u8, 0, 0]);
                    }
                    for (t, v) in attrs.into_iter().take(4) {
                        b = b.attr(t, &v[..v.len().min(64)]);
                    }
                    b
                });
                s.on_client(client(c), &msg, now, UNIX, &mut net);
            }
            Op::ChannelData { client: c, channel, data } => {
                let mut out = Vec::new();
                stun::write_channel_data(&mut out, 0x4000 | (channel & 0x0FFF), &data[..data.len().min(1200)]);
                s.on_client(client(c), &out, now, UNIX, &mut net);
            }
            Op::Peer { relay, peer: p, data } => {
                let r = net.relays.get(relay as usize % net.relays.len().max(1)).copied().unwrap_or(victim_relay);
                s.on_peer(r, peer(p), &data, now, &mut net);
            }
            Op::Tick(secs) => {
                // Time passes, but not past the bystander's channel (10 min) and permission (5 min).
                let step = Duration::from_secs(u64::from(secs % 30));
                if elapsed + step < Duration::from_secs(250) {
                    elapsed += step;
                    now += step;
                    s.on_timeout(now, &mut net);
                }
            }
            Op::Gone(c) => s.client_gone(&client(c), &mut net),
        }
        // Never relayed anywhere but the router's address or this server's own relays.
        for (_, to, _) in net.to_peer.drain(..) {
            assert!(to == router() || to.ip() == IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)) && net.relays.contains(&to), "relayed to {to}");
        }
    }
    // The bystander still relays to the router.
    let mut cd = Vec::new();
    stun::write_channel_data(&mut cd, 0x4000, b"still here");
    s.on_client(victim, &cd, now, UNIX, &mut net);
    assert_eq!(net.to_peer.last().map(|(r, p, d)| (*r, *p, d.as_slice())), Some((victim_relay, router(), &b"still here"[..])));
});
