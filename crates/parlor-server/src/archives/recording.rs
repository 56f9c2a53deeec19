//! One recorded stream: a thread that drains the router's tap into a `parlor-recorder`
//! [`StreamRecorder`] and its crash-safe [`StreamFile`].
//!
//! The tap is the router's bounded queue of the producer's packets and sender reports;
//! the thread blocks on it (with a 100 ms timeout, for the recorder's timers), so the
//! media worker never waits for a recorder, and what a slow recorder could not take is
//! counted by the tap. The recorder's sans-IO core does the reordering, depacketizing,
//! clock alignment and muxing; this edge only moves bytes to disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parlor_recorder::{
    Codec, RtpIn, SenderReport, StreamFile, StreamRecorder, StreamRecorderConfig, TrackKind,
};
use parlor_router::tap::{Tap, TapCodec, TapEvent};
use str0m::media::MediaKind;

/// How long the first packets may wait for the video codec to be known (a stream whose
/// video is off at the start is recorded as VP8, what browsers send).
const CODEC_WAIT: Duration = Duration::from_millis(1500);

/// What a finished stream recording produced.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: PathBuf,
    /// Unix ms of the file's time 0.
    pub origin_ms: i64,
    /// Unix ms when recording of this stream ended.
    pub ended_ms: i64,
    pub bytes: u64,
    pub had_audio: bool,
    pub had_video: bool,
    /// Packets the tap dropped because the recorder fell behind.
    pub dropped: u64,
}

/// A stream being recorded.
pub struct StreamRecording {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<Recorded, String>>>,
}

/// Which tracks to record.
#[derive(Debug, Clone, Copy)]
pub struct Tracks {
    pub audio: bool,
    pub video: bool,
}

impl StreamRecording {
    /// Starts recording `tap` into `dir/<name>.webm` (`.mkv` for H.264). File time 0 is
    /// `origin_ms` (Unix ms).
    /// `ask_keyframe` is called when the recorder lost video it could not repair (it then
    /// writes nothing until the next keyframe).
    pub fn start(
        tap: Tap,
        dir: &Path,
        name: &str,
        origin_ms: i64,
        tracks: Tracks,
        ask_keyframe: impl Fn() + Send + 'static,
    ) -> std::io::Result<StreamRecording> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let dir = dir.to_owned();
        let name = name.to_owned();
        let thread = std::thread::Builder::new()
            .name("parlor-recorder".into())
            .spawn(move || run(tap, &dir, &name, origin_ms, tracks, &flag, ask_keyframe))?;
        Ok(StreamRecording {
            stop,
            thread: Some(thread),
        })
    }

    /// Whether the thread ended by itself (the producer closed, or a write failed).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops recording, finishes the file and returns what was recorded. Blocking: call it
    /// from a blocking context.
    pub fn finish(mut self) -> Result<Recorded, String> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err("the recorder thread panicked".into()),
            None => Err("already finished".into()),
        }
    }
}

impl Drop for StreamRecording {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
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

/// The open output: the recorder and its file.
struct Output {
    recorder: StreamRecorder,
    file: StreamFile,
    path: PathBuf,
}

fn open(
    dir: &Path,
    name: &str,
    origin_ms: i64,
    tracks: Tracks,
    video: Codec,
) -> Result<Output, String> {
    let cfg = StreamRecorderConfig::new(
        tracks.audio.then_some(Codec::Opus),
        tracks.video.then_some(video),
        origin_ms.max(0) as u64 * 1000,
    );
    let recorder = StreamRecorder::new(cfg).map_err(|e| e.to_string())?;
    let ext = if recorder.doc_type() == "webm" {
        "webm"
    } else {
        "mkv"
    };
    let path = dir.join(format!("{name}.{ext}"));
    let file = StreamFile::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Output {
        recorder,
        file,
        path,
    })
}

fn feed(out: &mut Output, event: &TapEvent, tracks: Tracks) {
    match event {
        TapEvent::Rtp(p) => {
            let kind = kind_of(p.kind);
            if (kind == TrackKind::Audio && !tracks.audio)
                || (kind == TrackKind::Video && !tracks.video)
            {
                return;
            }
            out.recorder.push_rtp(
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
        } => out.recorder.push_sender_report(
            kind_of(*kind),
            SenderReport {
                ntp_unix_micros: *ntp_unix_micros,
                rtp_time: *rtp_time,
            },
        ),
        TapEvent::Closed => {}
    }
}

fn run(
    mut tap: Tap,
    dir: &Path,
    name: &str,
    origin_ms: i64,
    tracks: Tracks,
    stop: &AtomicBool,
    ask_keyframe: impl Fn(),
) -> Result<Recorded, String> {
    // Hold the first events until the video codec is known.
    let mut held = Vec::new();
    let started = std::time::Instant::now();
    let mut video_codec = None;
    let mut closed = false;
    while tracks.video && video_codec.is_none() && started.elapsed() < CODEC_WAIT {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match tap.recv_timeout(Duration::from_millis(100)) {
            Ok(event) => {
                if let TapEvent::Rtp(p) = &event
                    && p.kind == MediaKind::Video
                {
                    video_codec = Some(codec_of(p.codec));
                }
                closed = matches!(event, TapEvent::Closed);
                held.push(event);
                if closed {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                closed = true;
                break;
            }
        }
    }
    let mut out = open(
        dir,
        name,
        origin_ms,
        tracks,
        video_codec.unwrap_or(Codec::Vp8),
    )?;
    // Attaching the tap already asked the publisher for a keyframe: the recorder's own
    // first request would only make it send another one.
    let _ = out.recorder.take_keyframe_request();
    for event in &held {
        feed(&mut out, event, tracks);
    }
    drop(held);
    let write_error = |e: parlor_recorder::RecorderError| format!("cannot write {name}: {e}");
    while !closed && !stop.load(Ordering::Relaxed) {
        match tap.recv_timeout(Duration::from_millis(100)) {
            Ok(TapEvent::Closed) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                closed = true
            }
            Ok(event) => {
                feed(&mut out, &event, tracks);
                // Take what else is queued before writing.
                while let Ok(event) = tap.try_recv() {
                    if matches!(event, TapEvent::Closed) {
                        closed = true;
                        break;
                    }
                    feed(&mut out, &event, tracks);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        out.recorder.handle_timeout(now_micros());
        if out.recorder.take_keyframe_request() {
            ask_keyframe();
        }
        out.file
            .write_ready(&mut out.recorder)
            .map_err(write_error)?;
    }
    let dropped = tap.dropped();
    let ended_ms = crate::unix_millis();
    let stats = out.recorder.stats();
    let finished = out.file.finish(&mut out.recorder).map_err(write_error)?;
    if dropped > 0 {
        tracing::warn!(
            stream = name,
            dropped,
            "the recorder fell behind: packets dropped"
        );
    }
    Ok(Recorded {
        path: out.path,
        origin_ms,
        ended_ms,
        bytes: finished.len,
        had_audio: stats.audio.frames > 0,
        had_video: stats.video.frames > 0,
        dropped,
    })
}
