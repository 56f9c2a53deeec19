//! One running broadcast's media: the router's tap of each included stream, drained by a
//! thread of its own into a source of `parlor-compositor`'s [`LiveCompositor`], which
//! composes, encodes once and sends to HLS and the RTMP targets.
//!
//! ```text
//! router worker ──tap──▶ feeder thread ──RTP──▶ live source (depacketize, decode)
//!                 (one per included stream)            │
//!                                           live compositor (layout, mix, encode)
//!                                                      ├──▶ HLS directory
//!                                                      └──▶ RTMP targets
//! ```
//!
//! The media worker never waits for a broadcast: a tap is a bounded queue and what a
//! slow feeder cannot take is dropped and counted by the tap (as for archives).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use parlor_compositor::ffmpeg::FfmpegInfo;
use parlor_compositor::layout::Placement;
use parlor_compositor::live::{
    HlsConfig, LiveCompositor, LiveConfig, LiveEvent, LiveReport, RtmpTarget, SourceInput,
    TargetStatus,
};
use parlor_recorder::{Codec, RtpIn, SenderReport, TrackKind};
use parlor_router::tap::{Tap, TapCodec, TapEvent};
use parlor_router::{RouterHandle, TransportId};
use str0m::media::MediaKind;
use tokio::sync::mpsc;

use super::model::{BroadcastRecord, OutputStatus};
use crate::signaling::lock;

/// Events a tap holds for a feeder that is behind (as archives).
const TAP_CAPACITY: usize = 4096;
/// How long a new source waits for its first video packet to learn the codec.
const CODEC_WAIT: Duration = Duration::from_millis(1500);
/// The broadcast's frame rate.
pub const FPS: u32 = 30;

/// What a pipeline reports to the service.
#[derive(Debug, Clone)]
pub enum PipelineEvent {
    Hls {
        broadcast_id: String,
        status: OutputStatus,
    },
    Rtmp {
        broadcast_id: String,
        target: String,
        status: OutputStatus,
        error: Option<String>,
    },
    /// The compositor gave up (its encoder kept failing).
    Failed {
        broadcast_id: String,
        reason: String,
    },
}

impl PipelineEvent {
    pub fn broadcast_id(&self) -> &str {
        match self {
            PipelineEvent::Hls { broadcast_id, .. }
            | PipelineEvent::Rtmp { broadcast_id, .. }
            | PipelineEvent::Failed { broadcast_id, .. } => broadcast_id,
        }
    }
}

/// A stream being fed into the compositor.
struct Feeder {
    audio: bool,
    video: bool,
    stop: Arc<AtomicBool>,
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One broadcast's media.
pub struct Pipeline {
    live: Arc<LiveCompositor>,
    feeders: Mutex<HashMap<String, Feeder>>,
}

impl Pipeline {
    /// Starts the compositor and its outputs. Blocking (starts ffmpeg).
    pub fn start(
        ffmpeg: &FfmpegInfo,
        record: &BroadcastRecord,
        hls_dir: &Path,
        events: mpsc::UnboundedSender<PipelineEvent>,
    ) -> Result<Pipeline, String> {
        let (width, height) = record.size();
        let config = LiveConfig {
            width,
            height,
            fps: FPS,
            video_bitrate_bps: record.max_bitrate,
            has_audio: record.has_audio,
            has_video: record.has_video,
            hls: record.hls.map(|h| HlsConfig {
                dir: hls_dir.to_owned(),
                dvr: h.dvr,
                low_latency: h.low_latency,
            }),
            rtmp: record
                .rtmp
                .iter()
                .map(|t| RtmpTarget {
                    id: t.id.clone(),
                    url: t.url(),
                })
                .collect(),
        };
        Pipeline::start_config(ffmpeg, &record.id, config, events)
    }

    /// Starts a compositor of any configuration (composed archives use one with a DVR
    /// HLS output as their recording); its events go to `events` tagged with `id`.
    pub fn start_config(
        ffmpeg: &FfmpegInfo,
        id: &str,
        config: LiveConfig,
        events: mpsc::UnboundedSender<PipelineEvent>,
    ) -> Result<Pipeline, String> {
        let id = id.to_owned();
        let on_event = move |event: LiveEvent| {
            let e = match event {
                LiveEvent::Target { id: target, status } => {
                    let (status, error) = match status {
                        TargetStatus::Connecting => (OutputStatus::Connecting, None),
                        TargetStatus::Live => (OutputStatus::Live, None),
                        TargetStatus::Error(why) => (OutputStatus::Error, Some(why)),
                        TargetStatus::Ended => (OutputStatus::Ended, None),
                    };
                    PipelineEvent::Rtmp {
                        broadcast_id: id.clone(),
                        target,
                        status,
                        error,
                    }
                }
                LiveEvent::HlsReady => PipelineEvent::Hls {
                    broadcast_id: id.clone(),
                    status: OutputStatus::Live,
                },
                LiveEvent::Failed(reason) => PipelineEvent::Failed {
                    broadcast_id: id.clone(),
                    reason,
                },
            };
            let _ = events.send(e);
        };
        let live =
            LiveCompositor::start(ffmpeg, config, Box::new(on_event)).map_err(|e| e.to_string())?;
        Ok(Pipeline {
            live: Arc::new(live),
            feeders: Mutex::new(HashMap::new()),
        })
    }

    /// Makes the sources `(stream id, audio, video)` and the layout current: taps and
    /// feeds new streams, stops feeding the others. Called on the tokio runtime (taps are
    /// asked for asynchronously); never blocks on media.
    pub fn update(
        &self,
        router: &RouterHandle,
        sources: Vec<(String, bool, bool)>,
        placements: Vec<Placement>,
    ) {
        let mut feeders = lock(&self.feeders);
        feeders.retain(|id, f| {
            let keep = sources
                .iter()
                .any(|(s, a, v)| s == id && *a == f.audio && *v == f.video);
            if !keep {
                self.live.remove_source(id);
            }
            keep
        });
        for (id, audio, video) in sources {
            if feeders.contains_key(&id) {
                continue;
            }
            let stop = Arc::new(AtomicBool::new(false));
            feeders.insert(
                id.clone(),
                Feeder {
                    audio,
                    video,
                    stop: stop.clone(),
                },
            );
            let router = router.clone();
            let live = Arc::downgrade(&self.live);
            tokio::spawn(async move {
                let producer = TransportId::from(id.as_str());
                let tap = match router.tap(&producer, TAP_CAPACITY).await {
                    Ok(tap) => tap,
                    Err(e) => {
                        tracing::warn!(stream = %id, error = %e, "cannot broadcast a stream");
                        return;
                    }
                };
                let ask = move || router.request_keyframe(producer.clone());
                let spawned = std::thread::Builder::new()
                    .name("parlor-broadcast-feed".into())
                    .spawn(move || feed(tap, &live, &id, audio, video, &stop, ask));
                if let Err(e) = spawned {
                    tracing::warn!(error = %e, "cannot start a broadcast feeder thread");
                }
            });
        }
        drop(feeders);
        self.live.set_placements(placements);
    }

    /// Stops feeding and the compositor; its outputs end (HLS gets its end tag). Blocking.
    /// The compositor's report, unless it was still in use and had to be dropped.
    pub fn stop(self) -> Option<LiveReport> {
        lock(&self.feeders).clear();
        // Feeders hold the compositor only while adding their source: wait that out.
        let mut live = self.live;
        for _ in 0..100 {
            match Arc::try_unwrap(live) {
                Ok(l) => {
                    let report = l.stop();
                    tracing::debug!(?report, "broadcast pipeline stopped");
                    return Some(report);
                }
                Err(still_shared) => {
                    live = still_shared;
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        // Dropping the last reference kills the compositor's processes.
        tracing::warn!("a broadcast's compositor was still in use when it stopped");
        None
    }
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn kind_of(kind: MediaKind) -> TrackKind {
    match kind {
        MediaKind::Audio => TrackKind::Audio,
        MediaKind::Video => TrackKind::Video,
    }
}

fn codec_of(codec: TapCodec) -> Codec {
    match codec {
        TapCodec::Vp8 => Codec::Vp8,
        TapCodec::H264 => Codec::H264,
        TapCodec::Opus => Codec::Opus,
    }
}

fn push(source: &mut SourceInput, event: &TapEvent, audio: bool, video: bool) {
    match event {
        TapEvent::Rtp(p) => {
            let kind = kind_of(p.kind);
            if (kind == TrackKind::Audio && !audio) || (kind == TrackKind::Video && !video) {
                return;
            }
            source.push_rtp(
                kind,
                &RtpIn {
                    seq: p.seq,
                    timestamp: p.timestamp,
                    marker: p.marker,
                    payload: &p.payload,
                },
                p.arrival_unix_micros,
            );
        }
        TapEvent::SenderReport {
            kind,
            ntp_unix_micros,
            rtp_time,
            ..
        } => source.push_sender_report(
            kind_of(*kind),
            SenderReport {
                ntp_unix_micros: *ntp_unix_micros,
                rtp_time: *rtp_time,
            },
        ),
        TapEvent::Closed => {}
    }
}

/// A feeder thread: the tap into the compositor's source until stopped or the stream
/// ends.
fn feed(
    mut tap: Tap,
    live: &Weak<LiveCompositor>,
    id: &str,
    audio: bool,
    video: bool,
    stop: &AtomicBool,
    ask_keyframe: impl Fn() + Send + Sync + 'static,
) {
    use std::sync::mpsc::RecvTimeoutError;
    // Hold the first events until the video codec is known.
    let mut held = Vec::new();
    let started = std::time::Instant::now();
    let mut video_codec = None;
    while video && video_codec.is_none() && started.elapsed() < CODEC_WAIT {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match tap.recv_timeout(Duration::from_millis(100)) {
            Ok(TapEvent::Closed) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(event) => {
                if let TapEvent::Rtp(p) = &event
                    && p.kind == MediaKind::Video
                {
                    video_codec = Some(codec_of(p.codec));
                }
                held.push(event);
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
    if stop.load(Ordering::Relaxed) {
        return;
    }
    let Some(compositor) = live.upgrade() else {
        return;
    };
    let added = compositor.add_source(
        id,
        audio.then_some(Codec::Opus),
        video.then_some(video_codec.unwrap_or(Codec::Vp8)),
        Box::new(ask_keyframe),
    );
    drop(compositor);
    let mut source = match added {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(stream = id, error = %e, "cannot add a stream to a broadcast");
            return;
        }
    };
    for event in held.drain(..) {
        push(&mut source, &event, audio, video);
    }
    while !stop.load(Ordering::Relaxed) {
        match tap.recv_timeout(Duration::from_millis(100)) {
            Ok(TapEvent::Closed) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(event) => {
                push(&mut source, &event, audio, video);
                while let Ok(event) = tap.try_recv() {
                    if matches!(event, TapEvent::Closed) {
                        break;
                    }
                    push(&mut source, &event, audio, video);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        source.handle_timeout(now_micros());
    }
    if tap.dropped() > 0 {
        tracing::warn!(
            stream = id,
            dropped = tap.dropped(),
            "a broadcast feeder fell behind: packets dropped"
        );
    }
}
