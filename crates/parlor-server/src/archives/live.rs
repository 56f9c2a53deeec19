//! Composed archives composed live (`parlor serve --archive-composition live`): the
//! broadcasts' live compositor records the archive as it happens, so its MP4 is ready
//! seconds after the stop instead of being rendered from the stream files afterwards.
//!
//! The compositor (`broadcasts::pipeline`) follows the archive's streams and layout and
//! writes a DVR HLS recording (2 s MPEG-TS segments, each complete on disk before it is
//! listed) into `<archive dir>/live/`; at the stop it finishes the playlist, and the
//! segments are remuxed (no re-encoding) into `archive.mp4`. The stream files are still
//! recorded beside it: when the live recording is unusable (ffmpeg failed, a crash: the
//! recovery after a restart never has a live recording) the archive is composed from
//! them as usual, so nothing is lost.
//!
//! What differs from composing afterwards: the live MP4 keeps the wall clock, so time
//! while the archive was paused (nobody published) is in it, black and silent, where the
//! composed-afterwards MP4 leaves it out.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use parlor_compositor::ffmpeg::FfmpegInfo;
use parlor_compositor::layout::{Placement, Resolution};
use parlor_compositor::live::{HlsConfig, LiveConfig};
use parlor_router::RouterHandle;
use tokio::sync::mpsc;

use super::model::{ArchiveRecord, OutputMode};
use super::output::{self, OutputFile};
use super::{Archives, Running};
use crate::broadcasts::pipeline::{FPS, Pipeline, PipelineEvent};

/// The live recording's directory inside the archive's.
const LIVE_DIR: &str = "live";

/// A composed archive's live composition.
pub(super) struct LiveComposition {
    pipeline: Pipeline,
    router: RouterHandle,
    dir: PathBuf,
    resolution: Resolution,
}

impl LiveComposition {
    /// Starts composing `record` (composed) live into `archive_dir/live`. Blocking (starts
    /// ffmpeg).
    pub(super) fn start(
        ffmpeg: &FfmpegInfo,
        record: &ArchiveRecord,
        archive_dir: &Path,
        router: RouterHandle,
    ) -> Result<LiveComposition, String> {
        let resolution: Resolution = record
            .resolution
            .as_deref()
            .unwrap_or("640x480")
            .parse()
            .map_err(|e| format!("{e}"))?;
        let dir = archive_dir.join(LIVE_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let config = LiveConfig {
            width: resolution.width,
            height: resolution.height,
            fps: FPS,
            // OpenTok's maxBitrate caps the whole archive; audio takes 128 kbps.
            video_bitrate_bps: record.max_bitrate.map_or_else(
                || default_bitrate(resolution),
                |b| b.saturating_sub(128_000).max(100_000),
            ),
            has_audio: record.has_audio,
            has_video: record.has_video,
            hls: Some(HlsConfig {
                dir: dir.clone(),
                dvr: true,
                low_latency: false,
            }),
            rtmp: Vec::new(),
        };
        let (events, mut failures) = mpsc::unbounded_channel();
        let id = record.id.clone();
        tokio::spawn(async move {
            while let Some(e) = failures.recv().await {
                if let PipelineEvent::Failed { reason, .. } = e {
                    tracing::warn!(archive = %id, %reason, "the live composition failed; the archive will be composed from its stream files");
                }
            }
        });
        let pipeline = Pipeline::start_config(ffmpeg, &record.id, config, events)?;
        Ok(LiveComposition {
            pipeline,
            router,
            dir,
            resolution,
        })
    }

    /// The output size (for the layout).
    pub(super) fn resolution(&self) -> Resolution {
        self.resolution
    }

    /// Makes the composition's sources `(stream id, audio, video)` and layout current.
    pub(super) fn update(&self, sources: Vec<(String, bool, bool)>, placements: Vec<Placement>) {
        self.pipeline.update(&self.router, sources, placements);
    }

    /// Stops composing and remuxes the recording into `archive_dir/archive.mp4`.
    /// Blocking. Fails (the caller then composes from the stream files) unless the
    /// recording ended properly and ffmpeg remuxed it.
    pub(super) fn finish(
        self,
        ffmpeg: &FfmpegInfo,
        archive_dir: &Path,
    ) -> Result<OutputFile, String> {
        let report = self
            .pipeline
            .stop()
            .ok_or("the live compositor could not be stopped cleanly")?;
        if let Some(why) = report.failed {
            return Err(why);
        }
        if !report.hls_finished {
            return Err("the live recording was not finished".into());
        }
        let playlist = self.dir.join(parlor_compositor::live::hls::PLAYLIST);
        let tmp = archive_dir.join("archive.mp4.part");
        let out = Command::new(&ffmpeg.ffmpeg)
            .args(["-nostdin", "-v", "error", "-y", "-i"])
            .arg(&playlist)
            .args([
                "-c",
                "copy",
                "-bsf:a",
                "aac_adtstoasc",
                "-movflags",
                "+faststart",
            ])
            .args(["-f", "mp4"])
            .arg(&tmp)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run ffmpeg: {e}"))?;
        if !out.status.success() {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!(
                "remuxing the live recording failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let path = archive_dir.join("archive.mp4");
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (size, sha256) =
            output::digest(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(OutputFile {
            path,
            size,
            sha256,
            duration_secs: report.duration.as_secs_f64(),
        })
    }
}

impl Running {
    /// Brings a live composition's sources and layout in line with the archive's streams
    /// (the announced streams it wants, laid out as the composition afterwards would).
    pub(super) fn sync_live(&self) {
        let Some(live) = &self.live else {
            return;
        };
        let mut sources = Vec::new();
        let mut shown = Vec::new();
        for info in self.known.values().filter(|i| i.announced) {
            let Some((audio, video)) = self.wants(&info.stream.stream_id) else {
                continue;
            };
            let (audio, video) = (audio && info.stream.has_audio, video);
            if audio || video {
                sources.push((info.stream.stream_id.clone(), audio, video));
            }
            if video && info.stream.has_video {
                shown.push(self.layout_stream(info));
            }
        }
        shown.sort_by_key(|s| s.added_seq);
        let spec = self.record.layout.to_spec().unwrap_or_default();
        let placements = parlor_compositor::layout::layout(&shown, &spec, live.resolution());
        live.update(sources, placements);
    }
}

impl Archives {
    /// The live composition of a composed archive, when the server composes live and
    /// ffmpeg can; `None` otherwise (or if it cannot start: the archive is then composed
    /// from its stream files).
    pub(super) async fn start_live(
        &self,
        record: &ArchiveRecord,
        dir: &Path,
    ) -> Option<LiveComposition> {
        if !self.limits.live_composition || record.output_mode != OutputMode::Composed {
            return None;
        }
        let ffmpeg = self.ffmpeg.clone().ok()?;
        let (rec, dir) = (record.clone(), dir.to_owned());
        let router = self.signaling.router.clone();
        match tokio::task::spawn_blocking(move || {
            LiveComposition::start(&ffmpeg, &rec, &dir, router)
        })
        .await
        {
            Ok(Ok(l)) => Some(l),
            Ok(Err(why)) => {
                tracing::warn!(archive = %record.id, %why, "cannot compose live; the archive will be composed from its stream files");
                None
            }
            Err(_) => None,
        }
    }
}

/// The video bit rate when the archive sets no `maxBitrate`.
fn default_bitrate(r: Resolution) -> u64 {
    match r.width.max(r.height) {
        w if w >= 1920 => 4_000_000,
        w if w >= 1280 => 2_500_000,
        _ => 1_000_000,
    }
}
