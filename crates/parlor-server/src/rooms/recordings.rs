//! Room recordings: with `enable_recording`, each participant's each track is recorded as
//! its own file (audio-only WebM with Opus; video-only WebM with VP8, or Matroska with
//! H.264), as Telnyx does.
//!
//! [`RoomMedia`] follows the sessions ([`Signaling::observe`]): when a stream of a room
//! session whose room records is published, it attaches one router tap per track (a
//! producer may have several) and records each with the archives' recording edge
//! ([`StreamRecording`], `Tracks{audio}` or `Tracks{video}`), so the files are
//! crash-safe Matroska written cluster by cluster. The recording's row is created
//! `processing` as its track starts (`RecordingStarted`), and completed (codec, duration,
//! size; `RecordingCompleted`) when the stream ends (its publisher stopped or left, or the
//! session ended). A recording still `processing` at startup (the server was killed) is
//! finished from its file ([`parlor_recorder::repair`]).
//!
//! Files live under `<data dir>/rooms/recordings/<project>/<recording id>.webm|.mkv`;
//! recording IDs are UUIDs made here and checked ([`crate::archives::valid_id`]) before
//! any path is made from one. Compositions are in [`super::compositions`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use parlor_proto::signaling::Stream;
use tokio::sync::mpsc;

use super::media_model::{self, RecordingRecord};
use super::{Rooms, RoomsEvent};
use crate::archives::recording::{StreamRecording, Tracks};
use crate::archives::valid_id;
use crate::signaling::{SessionEvent, Signaling, lock};
use crate::store::{Store, StoreError};

/// Events a recording's tap holds while its recorder is behind (as the archives').
const TAP_CAPACITY: usize = 4096;
/// The URL prefix of recording and composition downloads (and the signature's purpose).
pub const DOWNLOAD_PREFIX: &str = "room-media";

/// One track being recorded.
struct Track {
    record: RecordingRecord,
    recording: StreamRecording,
}

/// A stream whose tracks are being recorded.
struct Recorded {
    tracks: Vec<Track>,
}

/// The recordings and compositions of room sessions.
pub struct RoomMedia {
    pub(super) store: Arc<Store>,
    signaling: Arc<Signaling>,
    pub(super) rooms: Arc<Rooms>,
    /// `<data dir>/rooms`.
    pub(super) root: PathBuf,
    /// Where download URLs in events point (the server's own address).
    pub(super) base_url: String,
    /// ffmpeg for compositions, or why there is none.
    pub(super) ffmpeg: Result<parlor_compositor::ffmpeg::FfmpegInfo, String>,
    /// Streams being recorded, by stream ID.
    active: Mutex<HashMap<String, Recorded>>,
    /// Compositions to render, one at a time ([`super::compositions`]).
    pub(super) queue: mpsc::UnboundedSender<String>,
}

impl std::fmt::Debug for RoomMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomMedia")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// `size_mb` of a byte count (MB of 10^6 bytes, two decimals).
pub fn size_mb(bytes: u64) -> f64 {
    (bytes as f64 / 10_000.0).round() / 100.0
}

impl RoomMedia {
    /// Starts the service: finishes the recordings and compositions a previous run left
    /// unfinished, follows the sessions' streams, and runs the compositor.
    pub fn start(
        store: Arc<Store>,
        data_dir: &Path,
        signaling: Arc<Signaling>,
        rooms: Arc<Rooms>,
        base_url: String,
    ) -> Arc<RoomMedia> {
        let ffmpeg = parlor_compositor::ffmpeg::detect().map_err(|e| e.to_string());
        let (queue, compositions) = mpsc::unbounded_channel();
        let events = signaling.observe();
        let media = Arc::new(RoomMedia {
            store,
            signaling,
            rooms,
            root: data_dir.join("rooms"),
            base_url,
            ffmpeg,
            active: Mutex::new(HashMap::new()),
            queue,
        });
        let starting = media.clone();
        tokio::spawn(async move {
            starting.clone().recover().await;
            tokio::spawn(starting.clone().follow(events));
            tokio::spawn(starting.clone().watch());
            starting.run_compositions(compositions).await;
        });
        media
    }

    pub(super) async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// A project's directory of recordings.
    fn recordings_dir(&self, project_id: &str) -> PathBuf {
        self.root.join("recordings").join(project_id)
    }

    /// A completed recording's file.
    pub fn recording_path(&self, r: &RecordingRecord) -> Option<PathBuf> {
        if !valid_id(&r.recording_id) || r.status != media_model::COMPLETED {
            return None;
        }
        let file = r.file_name.as_deref()?;
        Some(self.recordings_dir(&r.project_id).join(file))
    }

    /// A signed download URL (expiring after
    /// [`crate::api::archives::DOWNLOAD_URL_TTL_SECS`]) of a file under `base`, signed
    /// with the project's `secret`.
    fn signed_url(base: &str, secret: &str, project_id: &str, id: &str, file: &str) -> String {
        let exp = parlor_proto::unix_now() + crate::api::archives::DOWNLOAD_URL_TTL_SECS;
        let sig =
            crate::api::archives::sign_url(DOWNLOAD_PREFIX, secret, project_id, id, file, exp);
        format!("{base}/{DOWNLOAD_PREFIX}/{project_id}/{id}/{file}?exp={exp}&sig={sig}")
    }

    /// A project's secret (for the download URLs in events).
    pub(super) async fn secret_of(&self, project_id: &str) -> Option<String> {
        let project = project_id.to_owned();
        Some(
            self.db(move |s| s.project(&project))
                .await
                .ok()??
                .api_secret,
        )
    }

    /// A completed recording's download URL under `base` (`None` while processing).
    pub fn recording_url(&self, r: &RecordingRecord, base: &str, secret: &str) -> Option<String> {
        self.recording_path(r)?;
        let file = r.file_name.as_deref()?;
        Some(Self::signed_url(
            base,
            secret,
            &r.project_id,
            &r.recording_id,
            file,
        ))
    }

    /// A completed composition's download URL under `base`.
    pub fn composition_url(
        &self,
        c: &super::media_model::CompositionRecord,
        base: &str,
        secret: &str,
    ) -> Option<String> {
        self.composition_file(c)?;
        let file = format!("{}.mp4", c.composition_id);
        Some(Self::signed_url(
            base,
            secret,
            &c.project_id,
            &c.composition_id,
            &file,
        ))
    }

    /// Deletes completed recordings and their files; returns how many. Recordings still
    /// `processing` are never deleted.
    pub async fn delete_recordings(
        &self,
        records: Vec<RecordingRecord>,
    ) -> Result<u64, StoreError> {
        let mut n = 0;
        for r in records {
            let path = self.recording_path(&r);
            let id = r.recording_id.clone();
            if !self.db(move |s| s.delete_recording(&id)).await? {
                continue;
            }
            n += 1;
            if let Some(path) = path
                && let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(recording = %r.recording_id, error = %e, "cannot remove a recording's file");
            }
        }
        Ok(n)
    }

    async fn follow(self: Arc<Self>, mut events: mpsc::UnboundedReceiver<SessionEvent>) {
        while let Some(event) = events.recv().await {
            match event {
                // Recording starts as the producer is created, so that the publisher's
                // first keyframe is in the file (as the archives do).
                SessionEvent::StreamPublishing {
                    session_id, stream, ..
                }
                | SessionEvent::StreamAnnounced {
                    session_id, stream, ..
                } => self.record(&session_id, &stream).await,
                // A track turned on that was off when the stream was published (a
                // browser's publishVideo:false) starts recording now.
                SessionEvent::StreamChanged { session_id, stream } => {
                    self.record(&session_id, &stream).await
                }
                SessionEvent::StreamDestroyed { stream_id, .. } => {
                    let ended = lock(&self.active).remove(&stream_id);
                    if let Some(ended) = ended {
                        self.clone().complete(ended);
                    }
                }
                _ => {}
            }
        }
    }

    /// Finishes the recordings whose recorder ended by itself (the producer closed).
    async fn watch(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let ended: Vec<Recorded> = {
                let mut active = lock(&self.active);
                let done: Vec<String> = active
                    .iter()
                    .filter(|(_, r)| r.tracks.iter().all(|t| t.recording.is_finished()))
                    .map(|(id, _)| id.clone())
                    .collect();
                done.iter().filter_map(|id| active.remove(id)).collect()
            };
            for r in ended {
                self.clone().complete(r);
            }
        }
    }

    /// Starts recording a stream's tracks that are on and not recorded yet, if its
    /// session is a room session whose room records.
    async fn record(&self, session_id: &str, stream: &Stream) {
        let wanted: Vec<&'static str> = {
            let active = lock(&self.active);
            let recorded = |kind: &str| {
                active
                    .get(&stream.stream_id)
                    .is_some_and(|r| r.tracks.iter().any(|t| t.record.kind == kind))
            };
            [("audio", stream.has_audio), ("video", stream.has_video)]
                .into_iter()
                .filter(|(kind, on)| *on && !recorded(kind))
                .map(|(kind, _)| kind)
                .collect()
        };
        if wanted.is_empty() {
            return;
        }
        let sid = session_id.to_owned();
        let found = self
            .db(move |s| {
                let Some(rs) = s.room_session_of(&sid)? else {
                    return Ok(None);
                };
                Ok(s.room(&rs.room_id)?.map(|room| (rs, room)))
            })
            .await;
        let (room_session, room) = match found {
            Ok(Some((rs, room))) if room.enable_recording && rs.active() => (rs, room),
            Ok(_) => return,
            Err(e) => {
                tracing::error!(session = session_id, error = %e, "cannot read a room session");
                return;
            }
        };
        let dir = self.recordings_dir(&room.project_id);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::error!(dir = %dir.display(), error = %e, "cannot make the recordings directory");
            return;
        }
        let producer = parlor_router::TransportId::from(stream.stream_id.as_str());
        let mut tracks = Vec::new();
        for kind in wanted {
            let tap = match self.signaling.router.tap(&producer, TAP_CAPACITY).await {
                Ok(tap) => tap,
                Err(e) => {
                    tracing::warn!(stream = %stream.stream_id, error = %e, "cannot record a stream");
                    break;
                }
            };
            let now = crate::unix_millis();
            let record = RecordingRecord {
                recording_id: uuid::Uuid::new_v4().to_string(),
                project_id: room.project_id.clone(),
                room_id: room.room_id.clone(),
                room_session_id: room_session.room_session_id.clone(),
                participant_id: stream.connection.connection_id.clone(),
                stream_id: stream.stream_id.clone(),
                kind: kind.to_owned(),
                status: media_model::PROCESSING.to_owned(),
                codec: None,
                file_name: None,
                duration_secs: None,
                size_bytes: None,
                started_at: now,
                ended_at: None,
                completed_at: None,
                created_at: now,
                updated_at: now,
            };
            let router = self.signaling.router.clone();
            let asked = producer.clone();
            let recording = match StreamRecording::start(
                tap,
                &dir,
                &record.recording_id,
                now,
                Tracks {
                    audio: kind == "audio",
                    video: kind == "video",
                },
                move || router.request_keyframe(asked.clone()),
            ) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(stream = %stream.stream_id, error = %e, "cannot start a recorder thread");
                    break;
                }
            };
            let row = record.clone();
            if let Err(e) = self.db(move |s| s.insert_recording(&row)).await {
                tracing::error!(recording = %record.recording_id, error = %e, "cannot store a recording");
                continue; // dropping the recording stops it
            }
            tracing::info!(recording = %record.recording_id, stream = %stream.stream_id,
                           kind, "room recording started");
            self.rooms.emit(RoomsEvent::RecordingStarted {
                room_id: record.room_id.clone(),
                room_session_id: record.room_session_id.clone(),
                recording_id: record.recording_id.clone(),
                participant_id: record.participant_id.clone(),
                r#type: record.kind.clone(),
                at: now,
            });
            tracks.push(Track { record, recording });
        }
        if !tracks.is_empty() {
            lock(&self.active)
                .entry(stream.stream_id.clone())
                .or_insert_with(|| Recorded { tracks: Vec::new() })
                .tracks
                .extend(tracks);
        }
    }

    /// Stops a stream's recorders and completes their recordings (in the background).
    fn complete(self: Arc<Self>, ended: Recorded) {
        tokio::spawn(async move {
            for track in ended.tracks {
                let Track {
                    mut record,
                    recording,
                } = track;
                let finished = tokio::task::spawn_blocking(move || recording.finish())
                    .await
                    .unwrap_or_else(|_| Err("the recorder thread panicked".into()));
                let now = crate::unix_millis();
                match finished {
                    Ok(done) => {
                        record.file_name = done
                            .path
                            .file_name()
                            .map(|f| f.to_string_lossy().into_owned());
                        record.size_bytes = Some(done.bytes);
                        record.ended_at = Some(done.ended_ms);
                        record.duration_secs =
                            Some(((done.ended_ms - done.origin_ms).max(0) + 500) / 1000);
                    }
                    Err(why) => {
                        // The file (if any) is still whole up to its last cluster.
                        tracing::warn!(recording = %record.recording_id, reason = %why, "a room recording failed; finishing it from its file");
                        self.read_file_back(&mut record);
                        record.ended_at = Some(now);
                    }
                }
                self.finish_record(record, now).await;
            }
        });
    }

    /// Fills a recording's file, size and duration from what its file holds (repairing
    /// it: after a crash, its last cluster may be partial).
    fn read_file_back(&self, record: &mut RecordingRecord) {
        if !valid_id(&record.recording_id) {
            return;
        }
        let dir = self.recordings_dir(&record.project_id);
        for ext in ["webm", "mkv"] {
            let name = format!("{}.{ext}", record.recording_id);
            let path = dir.join(&name);
            if !path.is_file() {
                continue;
            }
            match parlor_recorder::repair(&path) {
                Ok(report) => {
                    record.file_name = Some(name);
                    record.size_bytes = Some(report.len);
                    record.duration_secs = Some((report.duration_ms / 1000.0).round() as i64);
                    record.ended_at = Some(record.started_at + report.duration_ms.max(0.0) as i64);
                }
                Err(e) => {
                    tracing::warn!(recording = %record.recording_id, error = %e, "a room recording's file cannot be repaired");
                }
            }
            return;
        }
    }

    /// Marks a recording completed (codec from its file's kind) and reports it.
    async fn finish_record(&self, mut record: RecordingRecord, now: i64) {
        record.codec = Some(
            match (record.kind.as_str(), record.file_name.as_deref()) {
                ("audio", _) => "opus",
                (_, Some(f)) if f.ends_with(".mkv") => "h264",
                _ => "vp8",
            }
            .to_owned(),
        );
        record.status = media_model::COMPLETED.to_owned();
        record.duration_secs = Some(record.duration_secs.unwrap_or(0));
        record.size_bytes = Some(record.size_bytes.unwrap_or(0));
        record.completed_at = Some(now);
        record.updated_at = now;
        let row = record.clone();
        match self.db(move |s| s.complete_recording(&row)).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::error!(recording = %record.recording_id, error = %e, "cannot complete a recording");
                return;
            }
        }
        tracing::info!(recording = %record.recording_id, kind = %record.kind,
                       duration_secs = record.duration_secs, "room recording completed");
        let download_url = self
            .secret_of(&record.project_id)
            .await
            .and_then(|secret| self.recording_url(&record, &self.base_url, &secret));
        self.rooms.emit(RoomsEvent::RecordingCompleted {
            room_id: record.room_id.clone(),
            room_session_id: record.room_session_id.clone(),
            recording_id: record.recording_id.clone(),
            participant_id: record.participant_id.clone(),
            r#type: record.kind.clone(),
            codec: record.codec.clone().unwrap_or_default(),
            duration_secs: record.duration_secs.unwrap_or(0),
            size_mb: size_mb(record.size_bytes.unwrap_or(0)),
            download_url,
            at: now,
        });
    }

    /// Completes the recordings a previous run left `processing` (it was killed) from
    /// their crash-safe files.
    async fn recover(self: Arc<Self>) {
        let left = match self.db(|s| s.processing_recordings()).await {
            Ok(left) => left,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the recordings to recover");
                return;
            }
        };
        for mut record in left {
            let me = self.clone();
            let mut record = tokio::task::spawn_blocking(move || {
                me.read_file_back(&mut record);
                record
            })
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            tracing::info!(recording = %record.recording_id, "finishing a recording left unfinished");
            let now = crate::unix_millis();
            record.ended_at = record.ended_at.or(Some(record.started_at));
            self.finish_record(record, now).await;
        }
    }
}
