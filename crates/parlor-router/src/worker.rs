//! The worker: one thread, one UDP socket, every transport on it.
//!
//! The loop waits (mio) for a datagram, a command or the earliest transport deadline, then:
//! reads every pending datagram and feeds it to its transport; runs expired timers;
//! services deferred keyframe requests; and, once a second, closes transports that never
//! connected or lost their peer. After every input to a transport, its output is drained
//! completely (str0m's contract): datagrams are sent, events handled. A producer's RTP
//! events are queued while the socket has more to read, then forwarded grouped per
//! consumer — write them all, then drain the consumer once — so a packet goes from socket
//! to socket without leaving the thread.
//!
//! Isolation: every call into a transport's `Rtc` runs under `catch_unwind`; a transport
//! that panics or errors is dropped alone. Datagrams are routed only to the transport
//! whose ICE credentials they carry (STUN) or whose validated address they come from.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
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
use str0m::media::{KeyframeRequestKind, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, SeqNo, Ssrc};
use str0m::{Candidate, Event, IceConnectionState, IceCreds, Input, Output, Rtc, RtcConfig};
use tokio::sync::mpsc::UnboundedSender;

use crate::forward::SeqRewriter;
use crate::outbox::{self, Outbox};
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
    outbox: Outbox,
    stats: RouterStats,
    next_housekeeping: Instant,
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
    role: Role,
}

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
}

struct Consumer {
    producer: usize,
    audio: Track,
    video: Track,
}

/// One kind of media on a consumer.
struct Track {
    wanted: bool,
    mid: Option<Mid>,
    /// The SSRC of the consumer's send stream for `mid`, once looked up: str0m finds a
    /// stream by SSRC with a hash lookup, by mid only by scanning its streams.
    tx_ssrc: Option<Ssrc>,
    /// Producer payload type → consumer payload type, for the last one seen.
    pt_map: Option<(Pt, Pt)>,
    seq: SeqRewriter,
    first_out: u64,
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
        let consumer_config =
            crate::transport_config(TransportKind::Consumer).set_dtls_cert(cert.clone());
        let producer_config = crate::transport_config(TransportKind::Producer).set_dtls_cert(cert);
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
                outbox: Outbox::default(),
                stats: RouterStats::default(),
                next_housekeeping: Instant::now() + MAX_SLEEP,
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
                stats.transports = self.transports.len();
                stats.producers = self
                    .transports
                    .iter()
                    .filter(|(_, t)| matches!(t.role, Role::Producer(_)))
                    .count();
                stats.consumers = stats.transports - stats.producers;
                stats.routes = self.by_addr.len() + self.by_ufrag.len() + self.by_id.len();
                let _ = reply.send(stats);
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
        let offer =
            SdpOffer::from_sdp_string(&offer).map_err(|e| RouterError::Sdp(e.to_string()))?;
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
            let mut rtc = config.build(now);
            let candidate = Candidate::host(advertised, "udp").map_err(|e| e.to_string())?;
            rtc.add_local_candidate(candidate);
            let answer = rtc
                .sdp_api()
                .accept_offer(offer)
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((rtc, answer.to_sdp_string()))
        }));
        let (rtc, answer) = match built {
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
            }),
            Some((producer, media)) => Role::Consumer(Consumer {
                producer,
                audio: Track::new(media.audio),
                video: Track::new(media.video),
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
            role,
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
                Ok(Ok(Output::Transmit(tx))) => self.transmit(tx.destination, tx.contents.into()),
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
                if let Role::Consumer(c) = &t.role
                    && c.video.wanted
                {
                    let p = c.producer;
                    self.want_keyframe(p);
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
            Event::KeyframeRequest(_) => {
                if let Role::Consumer(c) = &t.role {
                    let p = c.producer;
                    self.want_keyframe(p);
                }
            }
            Event::Closed => self.closing.push((key, CloseReason::Disconnected)),
            _ => {}
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
        pending.clear();
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
        let consumers = std::mem::take(&mut producer.consumers);
        let now = Instant::now();
        // Packets that found a consumer still waiting for a keyframe.
        let mut keyframe_needed = 0u64;
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
            let mut written = 0u64;
            let result = catch_unwind(AssertUnwindSafe(|| {
                for (i, p) in group.iter().enumerate() {
                    let Some((is_video, params)) = media[i] else {
                        continue;
                    };
                    let track = if is_video { &mut c.video } else { &mut c.audio };
                    match write_packet(
                        rtc,
                        track,
                        &p.packet,
                        params,
                        is_video,
                        keyframe_starts & (1 << i) != 0,
                    ) {
                        Written::Yes => written += 1,
                        Written::NeedsKeyframe => keyframe_needed |= 1 << i,
                        Written::No => {}
                    }
                }
                if written > 0 {
                    // str0m queues written packets and sends them on its next timeout: hand
                    // it that timeout now, so they leave in this pass instead of a later
                    // timer wake-up (a second drain per consumer).
                    rtc.handle_input(Input::Timeout(now))?;
                }
                Ok::<_, str0m::RtcError>(())
            }));
            match result {
                Ok(Ok(())) if written > 0 => {
                    self.stats.rtp_forwarded += written;
                    self.stats.forward_passes += 1;
                    self.drain(ckey);
                }
                Ok(Ok(())) => {}
                Ok(Err(e)) => self.fail(ckey, &e.to_string()),
                Err(_) => self.fail(ckey, "panic in write_rtp"),
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

/// What writing a producer packet to a consumer track did.
enum Written {
    Yes,
    /// Not written: the track waits for a keyframe and this packet does not start one.
    NeedsKeyframe,
    /// Not written: the track is off, not negotiated, or the packet is a duplicate.
    No,
}

/// Rewrites a producer packet for one consumer track (sequence number, payload type, the
/// header extensions that describe media) and writes it to the consumer's send stream.
/// It leaves on the transport's next timeout.
fn write_packet(
    rtc: &mut Rtc,
    track: &mut Track,
    packet: &RtpPacket,
    params: PayloadParams,
    is_video: bool,
    keyframe_start: bool,
) -> Written {
    let Some(mid) = track.mid.filter(|_| track.wanted) else {
        return Written::No;
    };
    let input_seq: u64 = *packet.seq_no;
    if !track.seq.started() {
        if is_video && !keyframe_start {
            return Written::NeedsKeyframe;
        }
        track.seq.start(input_seq, track.first_out);
    }
    let Some(out_seq) = track.seq.map(input_seq) else {
        return Written::No;
    };
    let out_pt = match track.pt_map {
        Some((i, o)) if i == packet.header.payload_type => o,
        _ => match rtc.codec_config().match_params(params) {
            Some(p) => {
                track.pt_map = Some((packet.header.payload_type, p.pt()));
                p.pt()
            }
            None => return Written::No, // the consumer did not negotiate this codec
        },
    };
    // Only what describes the media; never the publisher's mid/rid or transport ids.
    let ext = ExtensionValues {
        audio_level: packet.header.ext_vals.audio_level,
        voice_activity: packet.header.ext_vals.voice_activity,
        video_orientation: packet.header.ext_vals.video_orientation,
        ..Default::default()
    };
    let write = RtpWrite::new(
        out_pt,
        SeqNo::from(out_seq),
        packet.header.timestamp,
        packet.timestamp,
        packet.payload.clone(),
    )
    .marker(packet.header.marker)
    .ext_vals(ext)
    .nackable(is_video);
    let mut api = rtc.direct_api();
    let tx = match track.tx_ssrc {
        Some(ssrc) => api.stream_tx(&ssrc),
        None => {
            let mut tx = api.stream_tx_by_mid(mid, None);
            if let Some(tx) = &mut tx {
                crate::configure_send_stream(tx);
                track.tx_ssrc = Some(tx.ssrc());
            }
            tx
        }
    };
    match tx {
        Some(tx) => {
            tx.write_rtp(write);
            Written::Yes
        }
        None => Written::No,
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
