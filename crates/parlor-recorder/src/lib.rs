//! Parlor's recorder: one publisher stream's RTP in, one playable WebM (VP8 + Opus) or
//! Matroska (H.264 + Opus) file out, written cluster by cluster.
//!
//! The core, [`StreamRecorder`], is sans-IO like str0m: the media router hands it each
//! recorded stream's RTP packets (SRTP-decrypted, RTX unwrapped; duplicates and
//! reordering expected) and the RTCP sender reports' (NTP, RTP) pairs, with the time
//! passed in; it hands back bytes to append to the file. Per track it
//!
//! * reorders within a small window and drops duplicates ([`ReorderConfig`]),
//! * depacketizes VP8 (RFC 7741, `parlor-media`), H.264 (RFC 6184: single NAL unit,
//!   STAP-A, FU-A → length-prefixed NAL units and an `avcC`, see [`h264`]) and Opus,
//! * never writes a broken frame: video starts on a key frame and, after a loss it cannot
//!   repair, waits for the next one ([`StreamRecorder::take_keyframe_request`] says when
//!   to ask for it); audio skips the lost packet,
//! * places every frame on one clock from the sender reports, so audio and video stay in
//!   sync as the sender captured them (the policy is in [`recorder`]),
//! * and muxes Matroska itself ([`mux`]: EBML header, a live Segment, Info with a
//!   Duration patched at the end, Tracks, then whole Clusters; Cues and a SeekHead at the
//!   end).
//!
//! A receiver whose WebRTC stack already reorders and depacketizes (the native client on
//! str0m's frame mode: `parlor client subscribe --record-dir`) hands over whole frames
//! instead, with [`StreamRecorder::push_frame`] and a [`FrameIn`]: the first two steps are
//! skipped, the rest (key-frame gating, clock, interleaving, muxing) is the same code.
//!
//! The file edge is [`StreamFile`] (appends and syncs each cluster; on finish patches
//! Duration, Segment size and SeekHead in place), and [`repair`] makes a file whose
//! writer was killed whole again (truncates the partial last element, patches Duration
//! from the last complete cluster).
//!
//! ```no_run
//! use parlor_recorder::*;
//! # fn main() -> Result<(), RecorderError> {
//! # let (origin, now, payload) = (0u64, 0u64, [0u8; 4]);
//! let cfg = StreamRecorderConfig::new(Some(Codec::Opus), Some(Codec::Vp8), origin);
//! let mut rec = StreamRecorder::new(cfg)?;
//! let mut file = StreamFile::create(std::path::Path::new("stream.webm"))?;
//! // For every packet of the stream:
//! rec.push_rtp(TrackKind::Video, &RtpIn { seq: 1, timestamp: 3000, marker: true, payload: &payload }, now);
//! // For every RTCP sender report:
//! rec.push_sender_report(TrackKind::Video, SenderReport { ntp_unix_micros: now, rtp_time: 3000 });
//! file.write_ready(&mut rec)?; // after each push, or on a timer with rec.handle_timeout(now)
//! let finished = file.finish(&mut rec)?;
//! # let _ = finished; Ok(()) }
//! ```

#![warn(missing_docs)]

mod ebml;
mod file;
pub mod h264;
pub mod mux;
pub mod recorder;
mod reorder;

pub use file::{RepairReport, StreamFile, repair};
pub use mux::Patch;
pub use recorder::{Finished, RecorderStats, StreamRecorder, StreamRecorderConfig, TrackStats};
pub use reorder::{ReorderConfig, ReorderStats};

/// A codec the recorder writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// VP8 video (`V_VP8`, WebM).
    Vp8,
    /// H.264 video (`V_MPEG4/ISO/AVC`, Matroska).
    H264,
    /// Opus audio, 48 kHz (`A_OPUS`).
    Opus,
}

/// Which track of a stream a packet or report belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackKind {
    /// The stream's audio track.
    Audio,
    /// The stream's video track.
    Video,
}

/// One RTP packet as the router hands it over (header fields the recorder needs, and
/// the payload after the header, extensions and padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpIn<'a> {
    /// RTP sequence number.
    pub seq: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// RTP marker bit (last packet of a video frame).
    pub marker: bool,
    /// The payload.
    pub payload: &'a [u8],
}

/// One whole frame, for [`StreamRecorder::push_frame`]: what a WebRTC stack that
/// reorders and depacketizes itself (str0m's frame mode) hands its application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameIn<'a> {
    /// The frame's RTP timestamp (the low 32 bits of an extended one will do).
    pub rtp_time: u32,
    /// VP8: one frame; H.264: one access unit in Annex B form (each NAL unit after a
    /// `00 00 01` or `00 00 00 01` start code); Opus: one packet.
    pub data: &'a [u8],
    /// `false` when something was lost between the previous frame of this track and this
    /// one: video then waits for the next key frame, as after a gap in sequence numbers.
    pub contiguous: bool,
}

/// An RTCP sender report's time pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport {
    /// The report's NTP time, converted to Unix µs (sender clock).
    pub ntp_unix_micros: u64,
    /// The RTP timestamp that corresponds to it.
    pub rtp_time: u32,
}

/// Errors from the recorder.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// An invalid [`StreamRecorderConfig`].
    #[error("invalid recorder configuration: {0}")]
    Config(&'static str),
    /// Reading or writing the file failed.
    #[error("recording file I/O: {0}")]
    Io(#[from] std::io::Error),
    /// [`repair`] was given something it cannot make playable.
    #[error("cannot repair recording: {0}")]
    Unrepairable(&'static str),
}
