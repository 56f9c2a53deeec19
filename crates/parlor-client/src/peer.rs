//! One WebRTC peer connection: a `str0m::Rtc` on its own UDP socket (or ICE-TCP
//! connection, [`crate::net`]), driven by a task.
//!
//! [`PeerOffer`] makes an offer and starts on the answer (how Parlor's publishers and
//! subscribers connect); [`answer`] takes a remote offer (how other SFUs, e.g. Janus,
//! offer a subscription). A running [`Peer`] sends RTP written through [`PeerSender`] and
//! reports [`PeerEvent`]s; in RTP mode it also counts what it receives ([`ReceiveStats`])
//! without depacketizing, which is what a load generator needs.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng as _;
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::media::{Mid, Rid};
use str0m::net::Receive;
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Event, Input, Output, Rtc};
use tokio::sync::mpsc;

use crate::ClientError;
use crate::net::{MediaTransport, Net};

pub use str0m::media::{Direction, MediaKind};

/// A frame received on a subscription (depacketized by str0m).
#[derive(Debug, Clone)]
pub struct MediaFrame {
    pub kind: MediaKind,
    /// The encoded frame (a VP8 frame, an Opus packet).
    pub data: Arc<[u8]>,
    /// RTP time of the frame, in the codec's clock (90 kHz video, 48 kHz audio).
    pub rtp_time: u64,
    pub keyframe: bool,
    /// Whether nothing was lost between this frame and the previous one.
    pub contiguous: bool,
}

/// What a peer is asked to do.
#[derive(Debug)]
pub enum PeerCommand {
    Rtp {
        mid: Mid,
        pt: str0m::media::Pt,
        seq: u64,
        time: u32,
        marker: bool,
        nackable: bool,
        payload: Arc<[u8]>,
        /// The RFC 6464 audio level to send with an audio packet, in dB below full scale.
        audio_level: Option<u8>,
        /// The simulcast layer's RTP stream id (`None` without simulcast).
        rid: Option<Rid>,
    },
}

/// What a peer reports.
#[derive(Debug)]
pub enum PeerEvent {
    /// ICE and DTLS are up.
    Connected,
    /// A depacketized frame (frame mode only).
    Frame(MediaFrame),
    /// The remote asked for a keyframe.
    KeyframeRequest,
    /// The connection ended, for this reason.
    Closed(String),
}

/// Counters of what a peer received in RTP mode: every packet decrypted and accounted
/// for, none depacketized. Loss is counted from sequence gaps per SSRC.
#[derive(Debug, Default)]
pub struct ReceiveStats {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    /// Sequence numbers skipped, counted when the gap is first seen: a gap a retransmission
    /// fills later is not taken back, so this is an upper bound of what stayed lost.
    pub lost: AtomicU64,
    /// RTP datagrams thrown away on purpose before the WebRTC stack (`drop_rate`).
    pub dropped: AtomicU64,
    /// Mean absolute interarrival jitter across streams, in microseconds (RFC 3550 style).
    pub jitter_us: AtomicU64,
    /// When the first RTP packet arrived.
    pub first_packet: std::sync::OnceLock<Instant>,
}

impl ReceiveStats {
    pub fn packets(&self) -> u64 {
        self.packets.load(Ordering::Relaxed)
    }
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

/// What a peer measures of its media, for the server's `stats` reports
/// ([`crate::Session`] sends them every `statsInterval`): frames, the last key frame's
/// size, the RTT from RTCP.
#[derive(Debug, Default)]
pub struct MediaMeasures {
    /// Video frames sent (a publisher) or received whole (a subscriber in frame mode).
    pub video_frames: AtomicU64,
    /// The last VP8 key frame's size, `width << 16 | height` (0: none yet).
    pub video_size: AtomicU64,
    /// The latest RTT RTCP measured, in microseconds (0: none yet).
    pub rtt_us: AtomicU64,
}

impl MediaMeasures {
    /// Counts a video frame (sent or received) and its size if it is a key frame.
    pub fn video_frame(&self, frame: &[u8]) {
        self.video_frames.fetch_add(1, Ordering::Relaxed);
        if let Some((w, h)) = parlor_media::vp8::keyframe_size(frame) {
            self.video_size
                .store(u64::from(w) << 16 | u64::from(h), Ordering::Relaxed);
        }
    }

    /// The last key frame's width and height.
    pub fn size(&self) -> Option<(u32, u32)> {
        let v = self.video_size.load(Ordering::Relaxed);
        (v != 0).then_some(((v >> 16) as u32, (v & 0xffff) as u32))
    }

    /// The latest RTT, in milliseconds.
    pub fn rtt_ms(&self) -> Option<f64> {
        let us = self.rtt_us.load(Ordering::Relaxed);
        (us != 0).then(|| us as f64 / 1000.0)
    }

    fn rtt(&self, rtt: Option<Duration>) {
        if let Some(r) = rtt {
            let us = u64::try_from(r.as_micros()).unwrap_or(u64::MAX).max(1);
            self.rtt_us.store(us, Ordering::Relaxed);
        }
    }
}

/// Per-SSRC accounting in the peer task.
struct StreamCount {
    ssrc: u32,
    highest: u64,
    clock: f64,
    last: Option<(Instant, u32)>,
    jitter: f64,
}

/// A peer that made an offer and waits for the answer.
pub struct PeerOffer {
    rtc: Rtc,
    net: Net,
    pending: SdpPendingOffer,
    pub offer: String,
    pub mids: Vec<(Mid, MediaKind)>,
    video_codec: VideoCodec,
    /// Whether induced loss also drops retransmissions.
    drop_rtx: bool,
}

/// The video codecs the client sends: VP8 (from IVF frames) or H.264 (Annex B access
/// units, packetization mode 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum VideoCodec {
    #[default]
    Vp8,
    H264,
}

impl VideoCodec {
    fn codec(self) -> str0m::format::Codec {
        match self {
            VideoCodec::Vp8 => str0m::format::Codec::Vp8,
            VideoCodec::H264 => str0m::format::Codec::H264,
        }
    }
}

/// How a peer offers video: the codec it sends, and its simulcast layers' rids (lowest
/// first; none or one: no simulcast).
#[derive(Debug, Clone, Copy, Default)]
pub struct VideoOffer<'a> {
    pub codec: VideoCodec,
    pub rids: &'a [&'a str],
}

/// An `Rtc`; `stats`: with str0m's statistics every second (the RTT of `stats` reports),
/// which a load generator's hundreds of counting subscribers do without. It offers Opus
/// and the `video` codecs, in that order.
fn new_rtc(rtp_mode: bool, stats: bool, video: &[VideoCodec]) -> Rtc {
    let mut b = Rtc::builder()
        .set_rtp_mode(rtp_mode)
        .set_stats_interval(stats.then_some(Duration::from_secs(1)))
        .clear_codecs()
        .enable_opus(true, false);
    for codec in video {
        b = match codec {
            VideoCodec::Vp8 => b.enable_vp8(true),
            VideoCodec::H264 => b.enable_h264(true),
        };
    }
    b.build(Instant::now())
}

/// Answers a remote offer with a peer on `ip`; returns the running peer and the answer.
pub async fn answer(
    ip: IpAddr,
    rtp_mode: bool,
    offer: &str,
    drop_rate: f64,
) -> Result<(Peer, String), ClientError> {
    let (net, candidates) = Net::bind(ip, MediaTransport::Udp, &[]).await?;
    let mut rtc = new_rtc(rtp_mode, false, &[VideoCodec::Vp8]);
    for candidate in candidates {
        rtc.add_local_candidate(candidate);
    }
    let offer = str0m::change::SdpOffer::from_sdp_string(offer)
        .map_err(|e| ClientError::Media(e.to_string()))?;
    let answer = rtc
        .sdp_api()
        .accept_offer(offer)
        .map_err(|e| ClientError::Media(e.to_string()))?;
    let peer = launch(
        rtc,
        net,
        Vec::new(),
        VideoCodec::Vp8,
        Loss::new(drop_rate, false),
        None,
    );
    Ok((peer, answer.to_sdp_string()))
}

impl PeerOffer {
    /// Creates a peer on `ip` offering `kinds` in `direction` (RTP mode: RTP in and out,
    /// counted not depacketized; frame mode: frames out of the receive side), over UDP.
    pub async fn new(
        ip: IpAddr,
        rtp_mode: bool,
        kinds: &[MediaKind],
        direction: Direction,
    ) -> Result<PeerOffer, ClientError> {
        Self::with_transport(ip, MediaTransport::Udp, &[], rtp_mode, kinds, direction).await
    }

    /// [`PeerOffer::new`] with the candidates `transport` asks for (`ice_servers`: the
    /// session's, for [`MediaTransport::Relay`]).
    pub async fn with_transport(
        ip: IpAddr,
        transport: MediaTransport,
        ice_servers: &[parlor_proto::signaling::IceServer],
        rtp_mode: bool,
        kinds: &[MediaKind],
        direction: Direction,
    ) -> Result<PeerOffer, ClientError> {
        let video = VideoOffer::default();
        Self::with_video(
            ip,
            transport,
            ice_servers,
            rtp_mode,
            kinds,
            direction,
            video,
        )
        .await
    }

    /// [`PeerOffer::with_transport`], sending video as `video` says (its codec, its
    /// simulcast layers). A receiving peer offers VP8 and H.264, whatever `video` says.
    pub async fn with_video(
        ip: IpAddr,
        transport: MediaTransport,
        ice_servers: &[parlor_proto::signaling::IceServer],
        rtp_mode: bool,
        kinds: &[MediaKind],
        direction: Direction,
        video: VideoOffer<'_>,
    ) -> Result<PeerOffer, ClientError> {
        let (net, candidates) = Net::bind(ip, transport, ice_servers).await?;
        let codecs: &[VideoCodec] = if direction == Direction::SendOnly {
            &[video.codec]
        } else {
            &[VideoCodec::Vp8, VideoCodec::H264]
        };
        let video_rids = video.rids;
        // Publishers and frame-mode subscribers report what they measure.
        let mut rtc = new_rtc(
            rtp_mode,
            !rtp_mode || direction == Direction::SendOnly,
            codecs,
        );
        for candidate in candidates {
            rtc.add_local_candidate(candidate);
        }
        let mut api = rtc.sdp_api();
        let simulcast = (video_rids.len() > 1).then(|| {
            let mut s = str0m::media::Simulcast::new();
            for rid in video_rids {
                s.add_send_layer(str0m::media::SimulcastLayer::new(rid));
            }
            s
        });
        let mids = kinds
            .iter()
            .map(|&kind| {
                let layers = simulcast.clone().filter(|_| kind == MediaKind::Video);
                (api.add_media(kind, direction, None, None, layers), kind)
            })
            .collect();
        let (offer, pending) = api
            .apply()
            .ok_or_else(|| ClientError::Media("nothing to negotiate".into()))?;
        Ok(PeerOffer {
            rtc,
            net,
            pending,
            offer: offer.to_sdp_string(),
            mids,
            video_codec: video.codec,
            drop_rtx: false,
        })
    }

    /// Makes `start`'s `drop_rate` drop retransmissions too (by default they always get
    /// through, so a test sees one repair per loss).
    pub fn drop_retransmissions(mut self, yes: bool) -> Self {
        self.drop_rtx = yes;
        self
    }

    /// Applies the answer and starts the peer's task. `drop_rate` drops that share of
    /// incoming RTP datagrams before str0m sees them (for loss tests). The peer ends when
    /// `session_closed` becomes true (or its sender is gone): media lives in a session
    /// (`None`: a peer of no Parlor session, e.g. the bench's Janus clients).
    pub fn start(
        mut self,
        answer: &str,
        drop_rate: f64,
        session_closed: Option<tokio::sync::watch::Receiver<bool>>,
    ) -> Result<Peer, ClientError> {
        let answer =
            SdpAnswer::from_sdp_string(answer).map_err(|e| ClientError::Media(e.to_string()))?;
        self.rtc
            .sdp_api()
            .accept_answer(self.pending, answer)
            .map_err(|e| ClientError::Media(e.to_string()))?;
        Ok(launch(
            self.rtc,
            self.net,
            self.mids,
            self.video_codec,
            Loss::new(drop_rate, self.drop_rtx),
            session_closed,
        ))
    }
}

/// Starts the task of a negotiated peer.
fn launch(
    rtc: Rtc,
    net: Net,
    mids: Vec<(Mid, MediaKind)>,
    video_codec: VideoCodec,
    mut loss: Loss,
    session_closed: Option<tokio::sync::watch::Receiver<bool>>,
) -> Peer {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let pts = mids
        .iter()
        .map(|(mid, kind)| {
            let codec = match kind {
                MediaKind::Audio => str0m::format::Codec::Opus,
                MediaKind::Video => video_codec.codec(),
            };
            // H.264: packetization mode 1 (FU-A), the one the client packetizes for.
            let pt = rtc
                .codec_config()
                .iter()
                .filter(|p| p.spec().codec == codec)
                .find(|p| {
                    codec != str0m::format::Codec::H264
                        || p.spec().format.packetization_mode == Some(1)
                })
                .map(|p| p.pt());
            (*mid, *kind, pt)
        })
        .collect();
    // Loss is induced on first transmissions only unless asked otherwise: retransmissions
    // (RTX payload types) get through, so a test sees the repair path rather than
    // repeated loss.
    loss.rtx_pts = rtc
        .codec_config()
        .iter()
        .filter_map(|p| p.resend())
        .map(|pt| *pt)
        .collect();
    let stats = Arc::new(ReceiveStats::default());
    let measures = Arc::new(MediaMeasures::default());
    tokio::spawn(run(
        rtc,
        net,
        mids,
        (cmd_rx, ev_tx),
        loss,
        (stats.clone(), measures.clone()),
        session_closed,
    ));
    Peer {
        cmd: cmd_tx,
        pts,
        events: ev_rx,
        stats,
        measures,
    }
}

/// A running peer connection.
pub struct Peer {
    pub(crate) cmd: mpsc::UnboundedSender<PeerCommand>,
    /// Negotiated payload type per m-line of our offer.
    pub(crate) pts: Vec<(Mid, MediaKind, Option<str0m::media::Pt>)>,
    pub(crate) events: mpsc::UnboundedReceiver<PeerEvent>,
    stats: Arc<ReceiveStats>,
    pub(crate) measures: Arc<MediaMeasures>,
}

impl Peer {
    /// The next event, or `None` once the peer's task ended.
    pub async fn next_event(&mut self) -> Option<PeerEvent> {
        self.events.recv().await
    }

    /// What it received (RTP mode).
    pub fn stats(&self) -> Arc<ReceiveStats> {
        self.stats.clone()
    }

    /// Waits until the media connection is up.
    pub async fn wait_connected(&mut self, timeout: Duration) -> Result<(), ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => return Err(ClientError::Timeout("the media connection")),
                Ok(None) => return Err(ClientError::Closed),
                Ok(Some(PeerEvent::Connected)) => return Ok(()),
                Ok(Some(PeerEvent::Closed(r))) => return Err(ClientError::Media(r)),
                Ok(Some(_)) => {}
            }
        }
    }
}

async fn run(
    mut rtc: Rtc,
    mut net: Net,
    mids: Vec<(Mid, MediaKind)>,
    (mut commands, events): (
        mpsc::UnboundedReceiver<PeerCommand>,
        mpsc::UnboundedSender<PeerEvent>,
    ),
    loss: Loss,
    (stats, measures): (Arc<ReceiveStats>, Arc<MediaMeasures>),
    session_closed: Option<tokio::sync::watch::Receiver<bool>>,
) {
    let session_ended = async move {
        match session_closed {
            // Ends when it turns true, or when the session is dropped altogether.
            Some(mut rx) => {
                let _ = rx.wait_for(|closed| *closed).await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::pin!(session_ended);
    let mut counts: Vec<StreamCount> = Vec::new();
    let mut buf = vec![0u8; 2048];
    let kind_of = |mid: Mid| mids.iter().find(|(m, _)| *m == mid).map(|(_, k)| *k);
    let reason = 'outer: loop {
        // Drain everything str0m wants to say.
        let deadline = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    net.send(t.proto, t.destination, &t.contents).await;
                }
                Ok(Output::Event(e)) => {
                    let ev = match e {
                        Event::Connected => Some(PeerEvent::Connected),
                        Event::MediaData(d) => kind_of(d.mid).map(|kind| {
                            if kind == MediaKind::Video {
                                measures.video_frame(&d.data);
                            }
                            PeerEvent::Frame(MediaFrame {
                                kind,
                                keyframe: d.is_keyframe(),
                                data: d.data,
                                rtp_time: d.time.numer(),
                                contiguous: d.contiguous,
                            })
                        }),
                        Event::KeyframeRequest(_) => Some(PeerEvent::KeyframeRequest),
                        Event::MediaEgressStats(s) => {
                            measures.rtt(s.rtt);
                            None
                        }
                        Event::MediaIngressStats(s) => {
                            measures.rtt(s.rtt);
                            None
                        }
                        Event::RtpPacket(p) => {
                            account(&mut counts, &stats, &p);
                            None
                        }
                        Event::Closed => {
                            break 'outer "the server closed the connection".to_owned();
                        }
                        _ => None,
                    };
                    if let Some(ev) = ev
                        && events.send(ev).is_err()
                    {
                        break 'outer "dropped".to_owned();
                    }
                }
                Err(e) => break 'outer e.to_string(),
            }
        };
        if !rtc.is_alive() {
            break "the connection ended".to_owned();
        }
        net.tick().await;
        let deadline = deadline.min(Instant::now() + Duration::from_secs(1));
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(PeerCommand::Rtp { mid, pt, seq, time, marker, nackable, payload, audio_level, rid }) => {
                    if let Some(tx) = rtc.direct_api().stream_tx_by_mid(mid, rid) {
                        let mut ext_vals = str0m::rtp::ExtensionValues::default();
                        if let Some(dbov) = audio_level {
                            // str0m carries the level negated, as WebRTC does.
                            ext_vals.audio_level = Some(-(dbov.min(127) as i8));
                            ext_vals.voice_activity = Some(dbov <= 50);
                        }
                        tx.write_rtp(
                            RtpWrite::new(pt, SeqNo::from(seq), time, Instant::now(), payload)
                                .marker(marker)
                                .nackable(nackable)
                                .ext_vals(ext_vals),
                        );
                    }
                }
                None => break "closed by the application".to_owned(),
            },
            received = net.recv(&mut buf) => {
                let Some(r) = received else { continue };
                if loss.drops(r.data) {
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let Ok(receive) = Receive::new(r.proto, r.source, r.destination, r.data) else { continue };
                if let Err(e) = rtc.handle_input(Input::Receive(Instant::now(), receive)) {
                    tracing::debug!(error = %e, "datagram refused");
                }
            }
            () = &mut session_ended => break "the session ended".to_owned(),
            _ = tokio::time::sleep_until(deadline.into()) => {
                if let Err(e) = rtc.handle_input(Input::Timeout(Instant::now())) {
                    break e.to_string();
                }
            }
        }
    };
    let _ = events.send(PeerEvent::Closed(reason));
}

/// Accounts for one received RTP packet: count, loss by sequence gaps, jitter.
fn account(counts: &mut Vec<StreamCount>, stats: &ReceiveStats, p: &str0m::rtp::RtpPacket) {
    stats.packets.fetch_add(1, Ordering::Relaxed);
    stats
        .bytes
        .fetch_add(p.payload.len() as u64, Ordering::Relaxed);
    let _ = stats.first_packet.set(p.timestamp);
    let ssrc = *p.header.ssrc;
    let seq = *p.seq_no;
    let idx = match counts.iter().position(|c| c.ssrc == ssrc) {
        Some(i) => i,
        None => {
            // 90 kHz unless the payload type is audio-like (Opus is 48 kHz); approximate.
            let clock = if p.header.payload_type == str0m::media::Pt::from(111) {
                48_000.0
            } else {
                90_000.0
            };
            counts.push(StreamCount {
                ssrc,
                highest: seq,
                clock,
                last: None,
                jitter: 0.0,
            });
            counts.len() - 1
        }
    };
    let c = &mut counts[idx];
    if seq > c.highest + 1 {
        stats.lost.fetch_add(seq - c.highest - 1, Ordering::Relaxed);
    }
    c.highest = c.highest.max(seq);
    if let Some((at, ts)) = c.last {
        let arrival = p.timestamp.saturating_duration_since(at).as_secs_f64();
        let media = p.header.timestamp.wrapping_sub(ts) as i32 as f64 / c.clock;
        let d = (arrival - media).abs();
        c.jitter += (d - c.jitter) / 16.0;
    }
    c.last = Some((p.timestamp, p.header.timestamp));
    let mean = counts.iter().map(|c| c.jitter).sum::<f64>() / counts.len() as f64;
    stats
        .jitter_us
        .store((mean * 1e6) as u64, Ordering::Relaxed);
}

/// Induced loss of incoming RTP, for tests of the repair path.
struct Loss {
    rate: f64,
    /// Whether retransmissions (`rtx_pts`) are dropped too.
    rtx_too: bool,
    rtx_pts: Vec<u8>,
}

impl Loss {
    fn new(rate: f64, rtx_too: bool) -> Self {
        Loss {
            rate,
            rtx_too,
            rtx_pts: Vec::new(),
        }
    }

    fn drops(&self, data: &[u8]) -> bool {
        if self.rate <= 0.0 || data.len() <= 12 || !(128..192).contains(&data[0]) {
            return false;
        }
        // RTCP shares the RTP version bits; its packet types are 192-223 (RFC 5761).
        if (192..224).contains(&data[1]) {
            return false;
        }
        let pt = data[1] & 0x7f;
        (self.rtx_too || !self.rtx_pts.contains(&pt)) && rand::rng().random_bool(self.rate)
    }
}

/// A random starting sequence number below 2^15, as browsers pick.
pub(crate) fn random_seq() -> u64 {
    rand::rng().random_range(1..0x7fff)
}
