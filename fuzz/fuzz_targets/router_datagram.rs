//! Datagrams into the media router's input path (`worker.rs`: `on_datagram`, then the
//! transport's str0m `Rtc`, then forwarding), from addresses ICE validated.
//!
//! Set up once: the real router (its worker thread and UDP socket on loopback, as in
//! `parlor serve`), and two in-process str0m clients on their own UDP sockets, a
//! publisher (audio + video) and a subscriber of it, both through ICE and DTLS for real.
//! Each input is a few datagrams sent to the router's socket:
//! - raw bytes from the publisher's or the subscriber's validated address (garbage, or
//!   STUN, DTLS, RTP/RTCP-looking bytes the fuzzer shapes): STUN routing by ufrag, str0m's
//!   demultiplexing, STUN/DTLS/SRTP parsing and refusal;
//! - raw bytes from an address no transport validated (must be dropped);
//! - RTP the publisher's str0m writes with fuzzed payload type, sequence number,
//!   timestamp, marker and payload: protected with the real SRTP keys, so it gets through
//!   SRTP and reaches the router's forwarding (codec and keyframe detection, sequence
//!   rewriting, the direct AES-GCM send path or str0m's, the retransmission history), and
//!   the subscriber's answers to what arrives (NACKs for gaps, which the router answers
//!   from that history; PLIs) go back in;
//! - a keyframe request (PLI) from the subscriber.
//!
//! After each input both clients are pumped (their replies and consent checks go to the
//! router, and are read with the next input). Checked: nothing panics (libFuzzer aborts on any panic, the worker's panic guard
//! notwithstanding); the router never fails a transport; both transports stay up (a
//! datagram must not end a connection: if one ends, the run stops with the input that
//! ended it); the datagram from a stranger is counted as dropped.
#![no_main]

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use parlor_router::{ConsumerMedia, RouterConfig, RouterHandle, RouterStats, TransportId};
use str0m::change::SdpAnswer;
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc};

/// One datagram of an input.
enum Datagram<'a> {
    Raw {
        from_subscriber: bool,
        bytes: &'a [u8],
    },
    Stranger(&'a [u8]),
    Rtp {
        video: bool,
        marker: bool,
        /// An index into the publisher's payload types, or (above them) this raw type.
        pt: u8,
        seq: u16,
        time: u32,
        payload: &'a [u8],
    },
    Pli,
}

/// Splits an input into datagrams: records of a tag byte, a length byte and that many
/// bytes (the last record takes what is left). Tags (mod 5): 0 raw from the publisher,
/// 1 raw from the subscriber, 2 from a stranger, 3 RTP through the publisher (flags, pt,
/// seq (2), time (4), payload), 4 PLI.
fn datagrams(mut data: &[u8]) -> Vec<Datagram<'_>> {
    let mut out = Vec::new();
    while let [tag, len, rest @ ..] = data {
        let n = (*len as usize).min(rest.len());
        let (bytes, tail) = if tail_takes_all(rest, n) {
            (rest, &[][..])
        } else {
            rest.split_at(n)
        };
        data = tail;
        out.push(match tag % 5 {
            0 => Datagram::Raw {
                from_subscriber: false,
                bytes,
            },
            1 => Datagram::Raw {
                from_subscriber: true,
                bytes,
            },
            2 => Datagram::Stranger(bytes),
            3 => {
                let [flags, pt, s0, s1, t0, t1, t2, t3, payload @ ..] = bytes else {
                    continue;
                };
                Datagram::Rtp {
                    video: flags & 1 != 0,
                    marker: flags & 2 != 0,
                    pt: *pt,
                    seq: u16::from_be_bytes([*s0, *s1]),
                    time: u32::from_be_bytes([*t0, *t1, *t2, *t3]),
                    payload,
                }
            }
            _ => Datagram::Pli,
        });
    }
    out
}

/// A length byte of 255 means "the rest": datagrams longer than 254 bytes.
fn tail_takes_all(rest: &[u8], n: usize) -> bool {
    n == 255 && rest.len() > 255
}

struct Client {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    mids: Vec<(Mid, MediaKind)>,
    connected: bool,
    /// What it sent while connecting, for seeds (see [`dump_seeds`]).
    sent: Vec<Vec<u8>>,
}

impl Client {
    fn new(
        kinds: &[MediaKind],
        direction: Direction,
    ) -> (Client, str0m::change::SdpPendingOffer, String) {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("client socket");
        socket.set_nonblocking(true).expect("nonblocking");
        let local = socket.local_addr().expect("address");
        let mut rtc = Rtc::builder()
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .enable_h264(true)
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").expect("candidate"));
        let mut api = rtc.sdp_api();
        let mids = kinds
            .iter()
            .map(|&k| (api.add_media(k, direction, None, None, None), k))
            .collect();
        let (offer, pending) = api.apply().expect("an offer");
        let client = Client {
            rtc,
            socket,
            local,
            mids,
            connected: false,
            sent: Vec::new(),
        };
        (client, pending, offer.to_sdp_string())
    }

    /// Lets the client run: its timers, what it received, what it sends.
    fn pump(&mut self) {
        let now = Instant::now();
        if self.rtc.handle_input(Input::Timeout(now)).is_err() {
            return;
        }
        let mut buf = [0u8; 2048];
        loop {
            self.drain();
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    if let Ok(r) = Receive::new(Protocol::Udp, from, self.local, &buf[..n]) {
                        let _ = self.rtc.handle_input(Input::Receive(Instant::now(), r));
                    }
                }
                Err(_) => break,
            }
        }
    }

    fn drain(&mut self) {
        while let Ok(out) = self.rtc.poll_output() {
            match out {
                Output::Timeout(_) => break,
                Output::Transmit(t) => {
                    let _ = self.socket.send_to(&t.contents, t.destination);
                    if !self.connected && self.sent.len() < 32 {
                        self.sent.push(t.contents.to_vec());
                    }
                }
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(_) => {}
            }
        }
    }

    fn mid(&self, kind: MediaKind) -> Option<Mid> {
        self.mids.iter().find(|(_, k)| *k == kind).map(|(m, _)| *m)
    }
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    router: RouterHandle,
    publisher: Client,
    subscriber: Client,
    stranger: UdpSocket,
    /// The router's counters after the previous input.
    last: RouterStats,
}

fn fixture() -> &'static Mutex<Fixture> {
    static FIXTURE: OnceLock<Mutex<Fixture>> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (router, events) = RouterHandle::start(RouterConfig {
            bind: "127.0.0.1:0".parse().expect("address"),
            advertise_ip: None,
            quality_interval: None,
            tcp_port: None,
            // Audio levels read as the server reads them: fuzzed RTP reaches the meter too.
            audio_level_interval: Some(Duration::from_millis(250)),
            disconnect_grace: parlor_router::DEFAULT_DISCONNECT_GRACE,
        })
        .expect("router");
        std::mem::forget(events);
        let stranger = UdpSocket::bind("127.0.0.1:0").expect("socket");
        let (publisher, subscriber) = connect(&rt, &router, 0);
        if let Some(dir) = std::env::var_os("PARLOR_FUZZ_DUMP_SEEDS") {
            dump_seeds(std::path::Path::new(&dir), &publisher, &subscriber);
        }
        let last = rt.block_on(router.stats()).expect("router running");
        Mutex::new(Fixture {
            last,
            rt,
            router,
            publisher,
            subscriber,
            stranger,
        })
    })
}

/// A publisher and a subscriber, connected (ICE, DTLS) to the router.
fn connect(rt: &tokio::runtime::Runtime, router: &RouterHandle, n: u32) -> (Client, Client) {
    let producer: TransportId = Arc::from(format!("producer-{n}"));
    let (mut publisher, pending, offer) =
        Client::new(&[MediaKind::Audio, MediaKind::Video], Direction::SendOnly);
    let answer = rt
        .block_on(router.create_producer(producer.clone(), offer))
        .expect("producer");
    publisher
        .rtc
        .sdp_api()
        .accept_answer(
            pending,
            SdpAnswer::from_sdp_string(&answer).expect("answer"),
        )
        .expect("accept");
    let (mut subscriber, pending, offer) =
        Client::new(&[MediaKind::Audio, MediaKind::Video], Direction::RecvOnly);
    let media = ConsumerMedia {
        audio: true,
        video: true,
    };
    let answer = rt
        .block_on(router.create_consumer(
            Arc::from(format!("consumer-{n}")),
            producer,
            offer,
            media,
        ))
        .expect("consumer");
    subscriber
        .rtc
        .sdp_api()
        .accept_answer(
            pending,
            SdpAnswer::from_sdp_string(&answer).expect("answer"),
        )
        .expect("accept");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(publisher.connected && subscriber.connected) {
        assert!(Instant::now() < deadline, "the clients did not connect");
        publisher.pump();
        subscriber.pump();
        std::thread::sleep(Duration::from_millis(2));
    }
    (publisher, subscriber)
}

/// Writes what the clients sent while connecting (STUN checks, DTLS flights, the first
/// SRTP/SRTCP) as one-datagram inputs: from the publisher's address and the subscriber's.
/// How the seeds in `fuzz/corpus/router_datagram` were made (`PARLOR_FUZZ_DUMP_SEEDS=dir`).
fn dump_seeds(dir: &std::path::Path, publisher: &Client, subscriber: &Client) {
    std::fs::create_dir_all(dir).expect("seed dir");
    for (tag, client, name) in [(0u8, publisher, "publisher"), (1, subscriber, "subscriber")] {
        for (i, datagram) in client.sent.iter().enumerate() {
            let kind = match datagram.first() {
                Some(0..=3) => "stun",
                Some(20..=63) => "dtls",
                Some(128..=191) => "srtp",
                _ => "other",
            };
            let mut seed = vec![tag, datagram.len().min(255) as u8];
            seed.extend_from_slice(datagram);
            let path = dir.join(format!("{name}-{i:02}-{kind}"));
            std::fs::write(path, seed).expect("seed");
        }
    }
}

/// The router's counters once it has read everything sent to it before the call (a
/// command is answered before the socket is read in a pass of the worker's loop: two
/// round trips).
fn settle(f: &Fixture) -> RouterStats {
    let _ = f.rt.block_on(f.router.stats());
    f.rt.block_on(f.router.stats()).expect("router running")
}

fuzz_target!(|data: &[u8]| {
    let datagrams = datagrams(data);
    let mut guard = fixture().lock().unwrap_or_else(|e| e.into_inner());
    let f = &mut *guard;
    let before = f.last;
    let router_addr = f.router.local_addr();
    let mut strangers = 0;
    for d in datagrams.into_iter().take(16) {
        match d {
            Datagram::Raw {
                from_subscriber,
                bytes,
            } => {
                let c = if from_subscriber {
                    &f.subscriber
                } else {
                    &f.publisher
                };
                let _ = c.socket.send_to(bytes, router_addr);
            }
            Datagram::Stranger(bytes) => {
                if f.stranger.send_to(bytes, router_addr).is_ok() {
                    strangers += 1;
                }
            }
            Datagram::Rtp {
                video,
                pt,
                seq,
                time,
                marker,
                payload,
            } => {
                let kind = if video {
                    MediaKind::Video
                } else {
                    MediaKind::Audio
                };
                let Some(mid) = f.publisher.mid(kind) else {
                    continue;
                };
                let pts: Vec<Pt> = f
                    .publisher
                    .rtc
                    .codec_config()
                    .iter()
                    .map(|p| p.pt())
                    .collect();
                let pt = pts.get(pt as usize).copied().unwrap_or(Pt::from(pt));
                if let Some(tx) = f.publisher.rtc.direct_api().stream_tx_by_mid(mid, None) {
                    let _ = tx.write_rtp(
                        RtpWrite::new(
                            pt,
                            SeqNo::from(u64::from(seq)),
                            time,
                            Instant::now(),
                            Arc::<[u8]>::from(payload),
                        )
                        .marker(marker)
                        .nackable(true),
                    );
                }
                let _ = f.publisher.rtc.handle_input(Input::Timeout(Instant::now()));
                f.publisher.drain();
            }
            Datagram::Pli => {
                if let Some(mid) = f.subscriber.mid(MediaKind::Video)
                    && let Some(rx) = f.subscriber.rtc.direct_api().stream_rx_by_mid(mid, None)
                {
                    rx.request_keyframe(KeyframeRequestKind::Pli);
                }
                f.subscriber.drain();
            }
        }
    }
    let mut after = settle(f);
    // Two round trips normally cover every datagram sent before them; under a loaded
    // machine the worker may still be reading: give it a few more before judging.
    for _ in 0..3 {
        if after.datagrams_dropped >= before.datagrams_dropped + strangers {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
        after = settle(f);
    }
    f.last = after;
    // The clients answer what they got (in the next input's time).
    f.publisher.pump();
    f.subscriber.pump();
    assert_eq!(
        after.transports_failed, before.transports_failed,
        "the router failed a transport"
    );
    assert!(
        after.datagrams_dropped >= before.datagrams_dropped + strangers,
        "a stranger's datagram was not dropped"
    );
    assert_eq!(
        after.transports, 2,
        "a transport ended ({} left)",
        after.transports
    );
    assert!(f.publisher.rtc.is_alive() && f.subscriber.rtc.is_alive());
});
