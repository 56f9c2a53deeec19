//! The broadcast's configuration, events, figures and errors.

use std::path::PathBuf;
use std::time::Duration;

/// At most this many RTMP/RTMPS targets per broadcast.
pub const MAX_RTMP_TARGETS: usize = 5;
/// Smallest and largest output width or height.
pub const SIZE_RANGE: std::ops::RangeInclusive<u32> = 16..=4096;
/// Frame rates accepted.
pub const FPS_RANGE: std::ops::RangeInclusive<u32> = 1..=60;
/// Video bit rates accepted (bits per second).
pub const BITRATE_RANGE: std::ops::RangeInclusive<u64> = 100_000..=50_000_000;

/// HLS output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlsConfig {
    /// The directory of `index.m3u8` and `seg-NNNNN.ts` (created if missing).
    pub dir: PathBuf,
    /// Keep every segment and list them all (a playlist of the whole broadcast).
    pub dvr: bool,
    /// 1 s segments (and a 1 s GOP) instead of 2 s.
    pub low_latency: bool,
}

/// One RTMP or RTMPS target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpTarget {
    /// The caller's ID of the target (reported back in events and stats).
    pub id: String,
    /// `rtmp://…` or `rtmps://…`, stream name included.
    pub url: String,
}

/// What to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConfig {
    /// Output width (even).
    pub width: u32,
    /// Output height (even).
    pub height: u32,
    /// Frames per second, 1–60.
    pub fps: u32,
    /// H.264 bit rate (also its max rate and VBV buffer: one second).
    pub video_bitrate_bps: u64,
    /// Whether the output has an audio track.
    pub has_audio: bool,
    /// Whether the output has a video track.
    pub has_video: bool,
    /// HLS output, if any.
    pub hls: Option<HlsConfig>,
    /// RTMP targets (at most [`MAX_RTMP_TARGETS`]).
    pub rtmp: Vec<RtmpTarget>,
}

impl LiveConfig {
    /// Checks sizes, frame rate, bit rate, tracks, outputs and target URLs.
    pub fn validate(&self) -> Result<(), LiveError> {
        let bad = |m: String| Err(LiveError::Config(m));
        if !self.has_audio && !self.has_video {
            return bad("a broadcast needs audio or video".into());
        }
        if self.has_video {
            for (name, v) in [("width", self.width), ("height", self.height)] {
                if !SIZE_RANGE.contains(&v) || v % 2 != 0 {
                    return bad(format!(
                        "{name} {v} must be even and within {}–{}",
                        SIZE_RANGE.start(),
                        SIZE_RANGE.end()
                    ));
                }
            }
            if !BITRATE_RANGE.contains(&self.video_bitrate_bps) {
                return bad(format!(
                    "video bit rate {} must be within {}–{} bps",
                    self.video_bitrate_bps,
                    BITRATE_RANGE.start(),
                    BITRATE_RANGE.end()
                ));
            }
        }
        if !FPS_RANGE.contains(&self.fps) {
            return bad(format!("fps {} must be within 1–60", self.fps));
        }
        if self.hls.is_none() && self.rtmp.is_empty() {
            return bad("a broadcast needs HLS or an RTMP target".into());
        }
        if let Some(h) = &self.hls {
            if h.dir.as_os_str().is_empty() {
                return bad("the HLS directory is empty".into());
            }
        }
        if self.rtmp.len() > MAX_RTMP_TARGETS {
            return bad(format!(
                "{} RTMP targets; at most {MAX_RTMP_TARGETS}",
                self.rtmp.len()
            ));
        }
        for (i, t) in self.rtmp.iter().enumerate() {
            if t.id.is_empty() || self.rtmp[..i].iter().any(|o| o.id == t.id) {
                return bad(format!(
                    "RTMP target IDs must be unique and non-empty: {:?}",
                    t.id
                ));
            }
            validate_url(&t.url).or_else(|m| bad(format!("RTMP target {:?}: {m}", t.id)))?;
        }
        Ok(())
    }
}

/// Checks an RTMP target URL: scheme `rtmp` or `rtmps`, a host, a path, no spaces or
/// control characters, at most 2048 bytes.
fn validate_url(url: &str) -> Result<(), String> {
    if url.len() > 2048 {
        return Err("URL longer than 2048 bytes".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("URL has spaces or control characters".into());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("not a URL (rtmp://host/app/stream expected)".into());
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "rtmp" | "rtmps") {
        return Err(format!("scheme {scheme:?}; rtmp or rtmps expected"));
    }
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err("URL has no host".into());
    }
    if !rest.contains('/') {
        return Err("URL has no application or stream name".into());
    }
    Ok(())
}

/// A live compositor error.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The [`LiveConfig`] is invalid.
    #[error("invalid broadcast configuration: {0}")]
    Config(String),
    /// A source with this ID is already there.
    #[error("source {0:?} is already in the broadcast")]
    DuplicateSource(String),
    /// A source without audio or video (or neither a track the broadcast has).
    #[error("source {0:?} has no track the broadcast uses")]
    EmptySource(String),
    /// A system call failed (creating the HLS directory, binding the audio port,
    /// starting a thread).
    #[error("broadcast I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// A target's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetStatus {
    /// Starting or restarting its connection.
    Connecting,
    /// Publishing.
    Live,
    /// Its connection failed (the reason; retried with backoff).
    Error(String),
    /// The broadcast stopped.
    Ended,
}

/// What the compositor reports as it runs (from its own threads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// A target's status changed.
    Target {
        /// The target's ID.
        id: String,
        /// Its new status.
        status: TargetStatus,
    },
    /// The HLS playlist lists its first segment.
    HlsReady,
    /// The encoder died and could not be restarted
    /// ([`MAX_RESTARTS`](super::MAX_RESTARTS) times); nothing more is encoded. `stop`
    /// still cleans up.
    Failed(String),
}

/// A target's state and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetReport {
    /// The target's ID.
    pub id: String,
    /// Its status.
    pub status: TargetStatus,
    /// Times its ffmpeg was restarted.
    pub reconnects: u64,
    /// Bytes of MPEG-TS written to its ffmpeg.
    pub bytes_sent: u64,
    /// Chunks dropped because its queue was full.
    pub chunks_dropped: u64,
}

/// A source's counters.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceStats {
    /// The source's ID.
    pub id: String,
    /// Pictures its video decoder delivered.
    pub frames_decoded: u64,
    /// Decoders started (first starts, size changes, restarts).
    pub decoder_starts: u64,
    /// Average time from WebM bytes handed to the video decoder to the picture read back.
    pub decode_latency_ms: Option<f64>,
    /// Times its audio ran dry (silence until 60 ms are buffered again).
    pub audio_underruns: u64,
    /// Times its audio was cut back after more than 300 ms piled up.
    pub audio_overflows: u64,
}

/// A running broadcast's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveStats {
    /// Since `start`.
    pub uptime: Duration,
    /// Frames composed and handed to the encoder.
    pub frames_composed: u64,
    /// Video frames out of the encoder (0 without video).
    pub frames_encoded: u64,
    /// Ticks dropped (encoder behind or restarting, or the clock starved).
    pub frames_dropped: u64,
    /// Bytes of MPEG-TS out of the encoder.
    pub bytes_encoded: u64,
    /// Encoder restarts after a crash.
    pub encoder_restarts: u64,
    /// Average time from a composed frame to its encoded frame on the encoder's stdout.
    pub encoder_latency_ms: Option<f64>,
    /// When, after `start`, the HLS playlist first listed a segment.
    pub hls_ready_after: Option<Duration>,
    /// The failure, once [`LiveEvent::Failed`] was sent.
    pub failed: Option<String>,
    /// The targets.
    pub targets: Vec<TargetReport>,
    /// The sources.
    pub sources: Vec<SourceStats>,
}

/// What [`LiveCompositor::stop`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveReport {
    /// From `start` to the end of `stop`.
    pub duration: Duration,
    /// Video frames encoded.
    pub frames_encoded: u64,
    /// Ticks dropped.
    pub frames_dropped: u64,
    /// Encoder restarts.
    pub encoder_restarts: u64,
    /// The failure, if the broadcast failed.
    pub failed: Option<String>,
    /// Whether the HLS playlist ends with `#EXT-X-ENDLIST` (false without HLS).
    pub hls_finished: bool,
    /// Every target's final state.
    pub targets: Vec<TargetReport>,
}
