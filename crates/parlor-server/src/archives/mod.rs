//! Archives: recording sessions, the domain behind OpenTok's archive API.
//!
//! * [`model`] — the archive record and its table.
//! * [`recording`] — one thread per recorded stream: the router's tap into a
//!   `parlor-recorder` file (crash-safe WebM/Matroska).
//! * [`output`] — a stopped archive's download: a ZIP of the streams' files with the
//!   manifest (individual), or an MP4 rendered by `parlor-compositor` (composed).
//! * [`journal`] — what each archive's directory says about its files and layout events,
//!   appended as they happen, so a restart after a crash can finish the archive.
//! * `streams` — how the layout engine sees a stream, and manual-mode stream changes
//!   (shared with broadcasts).
//! * `live` — composed archives composed live (`--archive-composition live`) by the
//!   broadcasts' live compositor.
//!
//! [`Archives`] is the service: it starts and stops archives for the REST API, follows
//! the sessions' streams through [`SessionEvent`]s (streams joining and leaving, layout
//! classes, video on/off) to record them and to keep the composed layout's timeline,
//! pauses them while nobody publishes, stops them 60 s after the last client left, after
//! an hour paused or after 4 hours of publishing ([`ArchiveLimits`]), starts them by itself
//! for `archiveMode=always` sessions, makes the outputs, removes their files when the
//! retention period (if one is set) runs out, reports every status change as an archive
//! callback and tells the session's clients (`archiveStarted`/`archiveStopped`).
//!
//! Files live under `<data dir>/archives/<api key>/<archive id>/`: `streams/` (one file per
//! stream period), `journal.jsonl`, and the output (`archive.mp4` or `archive.zip`).
//! Archive ids are UUIDs generated here and checked ([`valid_id`]) before any path is made
//! from one.

mod calls;
mod finish;
mod follow;
pub mod journal;
mod live;
pub mod model;
pub mod output;
pub mod recording;
mod streams;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use parlor_compositor::layout::LayoutStream;
use parlor_compositor::timeline::{Event, EventKind};
use parlor_proto::signaling::Stream;
use serde_json::json;

use self::finish::PendingStream;
use self::journal::{Journal, JournalEntry};
use self::model::{
    ArchiveRecord, ArchiveStatus, ArchiveStreamRecord, LayoutRecord, OutputMode, StreamMode,
};
use self::recording::{StreamRecording, Tracks};
pub(crate) use self::streams::{apply_stream_change, layout_stream};
use crate::callbacks::{Notice, Notifier};
use crate::signaling::{ActiveArchive, Signaling, lock};
use crate::store::{Store, StoreError};

/// An archive stops this long after the last client left its session.
pub const EMPTY_SESSION_GRACE: Duration = Duration::from_secs(60);

/// How long archives run, and how long their files are kept (`parlor serve
/// --archive-max-duration`, `--archive-paused-timeout`, `--archive-retention`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Publishing time after which an archive stops ("maximum duration exceeded"): 4 h,
    /// as OpenTok. Paused time is not counted, but an archive stops after three times this
    /// in all (12 h by default), as OpenTok's 12 hours including paused time.
    pub max_duration: Duration,
    /// How long an archive stays paused (nobody publishes) before it stops: 1 h.
    pub paused_timeout: Duration,
    /// How long an available archive's files are kept after it stopped recording; then
    /// they are removed and the archive is `expired` (OpenTok: 72 h without an upload
    /// target). `None` (the default): kept until the archive is deleted.
    pub retention: Option<Duration>,
    /// Compose composed archives live, as broadcasts are ([`live`]), instead of from the
    /// stream files after the stop (`--archive-composition live`; default: after).
    pub live_composition: bool,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_duration: Duration::from_secs(4 * 3600),
            paused_timeout: Duration::from_secs(3600),
            retention: None,
            live_composition: false,
        }
    }
}

impl ArchiveLimits {
    /// The longest an archive runs, paused time included.
    pub fn max_wall_duration(&self) -> Duration {
        self.max_duration.saturating_mul(3)
    }
}
/// Events a tap holds for a recorder that is behind (about 4 s of a 2.5 Mbps stream).
const TAP_CAPACITY: usize = 4096;

/// Why an archive (or broadcast: [`crate::broadcasts::BroadcastError`] is this type) call
/// was refused; the API layer maps each to its status.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A call that does not apply to the archive's mode (OpenTok answers 405).
    #[error("{0}")]
    NotAllowed(String),
    /// A runtime tool is missing (ffmpeg): the server cannot make composed archives.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// What starting an archive asks for (validated by the API layer's parsing).
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub session_id: String,
    pub name: Option<String>,
    pub has_audio: bool,
    pub has_video: bool,
    pub output_mode: OutputMode,
    pub resolution: Option<String>,
    pub layout: LayoutRecord,
    pub stream_mode: StreamMode,
    pub multi_archive_tag: Option<String>,
    pub max_bitrate: Option<u64>,
}

/// A change to a manual-mode archive's streams.
#[derive(Debug, Clone)]
pub enum StreamChange {
    Add {
        stream_id: String,
        has_audio: bool,
        has_video: bool,
    },
    Remove {
        stream_id: String,
    },
}

/// Whether `id` can be an archive id: a UUID, so never a path.
pub fn valid_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok() && id.len() == 36
}

/// What the archive knows of a stream of its session.
#[derive(Debug, Clone)]
struct StreamInfo {
    stream: Stream,
    classes: Vec<String>,
    added_seq: u64,
    /// Announced to the session (its media connected): in the composed layout.
    announced: bool,
}

/// A stream being recorded into this archive.
pub(super) struct Active {
    recording: StreamRecording,
    index: u32,
    start_offset_ms: u64,
    has_audio: bool,
    has_video: bool,
}

/// A running archive.
struct Running {
    record: ArchiveRecord,
    dir: PathBuf,
    journal: Journal,
    /// Every announced stream of the session, in the order they were added.
    known: HashMap<String, StreamInfo>,
    next_seq: u64,
    active: HashMap<String, Active>,
    /// Stream periods already ended (their files being finished).
    finished: Vec<finish::Finishing>,
    /// Files per stream so far (the next period's index).
    periods: HashMap<String, u32>,
    /// The composed layout's events since the start.
    events: Vec<Event>,
    /// Since when the session has had no client.
    empty_since: Option<tokio::time::Instant>,
    /// The live composition (`--archive-composition live`, composed archives).
    live: Option<live::LiveComposition>,
}

impl Running {
    fn offset_ms(&self) -> u64 {
        (crate::unix_millis() - self.record.created_at).max(0) as u64
    }

    /// Pauses the archive when no client publishes in its session, and resumes it when one
    /// does; says whether its status changed (then the record is to be saved).
    fn update_paused(&mut self) -> bool {
        let now = self.offset_ms();
        match (self.record.status, self.known.is_empty()) {
            (ArchiveStatus::Started, true) => {
                self.record.status = ArchiveStatus::Paused;
                self.record.pauses.push(model::Pause {
                    from_ms: now,
                    to_ms: None,
                });
            }
            (ArchiveStatus::Paused, false) => {
                self.record.status = ArchiveStatus::Started;
                self.record.close_pause(now);
            }
            _ => return false,
        }
        self.record.updated_at = crate::unix_millis();
        true
    }

    fn layout_stream(&self, info: &StreamInfo) -> LayoutStream {
        layout_stream(
            &info.stream,
            &info.classes,
            info.added_seq,
            self.known.values().map(|o| &o.stream),
        )
    }

    fn event(&mut self, kind: EventKind) {
        let at_ms = self.offset_ms();
        self.journal
            .append(&JournalEntry::layout_event(at_ms, &kind));
        self.events.push(Event { at_ms, kind });
        self.sync_live();
    }

    /// Whether this archive records `stream_id` now (auto: every stream; manual: added).
    fn wants(&self, stream_id: &str) -> Option<(bool, bool)> {
        match self.record.stream_mode {
            StreamMode::Auto => Some((self.record.has_audio, self.record.has_video)),
            StreamMode::Manual => self
                .record
                .streams
                .iter()
                .find(|s| s.stream_id == stream_id)
                .map(|s| {
                    (
                        s.has_audio && self.record.has_audio,
                        s.has_video && self.record.has_video,
                    )
                }),
        }
    }
}

/// The archives service.
pub struct Archives {
    store: Arc<Store>,
    root: PathBuf,
    signaling: Arc<Signaling>,
    notifier: Notifier,
    /// ffmpeg, or why composed archives cannot be made.
    ffmpeg: Result<parlor_compositor::ffmpeg::FfmpegInfo, String>,
    running: Mutex<HashMap<String, Running>>,
    /// Records the database could not store yet (a full disk), newest state.
    unsaved: Mutex<HashMap<String, ArchiveRecord>>,
    /// Where download URLs point when no request names the host (callbacks).
    base_url: String,
    limits: ArchiveLimits,
}

impl Archives {
    /// Creates the service, detects ffmpeg (warning when it is missing), finishes archives
    /// a previous run left unfinished, and starts following the sessions.
    pub fn start(
        store: Arc<Store>,
        data_dir: &Path,
        signaling: Arc<Signaling>,
        notifier: Notifier,
        base_url: String,
        limits: ArchiveLimits,
    ) -> Arc<Archives> {
        let ffmpeg = parlor_compositor::ffmpeg::detect().map_err(|e| e.to_string());
        if let Err(why) = &ffmpeg {
            tracing::warn!(
                "composed archives are unavailable: {why}; individual archives still work"
            );
        }
        let events = signaling.observe();
        let archives = Arc::new(Archives {
            store,
            root: data_dir.join("archives"),
            signaling,
            notifier,
            ffmpeg,
            running: Mutex::new(HashMap::new()),
            unsaved: Mutex::new(HashMap::new()),
            base_url,
            limits,
        });
        tokio::spawn(archives.clone().follow(events));
        tokio::spawn(archives.clone().watch_limits());
        let recovering = archives.clone();
        tokio::spawn(async move { recovering.recover().await });
        archives
    }

    /// Archives recording now.
    pub fn recording_count(&self) -> usize {
        lock(&self.running).len()
    }

    /// The base URL of download links in callbacks.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn dir(&self, project_id: &str, id: &str) -> PathBuf {
        self.root.join(project_id).join(id)
    }

    /// The output file of an available archive (for the download handler).
    pub fn output_path(&self, record: &ArchiveRecord) -> Option<PathBuf> {
        if !valid_id(&record.id) || record.status != ArchiveStatus::Available {
            return None;
        }
        let file = record.output_file.as_deref()?;
        Some(self.dir(&record.project_id, &record.id).join(file))
    }

    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// Stores a status change and reports it. A record the database cannot take (its
    /// disk is full) is kept in memory, served from there, and stored again every second
    /// until it is (`retry_unsaved`): a status change is never lost on the way. A record
    /// older than the stored one (by `updated_at`) is dropped: statuses never go back.
    async fn save(&self, record: &ArchiveRecord) {
        let r = record.clone();
        match self.db(move |s| s.put_archive(&r)).await {
            Ok(true) => {
                lock(&self.unsaved).remove(&record.id);
            }
            Ok(false) => {
                // A newer status was stored meanwhile (a stop right after a pause): this
                // one is stale, and neither stored nor reported.
                tracing::debug!(archive = %record.id, status = record.status.as_str(), "an older archive status was not stored");
                return;
            }
            Err(e) => {
                tracing::error!(archive = %record.id, error = %e, "cannot store an archive's status; kept in memory and retried");
                lock(&self.unsaved).insert(record.id.clone(), record.clone());
            }
        }
        self.notify(record).await;
    }

    /// Stores the records [`Archives::save`] could not.
    pub(super) async fn retry_unsaved(&self) {
        let pending: Vec<ArchiveRecord> = lock(&self.unsaved).values().cloned().collect();
        for record in pending {
            let r = record.clone();
            if self.db(move |s| s.put_archive(&r)).await.is_ok() {
                let mut unsaved = lock(&self.unsaved);
                if unsaved.get(&record.id) == Some(&record) {
                    unsaved.remove(&record.id);
                }
            }
        }
    }

    /// An archive status callback, in OpenTok's shape.
    async fn notify(&self, record: &ArchiveRecord) {
        let url = self.download_url(record, &self.base_url).await;
        let mut body = crate::api::archives::archive_json(record, url);
        body["event"] = json!("archive");
        // OpenTok's archive callbacks give createdAt in seconds.
        body["createdAt"] = json!(record.created_at / 1000);
        self.notifier.notify(Notice {
            project_id: record.project_id.clone(),
            session_id: record.session_id.clone(),
            event: "archive",
            body,
        });
    }

    /// A signed, expiring download URL for an available archive (`None` for any other),
    /// under `base` (the scheme and host clients reach this server at).
    pub async fn download_url(&self, record: &ArchiveRecord, base: &str) -> Option<String> {
        if record.status != ArchiveStatus::Available {
            return None;
        }
        let file = record.output_file.as_deref()?;
        let project = record.project_id.clone();
        let secret = self
            .db(move |s| s.project(&project))
            .await
            .ok()??
            .api_secret;
        Some(crate::api::archives::signed_download_url(
            base,
            &record.project_id,
            &record.id,
            file,
            &secret,
            parlor_proto::unix_now(),
        ))
    }

    // ---- the API's calls ----------------------------------------------------------------

    /// Starts an archive of a session.
    pub async fn start_archive(
        self: &Arc<Self>,
        project_id: &str,
        req: StartRequest,
        automatic: bool,
    ) -> Result<ArchiveRecord, ArchiveError> {
        let sid = req.session_id.clone();
        let session = self
            .db(move |s| s.session(&sid))
            .await?
            .filter(|s| s.project_id == project_id)
            .ok_or_else(|| {
                ArchiveError::NotFound(format!(
                    "session {} does not exist in this project",
                    req.session_id
                ))
            })?;
        if session.media_mode == "relayed" {
            return Err(ArchiveError::Conflict(
                "this session is relayed (p2p.preference=enabled): only routed sessions can be archived".into(),
            ));
        }
        if req.output_mode == OutputMode::Composed
            && let Err(why) = &self.ffmpeg
        {
            return Err(ArchiveError::Unavailable(format!(
                "composed archives cannot be made on this server: {why}"
            )));
        }
        if !req.has_audio && !req.has_video {
            return Err(ArchiveError::BadRequest(
                "an archive needs audio, video or both (hasAudio and hasVideo are false)".into(),
            ));
        }
        let now = crate::unix_millis();
        let record = ArchiveRecord {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project_id.to_owned(),
            session_id: req.session_id.clone(),
            name: req.name,
            status: ArchiveStatus::Started,
            reason: String::new(),
            output_mode: req.output_mode,
            stream_mode: req.stream_mode,
            resolution: match req.output_mode {
                OutputMode::Composed => Some(req.resolution.unwrap_or_else(|| "640x480".into())),
                OutputMode::Individual => None,
            },
            layout: req.layout,
            has_audio: req.has_audio,
            has_video: req.has_video,
            multi_archive_tag: req.multi_archive_tag,
            max_bitrate: req.max_bitrate,
            created_at: now,
            updated_at: now,
            stopped_at: None,
            duration: 0,
            size: 0,
            sha256sum: None,
            streams: Vec::new(),
            output_file: None,
            automatic,
            pauses: Vec::new(),
        };
        let dir = self.dir(project_id, &record.id);
        std::fs::create_dir_all(dir.join("streams"))
            .map_err(|e| ArchiveError::Internal(format!("cannot create {}: {e}", dir.display())))?;
        let journal = Journal::create(&dir.join(journal::FILE))
            .map_err(|e| ArchiveError::Internal(format!("cannot write the journal: {e}")))?;
        let streams: Vec<StreamInfo> = self
            .signaling
            .existing_room(&record.session_id)
            .map(|room| room.streams_with_classes())
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, (stream, classes))| StreamInfo {
                stream,
                classes,
                added_seq: i as u64,
                announced: true,
            })
            .collect();
        let live = self.start_live(&record, &dir).await;
        {
            let mut running = lock(&self.running);
            // One archive per session, unless each has its own tag.
            // (An automatic archive has no tag, yet a tagged archive may run beside it,
            // as OpenTok's SDKs document.)
            if let Some(other) = running.values().find(|r| {
                r.record.session_id == record.session_id
                    && (record.multi_archive_tag.is_none()
                        || (r.record.multi_archive_tag.is_none() && !r.record.automatic)
                        || r.record.multi_archive_tag == record.multi_archive_tag)
            }) {
                return Err(ArchiveError::Conflict(format!(
                    "session {} is already being archived (archive {}); give each archive its own multiArchiveTag to record several at once",
                    record.session_id, other.record.id
                )));
            }
            let mut r = Running {
                record: record.clone(),
                dir,
                journal,
                known: HashMap::new(),
                next_seq: streams.len() as u64,
                active: HashMap::new(),
                finished: Vec::new(),
                periods: HashMap::new(),
                events: Vec::new(),
                empty_since: self
                    .signaling
                    .existing_room(&record.session_id)
                    .is_none()
                    .then(tokio::time::Instant::now),
                live,
            };
            // The layout at the start: a live change later replaces `record.layout`, and
            // the composition must still begin with this one.
            if let Ok(spec) = record.layout.to_spec() {
                r.events.push(Event {
                    at_ms: 0,
                    kind: EventKind::Layout(spec),
                });
            }
            for info in streams {
                let ls = r.layout_stream(&info);
                r.known.insert(info.stream.stream_id.clone(), info);
                r.events.push(Event {
                    at_ms: 0,
                    kind: EventKind::Added(ls),
                });
            }
            for e in &r.events {
                r.journal
                    .append(&JournalEntry::layout_event(e.at_ms, &e.kind));
            }
            r.sync_live();
            running.insert(record.id.clone(), r);
        }
        self.save(&record).await;
        tracing::info!(archive = %record.id, session = %record.session_id, "archive started");
        // Record the streams already in the session.
        let ids: Vec<String> = lock(&self.running)[&record.id]
            .known
            .keys()
            .cloned()
            .collect();
        for stream_id in ids {
            self.record_stream(&record.id, &stream_id).await;
        }
        let started = self.current(&record.id).unwrap_or(record);
        // Nobody publishes yet: the archive waits, paused. The answer still says
        // `started`, as OpenTok's does (the Node SDK refuses any other status there).
        let paused = lock(&self.running)
            .get_mut(&started.id)
            .and_then(|r| r.update_paused().then(|| r.record.clone()));
        if let Some(paused) = paused {
            self.save(&paused).await;
        }
        // Clients hear of the archive once it holds the session's streams: one that asks
        // for it on `archiveStarted` finds them in it. (Unless it was stopped meanwhile.)
        if self.current(&started.id).is_some() {
            self.signaling.archive_started(
                &started.session_id,
                ActiveArchive {
                    id: started.id.clone(),
                    name: started.name.clone(),
                },
            );
        }
        Ok(started)
    }

    /// The live record of a running archive.
    fn current(&self, id: &str) -> Option<ArchiveRecord> {
        lock(&self.running).get(id).map(|r| r.record.clone())
    }

    /// Starts recording one stream into one archive, if the archive wants it.
    async fn record_stream(&self, archive_id: &str, stream_id: &str) {
        let (tracks, dir, name, start_offset_ms) = {
            let running = lock(&self.running);
            let Some(r) = running.get(archive_id) else {
                return;
            };
            if r.active.contains_key(stream_id) || !r.known.contains_key(stream_id) {
                return;
            }
            let Some((audio, video)) = r.wants(stream_id) else {
                return;
            };
            let info = &r.known[stream_id];
            let tracks = Tracks {
                audio: audio && info.stream.has_audio,
                video: video
                    && (info.stream.has_video || r.record.output_mode == OutputMode::Composed),
            };
            if !tracks.audio && !tracks.video {
                return;
            }
            let index = r.periods.get(stream_id).copied().unwrap_or(0);
            let name = if index == 0 {
                stream_id.to_owned()
            } else {
                format!("{stream_id}-{index}")
            };
            (tracks, r.dir.join("streams"), name, r.offset_ms())
        };
        let tap = match self
            .signaling
            .router
            .tap(&parlor_router::TransportId::from(stream_id), TAP_CAPACITY)
            .await
        {
            Ok(tap) => tap,
            Err(e) => {
                tracing::warn!(archive = archive_id, stream = stream_id, error = %e, "cannot record a stream");
                return;
            }
        };
        let origin_ms = crate::unix_millis();
        let router = self.signaling.router.clone();
        let producer = parlor_router::TransportId::from(stream_id);
        let ask_keyframe = move || router.request_keyframe(producer.clone());
        let recording = match StreamRecording::start(
            tap,
            &dir,
            &name,
            origin_ms,
            tracks,
            ask_keyframe,
        ) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(archive = archive_id, error = %e, "cannot start a recorder thread");
                return;
            }
        };
        let mut running = lock(&self.running);
        let Some(r) = running.get_mut(archive_id) else {
            return; // stopped meanwhile: the recording is dropped and stops
        };
        let index = r.periods.get(stream_id).copied().unwrap_or(0);
        r.periods.insert(stream_id.to_owned(), index + 1);
        let info = &r.known[stream_id];
        r.journal.append(&JournalEntry::StreamStarted {
            stream_id: stream_id.to_owned(),
            index,
            file_stem: name,
            start_offset_ms,
            connection_data: info.stream.connection.data.clone(),
            video_type: video_type_str(&info.stream),
            has_audio: tracks.audio,
            has_video: tracks.video,
        });
        if r.record.stream_mode == StreamMode::Auto
            && !r.record.streams.iter().any(|s| s.stream_id == stream_id)
        {
            r.record.streams.push(ArchiveStreamRecord {
                stream_id: stream_id.to_owned(),
                has_audio: tracks.audio,
                has_video: tracks.video,
            });
        }
        r.active.insert(
            stream_id.to_owned(),
            Active {
                recording,
                index,
                start_offset_ms,
                has_audio: tracks.audio,
                has_video: tracks.video,
            },
        );
    }

    /// Ends the recording of one stream period (its file is finished in the background).
    fn end_stream(&self, r: &mut Running, stream_id: &str) {
        if let Some(pending) = self.take_stream(r, stream_id) {
            r.finished.push(pending.finish());
        }
    }

    /// Takes a stream period out of the recording ones, journaling its end.
    fn take_stream(&self, r: &mut Running, stream_id: &str) -> Option<PendingStream> {
        let active = r.active.remove(stream_id)?;
        let stop_offset_ms = r.offset_ms();
        let info = r.known.get(stream_id).map(|i| i.stream.clone());
        r.journal.append(&JournalEntry::StreamEnded {
            stream_id: stream_id.to_owned(),
            index: active.index,
            stop_offset_ms,
        });
        Some(PendingStream {
            active,
            stream_id: stream_id.to_owned(),
            stop_offset_ms,
            connection_data: info
                .as_ref()
                .map(|s| s.connection.data.clone())
                .unwrap_or_default(),
            video_type: info
                .as_ref()
                .map(video_type_str)
                .unwrap_or_else(|| "camera".into()),
        })
    }

    /// Stops an archive through the API.
    pub async fn stop_archive(
        self: &Arc<Self>,
        project_id: &str,
        id: &str,
    ) -> Result<ArchiveRecord, ArchiveError> {
        let record = self.get_archive(project_id, id).await?;
        if !record.status.is_running() {
            return Err(ArchiveError::Conflict(format!(
                "archive {id} is not being recorded (its status is {})",
                record.status.as_str()
            )));
        }
        if record.automatic {
            return Err(ArchiveError::Conflict(format!(
                "archive {id} records an archiveMode=always session: it stops by itself when the session ends"
            )));
        }
        self.stop(id, "user initiated").await
    }

    async fn stop(self: &Arc<Self>, id: &str, reason: &str) -> Result<ArchiveRecord, ArchiveError> {
        let Some(mut r) = lock(&self.running).remove(id) else {
            return Err(ArchiveError::Conflict(format!(
                "archive {id} is not being recorded"
            )));
        };
        let now = crate::unix_millis();
        let offset = r.offset_ms();
        r.record.close_pause(offset);
        r.record.status = ArchiveStatus::Stopped;
        r.record.reason = reason.to_owned();
        r.record.stopped_at = Some(now);
        r.record.updated_at = now;
        // The time recorded: paused periods are not in it.
        r.record.duration = r.record.without_pauses(offset) / 1000;
        let ids: Vec<String> = r.active.keys().cloned().collect();
        for stream_id in ids {
            self.end_stream(&mut r, &stream_id);
        }
        self.save(&r.record).await;
        self.signaling.archive_stopped(&r.record.session_id, id);
        tracing::info!(archive = id, reason, "archive stopped");
        let stopped = r.record.clone();
        let this = self.clone();
        let live = r.live.take();
        tokio::spawn(async move {
            this.finalize(r.record, r.dir, r.finished, r.events, live)
                .await
        });
        Ok(stopped)
    }
}

pub(super) fn video_type_str(stream: &Stream) -> String {
    match stream.video_type {
        parlor_proto::signaling::VideoType::Screen => "screen",
        parlor_proto::signaling::VideoType::Custom => "custom",
        _ => "camera",
    }
    .into()
}
