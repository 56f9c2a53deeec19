//! A finished archive's downloadable output, from its recorded streams.
//!
//! Every stream an archive records is one or more files written by `parlor-recorder`
//! (WebM VP8 + Opus, or Matroska H.264 + Opus): a stream that reconnects, or is removed
//! and re-added in manual stream mode, gets a new file with the next index. When the
//! archive stops, they become what the user downloads (OpenTok's two output modes):
//!
//! * [`write_individual`] — `archive.zip`: each file as it was recorded, named
//!   `<streamId>.webm` (`.mkv` for H.264; `<streamId>-<index>.<ext>` for a stream's
//!   second and later files), and the manifest `<archiveId>.json` at the root:
//!
//!   ```json
//!   {"createdAt": 1700000000000, "id": "…", "name": null, "partnerId": "…",
//!    "sessionId": "…",
//!    "files": [{"filename": "….webm", "size": 123, "streamId": "…",
//!               "connectionData": "…", "videoType": "camera",
//!               "startTimeOffset": 0, "stopTimeOffset": 6000}]}
//!   ```
//!
//!   Entries are stored, not deflated (the media is already compressed), and copied
//!   through a fixed buffer: memory does not grow with the archive. Entries of 4 GiB or
//!   more are written as ZIP64. The manifest comes last, so its sizes are the bytes
//!   really copied. The fields are OpenTok's, no more: an archive's `hasAudio`/
//!   `hasVideo` are not in its manifest (they are in the archive object), and the files
//!   are stored as recorded whatever they say.
//! * [`write_composed`] — `archive.mp4` rendered by `parlor-compositor` (H.264 + AAC
//!   128 kbps 48 kHz, the layout replayed from the events the caller recorded). A
//!   stream with several files becomes one compositor source per file, and the layout's
//!   placements of that stream are mapped to the file recorded at that time. Streams that
//!   appear in the events but have no file are left out of the layout (their tiles go
//!   to the recorded streams). `hasVideo=false` gives an audio-only MP4 (AAC; the video
//!   is rendered with nothing drawn, cheaply, and dropped by an `-c copy -vn` pass),
//!   `hasAudio=false` a video-only one (`-an`).
//!
//! Both write under a temporary name in the same directory (`.archive.zip.partial`,
//! `.archive.mp4.partial`), `fsync` it, rename it into place and `fsync` the directory:
//! the final name only ever holds a complete output, whether the process crashes,
//! fails or is cancelled half way; the temporary file is removed on errors and
//! overwritten by the next attempt after a crash. Both block (file copies, ffmpeg):
//! call them from a blocking thread.
//!
//! An archive with no recorded file gives [`OutputError::NoMedia`] ("no media was
//! recorded") in both modes, for the caller to mark the archive `failed` with that
//! reason. OpenTok stops an archive in which nobody publishes within a minute; Parlor
//! fails it rather than produce an empty ZIP or a black, silent MP4.

#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use parlor_compositor::compose::{
    CancelToken, ComposeError, ComposeOptions, Composition, Segment, Source, compose,
};
use parlor_compositor::ffmpeg::{FfmpegInfo, ToolMissing};
use parlor_compositor::layout::{LayoutSpec, Resolution};
use parlor_compositor::timeline::{Event, EventKind, timeline};
use serde::Serialize;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// The ZIP of an individual archive.
pub const ZIP_NAME: &str = "archive.zip";
/// The MP4 of a composed archive.
pub const MP4_NAME: &str = "archive.mp4";
/// Longest stream ID accepted (they become file names; Parlor's are 36-character UUIDs).
pub const MAX_STREAM_ID_LEN: usize = 128;
/// Most files in one output (OpenTok records up to 50 streams; reconnects add files).
pub const MAX_FILES: usize = 1000;
/// The copy buffer of [`write_individual`] and [`digest`].
const COPY_BUF: usize = 256 * 1024;
/// Entries at least this large are written as ZIP64.
const ZIP64_THRESHOLD: u64 = u32::MAX as u64;
/// Lines of ffmpeg/ffprobe error output kept in an error.
const STDERR_TAIL_LINES: usize = 4;

/// One recorded stream file: one stream's period in the archive. A stream that
/// reconnects or is re-added gets a further file with index 1, 2, ….
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedStream {
    /// The stream ID (ASCII letters, digits, `-` and `_`; it becomes a file name).
    pub stream_id: String,
    /// 0 for the stream's first file, then 1, 2, ….
    pub index: u32,
    /// The recorded file (its extension, `webm` or `mkv`, is kept in the ZIP).
    pub path: PathBuf,
    /// The publishing connection's data (its token's `data`).
    pub connection_data: String,
    /// `camera`, `screen` or `custom`.
    pub video_type: String,
    /// When the file starts, in ms from the archive's `createdAt`.
    pub start_offset_ms: u64,
    /// When it stops, in ms from the archive's `createdAt`.
    pub stop_offset_ms: u64,
    /// Whether it has an audio track.
    pub has_audio: bool,
    /// Whether it has a video track.
    pub has_video: bool,
}

impl RecordedStream {
    /// The file's name in the ZIP: `<streamId>.<ext>`, or `<streamId>-<index>.<ext>`
    /// for `index > 0`, with the recorded file's extension (lowercased).
    pub fn entry_name(&self) -> Result<String, OutputError> {
        check_stream_id(&self.stream_id)?;
        let ext = self
            .path
            .extension()
            .and_then(|e| e.to_str())
            .filter(|e| (1..=8).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_alphanumeric()))
            .ok_or_else(|| {
                OutputError::Invalid(format!(
                    "the recorded file of stream {} has no media file extension (webm or mkv)",
                    self.stream_id
                ))
            })?
            .to_ascii_lowercase();
        Ok(if self.index == 0 {
            format!("{}.{ext}", self.stream_id)
        } else {
            format!("{}-{}.{ext}", self.stream_id, self.index)
        })
    }
}

/// What the manifest of an individual archive says about the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveMeta {
    /// The archive ID (also the manifest's file name, `<id>.json`).
    pub id: String,
    /// The archive's name (`null` in the manifest when unset).
    pub name: Option<String>,
    /// The project's API key.
    pub partner_id: String,
    /// The archived session.
    pub session_id: String,
    /// When recording really started, in ms since the Unix epoch.
    pub created_at_ms: i64,
}

/// A finished output.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputFile {
    /// Its final path (`<dir>/archive.zip` or `<dir>/archive.mp4`).
    pub path: PathBuf,
    /// Its size in bytes (the archive's `size`).
    pub size: u64,
    /// Its SHA-256, lowercase hex (the archive's `sha256sum`).
    pub sha256: String,
    /// The archive's `duration` in seconds: the MP4's media duration (ffprobe), or for
    /// a ZIP the manifest's last `stopTimeOffset`.
    pub duration_secs: f64,
}

/// Why an output could not be written. The messages are meant for an archive's
/// `reason`: they name streams and entries, not server paths (except where
/// [`ComposeError`] names an unreadable input).
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The archive has no recorded file.
    #[error("no media was recorded")]
    NoMedia,
    /// The request is inconsistent (a bad stream ID, two files with one name, …).
    #[error("invalid archive output: {0}")]
    Invalid(String),
    /// A recorded file could not be read.
    #[error("the recording of stream {stream_id} (file {index}) cannot be read: {source}")]
    Input {
        /// The stream.
        stream_id: String,
        /// The file's index.
        index: u32,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Writing the output failed (disk full, permissions, …).
    #[error("writing {what} failed: {source}")]
    Io {
        /// What was being written (`archive.zip`, …).
        what: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The ZIP writer failed.
    #[error("writing archive.zip failed: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// The composition failed.
    #[error("composing archive.mp4 failed: {0}")]
    Compose(ComposeError),
    /// ffmpeg or ffprobe is missing or lacks something.
    #[error(transparent)]
    Tool(#[from] ToolMissing),
    /// An ffmpeg pass after the composition (dropping the audio or video track) or
    /// ffprobe failed.
    #[error("{tool} failed on archive.mp4 ({status}): {stderr_tail}")]
    Ffmpeg {
        /// `ffmpeg` or `ffprobe`.
        tool: &'static str,
        /// Its exit status.
        status: String,
        /// The last lines of its error output.
        stderr_tail: String,
    },
    /// [`CancelToken::cancel`] was called; nothing was left under the final name.
    #[error("archive output cancelled")]
    Cancelled,
}

impl From<ComposeError> for OutputError {
    fn from(e: ComposeError) -> Self {
        match e {
            ComposeError::Cancelled => Self::Cancelled,
            ComposeError::Tool(t) => Self::Tool(t),
            e => Self::Compose(e),
        }
    }
}

fn io_err(what: &'static str) -> impl FnOnce(io::Error) -> OutputError {
    move |source| OutputError::Io { what, source }
}

fn check_stream_id(id: &str) -> Result<(), OutputError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_STREAM_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        let shown: String = id.chars().take(64).flat_map(char::escape_default).collect();
        Err(OutputError::Invalid(format!(
            "stream ID \"{shown}\" is not 1 to {MAX_STREAM_ID_LEN} ASCII letters, digits, - or _"
        )))
    }
}

/// Checks the files of one output: IDs, offsets, unique names; gives the entry names.
fn check_files(files: &[RecordedStream]) -> Result<Vec<String>, OutputError> {
    if files.is_empty() {
        return Err(OutputError::NoMedia);
    }
    if files.len() > MAX_FILES {
        return Err(OutputError::Invalid(format!(
            "{} recorded files; at most {MAX_FILES}",
            files.len()
        )));
    }
    let mut names = Vec::with_capacity(files.len());
    let mut seen = std::collections::HashSet::new();
    for f in files {
        let name = f.entry_name()?;
        if f.stop_offset_ms < f.start_offset_ms {
            return Err(OutputError::Invalid(format!(
                "the recording of stream {} (file {}) stops before it starts",
                f.stream_id, f.index
            )));
        }
        if !seen.insert((f.stream_id.as_str(), f.index)) {
            return Err(OutputError::Invalid(format!(
                "stream {} has two recordings with index {}",
                f.stream_id, f.index
            )));
        }
        names.push(name);
    }
    Ok(names)
}

/// The hidden temporary name beside `final_path`.
fn partial_path(final_path: &Path, suffix: &str) -> PathBuf {
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    final_path.with_file_name(format!(".{name}{suffix}"))
}

/// Removes a temporary file when dropped, unless it was renamed into place.
struct TempFile(Option<PathBuf>);

impl TempFile {
    fn path(&self) -> &Path {
        self.0.as_deref().expect("not yet persisted")
    }

    /// `fsync`s the file, renames it to `to` and `fsync`s the directory.
    fn persist(mut self, to: &Path, what: &'static str) -> Result<(), OutputError> {
        let from = self.0.take().expect("not yet persisted");
        let result = (|| {
            File::open(&from)?.sync_all()?;
            std::fs::rename(&from, to)?;
            sync_dir(to)
        })();
        if result.is_err() {
            self.0 = Some(from);
        }
        result.map_err(io_err(what))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn sync_dir(file: &Path) -> io::Result<()> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// The manifest (`<archiveId>.json`), in OpenTok's field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    created_at: i64,
    id: &'a str,
    name: Option<&'a str>,
    partner_id: &'a str,
    session_id: &'a str,
    files: Vec<ManifestFile<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ManifestFile<'a> {
    filename: String,
    size: u64,
    stream_id: &'a str,
    connection_data: &'a str,
    video_type: &'a str,
    start_time_offset: u64,
    stop_time_offset: u64,
}

/// The ZIP entries' modification time: the archive's start (UTC), or 1980-01-01 when
/// it is outside what ZIP can hold.
fn zip_time(created_at_ms: i64) -> zip::DateTime {
    time::OffsetDateTime::from_unix_timestamp(created_at_ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            zip::DateTime::from_date_and_time(
                u16::try_from(t.year()).ok()?,
                t.month() as u8,
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
            )
            .ok()
        })
        .unwrap_or_default()
}

/// Writes `<dir>/archive.zip` for an individual archive (see the module
/// documentation): each file of `files` in the given order, then the manifest
/// `<archiveId>.json`. The archive ID must be a valid file name (letters, digits, `-`,
/// `_`). Replaces an existing `archive.zip` only once the new one is complete.
pub fn write_individual(
    dir: &Path,
    meta: &ArchiveMeta,
    files: &[RecordedStream],
) -> Result<OutputFile, OutputError> {
    let names = check_files(files)?;
    check_stream_id(&meta.id).map_err(|_| {
        OutputError::Invalid("the archive ID is not a valid manifest file name".into())
    })?;
    let manifest_name = format!("{}.json", meta.id);
    if names.contains(&manifest_name) {
        return Err(OutputError::Invalid(format!(
            "a stream's file would be named like the manifest, {manifest_name}"
        )));
    }
    let final_path = dir.join(ZIP_NAME);
    let temp = TempFile(Some(partial_path(&final_path, ".partial")));
    let out = File::create(temp.path()).map_err(io_err(ZIP_NAME))?;
    let mut zip = ZipWriter::new(BufWriter::with_capacity(COPY_BUF, out));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .last_modified_time(zip_time(meta.created_at_ms))
        .unix_permissions(0o644);
    let mut buf = vec![0u8; COPY_BUF];
    let mut entries = Vec::with_capacity(files.len());
    for (f, name) in files.iter().zip(names) {
        let input_err = |source| OutputError::Input {
            stream_id: f.stream_id.clone(),
            index: f.index,
            source,
        };
        let mut input = File::open(&f.path).map_err(input_err)?;
        let expected = input.metadata().map_err(input_err)?.len();
        zip.start_file(
            name.as_str(),
            options.large_file(expected >= ZIP64_THRESHOLD),
        )?;
        let mut size = 0u64;
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(input_err(e)),
            };
            zip.write_all(&buf[..n]).map_err(io_err(ZIP_NAME))?;
            size += n as u64;
        }
        if size != expected {
            // The recorder finished the file before this was called; a file that
            // changes under the copy is not a clean recording.
            return Err(input_err(io::Error::other(format!(
                "its size changed while it was copied ({expected} → {size} bytes)"
            ))));
        }
        tracing::debug!(stream_id = %f.stream_id, index = f.index, entry = %name, size,
                        "archive file stored");
        entries.push(ManifestFile {
            filename: name,
            size,
            stream_id: &f.stream_id,
            connection_data: &f.connection_data,
            video_type: &f.video_type,
            start_time_offset: f.start_offset_ms,
            stop_time_offset: f.stop_offset_ms,
        });
    }
    let manifest = Manifest {
        created_at: meta.created_at_ms,
        id: &meta.id,
        name: meta.name.as_deref(),
        partner_id: &meta.partner_id,
        session_id: &meta.session_id,
        files: entries,
    };
    let json = serde_json::to_vec_pretty(&manifest).expect("the manifest serializes");
    zip.start_file(manifest_name.as_str(), options)?;
    zip.write_all(&json).map_err(io_err(ZIP_NAME))?;
    let out = zip.finish()?;
    let out = out
        .into_inner()
        .map_err(|e| io_err(ZIP_NAME)(e.into_error()))?;
    drop(out);
    temp.persist(&final_path, ZIP_NAME)?;
    let (size, sha256) = digest(&final_path).map_err(io_err(ZIP_NAME))?;
    let duration_ms = files.iter().map(|f| f.stop_offset_ms).max().unwrap_or(0);
    tracing::info!(archive = %meta.id, files = files.len(), size, "individual archive written");
    Ok(OutputFile {
        path: final_path,
        size,
        sha256,
        duration_secs: duration_ms as f64 / 1000.0,
    })
}

/// What a composed archive is made of (see [`write_composed`]).
#[derive(Debug, Clone, Copy)]
pub struct ComposedSpec<'a> {
    /// The recorded files (several per stream when it reconnected or was re-added).
    pub files: &'a [RecordedStream],
    /// What happened during the archive, in ms from its start: streams added and
    /// removed, video on/off, class lists, sizes and layout changes (`EventKind`'s
    /// stream IDs are stream IDs, not per-file).
    pub events: &'a [Event],
    /// The layout at the start.
    pub layout: &'a LayoutSpec,
    /// The output resolution.
    pub resolution: Resolution,
    /// The archive's duration, in ms (the output's length).
    pub duration_ms: u64,
    /// Whether the output has an audio track.
    pub has_audio: bool,
    /// Whether the output has a video track.
    pub has_video: bool,
}

/// Renders `<dir>/archive.mp4` for a composed archive with `parlor-compositor` and its
/// default options (see the module documentation and [`write_composed_with`]):
/// `files` over the layout replayed from `events` (times in ms from the archive's
/// start) starting from `layout`, `duration_ms` long.
#[allow(clippy::too_many_arguments)]
pub fn write_composed(
    ffmpeg: &FfmpegInfo,
    dir: &Path,
    files: &[RecordedStream],
    events: &[Event],
    layout: &LayoutSpec,
    resolution: Resolution,
    duration_ms: u64,
    has_audio: bool,
    has_video: bool,
    cancel: &CancelToken,
    progress: &mut dyn FnMut(f64),
) -> Result<OutputFile, OutputError> {
    let spec = ComposedSpec {
        files,
        events,
        layout,
        resolution,
        duration_ms,
        has_audio,
        has_video,
    };
    write_composed_with(
        ffmpeg,
        dir,
        &spec,
        &ComposeOptions::default(),
        cancel,
        progress,
    )
}

/// Renders `<dir>/archive.mp4` for a composed archive (see the module documentation).
/// `progress` gets the fraction done, `0.0..=1.0`, about twice a second, and `1.0` once
/// the file is in place; `cancel` stops ffmpeg within ~100 ms
/// ([`OutputError::Cancelled`]). Replaces an existing `archive.mp4` only once the new
/// one is complete.
pub fn write_composed_with(
    ffmpeg: &FfmpegInfo,
    dir: &Path,
    spec: &ComposedSpec<'_>,
    opts: &ComposeOptions,
    cancel: &CancelToken,
    progress: &mut dyn FnMut(f64),
) -> Result<OutputFile, OutputError> {
    if !spec.has_audio && !spec.has_video {
        return Err(OutputError::Invalid(
            "an archive must record audio, video or both".into(),
        ));
    }
    let composition = composition(spec)?;
    let final_path = dir.join(MP4_NAME);
    let rendered = TempFile(Some(partial_path(&final_path, ".partial")));
    let post_pass = !spec.has_audio || !spec.has_video;
    compose(
        ffmpeg,
        &composition,
        rendered.path(),
        opts,
        &mut |p| progress(p.fraction.clamp(0.0, 0.99)),
        cancel,
    )
    .map_err(|e| tool_or(ffmpeg, e))?;
    if cancel.is_cancelled() {
        return Err(OutputError::Cancelled);
    }
    let done = if post_pass {
        let copied = TempFile(Some(partial_path(&final_path, ".copy.partial")));
        keep_one_track(ffmpeg, rendered.path(), copied.path(), spec.has_video)?;
        drop(rendered);
        copied
    } else {
        rendered
    };
    done.persist(&final_path, MP4_NAME)?;
    let (size, sha256) = digest(&final_path).map_err(io_err(MP4_NAME))?;
    let duration_secs = media_duration(ffmpeg, &final_path)?;
    progress(1.0);
    tracing::info!(
        sources = composition.sources.len(),
        size,
        duration_secs,
        "composed archive written"
    );
    Ok(OutputFile {
        path: final_path,
        size,
        sha256,
        duration_secs,
    })
}

/// The compositor reports a missing ffprobe (it probes the inputs first) as an I/O
/// error "not found": name the tool instead.
fn tool_or(ffmpeg: &FfmpegInfo, e: ComposeError) -> OutputError {
    if let ComposeError::Io(io) = &e
        && io.kind() == io::ErrorKind::NotFound
    {
        for (tool, path) in [("ffprobe", &ffmpeg.ffprobe), ("ffmpeg", &ffmpeg.ffmpeg)] {
            let runs = Command::new(path)
                .arg("-version")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if let Err(why) = runs {
                return OutputError::Tool(ToolMissing::NotFound {
                    tool: format!("{tool} ({})", path.display()),
                    reason: why.to_string(),
                });
            }
        }
    }
    e.into()
}

/// The compositor's input for `spec`: one source per file, the layout replayed from the
/// events and each placement mapped to the file recorded at that time.
fn composition(spec: &ComposedSpec<'_>) -> Result<Composition, OutputError> {
    check_files(spec.files)?;
    if spec.duration_ms == 0 {
        return Err(OutputError::NoMedia);
    }
    // Files per stream, by start.
    let mut by_stream: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    for (i, f) in spec.files.iter().enumerate() {
        by_stream.entry(f.stream_id.as_str()).or_default().push(i);
    }
    for v in by_stream.values_mut() {
        v.sort_by_key(|&i| (spec.files[i].start_offset_ms, spec.files[i].index));
    }
    let source_id = |i: usize| {
        let f = &spec.files[i];
        if by_stream[f.stream_id.as_str()].len() == 1 {
            f.stream_id.clone()
        } else {
            // '#' is not a stream ID character: no clash with another stream.
            format!("{}#{}", f.stream_id, f.index)
        }
    };
    let sources: Vec<Source> = spec
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| Source {
            id: source_id(i),
            path: f.path.clone(),
            start_ms: f.start_offset_ms,
            end_ms: f.stop_offset_ms,
            has_audio: f.has_audio && spec.has_audio,
            has_video: f.has_video && spec.has_video,
        })
        .collect();

    // Streams that were never recorded take no place in the layout.
    let events: Vec<Event> = spec
        .events
        .iter()
        .filter(|e| match &e.kind {
            EventKind::Added(s) => {
                let known = by_stream.contains_key(s.id.as_str());
                if !known {
                    tracing::warn!(stream_id = %s.id, "stream in the layout events has no recording; left out");
                }
                known
            }
            _ => true,
        })
        .cloned()
        .collect();
    let segments = timeline(&events, spec.layout, spec.resolution, spec.duration_ms);

    // Cut segments where a stream with several files switches file, then point each
    // placement at the file recorded at the segment's start (the latest started one,
    // else the first).
    let mut cuts: Vec<u64> = by_stream
        .values()
        .filter(|v| v.len() > 1)
        .flat_map(|v| v.iter().map(|&i| spec.files[i].start_offset_ms))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut mapped: Vec<Segment> = Vec::with_capacity(segments.len());
    for seg in segments {
        let mut start = seg.start_ms;
        let inner = cuts
            .iter()
            .copied()
            .filter(|&c| c > seg.start_ms && c < seg.end_ms);
        for end in inner.chain(std::iter::once(seg.end_ms)) {
            let mut placements = seg.placements.clone();
            for p in &mut placements {
                if let Some(files) = by_stream.get(p.stream_id.as_str())
                    && files.len() > 1
                {
                    let pick = files
                        .iter()
                        .rev()
                        .find(|&&i| spec.files[i].start_offset_ms <= start)
                        .unwrap_or(&files[0]);
                    p.stream_id = source_id(*pick);
                }
            }
            mapped.push(Segment {
                start_ms: start,
                end_ms: end,
                placements,
            });
            start = end;
        }
    }
    Ok(Composition {
        resolution: spec.resolution,
        duration_ms: spec.duration_ms,
        sources,
        timeline: mapped,
    })
}

/// Copies the one track kept (`video` or audio) of `input` into `out`, as fragmented
/// MP4 like the compositor's output.
fn keep_one_track(
    ffmpeg: &FfmpegInfo,
    input: &Path,
    out: &Path,
    video: bool,
) -> Result<(), OutputError> {
    let mut cmd = Command::new(&ffmpeg.ffmpeg);
    cmd.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(input);
    if video {
        cmd.args(["-map", "0:v:0", "-c", "copy", "-an"]);
        cmd.args(["-movflags", "+frag_keyframe+empty_moov+default_base_moof"]);
    } else {
        // Every AAC frame is a key frame: cut fragments by time instead.
        cmd.args(["-map", "0:a:0", "-c", "copy", "-vn"]);
        cmd.args(["-movflags", "+empty_moov+default_base_moof"]);
        cmd.args(["-frag_duration", "2000000"]);
    }
    cmd.args(["-f", "mp4"]).arg(out);
    let output = run(&mut cmd, "ffmpeg", &ffmpeg.ffmpeg)?;
    drop(output);
    Ok(())
}

/// Runs a tool to completion, mapping failures to [`OutputError`]; gives its stdout.
fn run(cmd: &mut Command, tool: &'static str, path: &Path) -> Result<Vec<u8>, OutputError> {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                OutputError::Tool(ToolMissing::NotFound {
                    tool: format!("{tool} ({})", path.display()),
                    reason: e.to_string(),
                })
            } else {
                OutputError::Io {
                    what: "archive.mp4 (running ffmpeg)",
                    source: e,
                }
            }
        })?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let stderr_tail = lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..]
            .iter()
            .map(|l| l.chars().take(300).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n");
        return Err(OutputError::Ffmpeg {
            tool,
            status: out.status.to_string(),
            stderr_tail,
        });
    }
    Ok(out.stdout)
}

/// The media duration of an output in seconds (ffprobe's container duration), for the
/// archive's `duration`.
pub fn media_duration(ffmpeg: &FfmpegInfo, path: &Path) -> Result<f64, OutputError> {
    let mut cmd = Command::new(&ffmpeg.ffprobe);
    cmd.args([
        "-v",
        "error",
        "-show_entries",
        "format=duration",
        "-of",
        "default=nw=1:nk=1",
    ])
    .arg(path);
    let out = run(&mut cmd, "ffprobe", &ffmpeg.ffprobe)?;
    let text = String::from_utf8_lossy(&out);
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|d| d.is_finite() && *d >= 0.0)
        .ok_or_else(|| OutputError::Ffmpeg {
            tool: "ffprobe",
            status: "exit status: 0".into(),
            stderr_tail: format!(
                "no duration in its output ({:?})",
                text.chars().take(80).collect::<String>()
            ),
        })
}

/// The size and SHA-256 (lowercase hex) of a file, read through a fixed buffer.
pub fn digest(path: &Path) -> io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; COPY_BUF];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}
