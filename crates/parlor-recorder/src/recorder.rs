//! [`StreamRecorder`]: one stream's RTP in, one WebM/Matroska byte stream out.
//!
//! Per track, packets go through: the [reorder buffer](crate::reorder) → a depacketizer
//! (VP8 from `parlor-media`, [H.264](crate::h264), Opus as is) → key-frame gating (video
//! is written from a key frame on, and after a loss it cannot repair waits for the next
//! one) → the clock (RTP time to file time, below) → an interleaving queue that hands
//! frames to the [muxer](crate::mux) in time order across tracks.
//!
//! # Clock
//!
//! A frame's file time is `sender_wallclock(rtp) + offset − origin`, where
//! `sender_wallclock(rtp) = sr.ntp + (rtp − sr.rtp) / clock_rate` from the track's latest
//! sender report (90 kHz video, 48 kHz Opus), with RTP timestamps extended past their
//! 32-bit wrap. The sender reports of both tracks come from the same sender clock, so
//! they fix audio/video sync exactly; `offset` (one per stream, shared by its tracks)
//! maps the sender's clock onto the server's, because a publisher's clock can be off by
//! any amount. It is fixed once, when the first track gets its first report, as the
//! minimum of `arrival − sender_wallclock` over that track's frames waiting then (the
//! least-delayed frame), or so that a track already placed by arrival time does not jump.
//!
//! Before a track's first sender report its frames are held (up to `sr_wait_micros`,
//! 3 s by default: libwebrtc sends the first audio report after up to ~2.5 s). If none
//! comes, the track is anchored on arrival time instead: `min(arrival − rtp elapsed)` over
//! the held frames, so jitter does not push it late. A report that comes later takes
//! over (through the same offset). Times are rounded to the millisecond and kept strictly
//! increasing per track (a frame that would go back is written 1 ms after the previous
//! one); a frame placed before the origin is written at 0.
//!
//! # Interleaving and start
//!
//! Nothing is written until every configured track has its first frame (video: a key
//! frame, and for H.264 its SPS/PPS) or `start_wait_micros` (10 s) has passed since the
//! first packet; a track that has not started by then is left out of this file. After
//! that a frame is written once every other track has produced a frame at or after its
//! time, or once it is `interleave_micros` (4 s) old, so a muted or stalled track
//! delays the file by at most that much.

use std::collections::VecDeque;

use parlor_media::ogg_opus::opus_packet_duration_48k;
use parlor_media::vp8::Vp8Depacketizer;

use crate::h264::{self, H264Depacketizer};
use crate::mux::{Muxer, Patch, TrackHeader};
use crate::reorder::{Reorder, ReorderConfig, ReorderStats, Reordered};
use crate::{Codec, FrameIn, RecorderError, RtpIn, SenderReport, TrackKind};

/// Settings for one [`StreamRecorder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecorderConfig {
    /// The audio track's codec ([`Codec::Opus`]), or none.
    pub audio: Option<Codec>,
    /// The video track's codec ([`Codec::Vp8`] or [`Codec::H264`]), or none.
    pub video: Option<Codec>,
    /// Wallclock time (Unix µs, server clock) of file time 0: when recording started.
    pub origin_unix_micros: u64,
    /// Opus channel count written in the track header (2 for WebRTC's opus/48000/2).
    pub audio_channels: u8,
    /// Reordering of audio packets.
    pub audio_reorder: ReorderConfig,
    /// Reordering of video packets.
    pub video_reorder: ReorderConfig,
    /// How long a track's frames wait for its first sender report (µs).
    pub sr_wait_micros: u64,
    /// How long the file waits for every track's first frame (µs).
    pub start_wait_micros: u64,
    /// How long a frame waits for the other track to catch up (µs).
    pub interleave_micros: u64,
    /// Longest cluster, in ms.
    pub cluster_max_ms: u32,
}

impl StreamRecorderConfig {
    /// The defaults (see the [module docs](self)) for these codecs and origin.
    pub fn new(audio: Option<Codec>, video: Option<Codec>, origin_unix_micros: u64) -> Self {
        StreamRecorderConfig {
            audio,
            video,
            origin_unix_micros,
            audio_channels: 2,
            audio_reorder: ReorderConfig::AUDIO,
            video_reorder: ReorderConfig::VIDEO,
            sr_wait_micros: 3_000_000,
            start_wait_micros: 10_000_000,
            interleave_micros: 4_000_000,
            cluster_max_ms: 1000,
        }
    }
}

/// Counters for one track.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackStats {
    /// The track's codec.
    pub codec: Option<Codec>,
    /// Reorder-buffer counters: packets received, duplicates, late, lost.
    pub packets: ReorderStats,
    /// Sender reports received.
    pub sender_reports: u64,
    /// Frames written to the file.
    pub frames: u64,
    /// Key frames written (every Opus frame counts as one).
    pub keyframes: u64,
    /// Frames not written: incomplete, invalid, waiting for a key frame, or of a track
    /// left out of the file.
    pub frames_dropped: u64,
    /// File time of the first and last frame written, ms.
    pub first_ms: Option<i64>,
    /// See `first_ms`.
    pub last_ms: Option<i64>,
    /// Video: every distinct picture size seen on key frames, in order.
    pub dimensions: Vec<(u32, u32)>,
    /// Whether the track was placed by sender reports (else by arrival time, or not yet).
    pub synced_by_sender_report: bool,
    /// The track was configured but had not started when the file began; it is absent.
    pub omitted: bool,
}

/// Counters for a whole [`StreamRecorder`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecorderStats {
    /// The audio track.
    pub audio: TrackStats,
    /// The video track.
    pub video: TrackStats,
    /// Clusters completed.
    pub clusters: u64,
    /// Bytes produced (handed out or waiting in [`StreamRecorder::poll_output`]).
    pub bytes: u64,
}

/// What [`StreamRecorder::finish`] leaves to do on the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// Overwrite these byte ranges (Segment size, Duration, SeekHead); each has the
    /// length of what it replaces, at an absolute offset in the output.
    pub patches: Vec<Patch>,
    /// Duration written into the file, ms (end of the last frame of any track).
    pub duration_ms: f64,
    /// Total length of the output.
    pub len: u64,
}

/// A frame on its way from the depacketizer to the file.
#[derive(Debug)]
struct Frame {
    data: Vec<u8>,
    /// Extended RTP timestamp.
    rtp: i64,
    /// Arrival of its first packet (Unix µs).
    arrival: u64,
    keyframe: bool,
    time_ms: i64,
    /// Audio: duration in ms (from the TOC), for the file's Duration.
    duration_ms: f64,
}

/// A point of a track's RTP → server wallclock mapping.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    server_us: i64,
    rtp: i64,
}

/// The part of a track that packets flow through (borrowed by the reorder callback).
#[derive(Debug)]
struct Sink {
    kind: TrackKind,
    codec: Codec,
    vp8: Vp8Depacketizer,
    h264: H264Depacketizer,
    need_keyframe: bool,
    keyframe_wanted: bool,
    /// RTP timestamp and first-packet arrival of the frame being assembled.
    current: Option<(u32, u64)>,
    /// Last extended timestamp (raw, extended).
    unwrap: Option<(u32, i64)>,
    /// H.264: the avcC of the first key frame, and the parameter version it came from.
    avcc: Option<Vec<u8>>,
    first_dims: Option<(u32, u32)>,
    unmapped: VecDeque<Frame>,
    pool: Vec<Vec<u8>>,
    stats: TrackStats,
}

#[derive(Debug)]
struct Track {
    reorder: Reorder,
    sink: Sink,
    rate: i64,
    sr: Option<(u64, i64)>,
    sr_pending: bool,
    anchor: Option<Anchor>,
    /// Time of the last frame moved to `ready`.
    last_ms: Option<i64>,
    last_duration_ms: f64,
    ready: VecDeque<Frame>,
    included: bool,
    number: u8,
}

/// The sans-IO recorder of one stream (see the [module docs](self)).
#[derive(Debug)]
pub struct StreamRecorder {
    cfg: StreamRecorderConfig,
    /// `[audio, video]`, configured ones only.
    audio: Option<Track>,
    video: Option<Track>,
    now: u64,
    first_arrival: Option<u64>,
    offset_us: Option<i64>,
    mux: Muxer,
    finished: bool,
}

/// Largest time (Unix µs) taken from input; larger ones are clamped.
const MAX_TIME: u64 = 1 << 62;

fn extend(unwrap: &mut Option<(u32, i64)>, ts: u32, update: bool) -> i64 {
    match *unwrap {
        None => {
            let ext = (1i64 << 32) + i64::from(ts);
            *unwrap = Some((ts, ext));
            ext
        }
        Some((last, last_ext)) => {
            let ext = last_ext + i64::from(ts.wrapping_sub(last) as i32);
            if update {
                *unwrap = Some((ts, ext));
            }
            ext
        }
    }
}

fn elapsed_us(rtp_delta: i64, rate: i64) -> i64 {
    (i128::from(rtp_delta) * 1_000_000 / i128::from(rate)) as i64
}

impl Sink {
    fn on_event(&mut self, ev: Reordered<'_>) {
        match ev {
            Reordered::Gap => {
                self.current = None;
                match self.codec {
                    Codec::Vp8 => self.vp8.reset(),
                    Codec::H264 => self.h264.reset(),
                    Codec::Opus => {}
                }
                if self.kind == TrackKind::Video && !self.need_keyframe {
                    self.need_keyframe = true;
                    self.keyframe_wanted = true;
                }
            }
            Reordered::Packet {
                timestamp,
                marker,
                arrival,
                payload,
            } => {
                let first_arrival = match self.current {
                    Some((ts, at)) if ts == timestamp => at,
                    _ => {
                        self.current = Some((timestamp, arrival));
                        arrival
                    }
                };
                if marker {
                    self.current = None;
                }
                self.on_packet(timestamp, marker, first_arrival, payload);
            }
        }
    }

    fn on_packet(&mut self, timestamp: u32, marker: bool, arrival: u64, payload: &[u8]) {
        match self.codec {
            Codec::Opus => {
                let Some(samples) = opus_packet_duration_48k(payload) else {
                    self.stats.frames_dropped += 1;
                    return;
                };
                let rtp = extend(&mut self.unwrap, timestamp, true);
                store(
                    &mut self.pool,
                    &mut self.unmapped,
                    payload,
                    rtp,
                    arrival,
                    true,
                    f64::from(samples) / 48.0,
                );
            }
            Codec::Vp8 => {
                let dropped = self.vp8.dropped_frames();
                let mut broken = false;
                match self.vp8.push(payload, marker) {
                    Ok(Some(f)) => {
                        let dims = f.keyframe.then(|| vp8_dimensions(f.data)).flatten();
                        if gate(
                            &mut self.need_keyframe,
                            &mut self.keyframe_wanted,
                            &mut self.stats,
                            f.keyframe,
                            dims,
                            &mut self.first_dims,
                        ) {
                            let rtp = extend(&mut self.unwrap, timestamp, true);
                            store(
                                &mut self.pool,
                                &mut self.unmapped,
                                f.data,
                                rtp,
                                arrival,
                                f.keyframe,
                                0.0,
                            );
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::debug!(error = %e, "bad VP8 payload");
                        self.stats.frames_dropped += 1;
                        broken = true;
                    }
                }
                if (broken || self.vp8.dropped_frames() > dropped) && !self.need_keyframe {
                    self.need_keyframe = true;
                    self.keyframe_wanted = true;
                }
            }
            Codec::H264 => {
                let au = match self.h264.push(payload, timestamp, marker) {
                    Ok(Some(au)) => Some(au),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::debug!(error = %e, "bad H.264 payload");
                        self.stats.frames_dropped += 1;
                        if !self.need_keyframe {
                            self.need_keyframe = true;
                            self.keyframe_wanted = true;
                        }
                        None
                    }
                };
                if let Some(au) = au {
                    let (data, sps, pps) = (au.data, au.sps, au.pps);
                    let keyframe = au.keyframe && !sps.is_empty() && !pps.is_empty();
                    let mut dims = None;
                    if keyframe {
                        dims = h264::sps_dimensions(sps);
                        if self.avcc.is_none() {
                            self.avcc = h264::avc_decoder_configuration(sps, pps);
                        }
                    }
                    let keyframe = keyframe && self.avcc.is_some();
                    if gate(
                        &mut self.need_keyframe,
                        &mut self.keyframe_wanted,
                        &mut self.stats,
                        keyframe,
                        dims,
                        &mut self.first_dims,
                    ) {
                        let rtp = extend(&mut self.unwrap, timestamp, true);
                        store(
                            &mut self.pool,
                            &mut self.unmapped,
                            data,
                            rtp,
                            arrival,
                            keyframe,
                            0.0,
                        );
                    }
                }
            }
        }
    }
}

impl Sink {
    /// One whole frame (see [`StreamRecorder::push_frame`]): the depacketizers are
    /// skipped (H.264 goes through its NAL-unit path), gating and storing are shared.
    fn on_frame(&mut self, frame: &FrameIn<'_>, arrival: u64) {
        if !frame.contiguous {
            self.on_event(Reordered::Gap);
        }
        // Anything half-assembled from packets is moot now.
        self.current = None;
        match self.codec {
            Codec::Opus => self.on_packet(frame.rtp_time, true, arrival, frame.data),
            Codec::Vp8 => {
                self.vp8.reset();
                let data = frame.data;
                // A VP8 frame starts with a 3-byte tag (10 for a key frame); nothing
                // shorter, or longer than the depacketizer would assemble, is a frame.
                let keyframe = parlor_media::vp8::is_keyframe(data);
                if data.len() < 3 || data.len() > parlor_media::vp8::MAX_FRAME_LEN {
                    self.stats.frames_dropped += 1;
                    if !self.need_keyframe {
                        self.need_keyframe = true;
                        self.keyframe_wanted = true;
                    }
                    return;
                }
                let dims = keyframe.then(|| vp8_dimensions(data)).flatten();
                if gate(
                    &mut self.need_keyframe,
                    &mut self.keyframe_wanted,
                    &mut self.stats,
                    keyframe,
                    dims,
                    &mut self.first_dims,
                ) {
                    let rtp = extend(&mut self.unwrap, frame.rtp_time, true);
                    store(
                        &mut self.pool,
                        &mut self.unmapped,
                        data,
                        rtp,
                        arrival,
                        keyframe,
                        0.0,
                    );
                }
            }
            Codec::H264 => {
                self.h264.reset();
                let mut nals = annex_b_nal_units(frame.data).peekable();
                if nals.peek().is_none() {
                    tracing::debug!("H.264 frame without a NAL unit");
                    self.stats.frames_dropped += 1;
                    if !self.need_keyframe {
                        self.need_keyframe = true;
                        self.keyframe_wanted = true;
                    }
                    return;
                }
                // Each NAL unit as a single-NAL-unit packet of one timestamp, the
                // marker on the last: the access unit comes out of the usual path.
                while let Some(nal) = nals.next() {
                    let last = nals.peek().is_none();
                    self.on_packet(frame.rtp_time, last, arrival, nal);
                }
            }
        }
    }
}

/// The NAL units of an Annex B byte stream (`00 00 01` or `00 00 00 01` before each;
/// trailing zero bytes dropped). Bytes before the first start code are ignored.
fn annex_b_nal_units(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    fn next_start(data: &[u8], from: usize) -> Option<usize> {
        data.get(from..)?
            .windows(3)
            .position(|w| w == [0, 0, 1])
            .map(|p| from + p + 3)
    }
    let mut at = next_start(data, 0);
    std::iter::from_fn(move || {
        loop {
            let start = at?;
            let next = next_start(data, start);
            let mut end = next.map_or(data.len(), |n| n - 3);
            while end > start && data[end - 1] == 0 {
                end -= 1;
            }
            at = next;
            if end > start {
                return Some(&data[start..end]);
            }
        }
    })
}

/// Video key-frame gating: whether a complete frame may be written.
fn gate(
    need_keyframe: &mut bool,
    keyframe_wanted: &mut bool,
    stats: &mut TrackStats,
    keyframe: bool,
    dims: Option<(u32, u32)>,
    first_dims: &mut Option<(u32, u32)>,
) -> bool {
    if keyframe {
        *need_keyframe = false;
        if let Some(d) = dims {
            first_dims.get_or_insert(d);
            if stats.dimensions.last() != Some(&d) {
                stats.dimensions.push(d);
            }
        }
        true
    } else if *need_keyframe {
        stats.frames_dropped += 1;
        *keyframe_wanted = true;
        false
    } else {
        true
    }
}

#[allow(clippy::too_many_arguments)]
fn store(
    pool: &mut Vec<Vec<u8>>,
    unmapped: &mut VecDeque<Frame>,
    data: &[u8],
    rtp: i64,
    arrival: u64,
    keyframe: bool,
    duration_ms: f64,
) {
    let mut buf = pool.pop().unwrap_or_default();
    buf.clear();
    buf.extend_from_slice(data);
    unmapped.push_back(Frame {
        data: buf,
        rtp,
        arrival,
        keyframe,
        time_ms: 0,
        duration_ms,
    });
}

/// Width and height from a VP8 key frame header (14 bits each, after the start code).
fn vp8_dimensions(frame: &[u8]) -> Option<(u32, u32)> {
    let b = frame.get(6..10)?;
    let w = u32::from(u16::from_le_bytes([b[0], b[1]]) & 0x3fff);
    let h = u32::from(u16::from_le_bytes([b[2], b[3]]) & 0x3fff);
    (w > 0 && h > 0).then_some((w, h))
}

impl Track {
    fn new(kind: TrackKind, codec: Codec, reorder: ReorderConfig) -> Self {
        Track {
            reorder: Reorder::new(reorder),
            sink: Sink {
                kind,
                codec,
                vp8: Vp8Depacketizer::new(),
                h264: H264Depacketizer::new(),
                need_keyframe: kind == TrackKind::Video,
                keyframe_wanted: kind == TrackKind::Video,
                current: None,
                unwrap: None,
                avcc: None,
                first_dims: None,
                unmapped: VecDeque::new(),
                pool: Vec::new(),
                stats: TrackStats {
                    codec: Some(codec),
                    ..TrackStats::default()
                },
            },
            rate: if kind == TrackKind::Video {
                90_000
            } else {
                48_000
            },
            sr: None,
            sr_pending: false,
            anchor: None,
            last_ms: None,
            last_duration_ms: 0.0,
            ready: VecDeque::new(),
            included: false,
            number: 0,
        }
    }

    fn sender_us(&self, sr: (u64, i64), rtp: i64) -> i64 {
        sr.0 as i64 + elapsed_us(rtp - sr.1, self.rate)
    }

    /// Moves frames whose time is known from `unmapped` to `ready`.
    fn map(&mut self, offset: &mut Option<i64>, now: u64, cfg: &StreamRecorderConfig, force: bool) {
        if self.sr_pending {
            if let Some(sr) = self.sr {
                if offset.is_none() {
                    if let Some(a) = self.anchor {
                        // Placed by arrival so far: keep this track where it is.
                        *offset =
                            Some(a.server_us + elapsed_us(sr.1 - a.rtp, self.rate) - sr.0 as i64);
                    } else {
                        *offset = self
                            .sink
                            .unmapped
                            .iter()
                            .map(|f| f.arrival as i64 - self.sender_us(sr, f.rtp))
                            .min();
                    }
                }
                if let Some(off) = *offset {
                    self.anchor = Some(Anchor {
                        server_us: sr.0 as i64 + off,
                        rtp: sr.1,
                    });
                    self.sr_pending = false;
                    self.sink.stats.synced_by_sender_report = true;
                }
            }
        }
        if self.anchor.is_none() {
            let Some(front) = self.sink.unmapped.front() else {
                return;
            };
            if !force && now < front.arrival.saturating_add(cfg.sr_wait_micros) {
                return;
            }
            let rtp0 = front.rtp;
            let server_us = self
                .sink
                .unmapped
                .iter()
                .map(|f| f.arrival as i64 - elapsed_us(f.rtp - rtp0, self.rate))
                .min()
                .unwrap_or(0);
            tracing::debug!(kind = ?self.sink.kind, "no sender report: track placed by arrival time");
            self.anchor = Some(Anchor {
                server_us,
                rtp: rtp0,
            });
        }
        let Some(a) = self.anchor else { return };
        let origin = cfg.origin_unix_micros.min(MAX_TIME) as i64;
        while let Some(mut f) = self.sink.unmapped.pop_front() {
            let file_us = a.server_us + elapsed_us(f.rtp - a.rtp, self.rate) - origin;
            let mut ms = (file_us + 500).div_euclid(1000).max(0);
            if let Some(last) = self.last_ms {
                ms = ms.max(last + 1);
            }
            self.last_ms = Some(ms);
            f.time_ms = ms;
            self.ready.push_back(f);
        }
    }

    fn header(&self, channels: u8) -> Option<TrackHeader> {
        let (codec_id, codec_private, video) = match self.sink.codec {
            Codec::Opus => {
                let head = parlor_media::ogg_opus::OpusHead::new(channels.clamp(1, 2), 0);
                ("A_OPUS", head.to_bytes().ok()?.to_vec(), false)
            }
            Codec::Vp8 => ("V_VP8", Vec::new(), true),
            Codec::H264 => ("V_MPEG4/ISO/AVC", self.sink.avcc.clone()?, true),
        };
        Some(TrackHeader {
            number: self.number,
            video,
            codec_id,
            codec_private,
            dims: self.sink.first_dims.unwrap_or((640, 480)),
            channels: channels.clamp(1, 2),
        })
    }
}

impl StreamRecorder {
    /// A recorder for one stream. Errors if neither track is configured, or a codec is
    /// on the wrong track (audio must be Opus; video VP8 or H.264).
    pub fn new(cfg: StreamRecorderConfig) -> Result<Self, RecorderError> {
        if cfg.audio.is_none() && cfg.video.is_none() {
            return Err(RecorderError::Config(
                "a stream needs an audio or a video track",
            ));
        }
        if cfg.audio.is_some_and(|c| c != Codec::Opus) {
            return Err(RecorderError::Config("the audio codec must be Opus"));
        }
        if cfg.video.is_some_and(|c| c == Codec::Opus) {
            return Err(RecorderError::Config(
                "the video codec must be VP8 or H.264",
            ));
        }
        Ok(StreamRecorder {
            audio: cfg
                .audio
                .map(|c| Track::new(TrackKind::Audio, c, cfg.audio_reorder)),
            video: cfg
                .video
                .map(|c| Track::new(TrackKind::Video, c, cfg.video_reorder)),
            mux: Muxer::new(cfg.cluster_max_ms),
            now: 0,
            first_arrival: None,
            offset_us: None,
            finished: false,
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &StreamRecorderConfig {
        &self.cfg
    }

    /// `"webm"` for VP8/Opus, `"matroska"` for H.264: the DocType, and the file's
    /// conventional extension (`.webm`/`.mkv`).
    pub fn doc_type(&self) -> &'static str {
        if self.cfg.video == Some(Codec::H264) {
            "matroska"
        } else {
            "webm"
        }
    }

    fn track_mut(&mut self, kind: TrackKind) -> Option<&mut Track> {
        match kind {
            TrackKind::Audio => self.audio.as_mut(),
            TrackKind::Video => self.video.as_mut(),
        }
    }

    /// Hands over one RTP packet of the track `kind`, received at `arrival_unix_micros`
    /// (server clock). Packets of a track that is not configured, and anything after
    /// [`finish`](Self::finish), are ignored.
    pub fn push_rtp(&mut self, kind: TrackKind, pkt: &RtpIn<'_>, arrival_unix_micros: u64) {
        if self.finished {
            return;
        }
        // Times are kept below 2^62 µs (year ~148,000) so clock arithmetic cannot overflow.
        let arrival_unix_micros = arrival_unix_micros.min(MAX_TIME);
        self.now = self.now.max(arrival_unix_micros);
        let now = self.now;
        let Some(t) = self.track_mut(kind) else {
            return;
        };
        let sink = &mut t.sink;
        t.reorder.push(
            pkt.seq,
            pkt.timestamp,
            pkt.marker,
            pkt.payload,
            arrival_unix_micros,
            &mut |ev| sink.on_event(ev),
        );
        t.reorder.drain(now, &mut |ev| sink.on_event(ev));
        self.first_arrival.get_or_insert(arrival_unix_micros);
        self.process(false);
    }

    /// Hands over one whole frame of the track `kind`, received at `arrival_unix_micros`
    /// (server clock): for a receiver whose WebRTC stack already reorders and
    /// depacketizes (str0m's frame mode, a browser's insertable streams). The reorder
    /// buffer and the depacketizers are skipped; everything after them is shared with
    /// [`push_rtp`](Self::push_rtp): key-frame gating (detected from the bitstream, and
    /// a frame that is not [`contiguous`](FrameIn::contiguous) makes video wait for the
    /// next key frame), the clock (sender reports, or arrival time), interleaving and
    /// muxing. Feed each track either packets or frames, not both. Frames of a track
    /// that is not configured, and anything after [`finish`](Self::finish), are ignored.
    pub fn push_frame(&mut self, kind: TrackKind, frame: &FrameIn<'_>, arrival_unix_micros: u64) {
        if self.finished {
            return;
        }
        let arrival_unix_micros = arrival_unix_micros.min(MAX_TIME);
        self.now = self.now.max(arrival_unix_micros);
        let Some(t) = self.track_mut(kind) else {
            return;
        };
        t.sink.on_frame(frame, arrival_unix_micros);
        self.first_arrival.get_or_insert(arrival_unix_micros);
        self.process(false);
    }

    /// Hands over a sender report of the track `kind`. Every report replaces the
    /// previous one in the track's RTP → wallclock mapping.
    pub fn push_sender_report(&mut self, kind: TrackKind, sr: SenderReport) {
        if self.finished {
            return;
        }
        let Some(t) = self.track_mut(kind) else {
            return;
        };
        let rtp = extend(&mut t.sink.unwrap, sr.rtp_time, false);
        t.sr = Some((sr.ntp_unix_micros.min(MAX_TIME), rtp));
        t.sr_pending = true;
        t.sink.stats.sender_reports += 1;
        self.process(false);
    }

    /// Advances time without a packet: gives up on missing packets, stops waiting for
    /// sender reports, and interleaves, as due at `now_unix_micros`. Call it every
    /// ~100 ms while recording (packets may stop, e.g. while muted).
    pub fn handle_timeout(&mut self, now_unix_micros: u64) {
        if self.finished {
            return;
        }
        self.now = self.now.max(now_unix_micros.min(MAX_TIME));
        let now = self.now;
        for t in [self.audio.as_mut(), self.video.as_mut()]
            .into_iter()
            .flatten()
        {
            let sink = &mut t.sink;
            t.reorder.drain(now, &mut |ev| sink.on_event(ev));
        }
        self.process(false);
    }

    /// Whether video was lost and the recorder waits for a key frame (ask the sender
    /// for one, e.g. with a PLI). Returns true once per need.
    pub fn take_keyframe_request(&mut self) -> bool {
        self.video
            .as_mut()
            .is_some_and(|t| std::mem::take(&mut t.sink.keyframe_wanted))
    }

    /// Appends the bytes ready for the file (whole EBML elements: the headers, then one
    /// closed cluster at a time) to `out`; returns how many.
    pub fn poll_output(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.mux.out.len();
        out.extend_from_slice(&self.mux.out);
        self.mux.out.clear();
        n
    }

    /// Flushes everything (gaps are given up on, held frames placed) into `out`, writes
    /// Cues, and returns what to patch in the file. Later calls return the same kind of
    /// patches for an unchanged file.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Finished {
        if !self.finished {
            for t in [self.audio.as_mut(), self.video.as_mut()]
                .into_iter()
                .flatten()
            {
                let sink = &mut t.sink;
                t.reorder.flush(&mut |ev| sink.on_event(ev));
            }
            self.process(true);
            self.finished = true;
        }
        let duration_ms = [self.audio.as_ref(), self.video.as_ref()]
            .into_iter()
            .flatten()
            .filter(|t| t.included)
            .filter_map(|t| {
                let last = t.sink.stats.last_ms? as f64;
                Some(last + t.last_duration_ms)
            })
            .fold(0.0, f64::max);
        let patches = self.mux.finish(duration_ms);
        self.poll_output(out);
        Finished {
            patches,
            duration_ms,
            len: self.mux.total(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> RecorderStats {
        let track = |t: Option<&Track>| {
            t.map(|t| {
                let mut s = t.sink.stats.clone();
                s.packets = t.reorder.stats();
                s
            })
            .unwrap_or_default()
        };
        RecorderStats {
            audio: track(self.audio.as_ref()),
            video: track(self.video.as_ref()),
            clusters: self.mux.clusters,
            bytes: self.mux.total(),
        }
    }

    fn process(&mut self, force: bool) {
        let (now, cfg) = (self.now, &self.cfg);
        for t in [self.audio.as_mut(), self.video.as_mut()]
            .into_iter()
            .flatten()
        {
            t.map(&mut self.offset_us, now, cfg, force);
        }
        if !self.mux.header_written() && !self.start(force) {
            return;
        }
        self.interleave(force);
    }

    /// Writes the header once every track has started (or the wait is over).
    fn start(&mut self, force: bool) -> bool {
        let tracks = [self.video.as_ref(), self.audio.as_ref()];
        let started = |t: &Track| {
            !t.ready.is_empty() && (t.sink.codec != Codec::H264 || t.sink.avcc.is_some())
        };
        let all = tracks.iter().flatten().all(|t| started(t));
        let any = tracks.iter().flatten().any(|t| started(t));
        let timed_out = self
            .first_arrival
            .is_some_and(|f| self.now >= f.saturating_add(self.cfg.start_wait_micros));
        if !(all || force || (timed_out && any)) {
            return false;
        }
        let mut headers = Vec::new();
        let mut number = 1;
        let channels = self.cfg.audio_channels;
        for t in [self.video.as_mut(), self.audio.as_mut()]
            .into_iter()
            .flatten()
        {
            // With nothing at all to write, keep an audio track so the file is valid.
            let include = started(t) || (!any && t.sink.kind == TrackKind::Audio);
            t.number = number;
            if include {
                if let Some(h) = t.header(channels) {
                    headers.push(h);
                    t.included = true;
                    number += 1;
                }
            }
            if !t.included {
                t.sink.stats.omitted = true;
                tracing::info!(kind = ?t.sink.kind, "track did not start in time: left out of the recording");
            }
        }
        if headers.is_empty() {
            if let Some(t) = self.video.as_mut() {
                // Video only, never started: an empty VP8 track keeps the file valid.
                if let Some(h) = t.header(channels).filter(|_| t.sink.codec == Codec::Vp8) {
                    headers.push(h);
                    t.included = true;
                    t.sink.stats.omitted = false;
                }
            }
        }
        let doc_type = self.doc_type();
        self.mux
            .write_header(doc_type, self.cfg.origin_unix_micros, &headers);
        true
    }

    /// Writes ready frames in time order across tracks.
    fn interleave(&mut self, force: bool) {
        let now_ms = (self.now as i64 - self.cfg.origin_unix_micros.min(MAX_TIME) as i64) / 1000;
        let wait_ms = (self.cfg.interleave_micros / 1000) as i64;
        // Frames of tracks left out of the file are dropped.
        for t in [self.audio.as_mut(), self.video.as_mut()]
            .into_iter()
            .flatten()
        {
            if !t.included {
                while let Some(f) = t.ready.pop_front() {
                    t.sink.stats.frames_dropped += 1;
                    t.sink.pool.push(f.data);
                }
            }
        }
        loop {
            let front = |t: &Option<Track>| {
                t.as_ref()
                    .filter(|t| t.included)
                    .and_then(|t| t.ready.front())
                    .map(|f| f.time_ms)
            };
            let (a, v) = (front(&self.audio), front(&self.video));
            let (take_video, time) = match (a, v) {
                (None, None) => break,
                (Some(a), Some(v)) => (v <= a, a.min(v)),
                (Some(a), None) => (false, a),
                (None, Some(v)) => (true, v),
            };
            let other = if take_video { &self.audio } else { &self.video };
            let blocked = other.as_ref().is_some_and(|o| {
                o.included && o.ready.is_empty() && o.last_ms.is_none_or(|l| l < time)
            });
            if blocked && !force && now_ms - time < wait_ms {
                break;
            }
            let t = if take_video {
                self.video.as_mut()
            } else {
                self.audio.as_mut()
            };
            let Some(t) = t else { break };
            let Some(f) = t.ready.pop_front() else { break };
            let video = t.sink.kind == TrackKind::Video;
            self.mux
                .write_block(t.number, video, f.time_ms, f.keyframe || !video, &f.data);
            let s = &mut t.sink.stats;
            s.frames += 1;
            s.keyframes += u64::from(f.keyframe);
            s.first_ms.get_or_insert(f.time_ms);
            let prev = s.last_ms.replace(f.time_ms);
            t.last_duration_ms = if video {
                prev.map_or(33.0, |p| (f.time_ms - p) as f64)
            } else {
                f.duration_ms
            };
            t.sink.pool.push(f.data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: u64 = 1_700_000_000_000_000;

    fn opus_frame(i: u32) -> [u8; 3] {
        // TOC: CELT FB 20 ms, one frame.
        [0xfc, i as u8, 0x55]
    }

    /// Audio only, in order: frames come out at their sender-report times, 20 ms apart.
    #[test]
    fn audio_frames_follow_sender_report_clock() {
        let mut rec =
            StreamRecorder::new(StreamRecorderConfig::new(Some(Codec::Opus), None, T)).unwrap();
        // The sender clock runs 10 s ahead of the server's; the report maps RTP 1000 to it.
        rec.push_sender_report(
            TrackKind::Audio,
            SenderReport {
                ntp_unix_micros: T + 10_000_000,
                rtp_time: 1000,
            },
        );
        for i in 0..100u32 {
            let p = opus_frame(i);
            let pkt = RtpIn {
                seq: i as u16,
                timestamp: 1000 + 960 * i,
                marker: false,
                payload: &p,
            };
            rec.push_rtp(TrackKind::Audio, &pkt, T + 50_000 + u64::from(i) * 20_000);
        }
        let mut out = Vec::new();
        let fin = rec.finish(&mut out);
        let s = rec.stats();
        assert_eq!(s.audio.frames, 100);
        // The least delay (the first frame, 50 ms after the origin) sets the offset.
        assert_eq!(s.audio.first_ms, Some(50));
        assert_eq!(s.audio.last_ms, Some(50 + 99 * 20));
        assert_eq!(fin.duration_ms, (50 + 100 * 20) as f64);
        assert_eq!(fin.len, out.len() as u64);
        assert!(s.audio.synced_by_sender_report);
    }

    #[test]
    fn config_is_checked() {
        assert!(StreamRecorder::new(StreamRecorderConfig::new(None, None, 0)).is_err());
        assert!(StreamRecorder::new(StreamRecorderConfig::new(Some(Codec::Vp8), None, 0)).is_err());
        assert!(
            StreamRecorder::new(StreamRecorderConfig::new(None, Some(Codec::Opus), 0)).is_err()
        );
        let r = StreamRecorder::new(StreamRecorderConfig::new(None, Some(Codec::H264), 0)).unwrap();
        assert_eq!(r.doc_type(), "matroska");
    }

    /// Video waits for a key frame and asks for one; a file with nothing in it is still a
    /// valid (empty) recording.
    #[test]
    fn video_waits_for_a_keyframe() {
        let mut rec =
            StreamRecorder::new(StreamRecorderConfig::new(None, Some(Codec::Vp8), T)).unwrap();
        // A complete delta frame (P bit set): dropped, a key frame is requested.
        let delta = [0x90, 0x80, 0x80, 0x01, 0x31, 0x00, 0x00, 0x11];
        for i in 0..5u16 {
            let pkt = RtpIn {
                seq: i,
                timestamp: 3000 * u32::from(i),
                marker: true,
                payload: &delta,
            };
            rec.push_rtp(TrackKind::Video, &pkt, T + u64::from(i) * 33_000);
        }
        rec.handle_timeout(T + 1_000_000);
        assert!(rec.take_keyframe_request());
        assert!(!rec.take_keyframe_request());
        let mut out = Vec::new();
        rec.finish(&mut out);
        assert_eq!(rec.stats().video.frames, 0);
        assert_eq!(rec.stats().video.frames_dropped, 5);
        assert!(out.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]));
    }

    /// A VP8 key frame of 320×240 (tag, start code, dimensions) or a delta frame, with
    /// `fill` bytes after the header so frames differ.
    fn vp8_frame(key: bool, fill: u8, len: usize) -> Vec<u8> {
        let mut f = if key {
            vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]
        } else {
            vec![0x31, 0x00, 0x00]
        };
        f.resize(len, fill);
        f
    }

    /// A stream as `(kind, rtp, arrival, data)`: Opus every 20 ms, VP8 at 30 fps with a
    /// key frame every 30 frames, two tracks with their own RTP bases (near the wrap).
    fn av_stream() -> Vec<(TrackKind, u32, u64, Vec<u8>)> {
        let mut ev = Vec::new();
        for i in 0..150u32 {
            let at = T + 40_000 + u64::from(i) * 20_000 + u64::from(i % 3) * 1000;
            let p = opus_frame(i).to_vec();
            ev.push((
                TrackKind::Audio,
                (u32::MAX - 5000).wrapping_add(960 * i),
                at,
                p,
            ));
        }
        for i in 0..90u32 {
            let at = T + 70_000 + u64::from(i) * 1_000_000 / 30 + u64::from(i % 4) * 2000;
            let f = vp8_frame(i % 30 == 0, i as u8, 1500 + 300 * (i as usize % 5));
            ev.push((TrackKind::Video, 123_456 + 3000 * i, at, f));
        }
        ev.sort_by_key(|e| e.2);
        ev
    }

    fn both() -> StreamRecorderConfig {
        StreamRecorderConfig::new(Some(Codec::Opus), Some(Codec::Vp8), T)
    }

    /// The same stream as whole frames and as RTP packets (VP8 split into several
    /// packets, in order), with the same sender reports: byte-identical files.
    #[test]
    fn frames_give_the_same_file_as_packets() {
        let sr = |kind, rtp_time, at: u64| {
            (
                kind,
                SenderReport {
                    ntp_unix_micros: at + 7_000_000,
                    rtp_time,
                },
            )
        };
        let reports = [
            (
                T + 600_000,
                sr(
                    TrackKind::Audio,
                    (u32::MAX - 5000).wrapping_add(960 * 28),
                    T + 600_000,
                ),
            ),
            (
                T + 700_000,
                sr(TrackKind::Video, 123_456 + 3000 * 19, T + 700_000),
            ),
        ];
        let mut by_frame = StreamRecorder::new(both()).unwrap();
        let mut by_packet = StreamRecorder::new(both()).unwrap();
        let mut packetizer = parlor_media::vp8::Vp8Packetizer::new(1);
        let (mut vseq, mut aseq) = (65_000u16, 1u16);
        let (mut out_f, mut out_p) = (Vec::new(), Vec::new());
        for (kind, rtp, at, data) in av_stream() {
            for (when, (k, r)) in reports {
                if when <= at && when + 20_000 > at {
                    by_frame.push_sender_report(k, r);
                    by_packet.push_sender_report(k, r);
                }
            }
            let frame = FrameIn {
                rtp_time: rtp,
                data: &data,
                contiguous: true,
            };
            by_frame.push_frame(kind, &frame, at);
            if kind == TrackKind::Audio {
                let pkt = RtpIn {
                    seq: aseq,
                    timestamp: rtp,
                    marker: false,
                    payload: &data,
                };
                by_packet.push_rtp(kind, &pkt, at);
                aseq = aseq.wrapping_add(1);
            } else {
                let packets: Vec<_> = packetizer
                    .packetize(&data, 700)
                    .unwrap()
                    .map(|p| {
                        let mut v = Vec::new();
                        p.append_to(&mut v);
                        (v, p.last)
                    })
                    .collect();
                assert!(packets.len() >= 3);
                for (payload, marker) in &packets {
                    let pkt = RtpIn {
                        seq: vseq,
                        timestamp: rtp,
                        marker: *marker,
                        payload,
                    };
                    by_packet.push_rtp(kind, &pkt, at);
                    vseq = vseq.wrapping_add(1);
                }
            }
            by_frame.poll_output(&mut out_f);
            by_packet.poll_output(&mut out_p);
        }
        let (fin_f, fin_p) = (by_frame.finish(&mut out_f), by_packet.finish(&mut out_p));
        let (sf, sp) = (by_frame.stats(), by_packet.stats());
        assert_eq!(sf.video.frames, 90);
        assert_eq!(sf.video.keyframes, 3);
        assert_eq!(sf.audio.frames, 150);
        assert!(sf.video.synced_by_sender_report && sf.audio.synced_by_sender_report);
        assert_eq!(sf.video.dimensions, vec![(320, 240)]);
        for (f, p) in [(&sf.audio, &sp.audio), (&sf.video, &sp.video)] {
            assert_eq!(
                (
                    f.frames,
                    f.keyframes,
                    f.frames_dropped,
                    f.first_ms,
                    f.last_ms
                ),
                (
                    p.frames,
                    p.keyframes,
                    p.frames_dropped,
                    p.first_ms,
                    p.last_ms
                )
            );
        }
        // Frames bypass the reorder buffer: it saw nothing.
        assert_eq!(sf.video.packets, ReorderStats::default());
        assert_eq!(fin_f, fin_p);
        assert!(out_f == out_p, "the files differ");
    }

    /// Video frames: written from the first key frame on; after a frame that is not
    /// contiguous (something was lost), deltas wait for the next key frame, and a key
    /// frame is asked for. Junk is dropped.
    #[test]
    fn frames_are_gated_on_keyframes() {
        let mut rec =
            StreamRecorder::new(StreamRecorderConfig::new(None, Some(Codec::Vp8), T)).unwrap();
        // (key, contiguous, written)
        let script = [
            (false, true, false), // before any key frame
            (true, true, true),
            (false, true, true),
            (false, false, false), // a loss before it
            (false, true, false),  // still waiting
            (true, false, true),   // a key frame ends the wait, contiguous or not
            (false, true, true),
        ];
        assert!(rec.take_keyframe_request(), "video starts wanting one");
        let mut wanted_after_loss = false;
        for (i, (key, contiguous, _)) in script.iter().enumerate() {
            let f = vp8_frame(*key, i as u8, 100);
            let at = T + i as u64 * 33_333;
            let frame = FrameIn {
                rtp_time: 3000 * i as u32,
                data: &f,
                contiguous: *contiguous,
            };
            rec.push_frame(TrackKind::Video, &frame, at);
            if i == 3 {
                wanted_after_loss = rec.take_keyframe_request();
            }
        }
        assert!(wanted_after_loss);
        for junk in [&[][..], &[0x31, 0x00][..]] {
            let frame = FrameIn {
                rtp_time: 30_000,
                data: junk,
                contiguous: true,
            };
            rec.push_frame(TrackKind::Video, &frame, T + 400_000);
        }
        // Audio is not configured: ignored.
        let p = opus_frame(1);
        let frame = FrameIn {
            rtp_time: 0,
            data: &p,
            contiguous: true,
        };
        rec.push_frame(TrackKind::Audio, &frame, T);
        let mut out = Vec::new();
        rec.finish(&mut out);
        let s = rec.stats();
        let written = script.iter().filter(|s| s.2).count() as u64;
        assert_eq!(s.video.frames, written);
        assert_eq!(s.video.keyframes, 2);
        assert_eq!(s.video.frames_dropped, script.len() as u64 - written + 2);
        assert_eq!(s.audio, TrackStats::default());
        // Times follow RTP time (33 or 34 ms a frame) from the first key frame's.
        assert_eq!(s.video.last_ms.unwrap() - s.video.first_ms.unwrap(), 167);
    }

    #[test]
    fn annex_b_is_split_into_nal_units() {
        let data = [
            0xff, 0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 4, 5, 0, 0, 1, 0,
            0, 1, 0x41, 0,
        ];
        let nals: Vec<&[u8]> = annex_b_nal_units(&data).collect();
        assert_eq!(
            nals,
            [&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 4, 5], &[0x41]]
        );
        assert_eq!(annex_b_nal_units(&[1, 2, 3]).count(), 0);
        assert_eq!(annex_b_nal_units(&[0, 0, 1]).count(), 0);
    }

    proptest! {
        /// Garbage payloads, sequence numbers, timestamps and reports: no panic, and the
        /// output is a well-formed element stream.
        #[test]
        fn garbage_never_panics(
            video_h264 in any::<bool>(),
            events in prop::collection::vec(
                (any::<bool>(), any::<u16>(), any::<u32>(), any::<bool>(),
                 prop::collection::vec(any::<u8>(), 0..80), 0u64..100_000, any::<bool>()),
                0..200,
            ),
        ) {
            let video = if video_h264 { Codec::H264 } else { Codec::Vp8 };
            let mut rec = StreamRecorder::new(StreamRecorderConfig::new(Some(Codec::Opus), Some(video), T)).unwrap();
            let mut now = T;
            let mut out = Vec::new();
            for (audio, seq, ts, marker, payload, dt, sr) in &events {
                now += dt;
                let kind = if *audio { TrackKind::Audio } else { TrackKind::Video };
                if *sr {
                    rec.push_sender_report(kind, SenderReport { ntp_unix_micros: now ^ u64::from(*ts), rtp_time: *ts });
                } else {
                    rec.push_rtp(kind, &RtpIn { seq: *seq, timestamp: *ts, marker: *marker, payload }, now);
                }
                rec.poll_output(&mut out);
            }
            let fin = rec.finish(&mut out);
            prop_assert_eq!(fin.len, out.len() as u64);
            for p in &fin.patches {
                prop_assert!(p.offset + p.bytes.len() as u64 <= fin.len);
            }
        }

        /// Garbage frames and reports: no panic, a well-formed element stream.
        #[test]
        fn garbage_frames_never_panic(
            video_h264 in any::<bool>(),
            events in prop::collection::vec(
                (any::<bool>(), any::<u32>(), any::<bool>(),
                 prop::collection::vec(prop_oneof![Just(0u8), Just(1u8), any::<u8>()], 0..80),
                 0u64..100_000, any::<bool>()),
                0..200,
            ),
        ) {
            let video = if video_h264 { Codec::H264 } else { Codec::Vp8 };
            let mut rec = StreamRecorder::new(StreamRecorderConfig::new(Some(Codec::Opus), Some(video), T)).unwrap();
            let mut now = T;
            let mut out = Vec::new();
            for (audio, ts, contiguous, data, dt, sr) in &events {
                now += dt;
                let kind = if *audio { TrackKind::Audio } else { TrackKind::Video };
                if *sr {
                    rec.push_sender_report(kind, SenderReport { ntp_unix_micros: now ^ u64::from(*ts), rtp_time: *ts });
                } else {
                    rec.push_frame(kind, &FrameIn { rtp_time: *ts, data, contiguous: *contiguous }, now);
                }
                rec.poll_output(&mut out);
            }
            let fin = rec.finish(&mut out);
            prop_assert_eq!(fin.len, out.len() as u64);
            for p in &fin.patches {
                prop_assert!(p.offset + p.bytes.len() as u64 <= fin.len);
            }
        }
    }
}
