//! Parlor's media router: a selective forwarding unit on [str0m].
//!
//! Vocabulary (mediasoup's): a **worker** is a thread that owns a UDP socket and every
//! WebRTC **transport** (one `str0m::Rtc`, one browser `RTCPeerConnection`) on it. A
//! transport is either a **producer** (a client publishing one stream: audio and/or video)
//! or a **consumer** (a client subscribing to one producer). RTP packets received on a
//! producer are forwarded, as packets, to its consumers: each consumer rewrites payload
//! type and sequence numbers (see [`forward`]), and the packet is sent with the consumer's
//! own SSRC, protected with the consumer's SRTP keys — by the worker itself ([`srtp`], keys
//! from [`dtls_keys`]) when the consumer negotiated AES-GCM, by str0m otherwise.
//!
//! A producer's media can also be **tapped** ([`RouterHandle::tap`], [`tap`]): handed, as
//! the producer's own packets and sender reports, to a reader on another thread (a
//! recorder; later a broadcast) over a bounded queue the worker never waits on — in
//! mediasoup's terms, a consumer on a `DirectTransport`.
//!
//! The worker's code is in `worker.rs` (its loop, socket I/O, timers, str0m's output) and
//! `worker/`: `commands.rs` (creating and removing transports, the handle's requests),
//! `forwarding.rs` (a producer's packets to its consumers and taps, keyframe requests)
//! and `direct.rs` (the direct send path and its retransmissions).
//!
//! The worker is sans-lock: the signaling layer talks to it through [`RouterHandle`]
//! (a command channel plus a `mio` waker), and hears back through [`RouterEvent`]s. No
//! packet crosses a thread; a producer and all its consumers live on the same worker.
//!
//! [str0m]: https://docs.rs/str0m

pub mod audio_level;
pub mod bwe;
pub mod dtls_keys;
pub mod forward;
pub mod ice_tcp;
pub mod outbox;
pub mod quality;
mod sdp;
pub mod simulcast;
pub mod speakers;
pub mod srtp;
mod stun;
pub mod tap;
mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

pub use audio_level::AudioLevelSample;
pub use quality::{Direction, QualitySample};
pub use str0m::media::MediaKind;
pub use tap::{Tap, TapCodec, TapEvent, TapPacket};

/// Identifies a transport: the stream ID for a producer, the subscription ID for a consumer.
pub type TransportId = Arc<str>;

/// Where the worker listens and what it tells clients.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// The UDP address to bind.
    pub bind: SocketAddr,
    /// The address advertised in ICE candidates (the bind address, or the public IP with
    /// the bound port). Must not be unspecified.
    pub advertise_ip: Option<std::net::IpAddr>,
    /// How often each transport's media is sampled ([`RouterEvent::Quality`]); `None`:
    /// never.
    pub quality_interval: Option<Duration>,
    /// The TCP port of the ICE-TCP passive candidate (on the bind address's IP; 0: any
    /// free port); `None`: media over UDP only.
    pub tcp_port: Option<u16>,
    /// How often each producer's audio level is reported ([`RouterEvent::AudioLevel`], for
    /// speaker detection); `None`: levels are not read.
    pub audio_level_interval: Option<Duration>,
    /// How long a connected transport may go without hearing from its client (ICE
    /// disconnected) before it is closed: long enough to outlast the network failures a
    /// client resumes after ([`DEFAULT_DISCONNECT_GRACE`] when that is off).
    pub disconnect_grace: Duration,
}

/// The default [`RouterConfig::disconnect_grace`].
pub const DEFAULT_DISCONNECT_GRACE: Duration = Duration::from_secs(4);

/// A failure reported to the caller of a [`RouterHandle`] method.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    #[error("the SDP offer could not be used: {0}")]
    Sdp(String),
    #[error("no producer {0}")]
    UnknownProducer(String),
    #[error("no transport {0}")]
    UnknownTransport(String),
    #[error("a transport with ID {0} already exists")]
    Duplicate(String),
    #[error("the media router has stopped")]
    Stopped,
    #[error("cannot start the media router: {0}")]
    Start(String),
}

/// Why a transport ended without being asked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// ICE never connected within the connect timeout.
    ConnectTimeout,
    /// The peer stopped answering (ICE consent lost) or closed DTLS.
    Disconnected,
    /// The consumer's producer went away.
    ProducerClosed,
    /// The transport failed (a protocol error or a caught panic): it was isolated and dropped.
    Failed,
}

/// What the worker tells the signaling layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterEvent {
    /// ICE and DTLS are up: media can flow.
    Connected { id: TransportId },
    /// The transport is gone (and all its state with it).
    Closed {
        id: TransportId,
        reason: CloseReason,
    },
    /// A window of one kind of media on a transport (every
    /// [`RouterConfig::quality_interval`]).
    Quality(QualitySample),
    /// A window of a producer's audio levels (every
    /// [`RouterConfig::audio_level_interval`] while it sends audio, and once when it falls
    /// silent).
    AudioLevel {
        id: TransportId,
        sample: AudioLevelSample,
    },
    /// The simulcast layers a producer's publisher needs to send, a bit per layer (lowest
    /// first): up to the highest any consumer may take, the top one while a tap records it.
    /// Sent for producers with more than one layer, when it changes; the publisher may
    /// pause the others (dynacast).
    LayersNeeded { id: TransportId, layers: u8 },
    /// A consumer's estimated downlink no longer carries even its producer's lowest video
    /// layer, or carries it again: OpenTok's audio-only fallback, step by step (see
    /// [`VideoQualityState`]). Sent only for consumers whose client sends transport-wide
    /// congestion control feedback.
    VideoQuality {
        id: TransportId,
        state: VideoQualityState,
    },
}

/// A step of a consumer's audio-only fallback ([`RouterEvent::VideoQuality`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoQualityState {
    /// The lowest layer does not fit the downlink: video may soon be turned off.
    Warning,
    /// The warning is over before video was turned off.
    WarningLifted,
    /// Video is off for this consumer (audio goes on) until the downlink recovers.
    Disabled,
    /// Video is back, on the lowest layer.
    Enabled,
}

/// Which side of the router a transport is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Receives a client's media (a publisher).
    Producer,
    /// Sends a producer's media to a client (a subscription).
    Consumer,
}

/// How long a consumer keeps sent video for retransmission (NACK → RTX). A retransmission
/// older than this would miss any real-time playout. str0m's default is 3 s, three times
/// the memory per subscription (str0m keeps a 408-byte `RtpPacket` per packet).
pub const RTX_WINDOW: Duration = Duration::from_secs(1);
/// The most packets a consumer's retransmission buffer holds (16 Mbps at 1 s).
pub const RTX_MAX_PACKETS: usize = 2000;
/// What each video packet forwarded to a consumer adds to its retransmission budget: a
/// consumer is resent at most a quarter of the video it receives (plus the burst below),
/// however many NACKs it sends. Real loss needing more than 25 % repair is beyond what
/// retransmission can save anyway.
pub const RTX_BUDGET_PER_PACKET: f32 = 0.25;
/// The most retransmissions a consumer can have in hand (and what it starts with): a loss
/// burst of this many packets is repaired at once.
pub const RTX_BUDGET_BURST: f32 = 100.0;

/// The str0m configuration of a transport (before its DTLS certificate and ICE
/// credentials): ICE-lite, RTP mode (packets are forwarded, not reassembled), Opus, VP8 and
/// H.264. Public so benchmarks measure exactly what the worker runs.
///
/// str0m does not negotiate transport-wide congestion control on consumers: the worker
/// adds it to their answers itself and numbers the packets of its direct send path
/// ([`bwe`]), so str0m's own occasional packets carry no competing numbers. Producers keep
/// str0m's: publishers' own estimators live on the router's feedback.
pub fn transport_config(kind: TransportKind) -> str0m::RtcConfig {
    transport_config_preferring(kind, false)
}

/// [`transport_config`], with H.264 before VP8 when `h264_first`. str0m answers with its
/// own codec order, and a browser sends the first codec of the answer: a producer whose
/// offer puts H.264 first (the web SDK's `preferredVideoCodecs`) is answered H.264 first.
pub fn transport_config_preferring(kind: TransportKind, h264_first: bool) -> str0m::RtcConfig {
    let config = str0m::Rtc::builder()
        .set_ice_lite(true)
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(true, false);
    let config = if h264_first {
        config.enable_h264(true).enable_vp8(true)
    } else {
        config.enable_vp8(true).enable_h264(true)
    };
    match kind {
        TransportKind::Producer => config,
        TransportKind::Consumer => {
            let mut exts = str0m::rtp::ExtensionMap::empty();
            for (id, ext) in str0m::rtp::ExtensionMap::standard().iter() {
                if *ext != str0m::rtp::Extension::TransportSequenceNumber {
                    exts.set(id, ext.clone());
                }
            }
            config.set_extension_map(exts)
        }
    }
}

/// Sets up a consumer's send stream once it exists: the retransmission window above.
pub fn configure_send_stream(tx: &mut str0m::rtp::StreamTx) {
    tx.set_rtx_cache(RTX_MAX_PACKETS, RTX_WINDOW, None);
}

/// Counters of the worker, for tests, the Inspector and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouterStats {
    pub transports: usize,
    pub producers: usize,
    pub consumers: usize,
    /// Entries in the routing tables (by address, by ICE ufrag, by transport ID).
    pub routes: usize,
    pub datagrams_received: u64,
    pub datagrams_dropped: u64,
    pub rtp_received: u64,
    pub rtp_forwarded: u64,
    /// Passes over a consumer that wrote packets (one send timeout and drain each):
    /// `rtp_forwarded / forward_passes` is how many packets a pass carries on average.
    pub forward_passes: u64,
    /// Forwarded packets the worker built and protected itself (the direct send path)
    /// rather than through str0m; included in `rtp_forwarded`.
    pub rtp_forwarded_direct: u64,
    /// Packets resent on a retransmission stream in answer to a consumer's NACK (direct
    /// path; str0m's own retransmissions are not counted).
    pub retransmissions: u64,
    /// Retransmissions asked for but not sent: the consumer's budget was spent
    /// ([`RTX_BUDGET_PER_PACKET`]), e.g. a NACK flood.
    pub retransmissions_refused: u64,
    /// Transport-wide congestion control reports read from consumers ([`bwe`]), and the
    /// padding packets sent to probe their downlinks.
    pub transport_feedback: u64,
    pub padding_sent: u64,
    pub keyframe_requests: u64,
    pub transports_failed: u64,
    /// Datagrams sent, and the `sendmmsg` calls that sent them.
    pub datagrams_sent: u64,
    pub send_syscalls: u64,
    /// Datagrams dropped because the socket's send buffer was full.
    pub datagrams_send_dropped: u64,
    /// Transport deadlines that came due and were run (str0m timeouts: RTCP, ICE, NACK…).
    pub timeouts: u64,
    /// Taps attached to producers (see [`RouterHandle::tap`]).
    pub taps: usize,
    /// Producer packets queued on taps (one per tap per packet).
    pub tap_packets: u64,
    /// Tap events (packets and sender reports) dropped because a tap's queue was full.
    pub tap_dropped: u64,
    /// How long forwarding takes: each forwarded packet's arrival to the end of its fan-out
    /// to every consumer (queued for `sendmmsg`).
    pub forward_latency: LatencyHistogram,
    /// ICE over TCP (all zero when it is off).
    pub ice_tcp: IceTcpStats,
}

/// Counters of the worker's ICE-TCP side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IceTcpStats {
    /// Connections open now.
    pub open: usize,
    pub accepted: u64,
    /// Connections closed at once because too many were open.
    pub refused: u64,
    pub closed: u64,
    /// Frames (datagrams) received and queued to send on connections. Received frames are
    /// counted in `datagrams_received` too.
    pub frames_received: u64,
    pub frames_sent: u64,
}

/// Upper bounds of [`LatencyHistogram`]'s buckets, in microseconds.
pub const LATENCY_BOUNDS_US: [u64; 10] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000,
];

/// A distribution of durations in fixed buckets ([`LATENCY_BOUNDS_US`], and one above them
/// all): no allocation, a few instructions per observation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// Observations per bucket; the last one counts those above every bound.
    pub counts: [u64; LATENCY_BOUNDS_US.len() + 1],
    /// Sum of all observations, in microseconds.
    pub sum_us: u64,
}

impl LatencyHistogram {
    pub fn observe(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = LATENCY_BOUNDS_US.partition_point(|&b| b < us);
        self.counts[i] += 1;
        self.sum_us = self.sum_us.saturating_add(us);
    }

    /// Observations in all.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// What a consumer receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerMedia {
    pub audio: bool,
    pub video: bool,
}

enum Command {
    CreateProducer {
        id: TransportId,
        offer: String,
        reply: oneshot::Sender<Result<String, RouterError>>,
    },
    CreateConsumer {
        id: TransportId,
        producer: TransportId,
        offer: String,
        media: ConsumerMedia,
        reply: oneshot::Sender<Result<String, RouterError>>,
    },
    SetConsumerMedia {
        id: TransportId,
        audio: Option<bool>,
        video: Option<bool>,
    },
    RequestKeyframe {
        producer: TransportId,
    },
    SetConsumerMaxLayer {
        id: TransportId,
        max_layer: u8,
    },
    RestartIce {
        id: TransportId,
        offer: String,
        reply: oneshot::Sender<Result<String, RouterError>>,
    },
    SetProducerAudio {
        id: TransportId,
        enabled: bool,
    },
    Close {
        id: TransportId,
    },
    Stats {
        reply: oneshot::Sender<RouterStats>,
    },
    Tap {
        producer: TransportId,
        capacity: usize,
        reply: oneshot::Sender<Result<Tap, RouterError>>,
    },
    Shutdown,
}

/// The signaling layer's handle on the worker. Cheap to clone.
#[derive(Clone)]
pub struct RouterHandle {
    tx: std_mpsc::Sender<Command>,
    waker: Arc<mio::Waker>,
    local_addr: SocketAddr,
    advertised: SocketAddr,
    advertised_tcp: Option<SocketAddr>,
}

impl std::fmt::Debug for RouterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterHandle")
            .field("local_addr", &self.local_addr)
            .field("advertised", &self.advertised)
            .field("advertised_tcp", &self.advertised_tcp)
            .finish()
    }
}

impl RouterHandle {
    /// Binds the socket and starts the worker thread. Events arrive on the returned
    /// receiver.
    pub fn start(
        config: RouterConfig,
    ) -> Result<(RouterHandle, mpsc::UnboundedReceiver<RouterEvent>), RouterError> {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (tx, rx) = std_mpsc::channel();
        let started = worker::Worker::bind(&config, rx, events_tx)?;
        let handle = RouterHandle {
            tx,
            waker: started.waker.clone(),
            local_addr: started.local_addr,
            advertised: started.advertised,
            advertised_tcp: started.advertised_tcp,
        };
        std::thread::Builder::new()
            .name("parlor-media".into())
            .spawn(move || started.worker.run())
            .map_err(|e| RouterError::Start(e.to_string()))?;
        Ok((handle, events_rx))
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address in the ICE candidates.
    pub fn advertised_addr(&self) -> SocketAddr {
        self.advertised
    }

    /// The address of the ICE-TCP passive candidate, when TCP is on.
    pub fn advertised_tcp_addr(&self) -> Option<SocketAddr> {
        self.advertised_tcp
    }

    fn send(&self, cmd: Command) -> Result<(), RouterError> {
        self.tx.send(cmd).map_err(|_| RouterError::Stopped)?;
        self.waker.wake().map_err(|_| RouterError::Stopped)
    }

    /// Creates a producer transport from a client's SDP offer; returns the SDP answer.
    pub async fn create_producer(
        &self,
        id: TransportId,
        offer: String,
    ) -> Result<String, RouterError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::CreateProducer { id, offer, reply })?;
        rx.await.map_err(|_| RouterError::Stopped)?
    }

    /// Restarts ICE on transport `id` from its client's SDP offer (new ICE credentials, the
    /// same media); returns the SDP answer. DTLS, SRTP and all forwarding state are kept.
    pub async fn restart_ice(&self, id: TransportId, offer: String) -> Result<String, RouterError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::RestartIce { id, offer, reply })?;
        rx.await.map_err(|_| RouterError::Stopped)?
    }

    /// Creates a consumer transport of `producer` from a client's SDP offer; returns the
    /// SDP answer.
    pub async fn create_consumer(
        &self,
        id: TransportId,
        producer: TransportId,
        offer: String,
        media: ConsumerMedia,
    ) -> Result<String, RouterError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::CreateConsumer {
            id,
            producer,
            offer,
            media,
            reply,
        })?;
        rx.await.map_err(|_| RouterError::Stopped)?
    }

    /// Changes what a consumer receives.
    pub fn set_consumer_media(&self, id: TransportId, audio: Option<bool>, video: Option<bool>) {
        let _ = self.send(Command::SetConsumerMedia { id, audio, video });
    }

    /// The highest simulcast layer (0 the lowest) a consumer may receive: what its
    /// subscriber asked for (OpenTok's `setPreferredResolution`/`setPreferredFrameRate`, the
    /// size it renders at). `u8::MAX` lifts the cap. The consumer gets the highest layer
    /// sending at or below it, switched on that layer's next keyframe.
    pub fn set_consumer_max_layer(&self, id: TransportId, max_layer: u8) {
        let _ = self.send(Command::SetConsumerMaxLayer { id, max_layer });
    }

    /// Asks a producer's publisher for a keyframe on each of its layers (throttled like
    /// every request: at most one per layer per 300 ms). For taps whose reader lost packets
    /// it could not repair. Unknown IDs are ignored.
    pub fn request_keyframe(&self, producer: TransportId) {
        let _ = self.send(Command::RequestKeyframe { producer });
    }

    /// Stops (or resumes) forwarding a producer's audio: force mute is enforced here, not
    /// only asked of the client.
    pub fn set_producer_audio(&self, id: TransportId, enabled: bool) {
        let _ = self.send(Command::SetProducerAudio { id, enabled });
    }

    /// Closes a transport (a producer's consumers close with it). Unknown IDs are ignored.
    pub fn close(&self, id: TransportId) {
        let _ = self.send(Command::Close { id });
    }

    /// Attaches a tap to a live producer: its packets and sender reports from now on, on
    /// a queue of `capacity` events (capped to [`tap::MAX_TAP_CAPACITY`]) that the worker
    /// never waits on. Asks the publisher for a keyframe (throttled like every keyframe
    /// request); the tap's video starts on one. A producer may have several taps. Drop the
    /// [`Tap`] to detach it; it ends with [`TapEvent::Closed`] when the producer closes.
    pub async fn tap(&self, producer: &TransportId, capacity: usize) -> Result<Tap, RouterError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Tap {
            producer: producer.clone(),
            capacity,
            reply,
        })?;
        rx.await.map_err(|_| RouterError::Stopped)?
    }

    /// The worker's counters.
    pub async fn stats(&self) -> Result<RouterStats, RouterError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Stats { reply })?;
        rx.await.map_err(|_| RouterError::Stopped)
    }

    /// Stops the worker thread.
    pub fn shutdown(&self) {
        let _ = self.send(Command::Shutdown);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_are_upper_bounds() {
        let mut h = LatencyHistogram::default();
        for us in [0, 50, 51, 1_000, 100_000, 100_001, 5_000_000] {
            h.observe(Duration::from_micros(us));
        }
        assert_eq!(h.counts[0], 2, "0 and 50 µs: at most 50");
        assert_eq!(h.counts[1], 1, "51 µs");
        assert_eq!(h.counts[4], 1, "1 ms");
        assert_eq!(h.counts[9], 1, "100 ms");
        assert_eq!(h.counts[10], 2, "above every bound");
        assert_eq!(h.count(), 7);
        assert_eq!(h.sum_us, 5_201_102);
    }
}
