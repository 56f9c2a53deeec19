//! The worker: one thread, one UDP socket (and, when configured, the ICE-TCP listener and
//! its connections: `worker/tcp.rs`), every transport on them.
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
use str0m::net::{Protocol, Receive, TcpType};
use str0m::rtp::rtcp::{Nack, Rtcp, Twcc};
use str0m::rtp::{
    Extension, ExtensionValues, RawPacket, RtpHeader, RtpPacket, RtpWrite, SeqNo, Ssrc, StreamTx,
};
use str0m::{Candidate, Event, IceConnectionState, IceCreds, Input, Output, Rtc, RtcConfig};
use tokio::sync::mpsc::UnboundedSender;

mod commands;
mod direct;
mod downlink;
use downlink::Downlink;
mod forwarding;
mod layers;
use layers::{ConsumerLayer, ProducerLayers};
mod tcp;

use crate::audio_level::AudioMeter;
use crate::dtls_keys::{self, KeySlot};
use crate::forward::SeqRewriter;
use crate::outbox::{self, Outbox};
use crate::quality::{self, Direction, Meter};
use crate::simulcast::MAX_LAYERS;
use crate::srtp::{SrtcpReceiver, SrtpSender};
use crate::tap::{TapCodec, TapPacket, TapSet, WallClock, unix_micros};
use crate::{
    CloseReason, Command, ConsumerMedia, RouterConfig, RouterError, RouterEvent, RouterStats,
    TransportId, TransportKind, stun,
};

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);
/// The ICE-TCP listener; its connections are `tcp::CONN_BASE` and up.
const TCP_LISTENER: Token = Token(2);
/// A transport must connect (ICE + DTLS) within this time of its creation.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
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
    /// The ICE-TCP candidate's address, when TCP is on.
    pub advertised_tcp: Option<SocketAddr>,
}

pub(crate) struct Worker {
    poll: Poll,
    socket: UdpSocket,
    /// ICE over TCP, when configured (boxed: off the hot fields' cache lines).
    tcp: Option<Box<tcp::TcpSide>>,
    commands: Receiver<Command>,
    events: UnboundedSender<RouterEvent>,
    advertised: SocketAddr,
    producer_config: RtcConfig,
    /// The same, answering H.264 first (for offers that prefer it).
    producer_config_h264: RtcConfig,
    consumer_config: RtcConfig,
    transports: Slab<Transport>,
    by_id: HashMap<TransportId, usize>,
    by_addr: HashMap<SocketAddr, usize>,
    by_ufrag: HashMap<String, usize>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Keyframes to ask producers for: (producer, layer).
    keyframe_wanted: Vec<(usize, u8)>,
    /// Consumers whose downlink probe is padding their flow (`worker/downlink.rs`).
    probing: Vec<usize>,
    /// Producers whose layers or consumers' layer caps changed: their consumers' layers and
    /// the layers their publishers must send are worked out again (`worker/layers.rs`).
    layers_dirty: Vec<usize>,
    closing: Vec<(usize, CloseReason)>,
    /// Producer packets read in this pass, not forwarded yet.
    pending: Vec<Pending>,
    buf: Vec<u8>,
    /// Scratch for a retransmission's plaintext payload (original sequence number first).
    rtx_payload: Vec<u8>,
    /// Scratch for a simulcast VP8 payload whose descriptor a consumer rewrites.
    vp8_payload: Vec<u8>,
    outbox: Outbox,
    stats: RouterStats,
    /// Kept apart from `stats`, boxed, so the worker's hot fields keep the layout they had
    /// without it: inline in `RouterStats` (96 bytes more), the forwarding figure measured
    /// ~4 % lower in 5 of 6 runs; boxed, it is within noise (BENCHMARKS.md).
    forward_latency: Box<crate::LatencyHistogram>,
    next_housekeeping: Instant,
    /// A transport whose ICE stays disconnected this long is closed.
    disconnect_grace: Duration,
    /// How often producers' audio levels are reported (`None`: not read at all).
    audio_level_interval: Option<Duration>,
    next_audio_levels: Instant,
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
    /// Each incoming stream: its kind and, for video, its simulcast layer (0 without).
    ssrcs: Vec<(Ssrc, MediaKind, u8)>,
    /// Its video's layers (one without simulcast).
    layers: ProducerLayers,
    audio_enabled: bool,
    /// Per layer: the last keyframe request; a bit per layer still to ask (throttled).
    last_keyframe_request: [Option<Instant>; MAX_LAYERS],
    keyframe_pending: u8,
    /// Recent video packets, oldest first, shared by all consumers' retransmissions.
    history: VecDeque<RtpPacket>,
    /// Readers of this producer's media off the forwarding path (recorders).
    taps: TapSet,
    /// Its audio levels, window by window.
    audio_meter: AudioMeter,
    /// Its simulcast layers' quality reports, summed per round.
    ingress_layers: quality::LayerSum,
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
    /// Which of the producer's video layers this consumer gets.
    layer: ConsumerLayer,
    /// Where the DTLS handshake leaves the keying material.
    keys: Arc<KeySlot>,
    /// Set on connecting with an AEAD SRTP profile: forwarded media is then sent by the
    /// worker itself ([`send_direct`]); `None` leaves it all to str0m.
    srtp: Option<SrtpSender>,
    /// Retransmissions this consumer may still ask for: earned by the video it is sent
    /// ([`crate::RTX_BUDGET_PER_PACKET`] a packet, up to [`crate::RTX_BUDGET_BURST`]),
    /// spent one per retransmission. A NACK flood cannot make the router send more.
    rtx_budget: f32,
    /// Its downlink estimate, when its client sends transport-wide congestion control
    /// feedback (boxed: most of it is cold).
    downlink: Option<Box<Downlink>>,
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
    /// The transport-wide sequence number extension's ID negotiated for this track.
    twcc_id: Option<u8>,
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
    /// Transport-wide sequence number (the consumer has a [`Downlink`]).
    twcc_id: Option<u8>,
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
            twcc_id: None,
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
        let tcp = match config.tcp_port {
            Some(port) => {
                let bind = SocketAddr::new(config.bind.ip(), port);
                Some(Box::new(tcp::TcpSide::bind(bind, ip, &poll)?))
            }
            None => None,
        };
        let advertised_tcp = tcp.as_ref().map(|t| t.advertised);
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
            .set_dtls_cert(cert.clone());
        let producer_config_h264 =
            crate::transport_config_preferring(TransportKind::Producer, true)
                .set_stats_interval(config.quality_interval)
                .set_dtls_cert(cert);
        tracing::info!(%local_addr, %advertised, ?advertised_tcp, "media router bound");
        Ok(Started {
            worker: Worker {
                poll,
                socket,
                tcp,
                commands,
                events,
                advertised,
                producer_config,
                producer_config_h264,
                consumer_config,
                transports: Slab::new(),
                by_id: HashMap::new(),
                by_addr: HashMap::new(),
                by_ufrag: HashMap::new(),
                timers: BinaryHeap::new(),
                keyframe_wanted: Vec::new(),
                layers_dirty: Vec::new(),
                probing: Vec::new(),
                closing: Vec::new(),
                pending: Vec::with_capacity(MAX_PENDING),
                buf: vec![0; 2048],
                rtx_payload: Vec::with_capacity(2048),
                vp8_payload: Vec::with_capacity(2048),
                outbox: Outbox::default(),
                stats: RouterStats::default(),
                forward_latency: Box::default(),
                next_housekeeping: Instant::now() + MAX_SLEEP,
                audio_level_interval: config.audio_level_interval,
                disconnect_grace: config.disconnect_grace,
                next_audio_levels: Instant::now(),
                clock: WallClock::now(),
            },
            waker,
            local_addr,
            advertised,
            advertised_tcp,
        })
    }

    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(16);
        loop {
            let now = Instant::now();
            let mut next = self
                .timers
                .peek()
                .map_or(self.next_housekeeping, |Reverse((t, _))| *t)
                .min(self.next_housekeeping);
            if self.audio_level_interval.is_some() {
                next = next.min(self.next_audio_levels);
            }
            if !self.probing.is_empty() {
                next = next.min(now + downlink::PADDING_TICK);
            }
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
            if self.tcp.is_some() {
                for event in events.iter() {
                    match event.token() {
                        TCP_LISTENER => self.tcp_accept(),
                        Token(t) if t >= tcp::CONN_BASE => self.tcp_ready(
                            t - tcp::CONN_BASE,
                            event.is_readable() || event.is_read_closed(),
                            event.is_writable(),
                        ),
                        _ => {}
                    }
                }
            }
            self.read_socket();
            self.run_timers();
            if !self.probing.is_empty() {
                self.send_padding();
            }
            self.flush_layer_changes();
            self.flush_keyframe_requests();
            // Whatever a drain above queued outside reading and timers (normally nothing).
            self.forward_pending();
            if Instant::now() >= self.next_housekeeping {
                self.housekeeping();
            }
            if let Some(interval) = self.audio_level_interval
                && Instant::now() >= self.next_audio_levels
            {
                self.report_audio_levels(interval);
            }
            self.flush_closing();
            self.flush_outbox();
        }
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
        // A subscriber's congestion control feedback is most of what subscribers send:
        // read here, without str0m (`worker/downlink.rs`).
        if !learn
            && downlink::is_lone_transport_feedback(data)
            && self.read_transport_feedback(key, data)
        {
            return;
        }
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
        self.receive(key, input);
    }

    /// Feeds a datagram (from UDP or a TCP frame) to transport `key`, then drains it.
    fn receive(&mut self, key: usize, input: Input) {
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
        if self.tcp.is_some() {
            self.tcp_flush();
        }
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
                    .is_some_and(|s| now.duration_since(s) > self.disconnect_grace)
            {
                self.closing.push((key, CloseReason::Disconnected));
            }
        }
        self.tcp_housekeeping(now);
        // Layers that stopped (or started) sending; the bitrates of each.
        for (key, t) in &mut self.transports {
            if let Role::Producer(p) = &mut t.role {
                p.layers.meter(now);
                if p.layers.sending(now) != p.layers.available && !self.layers_dirty.contains(&key)
                {
                    self.layers_dirty.push(key);
                }
            }
        }
    }

    /// Ends each producer's audio level window that is due and reports it.
    fn report_audio_levels(&mut self, interval: Duration) {
        let now = Instant::now();
        self.next_audio_levels = now + interval;
        for (_, t) in &mut self.transports {
            if let Role::Producer(p) = &mut t.role
                && let Some(sample) = p.audio_meter.tick(now, interval)
            {
                let _ = self.events.send(RouterEvent::AudioLevel {
                    id: t.id.clone(),
                    sample,
                });
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
                    // The direct send path is for UDP: a transport nominated over TCP
                    // sends through str0m (and its frames go out on the connection).
                    if !stun::is_stun(&tx.contents) {
                        t.send_to = (tx.proto == Protocol::Udp).then_some(tx.destination);
                    }
                    match tx.proto {
                        Protocol::Udp => self.transmit(tx.destination, tx.contents.into()),
                        _ => self.tcp_transmit(tx.destination, &tx.contents),
                    }
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
                        let provider = dtls_keys::provider().srtp_provider;
                        let (material, profile, active) =
                            (&keys.material, keys.profile, keys.active);
                        c.srtp = SrtpSender::new(provider, material, profile, active);
                        if let Some(dl) = c.downlink.as_deref_mut() {
                            dl.srtcp = SrtcpReceiver::new(provider, material, profile, active);
                        }
                    }
                    tracing::debug!(id = %t.id, direct = c.srtp.is_some(), "consumer send path");
                    if c.video.wanted {
                        let (p, layer) = (c.producer, c.layer.target);
                        self.want_keyframe(p, layer);
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
            Event::RawPacket(raw) => match *raw {
                RawPacket::RtcpRx(Rtcp::Nack(nack)) => self.retransmit(key, &nack),
                RawPacket::RtcpRx(Rtcp::Twcc(twcc)) => {
                    self.stats.transport_feedback += 1;
                    self.on_transport_feedback(key, twcc)
                }
                _ => {}
            },
            Event::SenderFeedback(report) => {
                if let Role::Producer(p) = &t.role
                    && !p.taps.is_empty()
                {
                    self.tap_sender_report(key, report);
                }
            }
            Event::KeyframeRequest(_) => {
                if let Role::Consumer(c) = &t.role {
                    let (p, layer) = (c.producer, c.layer.current.unwrap_or(c.layer.target));
                    self.want_keyframe(p, layer);
                }
            }
            Event::MediaIngressStats(s) => {
                let Role::Producer(p) = &mut t.role else {
                    return;
                };
                let Some(&(_, kind)) = p.mids.iter().find(|(mid, _)| *mid == s.mid) else {
                    return;
                };
                let (mut counters, mut report) = quality::ingress(&s);
                // Simulcast video: one report per layer, summed into one window.
                if let (Some(rid), MediaKind::Video, true) = (s.rid, kind, p.layers.count > 1) {
                    let layer = match t.rtc.media(s.mid).map(|m| m.rids_rx()) {
                        Some(str0m::media::Rids::Specific(rids)) => {
                            rids.iter().position(|r| *r == rid).unwrap_or(0)
                        }
                        _ => 0,
                    };
                    let count = usize::from(p.layers.count);
                    match p.ingress_layers.add(layer, count, counters, report) {
                        Some(sum) => (counters, report) = sum,
                        None => return,
                    }
                }
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
}
