//! A source: one stream's media in (RTP packets or whole frames, from the server's tap
//! thread), decoded by ffmpeg into the latest picture and an audio ring the mixer reads.
//!
//! Per track a [`StreamRecorder`] (video-only or audio-only) turns the input into a
//! Matroska/WebM byte stream, written by a writer thread to the stdin of one ffmpeg
//! decoder; a reader thread reads the decoder's stdout:
//!
//! * video: raw yuv420p pictures already scaled to the size the layout gives the source
//!   (letterboxed with `contain`, cropped with `cover`), one per decoded frame, swapped
//!   into `SourceShared::picture`. The decoder does not convert the frame rate
//!   (`-fps_mode passthrough`, not `-r`/`fps`): a rate converter must see the next
//!   frame's timestamp before it emits one, a frame of latency, while the mixer's clock
//!   sampling the latest picture is the conversion already (and a source that stalls
//!   keeps its last picture instead of being extrapolated);
//! * audio: s16le 48 kHz stereo into an [`AudioRing`] (a jitter buffer: the mixer starts
//!   reading once 60 ms are buffered; a standing excess over 120 ms is dropped, and
//!   anything beyond 300 ms at once).
//!
//! The video decoder runs only while the source is placed. A new size (or a decoder that
//! died) restarts it with a fresh recorder, which waits for a key frame and asks for one
//! (`ask_keyframe`); until the new decoder's first picture the source's rectangle is
//! black (the old picture has the wrong size, and a stretched or cropped stale picture
//! is worse than a short blank).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parlor_recorder::{
    Codec, FrameIn, RtpIn, SenderReport, StreamRecorder, StreamRecorderConfig, TrackKind,
};

use super::proc::{LatencyAvg, kill_wait, lock, read_stderr};
use super::{SceneShared, SourceStats};

/// Audio samples (interleaved stereo) the ring holds before the mixer starts reading.
pub(crate) const JITTER_SAMPLES: usize = 48 * 60 * 2;
/// Most audio samples the ring holds; beyond, it is cut back to the jitter target.
pub(crate) const MAX_SAMPLES: usize = 48 * 300 * 2;
/// Chunks of Matroska bytes queued for a decoder before it counts as stalled.
const DECODER_QUEUE: usize = 64;
/// Release instants kept for the decode-latency figure.
const RELEASED_MAX: usize = 64;
/// A decoder that died is restarted at most this often.
const RESTART_INTERVAL: Duration = Duration::from_secs(1);

/// What the decoders need from the engine.
#[derive(Debug)]
pub(crate) struct SourceEnv {
    pub ffmpeg: PathBuf,
    pub ffmpeg_major: u32,
    pub has_audio: bool,
    pub has_video: bool,
}

/// The size (and fit) of a source's decoded picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VideoSize {
    pub w: u32,
    pub h: u32,
    pub cover: bool,
}

/// The latest decoded picture (yuv420p, `w`×`h`; 0×0 when there is none).
#[derive(Debug, Default)]
pub(crate) struct Picture {
    pub data: Vec<u8>,
    pub w: u32,
    pub h: u32,
}

/// yuv420p bytes of a `w`×`h` picture.
pub(crate) fn picture_len(w: u32, h: u32) -> usize {
    let (w, h) = (w as usize, h as usize);
    w * h + 2 * w.div_ceil(2) * h.div_ceil(2)
}

/// Ticks over which the ring's lowest fill is watched before extra latency is cut.
const TRIM_WINDOW: u32 = 100;

/// A source's decoded audio (interleaved stereo s16) and jitter-buffer state.
///
/// The ring keeps its latency near the jitter target: when it starts (or restarts
/// after running dry) with more than twice the target buffered — a decoder that
/// started late and then delivered a burst — it is cut to the target; while it runs,
/// if its lowest fill over [`TRIM_WINDOW`] reads stayed above twice the target (the
/// source's clock runs fast, or a burst), the excess is dropped; past
/// [`MAX_SAMPLES`] it is cut at once. Each cut is one short glitch, counted.
#[derive(Debug)]
pub(crate) struct AudioRing {
    samples: VecDeque<i16>,
    primed: bool,
    low: usize,
    reads: u32,
    pub underruns: u64,
    pub overflows: u64,
}

impl Default for AudioRing {
    fn default() -> Self {
        AudioRing {
            samples: VecDeque::with_capacity(MAX_SAMPLES + 8192),
            primed: false,
            low: usize::MAX,
            reads: 0,
            underruns: 0,
            overflows: 0,
        }
    }
}

impl AudioRing {
    /// Appends decoded samples; past [`MAX_SAMPLES`] the oldest are dropped down to the
    /// jitter target.
    pub(crate) fn push(&mut self, s: &[i16]) {
        self.samples.extend(s);
        if self.samples.len() > MAX_SAMPLES {
            self.cut_to(JITTER_SAMPLES);
        }
    }

    /// Drops the oldest samples so `keep` are left (whole stereo frames).
    fn cut_to(&mut self, keep: usize) {
        let cut = self.samples.len().saturating_sub(keep) & !1;
        self.samples.drain(..cut);
        self.overflows += 1;
    }

    /// Adds the next `acc.len()` samples into `acc`. Nothing is read until the jitter
    /// target is buffered; a shortfall (silence for the rest) re-arms that wait.
    pub(crate) fn mix_into(&mut self, acc: &mut [i32]) {
        if !self.primed {
            if self.samples.len() < JITTER_SAMPLES {
                return;
            }
            self.primed = true;
            self.low = usize::MAX;
            self.reads = 0;
            if self.samples.len() > 2 * JITTER_SAMPLES {
                self.cut_to(JITTER_SAMPLES);
            }
        }
        self.low = self.low.min(self.samples.len());
        self.reads += 1;
        if self.reads >= TRIM_WINDOW {
            if self.low > 2 * JITTER_SAMPLES {
                let keep = self.samples.len() - (self.low - JITTER_SAMPLES);
                self.cut_to(keep);
            }
            self.low = usize::MAX;
            self.reads = 0;
        }
        let take = acc.len().min(self.samples.len());
        for (a, s) in acc.iter_mut().zip(self.samples.drain(..take)) {
            *a += i32::from(s);
        }
        if take < acc.len() {
            self.primed = false;
            self.underruns += 1;
        }
    }
}

/// A running decoder: the ffmpeg, its writer, reader and stderr threads.
struct Decoder {
    child: Child,
    tx: Option<SyncSender<Vec<u8>>>,
    threads: Vec<JoinHandle<()>>,
    broken: Arc<AtomicBool>,
}

impl Decoder {
    fn spawn(
        env: &SourceEnv,
        shared: &Arc<SourceShared>,
        kind: TrackKind,
        size: Option<VideoSize>,
    ) -> std::io::Result<Decoder> {
        let mut child = Command::new(&env.ffmpeg)
            .args(decoder_args(env.ffmpeg_major, kind, size))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let broken = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(DECODER_QUEUE);
        let mut stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let name = match kind {
            TrackKind::Video => "v",
            TrackKind::Audio => "a",
        };
        let mut threads = Vec::with_capacity(3);
        let start = || -> std::io::Result<()> {
            let b = broken.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("live-dec{name}-in"))
                    .spawn(move || write_input(&mut stdin, rx, &b))?,
            );
            let b = broken.clone();
            let s = shared.clone();
            threads.push(match (kind, size) {
                (TrackKind::Video, Some(size)) => std::thread::Builder::new()
                    .name(format!("live-dec{name}-out"))
                    .spawn(move || read_pictures(stdout, size, &s, &b))?,
                _ => std::thread::Builder::new()
                    .name(format!("live-dec{name}-out"))
                    .spawn(move || read_audio(stdout, &s, &b))?,
            });
            threads.push(read_stderr(stderr, format!("live-dec{name}-err"), None, |_| {})?.1);
            Ok(())
        };
        if let Err(e) = start() {
            kill_wait(&mut child);
            return Err(e);
        }
        Ok(Decoder {
            child,
            tx: Some(tx),
            threads,
            broken,
        })
    }

    fn broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
    }

    /// Queues bytes for the decoder; a full queue (a stalled decoder) breaks it.
    fn send(&self, bytes: Vec<u8>) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(bytes) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.broken.store(true, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        self.tx.take();
        kill_wait(&mut self.child);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn write_input(stdin: &mut impl Write, rx: Receiver<Vec<u8>>, broken: &AtomicBool) {
    for bytes in rx {
        if stdin.write_all(&bytes).is_err() {
            broken.store(true, Ordering::Relaxed);
            return;
        }
    }
}

fn read_pictures(mut out: impl Read, size: VideoSize, s: &SourceShared, broken: &AtomicBool) {
    let len = picture_len(size.w, size.h);
    let mut buf = vec![0u8; len];
    while out.read_exact(&mut buf).is_ok() {
        let now = Instant::now();
        let mut released = lock(&s.released);
        if released.len() > RELEASED_MAX / 2 {
            // A backlog this long means the decoder dropped frames (pictures and
            // releases are no longer paired): start pairing again.
            released.clear();
        } else if let Some(t) = released.pop_front() {
            s.decode_latency.add(now - t);
        }
        drop(released);
        let mut p = lock(&s.picture);
        if p.data.len() != len {
            p.data.resize(len, 0);
        }
        std::mem::swap(&mut p.data, &mut buf);
        (p.w, p.h) = (size.w, size.h);
        drop(p);
        s.frames_decoded.fetch_add(1, Ordering::Relaxed);
    }
    broken.store(true, Ordering::Relaxed);
}

fn read_audio(mut out: impl Read, s: &SourceShared, broken: &AtomicBool) {
    let mut buf = [0u8; 4096];
    let mut samples = [0i16; 2048];
    let mut have = 0;
    loop {
        let n = match out.read(&mut buf[have..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        have += n;
        // Whole stereo frames only (4 bytes); the rest waits for the next read.
        let whole = have / 4 * 4;
        for (d, b) in samples.iter_mut().zip(buf[..whole].chunks_exact(2)) {
            *d = i16::from_le_bytes([b[0], b[1]]);
        }
        lock(&s.audio).push(&samples[..whole / 2]);
        buf.copy_within(whole..have, 0);
        have -= whole;
    }
    broken.store(true, Ordering::Relaxed);
}

/// The decoder's ffmpeg arguments (`size` for video).
pub(crate) fn decoder_args(major: u32, kind: TrackKind, size: Option<VideoSize>) -> Vec<String> {
    let mut a: Vec<String> = [
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        // One decoding thread: frame threading would hold frames back.
        "-threads",
        "1",
        // Not `-fflags nobuffer`: it discards the packets read while probing, which is
        // the first key frame (video would start a GOP late). With these limits the
        // probe reads one packet and returns at once.
        "-flags",
        "low_delay",
        "-probesize",
        "32",
        "-analyzeduration",
        "0",
        "-f",
        "matroska",
        "-i",
        "pipe:0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    match (kind, size) {
        (TrackKind::Video, Some(VideoSize { w, h, cover })) => {
            let chain = if cover {
                format!("scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1")
            } else {
                format!(
                    "scale={w}:{h}:force_original_aspect_ratio=decrease,\
                     pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1"
                )
            };
            let sync = if major >= 5 { "-fps_mode" } else { "-vsync" };
            a.extend(
                [
                    "-map",
                    "0:v:0",
                    "-an",
                    "-filter_threads",
                    "1",
                    "-sws_flags",
                    "bilinear",
                    "-vf",
                    &chain,
                    sync,
                    "passthrough",
                    "-f",
                    "rawvideo",
                    "-pix_fmt",
                    "yuv420p",
                ]
                .map(String::from),
            );
        }
        _ => a.extend(
            [
                "-map", "0:a:0", "-vn", "-ac", "2", "-ar", "48000", "-f", "s16le",
            ]
            .map(String::from),
        ),
    }
    a.extend(["-flush_packets", "1", "pipe:1"].map(String::from));
    a
}

/// A source's state shared with the mixer and the compositor.
#[derive(Debug)]
pub(crate) struct SourceShared {
    pub id: String,
    pub has_video: bool,
    pub has_audio: bool,
    pub picture: Mutex<Picture>,
    pub audio: Mutex<AudioRing>,
    /// The decoder size the layout wants (`None`: not placed).
    pub want: Mutex<Option<VideoSize>>,
    /// Removed, or the broadcast stopped: input is ignored.
    pub closed: AtomicBool,
    decoders: Mutex<[Option<DecoderSlot>; 2]>,
    /// When each video frame was handed to the decoder, for the latency figure.
    released: Mutex<VecDeque<Instant>>,
    pub decode_latency: LatencyAvg,
    pub frames_decoded: AtomicU64,
    pub decoder_starts: AtomicU64,
}

/// A decoder in its slot (a newtype so `SourceShared` can derive `Debug`).
struct DecoderSlot(Decoder);

impl std::fmt::Debug for DecoderSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Decoder(pid {})", self.0.child.id())
    }
}

fn slot(kind: TrackKind) -> usize {
    match kind {
        TrackKind::Video => 0,
        TrackKind::Audio => 1,
    }
}

impl SourceShared {
    pub(crate) fn new(id: String, has_video: bool, has_audio: bool) -> Self {
        SourceShared {
            id,
            has_video,
            has_audio,
            picture: Mutex::default(),
            audio: Mutex::default(),
            want: Mutex::new(None),
            closed: AtomicBool::new(false),
            decoders: Mutex::new([None, None]),
            released: Mutex::new(VecDeque::with_capacity(RELEASED_MAX)),
            decode_latency: LatencyAvg::default(),
            frames_decoded: AtomicU64::new(0),
            decoder_starts: AtomicU64::new(0),
        }
    }

    /// Stops taking input and kills the decoders (killed and reaped).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let taken = std::mem::take(&mut *lock(&self.decoders));
        drop(taken);
        *lock(&self.picture) = Picture::default();
    }

    pub(crate) fn stats(&self) -> SourceStats {
        let a = lock(&self.audio);
        SourceStats {
            id: self.id.clone(),
            frames_decoded: self.frames_decoded.load(Ordering::Relaxed),
            decoder_starts: self.decoder_starts.load(Ordering::Relaxed),
            decode_latency_ms: self.decode_latency.ms(),
            audio_underruns: a.underruns,
            audio_overflows: a.overflows,
        }
    }
}

/// One track of a [`SourceInput`].
struct TrackIn {
    /// The codec, `None` when the source or the broadcast has no such track.
    codec: Option<Codec>,
    rec: Option<StreamRecorder>,
    /// The size of the running video decoder.
    size: Option<VideoSize>,
    last_start: Option<Instant>,
    /// Frames the recorder had written (for the latency figure).
    written: u64,
}

/// Where the server's thread feeds one stream of a broadcast: the vocabulary of
/// [`parlor_recorder::StreamRecorder`] (see the [module docs](super)). Dropping it
/// removes the source from the broadcast and kills its decoders.
pub struct SourceInput {
    shared: Arc<SourceShared>,
    env: Arc<SourceEnv>,
    scene: Weak<SceneShared>,
    ask_keyframe: Box<dyn Fn() + Send + Sync>,
    tracks: [TrackIn; 2],
    out: Vec<u8>,
}

impl std::fmt::Debug for SourceInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceInput")
            .field("id", &self.shared.id)
            .finish_non_exhaustive()
    }
}

impl SourceInput {
    pub(crate) fn new(
        shared: Arc<SourceShared>,
        env: Arc<SourceEnv>,
        scene: Weak<SceneShared>,
        audio: Option<Codec>,
        video: Option<Codec>,
        ask_keyframe: Box<dyn Fn() + Send + Sync>,
    ) -> Self {
        let track = |codec: Option<Codec>| TrackIn {
            codec,
            rec: None,
            size: None,
            last_start: None,
            written: 0,
        };
        let video = video.filter(|_| env.has_video);
        let audio = audio.filter(|_| env.has_audio);
        SourceInput {
            shared,
            env,
            scene,
            ask_keyframe,
            tracks: [track(video), track(audio)],
            out: Vec::new(),
        }
    }

    /// The source's stream ID.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// Hands over one RTP packet of the track `kind`, received at `now_unix_micros`
    /// (as [`StreamRecorder::push_rtp`]).
    pub fn push_rtp(&mut self, kind: TrackKind, pkt: &RtpIn<'_>, now_unix_micros: u64) {
        if let Some(rec) = self.prepare(kind, now_unix_micros) {
            rec.push_rtp(kind, pkt, now_unix_micros);
            self.drain(kind);
        }
    }

    /// Hands over one whole frame of the track `kind`, received at `now_unix_micros`
    /// (as [`StreamRecorder::push_frame`]).
    pub fn push_frame(&mut self, kind: TrackKind, frame: &FrameIn<'_>, now_unix_micros: u64) {
        if let Some(rec) = self.prepare(kind, now_unix_micros) {
            rec.push_frame(kind, frame, now_unix_micros);
            self.drain(kind);
        }
    }

    /// Hands over an RTCP sender report of the track `kind`.
    pub fn push_sender_report(&mut self, kind: TrackKind, sr: SenderReport) {
        if let Some(rec) = self.tracks[slot(kind)].rec.as_mut() {
            rec.push_sender_report(kind, sr);
            self.drain(kind);
        }
    }

    /// Advances time without input (call it every ~100 ms): gives up on lost packets,
    /// follows layout changes (restarting the video decoder at its new size) and
    /// restarts a decoder that died.
    pub fn handle_timeout(&mut self, now_unix_micros: u64) {
        for kind in [TrackKind::Video, TrackKind::Audio] {
            if let Some(rec) = self.prepare(kind, now_unix_micros) {
                rec.handle_timeout(now_unix_micros);
                self.drain(kind);
            }
        }
    }

    /// Follows the layout and the decoder's health; the track's recorder if input is
    /// wanted now.
    fn prepare(&mut self, kind: TrackKind, now: u64) -> Option<&mut StreamRecorder> {
        if self.shared.closed.load(Ordering::Acquire) {
            return None;
        }
        let i = slot(kind);
        let t = &mut self.tracks[i];
        t.codec?;
        let want = match kind {
            TrackKind::Video => *lock(&self.shared.want),
            TrackKind::Audio => Some(VideoSize {
                w: 0,
                h: 0,
                cover: false,
            }),
        };
        let (running, broken) = {
            let d = lock(&self.shared.decoders);
            (d[i].is_some(), d[i].as_ref().is_some_and(|d| d.0.broken()))
        };
        let resized = kind == TrackKind::Video && t.size != want;
        let missing = !running && want.is_some();
        if resized || broken || missing {
            let recent = t.last_start.is_some_and(|s| s.elapsed() < RESTART_INTERVAL);
            if !resized && recent {
                // A decoder that keeps failing is retried once a second.
                return None;
            }
            if broken {
                let id = &self.shared.id;
                tracing::warn!(source = %id, ?kind, "live decoder stopped; restarting it");
            }
            let old = lock(&self.shared.decoders)[i].take();
            drop(old);
            if kind == TrackKind::Video {
                *lock(&self.shared.picture) = Picture::default();
                lock(&self.shared.released).clear();
            }
            t.rec = None;
            t.size = want.filter(|_| kind == TrackKind::Video);
            t.written = 0;
            if want.is_some() {
                t.last_start = Some(Instant::now());
                let size = t.size;
                match Decoder::spawn(&self.env, &self.shared, kind, size) {
                    Ok(d) => {
                        self.shared.decoder_starts.fetch_add(1, Ordering::Relaxed);
                        lock(&self.shared.decoders)[i] = Some(DecoderSlot(d));
                        let codec = t.codec;
                        let mut cfg = match kind {
                            TrackKind::Video => StreamRecorderConfig::new(None, codec, now),
                            TrackKind::Audio => StreamRecorderConfig::new(codec, None, now),
                        };
                        // Live: no waiting for sender reports, one frame per cluster.
                        cfg.sr_wait_micros = 0;
                        cfg.cluster_max_ms = 1;
                        t.rec = StreamRecorder::new(cfg).ok();
                    }
                    Err(e) => {
                        let id = &self.shared.id;
                        tracing::warn!(source = %id, error = %e, "cannot start a live decoder");
                    }
                }
            }
        }
        self.tracks[i].rec.as_mut()
    }

    /// Sends what the recorder wrote to the decoder, and asks for a key frame if needed.
    fn drain(&mut self, kind: TrackKind) {
        let i = slot(kind);
        let t = &mut self.tracks[i];
        let Some(rec) = t.rec.as_mut() else { return };
        self.out.clear();
        rec.poll_output(&mut self.out);
        if kind == TrackKind::Video {
            let written = rec.stats().video.frames;
            if written > t.written {
                let now = Instant::now();
                let mut r = lock(&self.shared.released);
                for _ in t.written..written {
                    if r.len() == RELEASED_MAX {
                        r.pop_front();
                    }
                    r.push_back(now);
                }
                t.written = written;
            }
        }
        let wants_keyframe = rec.take_keyframe_request();
        if !self.out.is_empty() {
            if let Some(d) = lock(&self.shared.decoders)[i].as_ref() {
                d.0.send(self.out.clone());
            }
        }
        if wants_keyframe {
            (self.ask_keyframe)();
        }
    }
}

impl Drop for SourceInput {
    fn drop(&mut self) {
        self.shared.close();
        if let Some(scene) = self.scene.upgrade() {
            scene.remove_if(&self.shared);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_waits_for_the_jitter_target_and_caps() {
        let mut r = AudioRing::default();
        let mut acc = vec![0i32; 1600];
        r.push(&vec![100i16; JITTER_SAMPLES - 2]);
        r.mix_into(&mut acc);
        assert!(acc.iter().all(|&a| a == 0), "not primed yet");
        r.push(&[100, 100]);
        r.mix_into(&mut acc);
        assert!(acc.iter().all(|&a| a == 100));
        // Drain it: the shortfall is silence and re-arms the wait.
        let mut big = vec![0i32; JITTER_SAMPLES];
        r.mix_into(&mut big);
        assert_eq!(r.underruns, 1);
        assert_eq!(
            big.iter().filter(|&&a| a == 100).count(),
            JITTER_SAMPLES - 1600
        );
        r.push(&vec![7i16; MAX_SAMPLES + 2]);
        assert_eq!(r.overflows, 1);
        assert_eq!(r.samples.len(), JITTER_SAMPLES);
    }

    #[test]
    fn ring_cuts_a_startup_backlog_and_a_standing_excess() {
        let mut r = AudioRing::default();
        let mut acc = vec![0i32; 1600];
        // A late decoder delivers 200 ms at once: cut to the target when it starts.
        r.push(&vec![1i16; 48 * 200 * 2]);
        r.mix_into(&mut acc);
        assert_eq!(r.overflows, 1);
        assert_eq!(r.samples.len(), JITTER_SAMPLES - 1600);
        // 160 ms more arrive and stay (a burst, or a fast source clock): the standing
        // excess is dropped once a whole window saw it.
        r.push(&vec![1i16; 8000]);
        for _ in 0..2 * TRIM_WINDOW {
            r.push(&vec![1i16; 1600]);
            r.mix_into(&mut acc);
        }
        assert_eq!(r.overflows, 2);
        assert_eq!(r.samples.len(), JITTER_SAMPLES - 1600);
        // At the target level, nothing is cut.
        for _ in 0..3 * TRIM_WINDOW {
            r.push(&vec![1i16; 1600]);
            r.mix_into(&mut acc);
        }
        assert_eq!(r.overflows, 2);
        assert_eq!(r.underruns, 0);
    }

    #[test]
    fn picture_sizes() {
        assert_eq!(picture_len(4, 2), 8 + 2 * 2);
        assert_eq!(picture_len(640, 360), 640 * 360 * 3 / 2);
    }

    #[test]
    fn decoder_arguments() {
        let size = VideoSize {
            w: 320,
            h: 180,
            cover: false,
        };
        let a = decoder_args(5, TrackKind::Video, Some(size)).join(" ");
        assert!(a.contains("-f matroska -i pipe:0 -map 0:v:0"), "{a}");
        assert!(
            a.contains("force_original_aspect_ratio=decrease,pad=320:180"),
            "{a}"
        );
        assert!(
            a.contains("-fps_mode passthrough -f rawvideo -pix_fmt yuv420p"),
            "{a}"
        );
        let cover = decoder_args(
            4,
            TrackKind::Video,
            Some(VideoSize {
                cover: true,
                ..size
            }),
        );
        let cover = cover.join(" ");
        assert!(cover.contains("increase,crop=320:180"), "{cover}");
        assert!(cover.contains("-vsync passthrough"), "{cover}");
        let a = decoder_args(5, TrackKind::Audio, None).join(" ");
        assert!(
            a.ends_with("-ac 2 -ar 48000 -f s16le -flush_packets 1 pipe:1"),
            "{a}"
        );
    }
}
