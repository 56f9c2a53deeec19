//! The worker: one thread, one UDP socket, every transport on it.
//!
//! The loop waits (mio) for a datagram, a command or the earliest transport deadline, then:
//! reads every pending datagram and feeds it to its transport; runs expired timers;
//! services deferred keyframe requests; and, once a second, closes transports that never
//! connected or lost their peer. After every input to a transport, its output is drained
//! completely (str0m's contract): datagrams are sent, events handled. A producer's RTP
//! events are queued while the socket has more to read, then forwarded grouped per
//! consumer, so a packet goes from socket to socket without leaving the thread. A consumer
//! that negotiated AES-GCM SRTP gets them through the direct send path (header written and
//! protected here, [`crate::srtp`]); others through str0m (write them all, then drain the
//! consumer once). docs/ARCHITECTURE.md, "How a packet flows", has the why.
//!
//! Isolation: every call into a transport's `Rtc` runs under `catch_unwind`; a transport
//! that panics or errors is dropped alone. Datagrams are routed only to the transport
//! whose ICE credentials they carry (STUN) or whose validated address they come from.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use rand::Rng as _;
use rand::distr::Alphanumeric;
use slab::Slab;
use str0m::change::SdpOffer;
use str0m::format::{Codec, PayloadParams};
use str0m::media::{KeyframeRequestKind, MediaKind, Mid, Pt, SenderFeedback};
use str0m::net::{Protocol, Receive};
use str0m::rtp::rtcp::{Nack, Rtcp};
use str0m::rtp::{
    Extension, ExtensionValues, RawPacket, RtpHeader, RtpPacket, RtpWrite, SeqNo, Ssrc, StreamTx,
};
use str0m::{Candidate, Event, IceConnectionState, IceCreds, Input, Output, Rtc, RtcConfig};
use tokio::sync::mpsc::UnboundedSender;

use crate::dtls_keys::{self, KeySlot};
use crate::forward::SeqRewriter;
use crate::outbox::{self, Outbox};
use crate::quality::{self, Direction, Meter};
use crate::srtp::SrtpSender;
use crate::tap::{TapCodec, TapPacket, TapSet, WallClock, unix_micros};
use crate::{
    CloseReason, Command, ConsumerMedia, RouterConfig, RouterError, RouterEvent, RouterStats,
    TransportId, TransportKind, stun,
};

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);
/// A transport must connect (ICE + DTLS) within this time of its creation.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// A transport whose ICE stays disconnected this long is closed.
const DISCONNECT_GRACE: Duration = Duration::from_secs(4);
/// At most one keyframe request per producer in this interval; later ones wait for it.
const KEYFRAME_INTERVAL: Duration = Duration::from_millis(300);
/// Transports are woken at least this often (deadlines are capped to it).
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// Producer packets queued before they are forwarded even if more are readable (bounds
/// the latency batching adds; also the width of the per-group bit masks).
const MAX_PENDING: usize = 64;
/// UDP socket buffer size: handshake flights and keyframes come in bursts.
const SOCKET_BUFFER: usize = 4 << 20;
/// On the direct send path, a track still hands str0m one packet this often, so that its
/// sender reports carry a current RTP-time/wallclock pair (receivers sync audio and video
/// with them).
const VIA_RTC_INTERVAL: Duration = Duration::from_secs(2);
/// A producer's video packets kept for consumers' retransmission requests: at most this
/// many, none older than [`crate::RTX_WINDOW`].
const HISTORY_PACKETS: usize = 1024;

pub(crate) struct Started {
    pub worker: Worker,
    pub waker: Arc<Waker>,
    pub local_addr: SocketAddr,
    pub advertised: SocketAddr,
}

pub(crate) struct Worker {
    poll: Poll,
    socket: UdpSocket,
    commands: Receiver<Command>,
    events: UnboundedSender<RouterEvent>,
    advertised: SocketAddr,
    producer_config: RtcConfig,
    consumer_config: RtcConfig,
    transports: Slab<Transport>,
    by_id: HashMap<TransportId, usize>,
    by_addr: HashMap<SocketAddr, usize>,
    by_ufrag: HashMap<String, usize>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    keyframe_wanted: Vec<usize>,
    closing: Vec<(usize, CloseReason)>,
    /// Producer packets read in this pass, not forwarded yet.
    pending: Vec<Pending>,
    buf: Vec<u8>,
    /// Scratch for a retransmission's plaintext payload (original sequence number first).
    rtx_payload: Vec<u8>,
    outbox: Outbox,
    stats: RouterStats,
    /// Kept apart from `stats`, boxed, so the worker's hot fields keep the layout they had
    /// without it: inline in `RouterStats` (96 bytes more), the forwarding figure measured
    /// ~4 % lower in 5 of 6 runs; boxed, it is within noise (BENCHMARKS.md).
    forward_latency: Box<crate::LatencyHistogram>,
    next_housekeeping: Instant,
    /// Monotonic to Unix time, for tapped packets' arrival times (refreshed each second).
    clock: WallClock,
}

struct Transport {
    id: TransportId,
    rtc: Rtc,
    ufrag: String,
    created: Instant,
    connected: bool,
    disconnected_since: Option<Instant>,
    /// The deadline of this transport's live timer entry, if any.
    scheduled: Option<Instant>,
    addrs: Vec<SocketAddr>,
    /// Where str0m sends this transport's DTLS and media (the ICE-nominated address): the
    /// destination of the direct send path.
    send_to: Option<SocketAddr>,
    role: Role,
    /// The last quality report per kind of media.
    quality: Meter,
}

// Consumers are most transports and are read for every forwarded packet: kept inline.
#[allow(clippy::large_enum_variant)]
enum Role {
    Producer(Producer),
    Consumer(Consumer),
}

/// A producer's packet waiting to be forwarded.
struct Pending {
    producer: usize,
    /// Position in the queue: the order packets are forwarded in, per producer.
    arrival: u32,
    packet: RtpPacket,
}

struct Producer {
    consumers: Vec<usize>,
    mids: Vec<(Mid, MediaKind)>,
    ssrcs: Vec<(Ssrc, MediaKind)>,
    video_ssrc: Option<Ssrc>,
    audio_enabled: bool,
    last_keyframe_request: Option<Instant>,
    keyframe_pending: bool,
    /// Recent video packets, oldest first, shared by all consumers' retransmissions.
    history: VecDeque<RtpPacket>,
    /// Readers of this producer's media off the forwarding path (recorders).
    taps: TapSet,
}

impl Producer {
    fn remember(&mut self, packet: RtpPacket) {
        let newest = packet.timestamp;
        while self.history.len() >= HISTORY_PACKETS
            || self.history.front().is_some_and(|old| {
                newest.saturating_duration_since(old.timestamp) > crate::RTX_WINDOW
            })
        {
            self.history.pop_front();
        }
        self.history.push_back(packet);
    }
}

struct Consumer {
    producer: usize,
    audio: Track,
    video: Track,
    /// Where the DTLS handshake leaves the keying material.
    keys: Arc<KeySlot>,
    /// Set on connecting with an AEAD SRTP profile: forwarded media is then sent by the
    /// worker itself ([`send_direct`]); `None` leaves it all to str0m.
    srtp: Option<SrtpSender>,
    /// Retransmissions this consumer may still ask for: earned by the video it is sent
    /// ([`crate::RTX_BUDGET_PER_PACKET`] a packet, up to [`crate::RTX_BUDGET_BURST`]),
    /// spent one per retransmission. A NACK flood cannot make the router send more.
    rtx_budget: f32,
}

/// One kind of media on a consumer.
struct Track {
    wanted: bool,
    mid: Option<Mid>,
    /// The SSRC of the consumer's send stream for `mid`, once looked up: str0m finds a
    /// stream by SSRC with a hash lookup, by mid only by scanning its streams.
    tx_ssrc: Option<Ssrc>,
    /// Producer payload type → consumer payload type and its retransmission type, for the
    /// last one seen.
    pt_map: Option<(Pt, Pt, Option<Pt>)>,
    seq: SeqRewriter,
    first_out: u64,
    /// How the direct path writes this track's packets, once resolved.
    direct: Option<DirectTrack>,
    /// When a packet of this track last went through str0m (see [`VIA_RTC_INTERVAL`]).
    last_via_rtc: Option<Instant>,
    /// Packets and bytes forwarded on this track (both send paths), for quality samples.
    sent_packets: u64,
    sent_bytes: u64,
}

/// A consumer track's send stream as the direct path writes it.
struct DirectTrack {
    ssrc: u32,
    rtx_ssrc: Option<u32>,
    /// The next retransmission's extended sequence number (its SRTP index).
    rtx_seq: u64,
    mid: Mid,
    /// Negotiated one-byte header extension IDs.
    mid_id: Option<u8>,
    audio_level_id: Option<u8>,
    orientation_id: Option<u8>,
}

impl Track {
    fn new(wanted: bool) -> Self {
        Track {
            wanted,
            mid: None,
            tx_ssrc: None,
            pt_map: None,
            seq: SeqRewriter::default(),
            // Below 2^15, as browsers do, so the SRTP rollover counter starts at 0.
            first_out: rand::rng().random_range(1..0x7fff),
            direct: None,
            last_via_rtc: None,
            sent_packets: 0,
            sent_bytes: 0,
        }
    }
}

fn random_string(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

impl Worker {
    pub(crate) fn bind(
        config: &RouterConfig,
        commands: Receiver<Command>,
        events: UnboundedSender<RouterEvent>,
    ) -> Result<Started, RouterError> {
        let start = |e: std::io::Error| RouterError::Start(e.to_string());
        let domain = socket2::Domain::for_address(config.bind);
        let raw = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))
            .map_err(start)?;
        let _ = raw.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = raw.set_send_buffer_size(SOCKET_BUFFER);
        raw.set_nonblocking(true).map_err(start)?;
        raw.bind(&config.bind.into())
            .map_err(|e| RouterError::Start(format!("cannot bind UDP {}: {e}", config.bind)))?;
        let mut socket = UdpSocket::from_std(raw.into());
        let local_addr = socket.local_addr().map_err(start)?;
        let ip = config.advertise_ip.unwrap_or(local_addr.ip());
        if ip.is_unspecified() {
            return Err(RouterError::Start(format!(
                "media bound to {local_addr}: set a public IP to advertise to clients"
            )));
        }
        let advertised = SocketAddr::new(ip, local_addr.port());
        let poll = Poll::new().map_err(start)?;
        poll.registry()
            .register(&mut socket, SOCKET, Interest::READABLE)
            .map_err(start)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(start)?);
        let cert = str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
            .ok_or_else(|| RouterError::Start("cannot generate a DTLS certificate".into()))?;
        // Consumers: the DTLS keys are captured for the direct send path, and incoming RTCP
        // is surfaced (as raw packets) for the NACKs that path answers.
        let consumer_config = crate::transport_config(TransportKind::Consumer)
            .set_stats_interval(config.quality_interval)
            .set_dtls_cert(cert.clone())
            .set_crypto_provider(dtls_keys::provider())
            .enable_raw_packets(true);
        let producer_config = crate::transport_config(TransportKind::Producer)
            .set_stats_interval(config.quality_interval)
            .set_dtls_cert(cert);
        tracing::info!(%local_addr, %advertised, "media router bound");
        Ok(Started {
            worker: Worker {
                poll,
                socket,
                commands,
                events,
                advertised,
                producer_config,
                consumer_config,
                transports: Slab::new(),
                by_id: HashMap::new(),
                by_addr: HashMap::new(),
                by_ufrag: HashMap::new(),
                timers: BinaryHeap::new(),
                keyframe_wanted: Vec::new(),
                closing: Vec::new(),
                pending: Vec::with_capacity(MAX_PENDING),
                buf: vec![0; 2048],
                rtx_payload: Vec::with_capacity(2048),
                outbox: Outbox::default(),
                stats: RouterStats::default(),
                forward_latency: Box::default(),
                next_housekeeping: Instant::now() + MAX_SLEEP,
                clock: WallClock::now(),
            },
            waker,
            local_addr,
            advertised,
        })
    }

    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(16);
        loop {
            let now = Instant::now();
            let next = self
                .timers
                .peek()
                .map_or(self.next_housekeeping, |Reverse((t, _))| *t)
                .min(self.next_housekeeping);
            let timeout = next.saturating_duration_since(now);
            if let Err(e) = self.poll.poll(&mut events, Some(timeout))
                && e.kind() != ErrorKind::Interrupted
            {
                tracing::error!(error = %e, "media worker poll failed; stopping");
                return;
            }
            loop {
                match self.commands.try_recv() {
                    Ok(Command::Shutdown) | Err(TryRecvError::Disconnected) => {
                        tracing::info!("media worker stopped");
                        return;
                    }
                    Ok(cmd) => self.command(cmd),
                    Err(TryRecvError::Empty) => break,
                }
            }
            self.read_socket();
            self.run_timers();
            self.flush_keyframe_requests();
            // Whatever a drain above queued outside reading and timers (normally nothing).
            self.forward_pending();
            if Instant::now() >= self.next_housekeeping {
                self.housekeeping();
            }
            self.flush_closing();
            self.flush_outbox();
        }
    }

    // ---- commands -------------------------------------------------------------------

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::CreateProducer { id, offer, reply } => {
                let result = self.create(id, offer, None);
                let _ = reply.send(result);
            }
            Command::CreateConsumer {
                id,
                producer,
                offer,
                media,
                reply,
            } => {
                let result = match self.by_id.get(&producer).copied() {
                    Some(p) if matches!(self.transports[p].role, Role::Producer(_)) => {
                        self.create(id, offer, Some((p, media)))
                    }
                    _ => Err(RouterError::UnknownProducer(producer.to_string())),
                };
                let _ = reply.send(result);
            }
            Command::SetConsumerMedia { id, audio, video } => {
                let Some(&key) = self.by_id.get(&id) else {
                    return;
                };
                let mut want_keyframe = None;
                if let Role::Consumer(c) = &mut self.transports[key].role {
                    if let Some(a) = audio {
                        set_wanted(&mut c.audio, a);
                    }
                    if let Some(v) = video {
                        // Only turning video back on needs a keyframe (asked now rather than
                        // on the next packet); repeating "on" must not make the publisher
                        // send keyframes.
                        if v && !c.video.wanted {
                            want_keyframe = Some(c.producer);
                        }
                        set_wanted(&mut c.video, v);
                    }
                }
                if let Some(p) = want_keyframe {
                    self.want_keyframe(p);
                }
            }
            Command::RequestKeyframe { producer } => {
                if let Some(&key) = self.by_id.get(&producer)
                    && matches!(self.transports[key].role, Role::Producer(_))
                {
                    self.want_keyframe(key);
                }
            }
            Command::SetProducerAudio { id, enabled } => {
                let Some(&key) = self.by_id.get(&id) else {
                    return;
                };
                let consumers = match &mut self.transports[key].role {
                    Role::Producer(p) => {
                        p.audio_enabled = enabled;
                        p.consumers.clone()
                    }
                    Role::Consumer(_) => return,
                };
                if !enabled {
                    // Muted audio resumes from the next packet, numbered without a gap.
                    for c in consumers {
                        if let Some(Transport {
                            role: Role::Consumer(c),
                            ..
                        }) = self.transports.get_mut(c)
                        {
                            c.audio.seq.pause();
                        }
                    }
                }
            }
            Command::Close { id } => {
                if let Some(&key) = self.by_id.get(&id) {
                    self.remove(key, None);
                }
            }
            Command::Stats { reply } => {
                let mut stats = self.stats;
                stats.forward_latency = *self.forward_latency;
                stats.transports = self.transports.len();
                stats.producers = self
                    .transports
                    .iter()
                    .filter(|(_, t)| matches!(t.role, Role::Producer(_)))
                    .count();
                stats.consumers = stats.transports - stats.producers;
                stats.routes = self.by_addr.len() + self.by_ufrag.len() + self.by_id.len();
                for (_, t) in &mut self.transports {
                    if let Role::Producer(p) = &mut t.role {
                        p.taps.prune();
                        stats.taps += p.taps.len();
                    }
                }
                let _ = reply.send(stats);
            }
            Command::Tap {
                producer,
                capacity,
                reply,
            } => {
                let tapped = self.by_id.get(&producer).copied().and_then(|key| {
                    match &mut self.transports[key].role {
                        Role::Producer(p) => Some((key, p.taps.attach(producer.clone(), capacity))),
                        Role::Consumer(_) => None,
                    }
                });
                let result = match tapped {
                    Some((key, tap)) => {
                        tracing::debug!(id = %producer, capacity, "tap attached");
                        // The tap's video starts on a keyframe: ask for one now.
                        self.want_keyframe(key);
                        Ok(tap)
                    }
                    None => Err(RouterError::UnknownProducer(producer.to_string())),
                };
                let _ = reply.send(result);
            }
            Command::Shutdown => {}
        }
    }

    fn create(
        &mut self,
        id: TransportId,
        offer: String,
        consumer_of: Option<(usize, ConsumerMedia)>,
    ) -> Result<String, RouterError> {
        if self.by_id.contains_key(&id) {
            return Err(RouterError::Duplicate(id.to_string()));
        }
        let offer = SdpOffer::from_sdp_string(&offer)
            .map_err(|e| RouterError::Sdp(crate::sdp::describe(&e)))?;
        let ufrag = random_string(16);
        let now = Instant::now();
        let advertised = self.advertised;
        let base = match consumer_of {
            None => &self.producer_config,
            Some(_) => &self.consumer_config,
        };
        let config = base.clone().set_local_ice_credentials(IceCreds {
            ufrag: ufrag.clone(),
            pass: random_string(32),
        });
        let built = catch_unwind(AssertUnwindSafe(|| {
            let (mut rtc, keys) = dtls_keys::build(&config, now);
            let candidate = Candidate::host(advertised, "udp").map_err(|e| e.to_string())?;
            rtc.add_local_candidate(candidate);
            let answer = rtc
                .sdp_api()
                .accept_offer(offer)
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((rtc, keys, answer.to_sdp_string()))
        }));
        let (rtc, keys, answer) = match built {
            Ok(Ok(ok)) => ok,
            Ok(Err(e)) => return Err(RouterError::Sdp(e)),
            Err(_) => {
                return Err(RouterError::Sdp(
                    "the offer made the SDP parser fail".into(),
                ));
            }
        };
        let role = match consumer_of {
            None => Role::Producer(Producer {
                consumers: Vec::new(),
                mids: Vec::new(),
                ssrcs: Vec::new(),
                video_ssrc: None,
                audio_enabled: true,
                last_keyframe_request: None,
                keyframe_pending: false,
                history: VecDeque::new(),
                taps: TapSet::default(),
            }),
            Some((producer, media)) => Role::Consumer(Consumer {
                producer,
                audio: Track::new(media.audio),
                video: Track::new(media.video),
                keys,
                srtp: None,
                rtx_budget: crate::RTX_BUDGET_BURST,
            }),
        };
        let key = self.transports.insert(Transport {
            id: id.clone(),
            rtc,
            ufrag: ufrag.clone(),
            created: now,
            connected: false,
            disconnected_since: None,
            scheduled: None,
            addrs: Vec::new(),
            send_to: None,
            role,
            quality: Meter::default(),
        });
        if let Some((producer, _)) = consumer_of
            && let Role::Producer(p) = &mut self.transports[producer].role
        {
            p.consumers.push(key);
        }
        self.by_id.insert(id, key);
        self.by_ufrag.insert(ufrag, key);
        self.drain(key);
        Ok(answer)
    }

    /// Drops a transport and everything that routes to it. `reason` is `None` when the
    /// signaling layer asked for it (it needs no event back).
    fn remove(&mut self, key: usize, reason: Option<CloseReason>) {
        if !self.transports.contains(key) {
            return;
        }
        let t = self.transports.remove(key);
        self.by_id.remove(&t.id);
        self.by_ufrag.remove(&t.ufrag);
        for addr in &t.addrs {
            if self.by_addr.get(addr) == Some(&key) {
                self.by_addr.remove(addr);
            }
        }
        self.keyframe_wanted.retain(|&k| k != key);
        self.pending.retain(|p| p.producer != key);
        if let Some(reason) = reason {
            tracing::debug!(id = %t.id, ?reason, "transport closed");
            let _ = self.events.send(RouterEvent::Closed {
                id: t.id.clone(),
                reason,
            });
        }
        match t.role {
            Role::Producer(p) => {
                for c in p.consumers {
                    self.remove(c, Some(CloseReason::ProducerClosed));
                }
            }
            Role::Consumer(c) => {
                if let Some(Transport {
                    role: Role::Producer(p),
                    ..
                }) = self.transports.get_mut(c.producer)
                {
                    p.consumers.retain(|&k| k != key);
                }
            }
        }
    }

    fn flush_closing(&mut self) {
        while let Some((key, reason)) = self.closing.pop() {
            self.remove(key, Some(reason));
        }
    }

    fn fail(&mut self, key: usize, why: &str) {
        if let Some(t) = self.transports.get(key) {
            tracing::warn!(id = %t.id, why, "transport failed; dropping it");
        }
        self.stats.transports_failed += 1;
        self.closing.push((key, CloseReason::Failed));
    }

    // ---- I/O --------------------------------------------------------------------------

    fn read_socket(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        loop {
            match self.socket.recv_from(&mut buf) {
                Ok((n, source)) => {
                    self.on_datagram(source, &buf[..n], Instant::now());
                    // Bound the latency a batch adds: a reading burst flushes as it goes.
                    if self.outbox.len() >= outbox::BATCH / 4 {
                        self.flush_outbox();
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                // ICMP errors from earlier sends surface here on Linux; they are not fatal.
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => tracing::debug!(error = %e, "UDP receive error"),
            }
        }
        self.buf = buf;
        self.forward_pending();
        self.flush_closing();
    }

    fn on_datagram(&mut self, source: SocketAddr, data: &[u8], now: Instant) {
        self.stats.datagrams_received += 1;
        // STUN routes by the ufrag it names (checked by the transport's MESSAGE-INTEGRITY);
        // everything else only from an address a transport has validated.
        let (key, learn) = if stun::is_stun(data) {
            match stun::local_ufrag(data).and_then(|u| self.by_ufrag.get(u)) {
                Some(&k) => (k, self.by_addr.get(&source) != Some(&k)),
                None => return self.drop_datagram(),
            }
        } else {
            match self.by_addr.get(&source) {
                Some(&k) => (k, false),
                None => return self.drop_datagram(),
            }
        };
        let Ok(receive) = Receive::new(Protocol::Udp, source, self.advertised, data) else {
            return self.drop_datagram();
        };
        let input = Input::Receive(now, receive);
        let t = &mut self.transports[key];
        if learn {
            match catch_unwind(AssertUnwindSafe(|| t.rtc.accepts(&input))) {
                Ok(true) => {
                    if !t.addrs.contains(&source) {
                        t.addrs.push(source);
                    }
                    self.by_addr.insert(source, key);
                }
                Ok(false) => return self.drop_datagram(),
                Err(_) => return self.fail(key, "panic in accepts"),
            }
        }
        let t = &mut self.transports[key];
        match catch_unwind(AssertUnwindSafe(|| t.rtc.handle_input(input))) {
            Ok(Ok(())) => {}
            // A packet the transport could not use (garbage, a replay): drop it, keep going.
            Ok(Err(e)) => {
                tracing::debug!(id = %t.id, error = %e, "datagram refused by transport");
                self.stats.datagrams_dropped += 1;
            }
            Err(_) => return self.fail(key, "panic in handle_input"),
        }
        self.drain(key);
    }

    fn drop_datagram(&mut self) {
        self.stats.datagrams_dropped += 1;
    }

    /// Queues a datagram; batches go out with one `sendmmsg` each.
    fn transmit(&mut self, destination: SocketAddr, contents: Vec<u8>) {
        self.outbox.push(destination, contents);
        if self.outbox.len() >= outbox::BATCH {
            self.flush_outbox();
        }
    }

    fn flush_outbox(&mut self) {
        let f = self.outbox.flush(&self.socket);
        self.stats.datagrams_sent += f.sent;
        self.stats.send_syscalls += f.syscalls;
        self.stats.datagrams_send_dropped += f.dropped;
    }

    // ---- timers -------------------------------------------------------------------

    fn schedule(&mut self, key: usize, at: Instant) {
        let cap = Instant::now() + MAX_SLEEP;
        let at = at.min(cap);
        let t = &mut self.transports[key];
        // An earlier live entry will wake the transport in time; it reschedules then.
        if t.scheduled.is_some_and(|s| s <= at) {
            return;
        }
        t.scheduled = Some(at);
        self.timers.push(Reverse((at, key)));
    }

    fn run_timers(&mut self) {
        let now = Instant::now();
        while let Some(&Reverse((at, key))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(t) = self.transports.get_mut(key) else {
                continue;
            };
            if t.scheduled != Some(at) {
                continue; // superseded by an earlier entry that already ran
            }
            t.scheduled = None;
            self.stats.timeouts += 1;
            match catch_unwind(AssertUnwindSafe(|| t.rtc.handle_input(Input::Timeout(now)))) {
                Ok(Ok(())) => self.drain(key),
                Ok(Err(e)) => self.fail(key, &e.to_string()),
                Err(_) => self.fail(key, "panic in timeout"),
            }
        }
        self.forward_pending();
        self.flush_closing();
    }

    fn housekeeping(&mut self) {
        let now = Instant::now();
        self.next_housekeeping = now + MAX_SLEEP;
        self.clock = WallClock::now();
        for (key, t) in &self.transports {
            if !t.connected && now.duration_since(t.created) > CONNECT_TIMEOUT {
                self.closing.push((key, CloseReason::ConnectTimeout));
            } else if !t.rtc.is_alive()
                || t.disconnected_since
                    .is_some_and(|s| now.duration_since(s) > DISCONNECT_GRACE)
            {
                self.closing.push((key, CloseReason::Disconnected));
            }
        }
    }

    // ---- output -------------------------------------------------------------------

    /// Polls a transport until it has nothing more to say.
    fn drain(&mut self, key: usize) {
        loop {
            let Some(t) = self.transports.get_mut(key) else {
                return;
            };
            let out = catch_unwind(AssertUnwindSafe(|| t.rtc.poll_output()));
            match out {
                Ok(Ok(Output::Timeout(at))) => return self.schedule(key, at),
                Ok(Ok(Output::Transmit(tx))) => {
                    // STUN answers go wherever a check came from; the rest to the nominee.
                    if !stun::is_stun(&tx.contents) {
                        t.send_to = Some(tx.destination);
                    }
                    self.transmit(tx.destination, tx.contents.into())
                }
                Ok(Ok(Output::Event(event))) => self.on_event(key, event),
                Ok(Err(e)) => return self.fail(key, &e.to_string()),
                Err(_) => return self.fail(key, "panic in poll_output"),
            }
        }
    }

    fn on_event(&mut self, key: usize, event: Event) {
        let t = &mut self.transports[key];
        match event {
            Event::Connected => {
                t.connected = true;
                tracing::debug!(id = %t.id, "transport connected");
                let _ = self
                    .events
                    .send(RouterEvent::Connected { id: t.id.clone() });
                if let Role::Consumer(c) = &mut t.role {
                    if let Some(keys) = c.keys.take() {
                        let provider = dtls_keys::provider();
                        c.srtp = SrtpSender::new(
                            provider.srtp_provider,
                            &keys.material,
                            keys.profile,
                            keys.active,
                        );
                    }
                    tracing::debug!(id = %t.id, direct = c.srtp.is_some(), "consumer send path");
                    if c.video.wanted {
                        let p = c.producer;
                        self.want_keyframe(p);
                    }
                }
            }
            Event::IceConnectionStateChange(state) => {
                t.disconnected_since = match state {
                    IceConnectionState::Disconnected => Some(Instant::now()),
                    _ => None,
                };
            }
            Event::MediaAdded(m) => match &mut t.role {
                Role::Producer(p) => p.mids.push((m.mid, m.kind)),
                Role::Consumer(c) => match m.kind {
                    MediaKind::Audio => c.audio.mid = Some(m.mid),
                    MediaKind::Video => c.video.mid = Some(m.mid),
                },
            },
            Event::RtpPacket(packet) => {
                if matches!(t.role, Role::Producer(_)) {
                    self.enqueue(key, packet);
                }
            }
            Event::RawPacket(raw) => {
                if let RawPacket::RtcpRx(Rtcp::Nack(nack)) = *raw {
                    self.retransmit(key, &nack);
                }
            }
            Event::SenderFeedback(report) => {
                if let Role::Producer(p) = &t.role
                    && !p.taps.is_empty()
                {
                    self.tap_sender_report(key, report);
                }
            }
            Event::KeyframeRequest(_) => {
                if let Role::Consumer(c) = &t.role {
                    let p = c.producer;
                    self.want_keyframe(p);
                }
            }
            Event::MediaIngressStats(s) => {
                let Role::Producer(p) = &t.role else {
                    return;
                };
                let Some(&(_, kind)) = p.mids.iter().find(|(mid, _)| *mid == s.mid) else {
                    return;
                };
                let (counters, report) = quality::ingress(&s);
                self.quality(key, kind, Direction::Ingress, counters, report);
            }
            Event::MediaEgressStats(s) => {
                let Role::Consumer(c) = &t.role else {
                    return;
                };
                let (kind, track) = if c.video.mid == Some(s.mid) {
                    (MediaKind::Video, &c.video)
                } else if c.audio.mid == Some(s.mid) {
                    (MediaKind::Audio, &c.audio)
                } else {
                    return;
                };
                let (counters, report) = quality::egress(&s, track.sent_bytes, track.sent_packets);
                self.quality(key, kind, Direction::Egress, counters, report);
            }
            Event::Closed => self.closing.push((key, CloseReason::Disconnected)),
            _ => {}
        }
    }

    /// Turns a transport's statistics into a quality window, sent as a [`RouterEvent`].
    fn quality(
        &mut self,
        key: usize,
        kind: MediaKind,
        direction: Direction,
        counters: quality::Counters,
        report: quality::Report,
    ) {
        let t = &mut self.transports[key];
        if let Some(sample) = t.quality.sample(&t.id, kind, direction, counters, report) {
            let _ = self.events.send(RouterEvent::Quality(sample));
        }
    }

    // ---- forwarding ---------------------------------------------------------------

    /// Queues a producer's packet; [`Worker::forward_pending`] sends it on.
    fn enqueue(&mut self, producer: usize, packet: RtpPacket) {
        self.stats.rtp_received += 1;
        let arrival = self.pending.len() as u32;
        self.pending.push(Pending {
            producer,
            arrival,
            packet,
        });
        if self.pending.len() >= MAX_PENDING {
            self.forward_pending();
        }
    }

    /// Forwards the packets queued since the last call, grouped by producer, arrival order
    /// kept. A consumer gets all of a group at once — every packet written, then one send
    /// timeout and one drain — so packets that arrive together (a keyframe's, a backlog
    /// under load) cost one pass over the consumer's state instead of one pass each. That
    /// state is cold in the cache by the time its turn comes (there are hundreds of
    /// consumers), so passes are what forwarding costs.
    fn forward_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut self.pending);
        // With one producer (the common case) this is already sorted: a linear pass.
        pending.sort_unstable_by_key(|p| (p.producer, p.arrival));
        let mut rest = &pending[..];
        while let Some(first) = rest.first() {
            let n = rest
                .iter()
                .position(|p| p.producer != first.producer)
                .unwrap_or(rest.len());
            let (group, tail) = rest.split_at(n);
            self.forward(first.producer, group);
            rest = tail;
        }
        for p in pending.drain(..) {
            if let Some(Transport {
                role: Role::Producer(producer),
                ..
            }) = self.transports.get_mut(p.producer)
                && producer.video_ssrc == Some(p.packet.header.ssrc)
            {
                producer.remember(p.packet);
            }
        }
        self.pending = pending;
        self.flush_closing();
    }

    /// Forwards one producer's packets (at most [`MAX_PENDING`]) to every consumer that
    /// wants them.
    fn forward(&mut self, pkey: usize, group: &[Pending]) {
        debug_assert!(group.len() <= MAX_PENDING);
        // What each packet is, once for all consumers.
        let mut media = [None; MAX_PENDING];
        let mut keyframe_starts = 0u64;
        for (i, p) in group.iter().enumerate() {
            let header = &p.packet.header;
            let Some((kind, params)) = self.resolve(pkey, header.ssrc, header.payload_type) else {
                continue;
            };
            let Role::Producer(producer) = &mut self.transports[pkey].role else {
                return;
            };
            let is_video = kind == MediaKind::Video;
            if is_video {
                producer.video_ssrc.get_or_insert(header.ssrc);
                if starts_keyframe(params.spec().codec, &p.packet.payload) {
                    keyframe_starts |= 1 << i;
                }
            } else if !producer.audio_enabled {
                continue;
            }
            media[i] = Some((is_video, params));
        }
        let retry_keyframe = matches!(
            self.transports.get(pkey),
            Some(Transport { role: Role::Producer(p), .. }) if p.keyframe_pending
        );
        if retry_keyframe && media.iter().flatten().any(|&(video, _)| video) {
            // A throttled request: retry it on the producer's own video.
            self.want_keyframe(pkey);
        }
        let Some(Transport {
            role: Role::Producer(producer),
            ..
        }) = self.transports.get_mut(pkey)
        else {
            return;
        };
        // Packets that found a tap or a consumer still waiting for a keyframe.
        let mut keyframe_needed = 0u64;
        if !producer.taps.is_empty() {
            keyframe_needed = tap_group(
                &mut producer.taps,
                group,
                &media,
                keyframe_starts,
                &self.clock,
                &mut self.stats,
            );
        }
        let consumers = std::mem::take(&mut producer.consumers);
        let now = Instant::now();
        for &ckey in &consumers {
            let Some(ct) = self.transports.get_mut(ckey) else {
                continue;
            };
            if !ct.connected {
                continue;
            }
            let Role::Consumer(c) = &mut ct.role else {
                continue;
            };
            let rtc = &mut ct.rtc;
            let srtp = &mut c.srtp;
            let rtx_budget = &mut c.rtx_budget;
            // The direct path needs the keys and the address str0m sends to.
            let direct_to = ct.send_to.filter(|_| srtp.is_some());
            let outbox = &mut self.outbox;
            let (mut via_rtc, mut direct) = (0u64, 0u64);
            let result = catch_unwind(AssertUnwindSafe(|| {
                for (i, p) in group.iter().enumerate() {
                    let Some((is_video, params)) = media[i] else {
                        continue;
                    };
                    let track = if is_video { &mut c.video } else { &mut c.audio };
                    let keyframe_start = keyframe_starts & (1 << i) != 0;
                    let out = match prepare(rtc, track, &p.packet, params, is_video, keyframe_start)
                    {
                        Ok(out) => out,
                        Err(Skip::AwaitingKeyframe) => {
                            keyframe_needed |= 1 << i;
                            continue;
                        }
                        Err(_) => continue,
                    };
                    // Once a packet of this pass went through str0m, the rest follow it
                    // there: str0m's packets leave at the end of the pass, and the order
                    // must hold.
                    let due_via_rtc = via_rtc > 0
                        || track
                            .last_via_rtc
                            .is_none_or(|t| now.saturating_duration_since(t) >= VIA_RTC_INTERVAL);
                    if let (Some(to), Some(srtp), false) = (direct_to, srtp.as_mut(), due_via_rtc)
                        && let Some(d) = direct_track(rtc, track)
                    {
                        let mut buf = outbox.buffer();
                        send_direct(srtp, d, &mut buf, &out, &p.packet)?;
                        track.sent_bytes += buf.len() as u64;
                        track.sent_packets += 1;
                        outbox.push(to, buf);
                        direct += 1;
                        if is_video {
                            *rtx_budget = (*rtx_budget + crate::RTX_BUDGET_PER_PACKET)
                                .min(crate::RTX_BUDGET_BURST);
                        }
                    } else {
                        // On the direct path str0m keeps no retransmission copy: the
                        // worker answers NACKs for the whole track from the producer's
                        // history.
                        let nackable = is_video && direct_to.is_none();
                        if write_via_rtc(rtc, track, &out, &p.packet, nackable) {
                            track.last_via_rtc = Some(now);
                            // Header and payload, as the direct path counts its datagram
                            // (less SRTP's tag): close enough for a bitrate.
                            track.sent_bytes += (12 + p.packet.payload.len()) as u64;
                            track.sent_packets += 1;
                            via_rtc += 1;
                        }
                    }
                }
                if via_rtc > 0 {
                    // str0m queues written packets and sends them on its next timeout: hand
                    // it that timeout now, so they leave in this pass instead of a later
                    // timer wake-up (a second drain per consumer).
                    rtc.handle_input(Input::Timeout(now))
                        .map_err(|e| e.to_string())?;
                }
                Ok::<_, String>(())
            }));
            match result {
                Ok(Ok(())) => {
                    self.stats.rtp_forwarded += via_rtc + direct;
                    self.stats.rtp_forwarded_direct += direct;
                    if via_rtc + direct > 0 {
                        self.stats.forward_passes += 1;
                    }
                    if via_rtc > 0 {
                        self.drain(ckey);
                    }
                }
                Ok(Err(e)) => self.fail(ckey, &e),
                Err(_) => self.fail(ckey, "panic in forwarding"),
            }
            if self.outbox.len() >= outbox::BATCH {
                self.flush_outbox();
            }
        }
        if !consumers.is_empty() {
            // Each packet's arrival to the end of its fan-out: one clock read per pass.
            let done = Instant::now();
            for (i, p) in group.iter().enumerate() {
                if media[i].is_some() {
                    self.forward_latency
                        .observe(done.saturating_duration_since(p.packet.timestamp));
                }
            }
        }
        if let Some(Transport {
            role: Role::Producer(p),
            ..
        }) = self.transports.get_mut(pkey)
        {
            // Consumers added meanwhile cannot exist (no command runs in here); consumers
            // closed meanwhile are queued in `closing` and unlinked when removed.
            p.consumers = consumers;
        }
        // In arrival order, as if forwarded one by one: a packet a waiting consumer could
        // not start on asks for a keyframe; a keyframe that started every waiting consumer
        // makes a throttled request moot.
        for i in 0..group.len() {
            if keyframe_needed & (1 << i) != 0 {
                self.want_keyframe(pkey);
            } else if keyframe_starts & (1 << i) != 0 {
                if let Some(Transport {
                    role: Role::Producer(p),
                    ..
                }) = self.transports.get_mut(pkey)
                {
                    p.keyframe_pending = false;
                }
                self.keyframe_wanted.retain(|&k| k != pkey);
            }
        }
    }

    /// Hands a producer's RTCP sender report to its taps, after the packets that arrived
    /// before it.
    fn tap_sender_report(&mut self, pkey: usize, report: SenderFeedback) {
        self.forward_pending();
        let Some(Transport {
            role: Role::Producer(p),
            ..
        }) = self.transports.get_mut(pkey)
        else {
            return;
        };
        let Some(&(_, kind)) = p.mids.iter().find(|(mid, _)| *mid == report.mid) else {
            return;
        };
        let info = report.sender_info;
        let d = p.taps.sender_report(
            kind,
            *info.ssrc,
            unix_micros(info.ntp_time),
            // str0m extends the report's RTP time; the wire value is its low 32 bits.
            info.rtp_time.numer() as u32,
        );
        self.stats.tap_dropped += d.dropped;
    }

    /// Answers a consumer's NACK on the direct path: each lost packet still in the
    /// producer's history is resent on the track's retransmission stream (RFC 4588),
    /// as far as the consumer's retransmission budget goes.
    /// Transports on str0m's path answer NACKs themselves (str0m keeps their copies).
    fn retransmit(&mut self, ckey: usize, nack: &Nack) {
        let Some(pkey) = (match self.transports.get(ckey) {
            Some(Transport {
                role: Role::Consumer(c),
                ..
            }) => Some(c.producer),
            _ => None,
        }) else {
            return;
        };
        let Some((ct, pt)) = self.transports.get2_mut(ckey, pkey) else {
            return;
        };
        let (Some(to), Role::Consumer(c), Role::Producer(p)) = (ct.send_to, &mut ct.role, &pt.role)
        else {
            return;
        };
        let (Some(srtp), Some(d)) = (c.srtp.as_mut(), c.video.direct.as_mut()) else {
            return;
        };
        let (Some(rtx_ssrc), Some((in_pt, _, Some(rtx_pt)))) = (d.rtx_ssrc, c.video.pt_map) else {
            return;
        };
        if *nack.ssrc != d.ssrc {
            return;
        }
        let Some(last) = c.video.seq.last_out() else {
            return;
        };
        for entry in nack.reports.iter() {
            let lost = std::iter::once(entry.pid).chain(
                (0..16u16)
                    .filter(|b| entry.blp & (1 << b) != 0)
                    .map(|b| entry.pid.wrapping_add(b + 1)),
            );
            for seq16 in lost {
                let out_seq = extend_seq(last, seq16);
                let Some(input) = c.video.seq.input_for(out_seq) else {
                    continue;
                };
                let Some(packet) = p.history.iter().rev().find(|h| *h.seq_no == input) else {
                    continue;
                };
                if packet.header.payload_type != in_pt {
                    continue; // sent with another codec than the track's current one
                }
                if c.rtx_budget < 1.0 {
                    self.stats.retransmissions_refused += 1;
                    continue;
                }
                c.rtx_budget -= 1.0;
                let mut buf = self.outbox.buffer();
                let index = d.rtx_seq;
                d.rtx_seq += 1;
                write_header(&mut buf, d, rtx_ssrc, rtx_pt, index as u16, &packet.header);
                // The payload is the original sequence number, then the original payload.
                let payload = &mut self.rtx_payload;
                payload.clear();
                payload.extend_from_slice(&(out_seq as u16).to_be_bytes());
                payload.extend_from_slice(&packet.payload);
                if srtp.protect(&mut buf, payload, rtx_ssrc, index).is_ok() {
                    self.outbox.push(to, buf);
                    self.stats.retransmissions += 1;
                }
            }
        }
    }

    fn resolve(&mut self, pkey: usize, ssrc: Ssrc, pt: Pt) -> Option<(MediaKind, PayloadParams)> {
        let t = &mut self.transports[pkey];
        let Role::Producer(p) = &mut t.role else {
            return None;
        };
        let kind = match p.ssrcs.iter().find(|(s, _)| *s == ssrc) {
            Some(&(_, kind)) => kind,
            None => {
                let mid = t.rtc.direct_api().stream_rx(&ssrc).map(|s| s.mid())?;
                let kind = p.mids.iter().find(|(m, _)| *m == mid)?.1;
                p.ssrcs.push((ssrc, kind));
                kind
            }
        };
        let params = *t.rtc.codec_config().iter().find(|c| c.pt() == pt)?;
        Some((kind, params))
    }

    fn want_keyframe(&mut self, producer: usize) {
        if !self.keyframe_wanted.contains(&producer) {
            self.keyframe_wanted.push(producer);
        }
    }

    /// Sends the keyframe requests that are due; throttled ones stay pending and are
    /// retried as the producer's packets arrive.
    fn flush_keyframe_requests(&mut self) {
        let now = Instant::now();
        while let Some(pkey) = self.keyframe_wanted.pop() {
            let Some(t) = self.transports.get_mut(pkey) else {
                continue;
            };
            let Role::Producer(p) = &mut t.role else {
                continue;
            };
            let throttled = p
                .last_keyframe_request
                .is_some_and(|last| now.duration_since(last) < KEYFRAME_INTERVAL);
            let Some(ssrc) = p.video_ssrc.filter(|_| !throttled) else {
                p.keyframe_pending = true;
                continue;
            };
            p.keyframe_pending = false;
            p.last_keyframe_request = Some(now);
            self.stats.keyframe_requests += 1;
            let rtc = &mut t.rtc;
            let sent = catch_unwind(AssertUnwindSafe(|| {
                if let Some(rx) = rtc.direct_api().stream_rx(&ssrc) {
                    rx.request_keyframe(KeyframeRequestKind::Pli);
                }
            }));
            match sent {
                Ok(()) => self.drain(pkey),
                Err(_) => self.fail(pkey, "panic in request_keyframe"),
            }
        }
        self.flush_closing();
    }
}

/// Offers one producer's group of packets to its taps, in arrival order. Returns the
/// packets a tap waited on a keyframe for (as bits, like the consumers').
fn tap_group(
    taps: &mut TapSet,
    group: &[Pending],
    media: &[Option<(bool, PayloadParams)>],
    keyframe_starts: u64,
    clock: &WallClock,
    stats: &mut RouterStats,
) -> u64 {
    let mut needed = 0u64;
    for (i, p) in group.iter().enumerate() {
        let Some((is_video, params)) = media[i] else {
            continue;
        };
        let Some(codec) = TapCodec::from_codec(params.spec().codec) else {
            continue;
        };
        let header = &p.packet.header;
        let packet = TapPacket {
            kind: if is_video {
                MediaKind::Video
            } else {
                MediaKind::Audio
            },
            codec,
            ssrc: *header.ssrc,
            seq: header.sequence_number,
            timestamp: header.timestamp,
            marker: header.marker,
            payload: p.packet.payload.clone(),
            arrival_unix_micros: clock.unix_micros(p.packet.timestamp),
        };
        let d = taps.deliver(packet, keyframe_starts & (1 << i) != 0);
        stats.tap_packets += d.queued;
        stats.tap_dropped += d.dropped;
        if d.awaiting_keyframe {
            needed |= 1 << i;
        }
        if taps.is_empty() {
            break; // every reader is gone
        }
    }
    needed
}

/// Why a producer packet is not sent on a consumer track.
enum Skip {
    /// The track waits for a keyframe and this packet does not start one.
    AwaitingKeyframe,
    /// The track is off or not negotiated, the codec is not the consumer's, or the
    /// packet precedes the track's start.
    NotForTrack,
}

/// A producer packet as one consumer track sends it.
struct Prepared {
    seq: u64,
    pt: Pt,
}

/// Decides whether a producer packet goes to a consumer track and how it is numbered
/// there (sequence number, payload type).
fn prepare(
    rtc: &Rtc,
    track: &mut Track,
    packet: &RtpPacket,
    params: PayloadParams,
    is_video: bool,
    keyframe_start: bool,
) -> Result<Prepared, Skip> {
    if track.mid.is_none() || !track.wanted {
        return Err(Skip::NotForTrack);
    }
    let pt = match track.pt_map {
        Some((i, o, _)) if i == packet.header.payload_type => o,
        _ => match rtc.codec_config().match_params(params) {
            Some(p) => {
                track.pt_map = Some((packet.header.payload_type, p.pt(), p.resend()));
                p.pt()
            }
            None => return Err(Skip::NotForTrack), // the consumer did not negotiate this codec
        },
    };
    let input_seq: u64 = *packet.seq_no;
    if !track.seq.started() {
        if is_video && !keyframe_start {
            return Err(Skip::AwaitingKeyframe);
        }
        track.seq.start(input_seq, track.first_out);
    }
    let seq = track.seq.map(input_seq).ok_or(Skip::NotForTrack)?;
    Ok(Prepared { seq, pt })
}

/// The header extensions forwarded: only what describes the media, never the publisher's
/// mid/rid or transport ids.
fn media_extensions(packet: &RtpPacket) -> ExtensionValues {
    ExtensionValues {
        audio_level: packet.header.ext_vals.audio_level,
        voice_activity: packet.header.ext_vals.voice_activity,
        video_orientation: packet.header.ext_vals.video_orientation,
        ..Default::default()
    }
}

/// Writes a prepared packet to the consumer's str0m send stream; it leaves on the
/// transport's next timeout. Whether it was written.
fn write_via_rtc(
    rtc: &mut Rtc,
    track: &mut Track,
    out: &Prepared,
    packet: &RtpPacket,
    nackable: bool,
) -> bool {
    let Some(mid) = track.mid else {
        return false;
    };
    let write = RtpWrite::new(
        out.pt,
        SeqNo::from(out.seq),
        packet.header.timestamp,
        packet.timestamp,
        packet.payload.clone(),
    )
    .marker(packet.header.marker)
    .ext_vals(media_extensions(packet))
    .nackable(nackable);
    with_send_stream(rtc, track, mid, |tx| tx.write_rtp(write)).is_some()
}

/// Runs `f` on the consumer track's str0m send stream: found by mid (a scan) the first
/// time and configured, by SSRC (a hash lookup) after. `None` if it does not exist.
fn with_send_stream<R>(
    rtc: &mut Rtc,
    track: &mut Track,
    mid: Mid,
    f: impl FnOnce(&mut StreamTx) -> R,
) -> Option<R> {
    let mut api = rtc.direct_api();
    let tx = match track.tx_ssrc {
        Some(ssrc) => api.stream_tx(&ssrc)?,
        None => {
            let tx = api.stream_tx_by_mid(mid, None)?;
            crate::configure_send_stream(tx);
            track.tx_ssrc = Some(tx.ssrc());
            tx
        }
    };
    Some(f(tx))
}

/// The track's send stream and negotiated header extensions, looked up once.
fn direct_track<'a>(rtc: &mut Rtc, track: &'a mut Track) -> Option<&'a mut DirectTrack> {
    if track.direct.is_none() {
        let mid = track.mid?;
        let (ssrc, rtx_ssrc) =
            with_send_stream(rtc, track, mid, |tx| (*tx.ssrc(), tx.rtx().map(|s| *s)))?;
        let exts = rtc.media(mid)?.remote_extmap();
        // One-byte header form: IDs 1–14.
        let id = |e: Extension| exts.id_of(e).filter(|id| (1..=14).contains(id));
        track.direct = Some(DirectTrack {
            ssrc,
            rtx_ssrc,
            rtx_seq: rand::rng().random_range(1..0x7fff),
            mid,
            mid_id: id(Extension::RtpMid),
            audio_level_id: id(Extension::AudioLevel),
            orientation_id: id(Extension::VideoOrientation),
        });
    }
    track.direct.as_mut()
}

/// Writes an RTP header (RFC 3550) with one-byte header extensions (RFC 8285).
fn write_header(
    buf: &mut Vec<u8>,
    d: &DirectTrack,
    ssrc: u32,
    pt: Pt,
    seq: u16,
    header: &RtpHeader,
) {
    let ev = &header.ext_vals;
    buf.extend_from_slice(&[0x90, (u8::from(header.marker) << 7) | *pt]);
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&header.timestamp.to_be_bytes());
    buf.extend_from_slice(&ssrc.to_be_bytes());
    let ext_start = buf.len();
    buf.extend_from_slice(&[0xbe, 0xde, 0, 0]);
    if let Some(id) = d.mid_id {
        let mid = d.mid.as_bytes();
        if (1..=16).contains(&mid.len()) {
            buf.push((id << 4) | (mid.len() as u8 - 1));
            buf.extend_from_slice(mid);
        }
    }
    if let (Some(id), Some(level), Some(vad)) =
        (d.audio_level_id, ev.audio_level, ev.voice_activity)
    {
        buf.extend_from_slice(&[
            id << 4,
            (u8::from(vad) << 7) | (level.unsigned_abs() & 0x7f),
        ]);
    }
    if let (Some(id), Some(o)) = (d.orientation_id, ev.video_orientation) {
        buf.extend_from_slice(&[id << 4, o as u8]);
    }
    while (buf.len() - ext_start) % 4 != 0 {
        buf.push(0);
    }
    let words = ((buf.len() - ext_start - 4) / 4) as u16;
    if words == 0 {
        // No extension: drop the empty block and the X bit.
        buf.truncate(ext_start);
        buf[0] = 0x80;
    } else {
        buf[ext_start + 2..ext_start + 4].copy_from_slice(&words.to_be_bytes());
    }
}

/// Builds and protects a forwarded packet for the direct path, into `buf`.
fn send_direct(
    srtp: &mut SrtpSender,
    d: &DirectTrack,
    buf: &mut Vec<u8>,
    out: &Prepared,
    packet: &RtpPacket,
) -> Result<(), String> {
    write_header(buf, d, d.ssrc, out.pt, out.seq as u16, &packet.header);
    srtp.protect(buf, &packet.payload, d.ssrc, out.seq)
        .map_err(|e| format!("SRTP: {e}"))
}

/// The extended sequence number nearest `last` whose low 16 bits are `seq`.
fn extend_seq(last: u64, seq: u16) -> u64 {
    let candidate = (last & !0xffff) | u64::from(seq);
    if candidate > last + 0x8000 && candidate >= 0x10000 {
        candidate - 0x10000
    } else if candidate + 0x8000 < last {
        candidate + 0x10000
    } else {
        candidate
    }
}

fn set_wanted(track: &mut Track, wanted: bool) {
    if track.wanted && !wanted {
        track.seq.pause();
    }
    track.wanted = wanted;
}

/// Whether an RTP payload is the first packet of a keyframe, for the codecs we route.
fn starts_keyframe(codec: Codec, payload: &[u8]) -> bool {
    match codec {
        Codec::Vp8 => str0m::format::detect_vp8_keyframe(payload),
        Codec::H264 => str0m::format::detect_h264_keyframe(payload),
        // Unknown video codecs: do not hold the consumer back.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nacked_number_extends_to_the_nearest_sent() {
        assert_eq!(extend_seq(100, 98), 98);
        assert_eq!(extend_seq(0x1_0005, 0xfffe), 0xfffe, "just before a wrap");
        assert_eq!(extend_seq(0xfffe, 3), 0x1_0003, "just after a wrap");
        assert_eq!(extend_seq(5, 0xfff0), 0xfff0, "no number below zero");
    }

    #[test]
    fn the_header_carries_mid_audio_level_and_nothing_else() {
        let d = DirectTrack {
            ssrc: 0x0102_0304,
            rtx_ssrc: None,
            rtx_seq: 1,
            mid: Mid::from("1"),
            mid_id: Some(4),
            audio_level_id: Some(1),
            orientation_id: None,
        };
        let mut header = RtpHeader {
            marker: true,
            timestamp: 0x0a0b_0c0d,
            ..Default::default()
        };
        header.ext_vals.audio_level = Some(-37);
        header.ext_vals.voice_activity = Some(true);
        let mut buf = Vec::new();
        write_header(&mut buf, &d, d.ssrc, Pt::from(111), 0x1234, &header);
        let fixed = [
            0x90,
            0x80 | 111,
            0x12,
            0x34,
            0x0a,
            0x0b,
            0x0c,
            0x0d,
            1,
            2,
            3,
            4,
        ];
        assert_eq!(&buf[..12], &fixed);
        // One-byte extensions, one word: mid "1", then voice activity and 37 dBov.
        assert_eq!(&buf[12..], &[0xbe, 0xde, 0, 1, 0x40, b'1', 0x10, 0x80 | 37]);
        // Without extensions to write, no extension block and no X bit.
        let bare = DirectTrack {
            mid_id: None,
            audio_level_id: None,
            ..d
        };
        let mut buf = Vec::new();
        write_header(
            &mut buf,
            &bare,
            bare.ssrc,
            Pt::from(96),
            1,
            &RtpHeader::default(),
        );
        assert_eq!(buf.len(), 12);
        assert_eq!(buf[0], 0x80);
    }
}
