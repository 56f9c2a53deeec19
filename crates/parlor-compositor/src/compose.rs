//! Rendering a composed MP4 (H.264 + AAC 128 kbps 48 kHz, yuv420p, 30 fps) from
//! per-stream recordings with one ffmpeg run.
//!
//! # The filter graph
//!
//! [`filter_graph`] builds it (a pure function; [`compose`] writes it to a script file
//! and runs ffmpeg, so the command line stays short however big the graph):
//!
//! ```text
//! color=black:WxH:r=30:d=DUR ─► [bg]
//! [i:v] setpts=PTS+START/TB ─► split=K ─┬─► scale(size 1, fit) ─► overlay#1 (x(t), y(t), enable(t))
//!                                       └─► scale(size 2, fit) ─► overlay#2 …
//! [bg] ─► overlay … overlay (in drawing order) ─► format=yuv420p ─► [vout]
//! [j:a] atrim=end=LEN, asetpts=PTS+START/TB, aresample=48000:async=1:first_pts=0,
//!       aformat=fltp:48000:stereo ─► amix=inputs=N:normalize=0:duration=longest
//!       ─► apad, atrim=end=DUR ─► [aout]
//! ```
//!
//! * Each source is opened and **decoded once**. Its frames are moved to the source's
//!   start on the output timeline by `setpts` (ffmpeg has already made the file's own
//!   timestamps start at 0, keeping its audio/video offset).
//! * A source gets one **branch per distinct picture size** (size × fit × z) it has over
//!   the timeline, not one per segment: a branch is scaled once per source frame
//!   (`force_original_aspect_ratio=decrease` for contain, `increase` + centred `crop`
//!   for cover, so the picture keeps its aspect ratio even when the source changes
//!   resolution mid-stream), and drawn by one `overlay` whose position is a per-frame
//!   expression of `t` (`eval=frame`), `sum(X_k · [a_k ≤ t < b_k])`, centred in the
//!   placement's video rectangle, and whose `enable` is the union of the branch's
//!   segments. Branches are continuous (no `trim`), so overlays never wait for a
//!   future frame: ffmpeg buffers nothing ahead, however late a segment starts.
//!   `eof_action=pass` removes a source's picture when its file ends.
//! * The background is black; letterbox bars and empty tiles stay black.
//! * Audio: every source's audio (the first [`MAX_AUDIO_SOURCES`] by start time) is
//!   delayed to its start (silence before, and in gaps, by `aresample`'s `async`),
//!   mono spread to both channels at full level (`pan`; ffmpeg's own upmix is -3 dB),
//!   mixed by `amix` with `normalize=0` (levels kept: two equal voices are not halved;
//!   an ffmpeg without `normalize` gets `weights` of N instead), padded with silence to
//!   the archive's duration. With no audio at all the track is silent.
//! * Limits: at most [`MAX_VIDEO_SOURCES`] placements per segment (OpenTok's 16),
//!   [`MAX_AUDIO_SOURCES`] mixed, [`MAX_SEGMENTS`] segments (consecutive equal segments
//!   are merged first).
//!
//! # Output
//!
//! Fragmented MP4 (`frag_keyframe+empty_moov+default_base_moof`, a keyframe every 2 s)
//! written straight to the output path: if ffmpeg is killed (cancellation, crash,
//! power), the file holds every complete 2 s fragment and plays; no second pass
//! rewrites the file at the end (`+faststart` copies the whole file to move the index
//! forward — minutes of I/O for hours of archive — and leaves nothing playable if
//! killed first), and the index comes first, so it streams progressively like a
//! faststart file.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::ffmpeg::{FfmpegInfo, ToolMissing};
use crate::layout::{MAX_VIDEO_STREAMS, ObjectFit, Placement, Resolution};

/// At most this many placements per segment are drawn.
pub const MAX_VIDEO_SOURCES: usize = MAX_VIDEO_STREAMS;
/// At most this many sources' audio is mixed (OpenTok mixes the first 50).
pub const MAX_AUDIO_SOURCES: usize = 50;
/// At most this many segments (after merging equal neighbours).
pub const MAX_SEGMENTS: usize = 2000;
/// Longest composition accepted (OpenTok archives last at most 4 h of publishing, 12 h
/// in all).
pub const MAX_DURATION_MS: u64 = 12 * 3600 * 1000;
/// Most sources accepted.
pub const MAX_SOURCES: usize = 1000;
/// Lines of ffmpeg's error output kept for [`ComposeError::Ffmpeg`].
const STDERR_TAIL_LINES: usize = 12;

/// One per-stream recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The stream ID (what [`Placement::stream_id`] refers to).
    pub id: String,
    /// The file: WebM (VP8/Opus) or Matroska (H.264), any format ffmpeg reads.
    pub path: PathBuf,
    /// Where the file's time 0 falls on the archive's timeline, in ms.
    pub start_ms: u64,
    /// Where the stream ended, in ms (audio past it is cut).
    pub end_ms: u64,
    /// Whether its audio is mixed.
    pub has_audio: bool,
    /// Whether its video may be drawn.
    pub has_video: bool,
}

/// A stretch of the archive with one set of placements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Start, in ms (inclusive).
    pub start_ms: u64,
    /// End, in ms (exclusive).
    pub end_ms: u64,
    /// What is drawn, in drawing order (as [`crate::layout::layout`] returns them).
    pub placements: Vec<Placement>,
}

/// Everything needed to render a composed archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composition {
    /// The output resolution.
    pub resolution: Resolution,
    /// The output duration, in ms.
    pub duration_ms: u64,
    /// The recordings.
    pub sources: Vec<Source>,
    /// The layout over time (see [`crate::timeline::timeline`]).
    pub timeline: Vec<Segment>,
}

/// Encoding options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeOptions {
    /// Threads for the encoder and the filter graph (default 2: the box has 2 cores).
    pub threads: u32,
    /// The x264 preset (default `veryfast`).
    pub preset: String,
    /// Output frame rate (default 30).
    pub fps: u32,
    /// Whether to probe each input with ffprobe first (clear errors for unreadable
    /// files, and a claimed track the file lacks is skipped). Default on.
    pub probe_inputs: bool,
    /// The most the video may take, in bits per second (OpenTok's `maxBitrate`; the
    /// 128 kbps of audio come on top). `None`: x264's own rate control.
    pub max_video_bitrate: Option<u64>,
}

impl Default for ComposeOptions {
    fn default() -> Self {
        Self {
            threads: 2,
            preset: "veryfast".into(),
            fps: 30,
            probe_inputs: true,
            max_video_bitrate: None,
        }
    }
}

/// Progress of a running composition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Output time written so far, in ms.
    pub out_time_ms: u64,
    /// The composition's duration, in ms.
    pub duration_ms: u64,
    /// `out_time_ms / duration_ms`, in `0.0..=1.0`.
    pub fraction: f64,
    /// ffmpeg's speed (media seconds per wall second), when it reports one.
    pub speed: Option<f64>,
    /// The last report (ffmpeg's `progress=end`).
    pub done: bool,
}

/// Cancels a running [`compose`] from another thread (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the composition to stop: ffmpeg is killed within ~100 ms.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a finished composition did.
#[derive(Debug, Clone, PartialEq)]
pub struct ComposeReport {
    /// Wall time of the ffmpeg run.
    pub elapsed: Duration,
    /// Real-time multiple: composition duration / wall time.
    pub speed: f64,
    /// Sources whose video is drawn.
    pub video_sources: usize,
    /// Sources whose audio is mixed.
    pub audio_sources: usize,
    /// Overlay branches in the graph.
    pub branches: usize,
}

/// Why a composition failed.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// ffmpeg or ffprobe is missing or lacks something.
    #[error(transparent)]
    Tool(#[from] ToolMissing),
    /// The composition itself is inconsistent.
    #[error("invalid composition: {0}")]
    Invalid(String),
    /// An input cannot be read.
    #[error("input {path} is unreadable: {reason}")]
    InputUnreadable {
        /// The file.
        path: PathBuf,
        /// Why (the OS error or ffprobe's message).
        reason: String,
    },
    /// ffmpeg failed.
    #[error("ffmpeg failed ({status}): {stderr_tail}")]
    Ffmpeg {
        /// Its exit status.
        status: String,
        /// The last lines of its error output.
        stderr_tail: String,
    },
    /// [`CancelToken::cancel`] was called; the output holds what was written.
    #[error("composition cancelled")]
    Cancelled,
    /// Running ffmpeg or writing the graph script failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// The ffmpeg invocation for a composition: inputs and filter graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    /// Input files, in ffmpeg input order.
    pub inputs: Vec<PathBuf>,
    /// The `-filter_complex` text, with outputs `[vout]` and `[aout]`.
    pub filter: String,
    /// Sources whose video is drawn.
    pub video_sources: usize,
    /// Sources whose audio is mixed.
    pub audio_sources: usize,
    /// Overlay branches.
    pub branches: usize,
}

/// What the inputs really hold (from ffprobe), by source index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracks {
    /// The file has a video stream.
    pub video: bool,
    /// The file has an audio stream.
    pub audio: bool,
    /// Channels of its first audio stream (0 if unknown). Mono is spread to both output
    /// channels at full level (ffmpeg's default upmix lowers it by 3 dB).
    pub audio_channels: u32,
}

fn secs(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// (start ms, end ms, video rectangle x, y): one segment of a branch.
type Window = (u64, u64, u32, u32);

/// A branch: one source drawn at one size.
struct Branch {
    source: usize,
    w: u32,
    h: u32,
    fit: ObjectFit,
    z: i32,
    /// Where the branch is drawn, one per segment.
    windows: Vec<Window>,
    /// First segment index and drawing index there, for ordering.
    first: (usize, usize),
}

/// Builds the filter graph (see the module documentation). `tracks` says what each
/// source's file holds (`None`: trust [`Source::has_audio`]/[`Source::has_video`]).
pub fn filter_graph(
    c: &Composition,
    info: &FfmpegInfo,
    opts: &ComposeOptions,
    tracks: Option<&[Tracks]>,
) -> Result<Graph, ComposeError> {
    validate(c)?;
    let fps = opts.fps.clamp(1, 120);
    let res = c.resolution;
    let dur = secs(c.duration_ms);
    let by_id: HashMap<&str, usize> = c
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let has_video = |i: usize| c.sources[i].has_video && tracks.is_none_or(|t| t[i].video);
    let has_audio = |i: usize| c.sources[i].has_audio && tracks.is_none_or(|t| t[i].audio);

    // Branches, keyed by (source, size, fit, z).
    let mut branches: Vec<Branch> = Vec::new();
    let mut branch_of: HashMap<(usize, u32, u32, ObjectFit, i32), usize> = HashMap::new();
    for (si, seg) in merged(&c.timeline).iter().enumerate() {
        let start = seg.start_ms.min(c.duration_ms);
        let end = seg.end_ms.min(c.duration_ms);
        if end <= start {
            continue;
        }
        for (pi, p) in seg.placements.iter().take(MAX_VIDEO_SOURCES).enumerate() {
            let Some(&src) = by_id.get(p.stream_id.as_str()) else {
                return Err(ComposeError::Invalid(format!(
                    "segment at {} ms places stream {:?}, which has no source",
                    seg.start_ms,
                    crate::layout::truncate(&p.stream_id, 64)
                )));
            };
            if !has_video(src) || p.video.w == 0 || p.video.h == 0 {
                continue;
            }
            let key = (src, p.video.w, p.video.h, p.fit, p.z);
            let b = *branch_of.entry(key).or_insert_with(|| {
                branches.push(Branch {
                    source: src,
                    w: p.video.w,
                    h: p.video.h,
                    fit: p.fit,
                    z: p.z,
                    windows: Vec::new(),
                    first: (si, pi),
                });
                branches.len() - 1
            });
            branches[b].windows.push((start, end, p.video.x, p.video.y));
        }
    }
    branches.sort_by_key(|b| (b.z, b.first));

    // Inputs: sources with a drawn video or a mixed audio.
    let mut audio: Vec<usize> = (0..c.sources.len()).filter(|&i| has_audio(i)).collect();
    audio.sort_by_key(|&i| (c.sources[i].start_ms, i));
    if audio.len() > MAX_AUDIO_SOURCES {
        tracing::warn!(
            sources = audio.len(),
            "more than {MAX_AUDIO_SOURCES} audio sources; mixing the first {MAX_AUDIO_SOURCES}"
        );
        audio.truncate(MAX_AUDIO_SOURCES);
    }
    let mut input_of: HashMap<usize, usize> = HashMap::new();
    let mut inputs = Vec::new();
    let mut used: Vec<usize> = branches.iter().map(|b| b.source).collect();
    used.extend(&audio);
    for s in used {
        input_of.entry(s).or_insert_with(|| {
            inputs.push(c.sources[s].path.clone());
            inputs.len() - 1
        });
    }

    let mut g = String::new();
    let mut line = |s: String| {
        g.push_str(&s);
        g.push_str(";\n");
    };
    line(format!(
        "color=c=black:s={}x{}:r={fps}:d={dur},format=yuv420p[bg]",
        res.width, res.height
    ));

    // Video: one split per drawn source.
    let mut per_source: Vec<(usize, Vec<usize>)> = Vec::new();
    for (b, branch) in branches.iter().enumerate() {
        match per_source.iter_mut().find(|(s, _)| *s == branch.source) {
            Some((_, v)) => v.push(b),
            None => per_source.push((branch.source, vec![b])),
        }
    }
    for (src, bs) in &per_source {
        let input = input_of[src];
        let start = c.sources[*src].start_ms;
        let outs: String = bs.iter().map(|b| format!("[b{b}]")).collect();
        let split = if bs.len() == 1 {
            "null".to_owned()
        } else {
            format!("split={}", bs.len())
        };
        line(format!(
            "[{input}:v:0]setpts=PTS+{}/TB,{split}{outs}",
            secs(start)
        ));
    }
    let mut last = "bg".to_owned();
    for (b, branch) in branches.iter().enumerate() {
        let (w, h) = (branch.w, branch.h);
        let fit = match branch.fit {
            ObjectFit::Contain => {
                format!("scale=w={w}:h={h}:force_original_aspect_ratio=decrease:flags=bilinear")
            }
            ObjectFit::Cover => format!(
                "scale=w={w}:h={h}:force_original_aspect_ratio=increase:flags=bilinear,crop={w}:{h}"
            ),
        };
        line(format!("[b{b}]{fit}[s{b}]"));
        let window = |a: u64, z: u64| format!("gte(t,{})*lt(t,{})", secs(a), secs(z));
        let enable: Vec<String> = branch
            .windows
            .iter()
            .map(|&(a, z, ..)| window(a, z))
            .collect();
        let pos = |coord: &dyn Fn(&Window) -> u32| -> String {
            let first = coord(&branch.windows[0]);
            if branch.windows.iter().all(|win| coord(win) == first) {
                return first.to_string();
            }
            branch
                .windows
                .iter()
                .map(|win| format!("{}*{}", coord(win), window(win.0, win.1)))
                .collect::<Vec<_>>()
                .join("+")
        };
        let x = pos(&|win| win.2);
        let y = pos(&|win| win.3);
        let out = format!("o{b}");
        line(format!(
            "[{last}][s{b}]overlay=x='{x}+({w}-w)/2':y='{y}+({h}-h)/2':eval=frame:eof_action=pass:enable='{}'[{out}]",
            enable.join("+")
        ));
        last = out;
    }
    line(format!("[{last}]format=yuv420p[vout]"));

    // Audio.
    let mut labels = String::new();
    for (n, src) in audio.iter().enumerate() {
        let s = &c.sources[*src];
        let len = s.end_ms.saturating_sub(s.start_ms).max(1);
        let mono = tracks.is_some_and(|t| t[*src].audio_channels == 1);
        let upmix = if mono { "pan=stereo|c0=c0|c1=c0," } else { "" };
        line(format!(
            "[{}:a:0]atrim=end={},asetpts=PTS+{}/TB,aresample=48000:async=1:first_pts=0,{upmix}aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo[a{n}]",
            input_of[src],
            secs(len),
            secs(s.start_ms)
        ));
        labels.push_str(&format!("[a{n}]"));
    }
    let mixed = match audio.len() {
        0 => format!("anullsrc=r=48000:cl=stereo:d={dur}"),
        1 => format!("{labels}anull"),
        n if info.amix_normalize => {
            format!("{labels}amix=inputs={n}:duration=longest:dropout_transition=0:normalize=0")
        }
        n => {
            let weights = vec![n.to_string(); n].join(" ");
            format!(
                "{labels}amix=inputs={n}:duration=longest:dropout_transition=0:weights='{weights}'"
            )
        }
    };
    g.push_str(&format!(
        "{mixed},apad=whole_dur={dur},atrim=end={dur}[aout]\n"
    ));

    Ok(Graph {
        inputs,
        filter: g,
        video_sources: per_source.len(),
        audio_sources: audio.len(),
        branches: branches.len(),
    })
}

/// Consecutive segments with equal placements merged.
fn merged(timeline: &[Segment]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::with_capacity(timeline.len());
    for seg in timeline {
        match out.last_mut() {
            Some(last) if last.end_ms == seg.start_ms && last.placements == seg.placements => {
                last.end_ms = seg.end_ms;
            }
            _ => out.push(seg.clone()),
        }
    }
    out
}

/// Other sizes than OpenTok's six (Telnyx room compositions: any side of 16–1280 px):
/// even sides (H.264 4:2:0) of 16–1920 px, at most 1920×1080 in area.
fn custom_resolution(r: Resolution) -> bool {
    let side = |s: u32| (16..=1920).contains(&s) && s % 2 == 0;
    side(r.width) && side(r.height) && r.width * r.height <= 1920 * 1080
}

fn validate(c: &Composition) -> Result<(), ComposeError> {
    let bad = |m: String| Err(ComposeError::Invalid(m));
    if c.duration_ms == 0 || c.duration_ms > MAX_DURATION_MS {
        return bad(format!(
            "duration {} ms is not in 1..={MAX_DURATION_MS} ms",
            c.duration_ms
        ));
    }
    if !Resolution::ALL.contains(&c.resolution) && !custom_resolution(c.resolution) {
        return bad(format!("resolution {} is not supported", c.resolution));
    }
    if c.sources.len() > MAX_SOURCES {
        return bad(format!(
            "{} sources; at most {MAX_SOURCES}",
            c.sources.len()
        ));
    }
    let mut ids = std::collections::HashSet::new();
    for s in &c.sources {
        if !ids.insert(s.id.as_str()) {
            return bad(format!(
                "two sources have the stream ID {:?}",
                crate::layout::truncate(&s.id, 64)
            ));
        }
        if s.end_ms < s.start_ms {
            return bad(format!("source {:?} ends before it starts", s.id));
        }
    }
    if merged(&c.timeline).len() > MAX_SEGMENTS {
        return bad(format!("more than {MAX_SEGMENTS} timeline segments"));
    }
    for seg in &c.timeline {
        if seg.end_ms < seg.start_ms {
            return bad(format!(
                "segment at {} ms ends before it starts",
                seg.start_ms
            ));
        }
        for p in &seg.placements {
            let r = p.video;
            if r.x.saturating_add(r.w) > c.resolution.width
                || r.y.saturating_add(r.h) > c.resolution.height
            {
                return bad(format!(
                    "placement of {:?} at {} ms lies outside the {} frame",
                    p.stream_id, seg.start_ms, c.resolution
                ));
            }
        }
    }
    Ok(())
}

/// Probes a file with ffprobe: which tracks it has.
pub fn probe(info: &FfmpegInfo, path: &Path) -> Result<Tracks, ComposeError> {
    if let Err(e) = std::fs::File::open(path) {
        return Err(ComposeError::InputUnreadable {
            path: path.to_owned(),
            reason: e.to_string(),
        });
    }
    let out = Command::new(&info.ffprobe)
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,channels",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(ComposeError::InputUnreadable {
            path: path.to_owned(),
            reason: tail(&String::from_utf8_lossy(&out.stderr), 3),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut tracks = Tracks {
        video: false,
        audio: false,
        audio_channels: 0,
    };
    for line in text.lines() {
        let mut fields = line.trim().split(',');
        match fields.next() {
            Some("video") => tracks.video = true,
            Some("audio") if !tracks.audio => {
                tracks.audio = true;
                tracks.audio_channels = fields
                    .next()
                    .and_then(|c| c.trim().parse().ok())
                    .unwrap_or(0);
            }
            _ => {}
        }
    }
    Ok(tracks)
}

/// The last `n` non-empty lines of `text`, each at most 300 characters.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| crate::layout::truncate(l.trim(), 300))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Renders `c` into the MP4 `out` (overwritten). Blocks until ffmpeg exits; calls
/// `progress` about twice a second; `cancel` kills ffmpeg (the output then holds what
/// was written, playable: see the module documentation).
pub fn compose(
    info: &FfmpegInfo,
    c: &Composition,
    out: &Path,
    opts: &ComposeOptions,
    progress: &mut dyn FnMut(&Progress),
    cancel: &CancelToken,
) -> Result<ComposeReport, ComposeError> {
    validate(c)?;
    let tracks = if opts.probe_inputs {
        let mut t = Vec::with_capacity(c.sources.len());
        for s in &c.sources {
            let found = probe(info, &s.path)?;
            if s.has_video && !found.video {
                tracing::warn!(source = %s.id, "source has no video track; not drawn");
            }
            if s.has_audio && !found.audio {
                tracing::warn!(source = %s.id, "source has no audio track; not mixed");
            }
            t.push(found);
        }
        Some(t)
    } else {
        for s in &c.sources {
            if let Err(e) = std::fs::File::open(&s.path) {
                return Err(ComposeError::InputUnreadable {
                    path: s.path.clone(),
                    reason: e.to_string(),
                });
            }
        }
        None
    };
    let graph = filter_graph(c, info, opts, tracks.as_deref())?;
    let script = script_path(out);
    std::fs::write(&script, &graph.filter)?;
    let result = run_ffmpeg(info, c, &graph, &script, out, opts, progress, cancel);
    let _ = std::fs::remove_file(&script);
    let elapsed = result?;
    Ok(ComposeReport {
        elapsed,
        speed: c.duration_ms as f64 / 1000.0 / elapsed.as_secs_f64().max(1e-3),
        video_sources: graph.video_sources,
        audio_sources: graph.audio_sources,
        branches: graph.branches,
    })
}

fn script_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    out.with_file_name(format!(".{name}.{}.filtergraph", std::process::id()))
}

/// The ffmpeg arguments for a graph.
pub fn ffmpeg_args(
    info: &FfmpegInfo,
    c: &Composition,
    graph: &Graph,
    script: &Path,
    out: &Path,
    opts: &ComposeOptions,
) -> Vec<String> {
    let threads = opts.threads.clamp(1, 64).to_string();
    let fps = opts.fps.clamp(1, 120);
    let mut a: Vec<String> = [
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostats",
        "-progress",
        "pipe:1",
        "-stats_period",
        "0.5",
        "-y",
    ]
    .map(String::from)
    .to_vec();
    for input in &graph.inputs {
        // One decoder thread per input: many small decoders, two cores.
        a.extend(["-threads".into(), "1".into(), "-i".into()]);
        a.push(input.to_string_lossy().into_owned());
    }
    // ffmpeg 7 replaced -filter_complex_script with -/filter_complex.
    let script_opt = if info.major >= 7 {
        "-/filter_complex"
    } else {
        "-filter_complex_script"
    };
    a.extend([script_opt.into(), script.to_string_lossy().into_owned()]);
    a.extend(["-filter_complex_threads".into(), threads.clone()]);
    #[rustfmt::skip]
    a.extend([
        "-map", "[vout]", "-map", "[aout]",
        // No B-frames: the first frame is at 0 (a fragmented MP4 has no edit list to
        // hide B-frame delay), which keeps audio and video aligned in every player.
        "-c:v", "libx264", "-preset", &opts.preset, "-bf", "0", "-pix_fmt", "yuv420p",
        "-r", &fps.to_string(), "-g", &(fps * 2).to_string(),
        "-threads", &threads,
        "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2",
        "-t", &secs(c.duration_ms),
        "-movflags", "+frag_keyframe+empty_moov+default_base_moof",
        // Each fragment reaches the file when it is cut, not when 32 KiB have gathered.
        "-flush_packets", "1",
        "-f", "mp4",
    ].map(String::from));
    // A keyframe where the picture changes as a whole (a layout segment begins): a
    // starved encoder (a low maxBitrate) would otherwise code the change as a few skipped
    // frames and show the old layout until its next periodic keyframe.
    let changes: Vec<String> = c
        .timeline
        .iter()
        .map(|seg| seg.start_ms)
        .filter(|&ms| ms > 0 && ms < c.duration_ms)
        .map(secs)
        .collect();
    if !changes.is_empty() {
        a.extend(["-force_key_frames".into(), changes.join(",")]);
    }
    if let Some(b) = opts.max_video_bitrate {
        // A capped VBV: the rate stays under the cap over every second.
        a.extend([
            "-maxrate".into(),
            b.to_string(),
            "-bufsize".into(),
            b.to_string(),
        ]);
    }
    a.push(out.to_string_lossy().into_owned());
    a
}

#[allow(clippy::too_many_arguments)]
fn run_ffmpeg(
    info: &FfmpegInfo,
    c: &Composition,
    graph: &Graph,
    script: &Path,
    out: &Path,
    opts: &ComposeOptions,
    progress: &mut dyn FnMut(&Progress),
    cancel: &CancelToken,
) -> Result<Duration, ComposeError> {
    let args = ffmpeg_args(info, c, graph, script, out, opts);
    tracing::debug!(?args, graph = %graph.filter, "running ffmpeg");
    let started = Instant::now();
    let mut child = Command::new(&info.ffmpeg)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ComposeError::Tool(ToolMissing::NotFound {
                    tool: format!("ffmpeg ({})", info.ffmpeg.display()),
                    reason: e.to_string(),
                })
            } else {
                ComposeError::Io(e)
            }
        })?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel::<Progress>();
    let duration_ms = c.duration_ms;
    let reader = std::thread::spawn(move || read_progress(stdout, duration_ms, &tx));
    let err_reader = std::thread::spawn(move || {
        // Keep only the tail; lines capped so a runaway line cannot grow memory.
        let mut tail: std::collections::VecDeque<String> = Default::default();
        let mut r = BufReader::new(stderr);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.by_ref().take(64 * 1024).read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    if tail.len() == STDERR_TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(crate::layout::truncate(line.trim_end(), 300));
                }
            }
        }
        tail.into_iter().collect::<Vec<_>>().join("\n")
    });
    let status: ExitStatus;
    let mut cancelled = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(p) => progress(&p),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // stdout closed: ffmpeg is exiting.
                status = child.wait()?;
                break;
            }
        }
        if cancel.is_cancelled() && !cancelled {
            cancelled = true;
            let _ = child.kill();
        }
        if let Some(s) = child.try_wait()? {
            status = s;
            break;
        }
    }
    let _ = reader.join();
    for p in rx.try_iter() {
        progress(&p);
    }
    let stderr_tail = err_reader.join().unwrap_or_default();
    if cancelled {
        return Err(ComposeError::Cancelled);
    }
    if !status.success() {
        return Err(ComposeError::Ffmpeg {
            status: status.to_string(),
            stderr_tail,
        });
    }
    Ok(started.elapsed())
}

/// Parses `-progress` output (`key=value` lines, a block ending in `progress=…`).
fn read_progress(stdout: impl std::io::Read, duration_ms: u64, tx: &mpsc::Sender<Progress>) {
    let mut out_time_ms = 0u64;
    let mut speed = None;
    let mut r = BufReader::new(stdout);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match r.by_ref().take(4096).read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        match key {
            "out_time_us" => {
                if let Ok(us) = value.parse::<i64>() {
                    out_time_ms = (us.max(0) / 1000) as u64;
                }
            }
            "speed" => speed = value.trim_end_matches('x').trim().parse::<f64>().ok(),
            "progress" => {
                let done = value == "end";
                let t = if done {
                    duration_ms
                } else {
                    out_time_ms.min(duration_ms)
                };
                let p = Progress {
                    out_time_ms: t,
                    duration_ms,
                    fraction: t as f64 / duration_ms.max(1) as f64,
                    speed,
                    done,
                };
                if tx.send(p).is_err() {
                    return;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Rect;

    fn info() -> FfmpegInfo {
        FfmpegInfo {
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            version: "5.1".into(),
            major: 5,
            amix_normalize: true,
        }
    }

    fn placement(id: &str, video: Rect) -> Placement {
        Placement {
            stream_id: id.into(),
            slot: video,
            video,
            z: 0,
            fit: ObjectFit::Contain,
        }
    }

    fn source(id: &str, start_ms: u64) -> Source {
        Source {
            id: id.into(),
            path: format!("/in/{id}.webm").into(),
            start_ms,
            end_ms: 10_000,
            has_audio: true,
            has_video: true,
        }
    }

    fn comp() -> Composition {
        let full = Rect::new(0, 0, 640, 480);
        let (l, r) = (Rect::new(0, 0, 320, 480), Rect::new(320, 0, 320, 480));
        Composition {
            resolution: Resolution::SD_LANDSCAPE,
            duration_ms: 6000,
            sources: vec![source("a", 0), source("b", 2000), source("quiet", 0)],
            timeline: vec![
                Segment {
                    start_ms: 0,
                    end_ms: 2000,
                    placements: vec![placement("a", full)],
                },
                Segment {
                    start_ms: 2000,
                    end_ms: 4000,
                    placements: vec![placement("a", l), placement("b", r)],
                },
                // Same size for b, moved: same branch.
                Segment {
                    start_ms: 4000,
                    end_ms: 6000,
                    placements: vec![placement("b", l), placement("a", r)],
                },
            ],
        }
    }

    #[test]
    fn graph_has_one_branch_per_source_size() {
        let mut c = comp();
        c.sources[2].has_audio = false;
        c.sources[2].has_video = false;
        let g = filter_graph(&c, &info(), &ComposeOptions::default(), None).unwrap();
        // quiet is neither drawn nor mixed: not an input.
        assert_eq!(g.inputs.len(), 2);
        assert_eq!((g.video_sources, g.audio_sources, g.branches), (2, 2, 3));
        assert!(
            g.filter
                .contains("[0:v:0]setpts=PTS+0.000/TB,split=2[b0][b1]"),
            "{}",
            g.filter
        );
        assert!(
            g.filter.contains("[1:v:0]setpts=PTS+2.000/TB,null[b2]"),
            "{}",
            g.filter
        );
        // b's half-size branch moves from x=320 to x=0.
        assert!(
            g.filter
                .contains("x='320*gte(t,2.000)*lt(t,4.000)+0*gte(t,4.000)*lt(t,6.000)+(320-w)/2'"),
            "{}",
            g.filter
        );
        assert!(
            g.filter
                .contains("amix=inputs=2:duration=longest:dropout_transition=0:normalize=0")
        );
        assert!(
            g.filter
                .contains("[1:a:0]atrim=end=8.000,asetpts=PTS+2.000/TB")
        );
        assert!(g.filter.contains("eof_action=pass"));
        // Without normalize: weights.
        let old = FfmpegInfo {
            amix_normalize: false,
            ..info()
        };
        let g = filter_graph(&c, &old, &ComposeOptions::default(), None).unwrap();
        assert!(g.filter.contains("weights='2 2'"), "{}", g.filter);
    }

    #[test]
    fn probed_tracks_override_claims() {
        let c = comp();
        let t = [
            Tracks {
                video: true,
                audio: false,
                audio_channels: 0,
            },
            Tracks {
                video: false,
                audio: true,
                audio_channels: 1,
            },
            Tracks {
                video: false,
                audio: false,
                audio_channels: 0,
            },
        ];
        let g = filter_graph(&c, &info(), &ComposeOptions::default(), Some(&t)).unwrap();
        assert_eq!((g.video_sources, g.audio_sources), (1, 1));
        assert!(!g.filter.contains("amix"));
        assert!(
            g.filter.contains("pan=stereo|c0=c0|c1=c0,aformat"),
            "{}",
            g.filter
        );
    }

    #[test]
    fn no_audio_is_a_silent_track() {
        let mut c = comp();
        c.sources.iter_mut().for_each(|s| s.has_audio = false);
        let g = filter_graph(&c, &info(), &ComposeOptions::default(), None).unwrap();
        assert!(g.filter.contains("anullsrc=r=48000:cl=stereo:d=6.000"));
    }

    #[test]
    fn invalid_compositions_are_refused() {
        let mut c = comp();
        c.timeline[0].placements[0].stream_id = "ghost".into();
        let e = filter_graph(&c, &info(), &ComposeOptions::default(), None).unwrap_err();
        assert!(e.to_string().contains("ghost"), "{e}");
        let mut c = comp();
        c.timeline[0].placements[0].video = Rect::new(600, 0, 100, 10);
        assert!(matches!(
            filter_graph(&c, &info(), &ComposeOptions::default(), None),
            Err(ComposeError::Invalid(_))
        ));
        let mut c = comp();
        c.duration_ms = 0;
        assert!(filter_graph(&c, &info(), &ComposeOptions::default(), None).is_err());
        let mut c = comp();
        c.sources[1].id = "a".into();
        assert!(filter_graph(&c, &info(), &ComposeOptions::default(), None).is_err());
    }

    #[test]
    fn progress_lines_parse() {
        let text = "frame=10\nout_time_us=1500000\nspeed=2.5x\nprogress=continue\nout_time_us=N/A\nprogress=end\n";
        let (tx, rx) = mpsc::channel();
        read_progress(text.as_bytes(), 3000, &tx);
        let got: Vec<Progress> = rx.try_iter().collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].out_time_ms, 1500);
        assert_eq!(got[0].fraction, 0.5);
        assert_eq!(got[0].speed, Some(2.5));
        assert!(!got[0].done);
        assert!(got[1].done);
        assert_eq!(got[1].fraction, 1.0);
    }

    #[test]
    fn stderr_tail_keeps_the_end() {
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        assert_eq!(tail(&text, 2), "line 98\nline 99");
    }
}
