//! Finishing an archive: stopping its stream recorders and making its output (the ZIP
//! or the composed MP4), then marking it available, or failed with the reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parlor_compositor::timeline::Event;

use super::model::{ArchiveRecord, ArchiveStatus, OutputMode};
use super::output::{self, ArchiveMeta, RecordedStream};
use super::{Active, Archives};

/// A stream period's file being finished (its recorder thread joined on the blocking
/// pool): the file, or why the recording failed.
pub(super) type Finishing = tokio::task::JoinHandle<Result<RecordedStream, String>>;

/// A file already known (recovery) as a [`Finishing`].
pub(super) fn finished(file: RecordedStream) -> Finishing {
    tokio::spawn(async move { Ok(file) })
}

impl Archives {
    /// Makes a stopped archive's output, then marks it available (or failed). A recording
    /// that failed to write (a full disk) fails the archive with its reason.
    pub(super) async fn finalize(
        self: Arc<Self>,
        mut record: ArchiveRecord,
        dir: PathBuf,
        finishing: Vec<Finishing>,
        events: Vec<Event>,
        live: Option<super::live::LiveComposition>,
    ) {
        let mut files = Vec::new();
        let mut failure = None;
        for f in finishing {
            match f.await {
                Ok(Ok(file)) => files.push(file),
                Ok(Err(why)) => failure = failure.or(Some(why)),
                Err(_) => failure = failure.or(Some("a stream recorder panicked".to_owned())),
            }
        }
        let ffmpeg = self.ffmpeg.clone();
        let rec = record.clone();
        let made = match failure {
            Some(why) => Err(format!("recording failed: {why}")),
            None => tokio::task::spawn_blocking(move || {
                // Composed live: the recording is remuxed; if it is unusable, the archive
                // is composed from the stream files as usual.
                if let (Some(live), Ok(ff)) = (live, ffmpeg.as_ref()) {
                    match live.finish(ff, &dir) {
                        Ok(out) => return Ok(out),
                        Err(why) => tracing::warn!(archive = %rec.id, %why, "the live composition is unusable; composing from the stream files"),
                    }
                }
                make_output(&rec, &dir, files, &events, ffmpeg.as_ref().ok())
            })
            .await
            .unwrap_or_else(|_| Err("making the archive's output panicked".into())),
        };
        record.updated_at = crate::unix_millis();
        match made {
            Ok(out) => {
                record.status = ArchiveStatus::Available;
                record.size = out.size;
                record.sha256sum = Some(out.sha256);
                record.output_file = out
                    .path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned());
                tracing::info!(archive = %record.id, size = record.size, "archive available");
            }
            Err(why) => {
                tracing::warn!(archive = %record.id, reason = %why, "archive failed");
                record.status = ArchiveStatus::Failed;
                record.reason = why;
            }
        }
        self.save(&record).await;
    }
}

/// A stream period whose recorder is being stopped.
pub(super) struct PendingStream {
    pub(super) active: Active,
    pub(super) stream_id: String,
    pub(super) stop_offset_ms: u64,
    pub(super) connection_data: String,
    pub(super) video_type: String,
}

impl PendingStream {
    /// Stops the recorder (joining its thread on the blocking pool: it writes its last
    /// cluster and patches the file's header) and describes the file.
    pub(super) fn finish(self) -> Finishing {
        tokio::task::spawn_blocking(move || self.finish_blocking())
    }

    pub(super) fn finish_blocking(self) -> Result<RecordedStream, String> {
        let (has_audio, has_video, index, start) = (
            self.active.has_audio,
            self.active.has_video,
            self.active.index,
            self.active.start_offset_ms,
        );
        let path = match self.active.recording.finish() {
            Ok(rec) => rec.path,
            Err(why) => {
                tracing::warn!(stream = %self.stream_id, error = %why, "a stream recording failed");
                return Err(why);
            }
        };
        Ok(RecordedStream {
            stream_id: self.stream_id,
            index,
            path,
            connection_data: self.connection_data,
            video_type: self.video_type,
            start_offset_ms: start,
            stop_offset_ms: self.stop_offset_ms,
            has_audio,
            has_video,
        })
    }
}

/// Makes the output of a stopped archive from its stream files.
fn make_output(
    record: &ArchiveRecord,
    dir: &Path,
    files: Vec<RecordedStream>,
    events: &[Event],
    ffmpeg: Option<&parlor_compositor::ffmpeg::FfmpegInfo>,
) -> Result<output::OutputFile, String> {
    let files: Vec<RecordedStream> = files
        .into_iter()
        .filter(|f| f.path.is_file() && std::fs::metadata(&f.path).is_ok_and(|m| m.len() > 0))
        .collect();
    if files.is_empty() {
        return Err("no media was recorded: nobody published while the archive ran".into());
    }
    match record.output_mode {
        OutputMode::Individual => {
            let meta = ArchiveMeta {
                id: record.id.clone(),
                name: record.name.clone(),
                partner_id: record.project_id.clone(),
                session_id: record.session_id.clone(),
                created_at_ms: record.created_at,
            };
            output::write_individual(dir, &meta, &files).map_err(|e| e.to_string())
        }
        OutputMode::Composed => {
            let ffmpeg =
                ffmpeg.ok_or("ffmpeg is not available: install Debian's ffmpeg package")?;
            let layout = record.layout.to_spec()?;
            let resolution = record
                .resolution
                .as_deref()
                .unwrap_or("640x480")
                .parse()
                .map_err(|e| format!("{e}"))?;
            let wall_ms = record
                .stopped_at
                .map(|s| (s - record.created_at).max(0) as u64)
                .unwrap_or(record.duration * 1000);
            // The composition leaves the paused periods out (nobody published then): every
            // offset moves to the output's clock.
            let cut = |at_ms: u64| record.without_pauses(at_ms);
            let files: Vec<RecordedStream> = files
                .into_iter()
                .map(|mut f| {
                    f.start_offset_ms = cut(f.start_offset_ms);
                    f.stop_offset_ms = cut(f.stop_offset_ms);
                    f
                })
                .collect();
            let events: Vec<Event> = events
                .iter()
                .map(|e| Event {
                    at_ms: cut(e.at_ms),
                    kind: e.kind.clone(),
                })
                .collect();
            output::write_composed_with(
                ffmpeg,
                dir,
                &output::ComposedSpec {
                    files: &files,
                    events: &events,
                    layout: &layout,
                    resolution,
                    duration_ms: cut(wall_ms),
                    has_audio: record.has_audio,
                    has_video: record.has_video,
                },
                &parlor_compositor::compose::ComposeOptions {
                    // OpenTok's maxBitrate caps the whole archive; audio takes 128 kbps.
                    max_video_bitrate: record
                        .max_bitrate
                        .map(|b| b.saturating_sub(128_000).max(50_000)),
                    ..Default::default()
                },
                &parlor_compositor::compose::CancelToken::new(),
                &mut |_| {},
            )
            .map_err(|e| e.to_string())
        }
    }
}
