//! Room compositions: one MP4 of an ended room session's recordings, laid out in at most
//! two named regions (`video_layout`), every audio recording mixed.
//!
//! The Rooms API validates a request ([`parse_resolution`], [`parse_layout`]) and stores
//! it `enqueued`; the compositor renders compositions one at a time on a blocking thread
//! (`processing`), with [`parlor_compositor::regions::timeline`] and
//! [`parlor_compositor::compose::compose`], then marks them `completed` (duration, size,
//! download URL; `CompositionCompleted`) or `failed` with the reason. A composition
//! `enqueued` or `processing` when the server stopped is rendered again at startup.
//!
//! Files: `<data dir>/rooms/compositions/<project>/<composition id>.mp4`.

use std::path::PathBuf;
use std::time::Duration;

use parlor_compositor::compose::{CancelToken, ComposeOptions, Composition, Source};
use parlor_compositor::layout::Resolution;
use parlor_compositor::regions::{self, Region, RegionSources, SourceSpan};
use serde_json::Value;
use tokio::sync::mpsc;

use super::RoomsEvent;
use super::media_model::{self, CompositionRecord, RecordingRecord};
use super::recordings::{RoomMedia, size_mb};
use crate::archives::valid_id;

/// Telnyx's limits: each side 16–1280 px, at most 1280×720 in area, two regions.
pub const MIN_SIDE: u32 = 16;
pub const MAX_SIDE: u32 = 1280;
pub const MAX_AREA: u32 = 1280 * 720;
pub const MAX_REGIONS: usize = 2;
/// The most tiles one region shows (the compositor draws at most 16 pictures).
pub const MAX_TILES: u32 = 16;
/// How long a composition waits for its session's recordings to complete.
const RECORDINGS_WAIT: Duration = Duration::from_secs(30);

/// A bad field of a composition request: its JSON pointer and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {detail}")]
pub struct LayoutError {
    /// `resolution`, `video_layout/<name>/width`, ...
    pub pointer: String,
    pub detail: String,
}

fn bad(pointer: impl Into<String>, detail: impl Into<String>) -> LayoutError {
    LayoutError {
        pointer: pointer.into(),
        detail: detail.into(),
    }
}

/// `"<width>x<height>"`, each side 16–1280, at most 1280×720 in area.
pub fn parse_resolution(text: &str) -> Result<Resolution, LayoutError> {
    let sides = text
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)));
    let Some((width, height)) = sides else {
        return Err(bad(
            "resolution",
            format!("resolution must be <width>x<height> (1280x720), not {text:?}"),
        ));
    };
    if !(MIN_SIDE..=MAX_SIDE).contains(&width) || !(MIN_SIDE..=MAX_SIDE).contains(&height) {
        return Err(bad(
            "resolution",
            format!("each side of resolution must be {MIN_SIDE} to {MAX_SIDE} pixels, not {text}"),
        ));
    }
    if width * height > MAX_AREA {
        return Err(bad(
            "resolution",
            format!("resolution {text} is larger than 1280x720 in area"),
        ));
    }
    Ok(Resolution { width, height })
}

/// Reads `video_layout` (an object of at most two named regions) against the frame and
/// the session's recordings. Absent: one region of the whole frame showing every video.
pub fn parse_layout(
    layout: Option<&Value>,
    frame: Resolution,
    recordings: &[RecordingRecord],
) -> Result<Vec<Region>, LayoutError> {
    let Some(layout) = layout else {
        return Ok(vec![Region {
            x: 0,
            y: 0,
            z: 0,
            width: frame.width,
            height: frame.height,
            max_columns: 4,
            max_rows: 4,
            sources: RegionSources::All,
        }]);
    };
    let Value::Object(regions) = layout else {
        return Err(bad(
            "video_layout",
            "video_layout must be an object of named regions",
        ));
    };
    if regions.len() > MAX_REGIONS {
        return Err(bad(
            "video_layout",
            format!(
                "video_layout has {} regions; at most {MAX_REGIONS}",
                regions.len()
            ),
        ));
    }
    regions
        .iter()
        .map(|(name, region)| parse_region(name, region, frame, recordings))
        .collect()
}

fn parse_region(
    name: &str,
    v: &Value,
    frame: Resolution,
    recordings: &[RecordingRecord],
) -> Result<Region, LayoutError> {
    let at = |field: &str| format!("video_layout/{name}/{field}");
    let Value::Object(m) = v else {
        return Err(bad(
            format!("video_layout/{name}"),
            format!("region {name:?} must be an object"),
        ));
    };
    for key in m.keys() {
        if ![
            "x_pos",
            "y_pos",
            "z_pos",
            "width",
            "height",
            "max_columns",
            "max_rows",
            "video_sources",
        ]
        .contains(&key.as_str())
        {
            return Err(bad(
                at(key),
                format!("unknown field {key:?} of region {name:?}"),
            ));
        }
    }
    let int = |field: &str, min: i64, max: i64, default: i64| -> Result<i64, LayoutError> {
        match m.get(field) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(bad(
                    at(field),
                    format!(
                        "{field} of region {name:?} must be an integer from {min} to {max}, not {v}"
                    ),
                )),
            },
        }
    };
    let (fw, fh) = (i64::from(frame.width), i64::from(frame.height));
    let x = int("x_pos", 0, fw - i64::from(MIN_SIDE), 0)?;
    let y = int("y_pos", 0, fh - i64::from(MIN_SIDE), 0)?;
    let z = int("z_pos", -99, 99, 0)?;
    let width = int("width", i64::from(MIN_SIDE), fw - x, fw - x)?;
    let height = int("height", i64::from(MIN_SIDE), fh - y, fh - y)?;
    let max_columns = int("max_columns", 1, i64::from(MAX_TILES), 4)?;
    let max_rows = int("max_rows", 1, i64::from(MAX_TILES), 4)?;
    if max_columns * max_rows > i64::from(MAX_TILES) {
        return Err(bad(
            at("max_columns"),
            format!(
                "region {name:?} has a grid of more than {MAX_TILES} tiles (max_columns × max_rows)"
            ),
        ));
    }
    let sources_at = at("video_sources");
    let sources = match m.get("video_sources") {
        None | Some(Value::Null) => RegionSources::All,
        Some(Value::Array(items)) => {
            let ids: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            let ids = ids.ok_or_else(|| {
                bad(
                    &sources_at,
                    "video_sources must be an array of recording ids, or [\"*\"]",
                )
            })?;
            if ids == ["*"] {
                RegionSources::All
            } else if ids.is_empty() {
                return Err(bad(&sources_at, "video_sources is empty"));
            } else {
                for id in &ids {
                    if !recordings
                        .iter()
                        .any(|r| r.recording_id == *id && r.kind == "video")
                    {
                        return Err(bad(
                            &sources_at,
                            format!("{id:?} is not a video recording of this room session"),
                        ));
                    }
                }
                RegionSources::Ids(ids.into_iter().map(str::to_owned).collect())
            }
        }
        Some(_) => {
            return Err(bad(
                &sources_at,
                "video_sources must be an array of recording ids, or [\"*\"]",
            ));
        }
    };
    Ok(Region {
        x: x as u32,
        y: y as u32,
        z: z as i32,
        width: width as u32,
        height: height as u32,
        max_columns: max_columns as u32,
        max_rows: max_rows as u32,
        sources,
    })
}

/// What rendering produced.
struct Rendered {
    path: PathBuf,
    duration_ms: u64,
    bytes: u64,
}

impl RoomMedia {
    fn composition_path(&self, c: &CompositionRecord) -> Option<PathBuf> {
        valid_id(&c.composition_id).then(|| {
            self.root
                .join("compositions")
                .join(&c.project_id)
                .join(format!("{}.mp4", c.composition_id))
        })
    }

    /// A completed composition's file (for the download handler).
    pub fn composition_file(&self, c: &CompositionRecord) -> Option<PathBuf> {
        (c.status == media_model::COMPLETED)
            .then(|| self.composition_path(c))
            .flatten()
    }

    /// Queues a stored (`enqueued`) composition.
    pub fn enqueue(&self, composition_id: &str) {
        let _ = self.queue.send(composition_id.to_owned());
    }

    /// Whether compositions can be rendered (ffmpeg is installed), or why not.
    pub fn compositions_available(&self) -> Result<(), String> {
        self.ffmpeg.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// Deletes a composition and its file; false if there was none.
    pub async fn delete_composition(
        &self,
        c: &CompositionRecord,
    ) -> Result<bool, crate::store::StoreError> {
        let id = c.composition_id.clone();
        if !self.db(move |s| s.delete_composition(&id)).await? {
            return Ok(false);
        }
        if let Some(path) = self.composition_path(c)
            && let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(composition = %c.composition_id, error = %e, "cannot remove a composition's file");
        }
        Ok(true)
    }

    /// The compositor: what a previous run left unfinished, then each queued composition,
    /// one at a time.
    pub(super) async fn run_compositions(
        self: std::sync::Arc<Self>,
        mut queue: mpsc::UnboundedReceiver<String>,
    ) {
        match self.db(|s| s.unfinished_compositions()).await {
            Ok(left) => {
                for c in left {
                    tracing::info!(composition = %c.composition_id, "rendering a composition left unfinished");
                    self.render(&c.composition_id).await;
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the compositions to recover"),
        }
        while let Some(id) = queue.recv().await {
            self.render(&id).await;
        }
    }

    async fn render(&self, composition_id: &str) {
        let id = composition_id.to_owned();
        let mut c = match self.db(move |s| s.composition(&id)).await {
            Ok(Some(c)) if c.status == media_model::ENQUEUED || c.status == "processing" => c,
            Ok(_) => return, // deleted, or done already
            Err(e) => {
                tracing::error!(composition = composition_id, error = %e, "cannot read a composition");
                return;
            }
        };
        let now = crate::unix_millis();
        c.status = "processing".into();
        c.started_at = Some(now);
        c.updated_at = now;
        if !self.save(&c).await {
            return;
        }
        let recordings = self.settled_recordings(&c.room_session_id).await;
        let result = match (&self.ffmpeg, self.composition_path(&c)) {
            (Err(why), _) => Err(format!("compositions cannot be made on this server: {why}")),
            (_, None) => Err("invalid composition id".to_owned()),
            (Ok(ffmpeg), Some(out)) => {
                let (ffmpeg, record) = (ffmpeg.clone(), c.clone());
                let dir = self.root.join("recordings").join(&c.project_id);
                tokio::task::spawn_blocking(move || {
                    render_blocking(&ffmpeg, &record, &recordings, &dir, out)
                })
                .await
                .unwrap_or_else(|_| Err("the compositor panicked".into()))
            }
        };
        let now = crate::unix_millis();
        c.updated_at = now;
        c.ended_at = Some(now);
        match result {
            Ok(done) => {
                c.status = media_model::COMPLETED.into();
                c.completed_at = Some(now);
                c.duration_secs = Some(((done.duration_ms + 500) / 1000) as i64);
                c.size_bytes = Some(done.bytes);
                tracing::info!(composition = %c.composition_id, path = %done.path.display(), "room composition completed");
            }
            Err(why) => {
                tracing::warn!(composition = %c.composition_id, reason = %why, "room composition failed");
                c.status = media_model::FAILED.into();
                c.reason = Some(why);
            }
        }
        if !self.save(&c).await || c.status != media_model::COMPLETED {
            return;
        }
        let download_url = self
            .secret_of(&c.project_id)
            .await
            .and_then(|secret| self.composition_url(&c, &self.base_url, &secret));
        self.rooms.emit(RoomsEvent::CompositionCompleted {
            composition_id: c.composition_id.clone(),
            room_id: c.room_id.clone(),
            room_session_id: c.room_session_id.clone(),
            download_url,
            duration_secs: c.duration_secs.unwrap_or(0),
            size_mb: size_mb(c.size_bytes.unwrap_or(0)),
            at: now,
        });
    }

    /// Stores a composition's progress; false if it was deleted meanwhile.
    async fn save(&self, c: &CompositionRecord) -> bool {
        let row = c.clone();
        match self.db(move |s| s.update_composition(&row)).await {
            Ok(saved) => saved,
            Err(e) => {
                tracing::error!(composition = %c.composition_id, error = %e, "cannot store a composition");
                false
            }
        }
    }

    /// A session's completed recordings, once none is processing any more (a session's
    /// recordings complete in the moments after it ends), or after [`RECORDINGS_WAIT`].
    async fn settled_recordings(&self, room_session_id: &str) -> Vec<RecordingRecord> {
        let deadline = tokio::time::Instant::now() + RECORDINGS_WAIT;
        loop {
            let rs = room_session_id.to_owned();
            let all = self
                .db(move |s| s.recordings_of_session(&rs))
                .await
                .unwrap_or_default();
            let processing = all.iter().any(|r| r.status == media_model::PROCESSING);
            if !processing || tokio::time::Instant::now() >= deadline {
                return all
                    .into_iter()
                    .filter(|r| r.status == media_model::COMPLETED)
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Renders a composition from its session's recordings (blocking: ffmpeg runs).
fn render_blocking(
    ffmpeg: &parlor_compositor::ffmpeg::FfmpegInfo,
    c: &CompositionRecord,
    recordings: &[RecordingRecord],
    dir: &std::path::Path,
    out: PathBuf,
) -> Result<Rendered, String> {
    let requested = parse_resolution(&c.resolution).map_err(|e| e.to_string())?;
    // H.264 4:2:0 needs even sides.
    let frame = Resolution {
        width: requested.width & !1,
        height: requested.height & !1,
    };
    let layout: Option<Value> = serde_json::from_str(&c.video_layout).map_err(|e| e.to_string())?;
    let regions = parse_layout(layout.as_ref(), frame, recordings).map_err(|e| e.to_string())?;
    let usable: Vec<&RecordingRecord> = recordings
        .iter()
        .filter(|r| {
            valid_id(&r.recording_id)
                && r.file_name
                    .as_deref()
                    .is_some_and(|f| std::fs::metadata(dir.join(f)).is_ok_and(|m| m.len() > 0))
        })
        .collect();
    let origin = usable
        .iter()
        .map(|r| r.started_at)
        .min()
        .ok_or("the room session has no recordings to compose")?;
    let end = usable
        .iter()
        .map(|r| r.ended_at.unwrap_or(r.started_at))
        .max()
        .unwrap_or(origin);
    let duration_ms = (end - origin).max(1) as u64;
    let offset = |t: i64| (t - origin).max(0) as u64;
    let sources: Vec<Source> = usable
        .iter()
        .map(|r| Source {
            id: r.recording_id.clone(),
            path: dir.join(r.file_name.as_deref().unwrap_or_default()),
            start_ms: offset(r.started_at),
            end_ms: offset(r.ended_at.unwrap_or(r.started_at)),
            has_audio: r.kind == "audio",
            has_video: r.kind == "video",
        })
        .collect();
    let spans: Vec<SourceSpan> = sources
        .iter()
        .filter(|s| s.has_video)
        .map(|s| SourceSpan {
            id: s.id.clone(),
            start_ms: s.start_ms,
            end_ms: s.end_ms,
        })
        .collect();
    let composition = Composition {
        resolution: frame,
        duration_ms,
        timeline: regions::timeline(&regions, &spans, frame, duration_ms),
        sources,
    };
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        remove_stale_scripts(parent, &out);
    }
    parlor_compositor::compose::compose(
        ffmpeg,
        &composition,
        &out,
        &ComposeOptions::default(),
        &mut |_| {},
        &CancelToken::new(),
    )
    .map_err(|e| e.to_string())?;
    let bytes = std::fs::metadata(&out).map_err(|e| e.to_string())?.len();
    Ok(Rendered {
        path: out,
        duration_ms,
        bytes,
    })
}

/// Removes the filter scripts a render of `out` killed with the server left behind (each
/// render writes `.<file>.<pid>.filtergraph` beside its output).
fn remove_stale_scripts(dir: &std::path::Path, out: &std::path::Path) {
    let Some(name) = out.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let prefix = format!(".{name}.");
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file.starts_with(&prefix) && file.ends_with(".filtergraph") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
