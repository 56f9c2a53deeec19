//! The live compositor of broadcasts: a session's live streams in, one composed stream
//! (H.264 + AAC) out, encoded once and fanned out to an HLS directory and up to
//! [`MAX_RTMP_TARGETS`] RTMP/RTMPS targets.
//!
//! # Pipeline
//!
//! ```text
//!  server's thread                       per source
//! ─────────────────   ┌──────────────────────────────────────────┐
//! SourceInput.push_*  │ StreamRecorder(video) ─► WebM ─► ffmpeg  │ latest picture ┐
//!   (RTP or frames) ─►│   (key-frame gated)      stdin   decoder ├──────────────► │
//!                     │ StreamRecorder(audio) ─► WebM ─► ffmpeg  │ audio ring     │
//!                     │                          stdin   decoder ├──────────────► │
//!                     └──────────────────────────────────────────┘                │
//!        mixer thread (clock at fps): compose canvas + mix 48000/fps samples ◄────┘
//!            │ yuv420p (pool of 3)                 │ s16le (pool of 8)
//!            ▼ writer thread → stdin               ▼ writer thread → loopback TCP
//!        encoder ffmpeg: libx264 zerolatency + aac ─► tee ─┬─► HLS (index.m3u8, seg-*.ts)
//!                                                          └─► MPEG-TS on stdout
//!        TS reader thread: fan-out by whole TS packets, bounded queue per target
//!            ├─► target thread ─► ffmpeg -c copy -f flv rtmp://…   (reconnects)
//!            └─► target thread ─► ffmpeg -c copy -f flv rtmps://…
//! ```
//!
//! * `source`: [`SourceInput`] and the decoders (a recorder per track, one ffmpeg per
//!   track, the video one scaled to the source's place in the layout).
//! * `mixer`: the clock, composition and audio mix.
//! * `encoder`: the encoder process, its inputs and output, restarts.
//! * [`hls`]: the HLS options and the readiness watcher.
//! * [`rtmp`]: targets, their status and reconnection.
//! * `ts`: the MPEG-TS scanner and fan-out.
//!
//! # Threads and processes
//!
//! Per source: two ffmpeg decoders (only the audio one while the source is not placed;
//! none for a track it lacks), each with a writer, a reader and a stderr thread. The
//! engine: the mixer, the encoder's supervisor, two input writers, the TS reader and
//! the encoder's stderr reader; the HLS watcher until the first segment; per target a
//! supervisor and a stderr thread. Every child is killed and reaped when its part
//! stops, when the source is dropped or removed, and when the compositor is stopped or
//! dropped; a child whose parent dies gets EOF on its stdin and exits.
//!
//! # Latency (measured)
//!
//! On the 2-core test machine with Debian's ffmpeg 5.1, from a source's frame pushed to
//! its H.264 frame on the encoder's stdout:
//!
//! * **push → decoded picture: ~70 ms at 30 fps, ~100 ms when the decoder started on a
//!   busy machine** ([`SourceStats::decode_latency_ms`], paired frame by frame). Of
//!   this, decoding and scaling take ~1 ms; the rest is whole frames held: the
//!   recorder closes a frame's cluster when the next frame of the track arrives (one
//!   frame interval), and ffmpeg 5.1's command-line tool hands a decoded frame on only
//!   when the next one has been decoded (seen with `-debug_ts`: `decoder -> pts N`
//!   comes with `muxer <- pts N-1`, or N-2 if a backlog formed while it started; it
//!   never drains that). Both grow with the source's frame interval, not with load.
//! * **waiting for the mixer's tick**: half a tick on average (17 ms at 30 fps).
//! * **composed → encoded: ~80 ms** at 640×360 15 fps and at 1280×720 30 fps
//!   ([`LiveStats::encoder_latency_ms`]): the same one-frame hold of ffmpeg's tool on
//!   the raw input, x264 (`zerolatency`: no look-ahead, no B-frames, ~10 ms at 720p)
//!   and the muxer interleaving video with the AAC frames (1024 samples).
//!
//! So about 170 ms from push to the encoded frame at 30 fps. HLS then adds a segment
//! and the player's buffer (see [`hls`]); the first playlist with a segment is written
//! **~2.3–2.6 s after `start`** with 2 s segments (1.5–1.8 s with `low_latency`)
//! ([`LiveStats::hls_ready_after`]). RTMP targets add the platform's own latency.
//!
//! # CPU (measured)
//!
//! A 1280×720 30 fps composition of four 320×240 VP8 + Opus sources (`bestFit`, HLS,
//! 2.5 Mbps): **0.8 of one core** in all on the 2-core test machine, release build:
//! the encoder 44 %, the eight decoders 15 %, the rest (mixer, pipes, and the test's
//! four real-time feeders with their recorders) 20 %. Measured by the ignored test
//! `live_cpu_720p30_four_sources` in `tests/live_ffmpeg.rs` from `/proc` (the
//! children's own `stat` while running, and this process's `utime + stime` plus its
//! reaped children's around the run): `cargo test -p parlor-compositor --release
//! --test live_ffmpeg -- --ignored --nocapture live_cpu`.

mod encoder;
pub mod hls;
mod mixer;
mod proc;
pub mod rtmp;
mod source;
mod ts;
mod types;

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parlor_recorder::Codec;

pub use encoder::MAX_RESTARTS;
pub use source::SourceInput;
pub use types::{
    BITRATE_RANGE, FPS_RANGE, HlsConfig, LiveConfig, LiveError, LiveEvent, LiveReport, LiveStats,
    MAX_RTMP_TARGETS, RtmpTarget, SIZE_RANGE, SourceStats, TargetReport, TargetStatus,
};

use crate::ffmpeg::FfmpegInfo;
use crate::layout::{ObjectFit, Placement};
use proc::{LatencyAvg, Signal, lock};
use source::{SourceEnv, SourceShared, VideoSize};

/// The callback events go to.
pub(crate) type EventSink = Arc<dyn Fn(LiveEvent) + Send + Sync>;

/// Counters shared by the engine's threads.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub frames_sent: AtomicU64,
    pub frames_dropped: AtomicU64,
    pub frames_encoded: AtomicU64,
    pub bytes_encoded: AtomicU64,
    pub encoder_restarts: AtomicU64,
    pub encoder_latency: LatencyAvg,
}

/// The sources and the layout, shared by the compositor, the sources and the mixer.
#[derive(Debug)]
pub(crate) struct SceneShared {
    inner: Mutex<Scene>,
    /// Bumped on every change, so the mixer rebuilds its draw list only then.
    pub generation: AtomicU64,
    width: u32,
    height: u32,
}

#[derive(Debug, Default)]
struct Scene {
    sources: HashMap<String, Arc<SourceShared>>,
    placements: Vec<Placement>,
}

impl SceneShared {
    fn changed(&self, scene: &Scene) {
        // Each placed source's decoder size follows its (even) video rectangle.
        for (id, src) in &scene.sources {
            let want = scene
                .placements
                .iter()
                .find(|p| &p.stream_id == id)
                .and_then(|p| {
                    let r = mixer::even_rect(p.video, self.width, self.height)?;
                    Some(VideoSize {
                        w: r.w,
                        h: r.h,
                        cover: p.fit == ObjectFit::Cover,
                    })
                });
            *lock(&src.want) = want;
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn remove_if(&self, src: &Arc<SourceShared>) {
        let mut s = lock(&self.inner);
        if s.sources.get(&src.id).is_some_and(|o| Arc::ptr_eq(o, src)) {
            s.sources.remove(&src.id);
            self.changed(&s);
        }
    }

    /// The mixer's draw list (placed sources with video, in drawing order, with their
    /// even rectangles) and the sources with audio.
    pub(crate) fn draw_list(
        &self,
        w: u32,
        h: u32,
        draw: &mut Vec<(Arc<SourceShared>, crate::layout::Rect)>,
        audible: &mut Vec<Arc<SourceShared>>,
    ) {
        let s = lock(&self.inner);
        draw.clear();
        audible.clear();
        let mut placed: Vec<&Placement> = s.placements.iter().collect();
        placed.sort_by_key(|p| p.z);
        for p in placed {
            if let (Some(src), Some(r)) =
                (s.sources.get(&p.stream_id), mixer::even_rect(p.video, w, h))
            {
                if src.has_video {
                    draw.push((src.clone(), r));
                }
            }
        }
        audible.extend(s.sources.values().filter(|s| s.has_audio).cloned());
    }
}

/// The running parts, taken by `stop` or `Drop`.
struct Running {
    mixer: JoinHandle<()>,
    encoder: JoinHandle<()>,
    targets: Vec<JoinHandle<()>>,
    hls_watch: Option<JoinHandle<()>>,
}

/// A live broadcast's compositor (see the [module docs](self)).
pub struct LiveCompositor {
    cfg: LiveConfig,
    started: Instant,
    scene: Arc<SceneShared>,
    env: Arc<SourceEnv>,
    counters: Arc<Counters>,
    targets: Vec<Arc<rtmp::TargetShared>>,
    hls_ready_after: Arc<Mutex<Option<Duration>>>,
    failed: Arc<Mutex<Option<String>>>,
    /// Stops the mixer (and then the encoder finishes).
    stop_mixer: Arc<Signal>,
    /// The encoder is expected to finish.
    finishing: Arc<Signal>,
    /// Kill everything now.
    kill: Arc<Signal>,
    running: Option<Running>,
}

impl std::fmt::Debug for LiveCompositor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCompositor")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl LiveCompositor {
    /// Validates `cfg`, creates the HLS directory and starts the mixer, the encoder and
    /// the targets. `on_event` is called from the compositor's threads.
    pub fn start(
        info: &FfmpegInfo,
        cfg: LiveConfig,
        on_event: Box<dyn Fn(LiveEvent) + Send + Sync>,
    ) -> Result<Self, LiveError> {
        cfg.validate()?;
        if let Some(h) = &cfg.hls {
            std::fs::create_dir_all(&h.dir)?;
        }
        let events: EventSink = Arc::from(on_event);
        let started = Instant::now();
        let scene = Arc::new(SceneShared {
            inner: Mutex::default(),
            generation: AtomicU64::new(0),
            width: cfg.width,
            height: cfg.height,
        });
        let counters = Arc::new(Counters::default());
        let stop_mixer = Arc::new(Signal::default());
        let finishing = Arc::new(Signal::default());
        let kill = Arc::new(Signal::default());
        let sent_at = Arc::new(Mutex::new(VecDeque::with_capacity(256)));
        let failed = Arc::new(Mutex::new(None));
        let listener = if cfg.has_audio {
            Some(TcpListener::bind("127.0.0.1:0")?)
        } else {
            None
        };

        // Targets: a thread each, fed through a bounded queue (~1 s of TS at 2.5 Mbps
        // in 64 KiB reads, more in smaller ones).
        let mut feeds = Vec::new();
        let mut targets = Vec::new();
        let mut target_threads = Vec::new();
        for t in &cfg.rtmp {
            let shared = Arc::new(rtmp::TargetShared::new(t.id.clone(), t.url.clone()));
            let (tx, rx) = std::sync::mpsc::sync_channel(64);
            feeds.push(ts::Feed::new(shared.clone(), tx));
            let runner = rtmp::TargetRunner {
                shared: shared.clone(),
                rx,
                info: info.clone(),
                has_audio: cfg.has_audio,
                events: events.clone(),
                kill: kill.clone(),
            };
            targets.push(shared);
            target_threads.push(
                std::thread::Builder::new()
                    .name(format!("live-rtmp-{}", t.id))
                    .spawn(move || runner.run())?,
            );
        }

        let (video_mixer, video_writer) = if cfg.has_video {
            let len = source::picture_len(cfg.width, cfg.height);
            let (m, w) = mixer::pool(mixer::VIDEO_POOL, || vec![0u8; len].into_boxed_slice());
            (Some(m), Some(w))
        } else {
            (None, None)
        };
        let (audio_mixer, audio_writer) = if cfg.has_audio {
            let cap = 4 * (48_000 / cfg.fps as usize + 1);
            let (m, w) = mixer::pool(mixer::AUDIO_POOL, || Vec::with_capacity(cap));
            (Some(m), Some(w))
        } else {
            (None, None)
        };
        let encoder = encoder::Encoder {
            info: info.clone(),
            cfg: cfg.clone(),
            video: video_writer,
            audio: audio_writer,
            listener,
            fanout: Some(ts::Fanout::new(feeds, cfg.has_video)),
            targets: targets.clone(),
            counters: counters.clone(),
            sent_at: sent_at.clone(),
            events: events.clone(),
            finishing: finishing.clone(),
            kill: kill.clone(),
            failed: failed.clone(),
        };
        let mixer = mixer::Mixer {
            width: cfg.width,
            height: cfg.height,
            fps: cfg.fps,
            video: video_mixer,
            audio: audio_mixer,
            scene: scene.clone(),
            counters: counters.clone(),
            sent_at,
            stop: stop_mixer.clone(),
        };
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new().name(name.into()).spawn(f)
        };
        let hls_ready_after = Arc::new(Mutex::new(None));
        let mut compositor = LiveCompositor {
            env: Arc::new(SourceEnv {
                ffmpeg: info.ffmpeg.clone(),
                ffmpeg_major: info.major,
                has_audio: cfg.has_audio,
                has_video: cfg.has_video,
            }),
            cfg,
            started,
            scene,
            counters,
            targets,
            hls_ready_after: hls_ready_after.clone(),
            failed,
            stop_mixer,
            finishing,
            kill,
            running: None,
        };
        // From here on, a failure to start a thread is cleaned up by `Drop`.
        let encoder = match spawn("live-encoder", Box::new(move || encoder.run())) {
            Ok(h) => h,
            Err(e) => {
                compositor.kill.set();
                for t in target_threads {
                    let _ = t.join();
                }
                return Err(e.into());
            }
        };
        let mixer = spawn("live-mixer", Box::new(move || mixer.run()));
        let hls_watch = compositor.cfg.hls.as_ref().map(|h| {
            let (dir, ev, stop) = (h.dir.clone(), events.clone(), compositor.kill.clone());
            let ready = hls_ready_after.clone();
            spawn(
                "live-hls-watch",
                Box::new(move || hls::watch(&dir, started, ready, ev, stop)),
            )
        });
        let (mixer, hls_watch) = match (mixer, hls_watch.transpose()) {
            (Ok(m), Ok(h)) => (m, h),
            (m, h) => {
                compositor.kill.set();
                compositor.stop_mixer.set();
                let _ = encoder.join();
                for t in target_threads {
                    let _ = t.join();
                }
                if let Ok(m) = m {
                    let _ = m.join();
                }
                if let Ok(Some(h)) = h {
                    let _ = h.join();
                }
                return Err(LiveError::Io(std::io::Error::other(
                    "cannot start the broadcast's threads",
                )));
            }
        };
        compositor.running = Some(Running {
            mixer,
            encoder,
            targets: target_threads,
            hls_watch,
        });
        tracing::info!(
            width = compositor.cfg.width,
            height = compositor.cfg.height,
            fps = compositor.cfg.fps,
            targets = compositor.cfg.rtmp.len(),
            hls = compositor.cfg.hls.is_some(),
            "live compositor started"
        );
        Ok(compositor)
    }

    /// The configuration.
    pub fn config(&self) -> &LiveConfig {
        &self.cfg
    }

    /// Adds a source: the stream `id` with these codecs (audio Opus; video VP8 or
    /// H.264). `ask_keyframe` is called (from the thread feeding the source) when its
    /// video decoder needs a key frame: send the publisher a PLI/FIR. The source is
    /// drawn once a placement names it ([`set_placements`](Self::set_placements)); its
    /// audio is mixed from the start.
    pub fn add_source(
        &self,
        id: &str,
        audio: Option<Codec>,
        video: Option<Codec>,
        ask_keyframe: Box<dyn Fn() + Send + Sync>,
    ) -> Result<SourceInput, LiveError> {
        let audio = audio.filter(|c| *c == Codec::Opus && self.cfg.has_audio);
        let video = video.filter(|c| *c != Codec::Opus && self.cfg.has_video);
        if audio.is_none() && video.is_none() {
            return Err(LiveError::EmptySource(id.to_owned()));
        }
        let shared = Arc::new(SourceShared::new(
            id.to_owned(),
            video.is_some(),
            audio.is_some(),
        ));
        {
            let mut s = lock(&self.scene.inner);
            if s.sources.contains_key(id) {
                return Err(LiveError::DuplicateSource(id.to_owned()));
            }
            s.sources.insert(id.to_owned(), shared.clone());
            self.scene.changed(&s);
        }
        if self.running.is_none() {
            shared.close();
        }
        Ok(SourceInput::new(
            shared,
            self.env.clone(),
            Arc::downgrade(&self.scene),
            audio,
            video,
            ask_keyframe,
        ))
    }

    /// Removes a source now (its decoders are killed; its [`SourceInput`] then ignores
    /// input). Returns whether it was there.
    pub fn remove_source(&self, id: &str) -> bool {
        let removed = {
            let mut s = lock(&self.scene.inner);
            let r = s.sources.remove(id);
            if r.is_some() {
                self.scene.changed(&s);
            }
            r
        };
        match removed {
            Some(src) => {
                src.close();
                true
            }
            None => false,
        }
    }

    /// Replaces the layout: each source named by a placement is drawn in its `video`
    /// rectangle (edges rounded to even pixels), in `z` order; others are not drawn
    /// (their audio is still mixed). Compute placements with [`crate::layout::layout`]
    /// at the broadcast's resolution.
    pub fn set_placements(&self, placements: Vec<Placement>) {
        let mut s = lock(&self.scene.inner);
        s.placements = placements;
        self.scene.changed(&s);
    }

    /// The running broadcast's figures.
    pub fn stats(&self) -> LiveStats {
        let c = &self.counters;
        let mut sources: Vec<SourceStats> = lock(&self.scene.inner)
            .sources
            .values()
            .map(|s| s.stats())
            .collect();
        sources.sort_by(|a, b| a.id.cmp(&b.id));
        LiveStats {
            uptime: self.started.elapsed(),
            frames_composed: c.frames_sent.load(Ordering::Relaxed),
            frames_encoded: c.frames_encoded.load(Ordering::Relaxed),
            frames_dropped: c.frames_dropped.load(Ordering::Relaxed),
            bytes_encoded: c.bytes_encoded.load(Ordering::Relaxed),
            encoder_restarts: c.encoder_restarts.load(Ordering::Relaxed),
            encoder_latency_ms: c.encoder_latency.ms(),
            hls_ready_after: *lock(&self.hls_ready_after),
            failed: lock(&self.failed).clone(),
            targets: self.targets.iter().map(|t| t.report()).collect(),
            sources,
        }
    }

    /// Stops the broadcast: the mixer stops, the encoder's inputs are closed so it
    /// finishes the last segment and the playlist (`#EXT-X-ENDLIST`) and the targets
    /// their FLV streams; waits for them (10 s for the encoder, 5 s per target), kills
    /// what is left, and the sources' decoders.
    pub fn stop(mut self) -> LiveReport {
        if let Some(r) = self.running.take() {
            self.stop_mixer.set();
            let _ = r.mixer.join();
            self.finishing.set();
            let _ = r.encoder.join();
            // Targets finish their FLV streams (5 s each at most, in parallel); one whose
            // ffmpeg stopped reading is killed after that.
            let deadline = Instant::now() + Duration::from_secs(7);
            while r.targets.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            self.kill.set();
            for t in &self.targets {
                t.kill_process();
            }
            for t in r.targets {
                let _ = t.join();
            }
            if let Some(h) = r.hls_watch {
                let _ = h.join();
            }
        }
        self.close_sources();
        let hls_finished = self.cfg.hls.as_ref().is_some_and(|h| {
            std::fs::read_to_string(h.dir.join(hls::PLAYLIST))
                .is_ok_and(|p| p.contains("#EXT-X-ENDLIST"))
        });
        let stats = self.stats();
        tracing::info!(
            frames = stats.frames_encoded,
            dropped = stats.frames_dropped,
            "live compositor stopped"
        );
        LiveReport {
            duration: self.started.elapsed(),
            frames_encoded: stats.frames_encoded,
            frames_dropped: stats.frames_dropped,
            encoder_restarts: stats.encoder_restarts,
            failed: stats.failed,
            hls_finished,
            targets: stats.targets,
        }
    }

    fn close_sources(&self) {
        let sources: Vec<Arc<SourceShared>> =
            lock(&self.scene.inner).sources.values().cloned().collect();
        for s in sources {
            s.close();
        }
    }
}

impl Drop for LiveCompositor {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            self.kill.set();
            self.stop_mixer.set();
            self.finishing.set();
            for t in &self.targets {
                t.kill_process();
            }
            let _ = r.mixer.join();
            let _ = r.encoder.join();
            for t in r.targets {
                let _ = t.join();
            }
            if let Some(h) = r.hls_watch {
                let _ = h.join();
            }
        }
        self.close_sources();
    }
}

#[cfg(test)]
mod tests;
