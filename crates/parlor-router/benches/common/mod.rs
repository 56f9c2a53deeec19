//! Shared by the router's benchmarks: a consumer transport connected to its client in
//! memory (real ICE, DTLS and SRTP over str0m; no sockets), and the worker's per-packet
//! forwarding step on it; the direct send path's per-packet step ([`direct`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parlor_router::forward::SeqRewriter;
use parlor_router::srtp::SrtpSender;
use str0m::crypto::dtls::SrtpProfile;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo, Ssrc};
use str0m::{Candidate, Event, Input, Output, Rtc};

/// A consumer transport (server side, ICE-lite, RTP mode) connected to a client.
pub struct Pair {
    pub server: Rtc,
    /// `None` once dropped (the memory benchmark weighs the server side alone).
    pub client: Option<Rtc>,
    ssrc: Ssrc,
    pt: Pt,
    now: Instant,
    seq: SeqRewriter,
    pub sent: u64,
    /// Media time between two forwarded packets.
    pub spacing: Duration,
}

/// The client: a full-ICE peer offering to receive.
fn client_rtc(now: Instant) -> Rtc {
    Rtc::builder()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true)
        .build(now)
}

/// Drains `rtc`; returns its datagrams and whether it reported `Connected`.
fn drain(rtc: &mut Rtc) -> (Vec<(SocketAddr, SocketAddr, Vec<u8>)>, bool) {
    let mut out = Vec::new();
    let mut connected = false;
    loop {
        match rtc.poll_output().expect("poll") {
            Output::Timeout(_) => return (out, connected),
            Output::Transmit(t) => out.push((t.source, t.destination, t.contents.into())),
            Output::Event(Event::Connected) => connected = true,
            Output::Event(_) => {}
        }
    }
}

fn deliver(
    to: &mut Rtc,
    now: Instant,
    datagrams: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
) -> (Vec<(SocketAddr, SocketAddr, Vec<u8>)>, bool) {
    let mut replies = Vec::new();
    let mut connected = false;
    for (src, dst, data) in datagrams {
        let r = Receive::new(Protocol::Udp, src, dst, &data).expect("datagram");
        to.handle_input(Input::Receive(now, r)).expect("input");
        let (mut out, c) = drain(to);
        replies.append(&mut out);
        connected |= c;
    }
    (replies, connected)
}

impl Pair {
    pub fn connect(i: u16) -> Pair {
        let mut now = Instant::now();
        let saddr: SocketAddr = format!("127.0.0.1:{}", 20000 + i).parse().unwrap();
        let caddr: SocketAddr = format!("127.0.0.1:{}", 40000 + i).parse().unwrap();
        let mut client = client_rtc(now);
        client.add_local_candidate(Candidate::host(caddr, "udp").unwrap());
        let mut api = client.sdp_api();
        let mid = api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        let (offer, pending) = api.apply().unwrap();
        let mut server =
            parlor_router::transport_config(parlor_router::TransportKind::Consumer).build(now);
        server.add_local_candidate(Candidate::host(saddr, "udp").unwrap());
        let answer = server.sdp_api().accept_offer(offer).unwrap();
        client.sdp_api().accept_answer(pending, answer).unwrap();
        let (mut to_server, mut client_up) = drain(&mut client);
        let (mut to_client, mut server_up) = drain(&mut server);
        for _ in 0..2000 {
            let (replies, up) = deliver(&mut server, now, std::mem::take(&mut to_server));
            to_client.extend(replies);
            server_up |= up;
            let (replies, up) = deliver(&mut client, now, std::mem::take(&mut to_client));
            to_server.extend(replies);
            client_up |= up;
            if server_up && client_up && to_server.is_empty() && to_client.is_empty() {
                break;
            }
            now += Duration::from_millis(5);
            for r in [&mut server, &mut client] {
                r.handle_input(Input::Timeout(now)).unwrap();
            }
            let (a, c) = drain(&mut client);
            to_server.extend(a);
            client_up |= c;
            let (b, s) = drain(&mut server);
            to_client.extend(b);
            server_up |= s;
        }
        assert!(server_up && client_up, "pair {i} did not connect");
        let pt = server
            .codec_config()
            .iter()
            .find(|p| p.spec().codec == Codec::Vp8)
            .map(|p| p.pt())
            .unwrap();
        // As the worker: the send stream found once by mid, then by SSRC.
        let mut api = server.direct_api();
        let tx = api
            .stream_tx_by_mid(mid, None)
            .expect("the consumer's send stream");
        parlor_router::configure_send_stream(tx);
        let ssrc = tx.ssrc();
        let mut seq = SeqRewriter::default();
        seq.start(0, 1);
        Pair {
            server,
            client: Some(client),
            ssrc,
            pt,
            now,
            seq,
            sent: 0,
            spacing: Duration::from_micros(100),
        }
    }

    /// Forwards one packet as the worker does; returns the protected datagram's size.
    pub fn forward(&mut self, input_seq: u64, payload: &Arc<[u8]>) -> usize {
        self.now += self.spacing;
        let out_seq = self.seq.map(input_seq).unwrap();
        let write = RtpWrite::new(
            self.pt,
            SeqNo::from(out_seq),
            (input_seq * 3000) as u32,
            self.now,
            payload.clone(),
        )
        .marker(true)
        .nackable(true);
        self.server
            .direct_api()
            .stream_tx(&self.ssrc)
            .unwrap()
            .write_rtp(write);
        self.server.handle_input(Input::Timeout(self.now)).unwrap();
        let mut bytes = 0;
        loop {
            match self.server.poll_output().unwrap() {
                Output::Timeout(_) => break,
                Output::Transmit(t) => bytes += t.contents.len(),
                Output::Event(_) => {}
            }
        }
        self.sent += 1;
        bytes
    }
}

/// A direct-path sender with keys of its own (any 88 bytes are valid AES-256-GCM keying
/// material).
#[allow(dead_code)] // not every benchmark uses the direct path
pub fn sender(i: u16) -> SrtpSender {
    let material: Vec<u8> = (0..88u16).map(|b| (b ^ i) as u8).collect();
    let provider = str0m::crypto::from_feature_flags().srtp_provider;
    SrtpSender::new(provider, &material, SrtpProfile::AEAD_AES_256_GCM, false).unwrap()
}

/// What the direct path writes per packet: a 12-byte header, a mid and an audio-level
/// extension, then the protected payload. Returns the datagram's size.
#[allow(dead_code)] // not every benchmark uses the direct path
pub fn direct(s: &mut SrtpSender, buf: &mut Vec<u8>, seq: u64, payload: &[u8]) -> usize {
    buf.clear();
    buf.extend_from_slice(&[0x90, 96]);
    buf.extend_from_slice(&(seq as u16).to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0x10, 0, 0x12, 0x34, 0x56, 0x78]);
    buf.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x40, b'1', 0x10, 0x85]);
    s.protect(buf, payload, 0x12345678, seq).unwrap();
    buf.len()
}
