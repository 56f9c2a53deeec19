//! Live streaming broadcasts: a session composed live into one H.264 + AAC stream, sent
//! to HLS (served by Parlor) and up to five RTMP targets — the domain behind OpenTok's
//! broadcast API.
//!
//! * [`model`] — the broadcast record and its table.
//! * [`pipeline`] — one running broadcast's media: the router's taps of its streams fed
//!   into `parlor-compositor`'s live compositor, which encodes once and fans out.
//!
//! [`Broadcasts`] is the service: it starts and stops broadcasts for the REST API,
//! follows the sessions' streams through [`SessionEvent`]s (streams joining and leaving,
//! layout classes, video on/off) to keep each broadcast's sources and layout current,
//! stops broadcasts at their `maxDuration` and 60 s after the last client left, keeps each
//! output's status (`hlsStatus`, each RTMP target's `status`) from the compositor's
//! events, reports every change as a `broadcast` callback, and removes HLS files
//! [`HLS_GRACE`] after a broadcast ended. A broadcast a previous run left `started` (a
//! crash) is stopped at start with the reason "the server restarted".
//!
//! Files live under `<data dir>/broadcasts/<api key>/<broadcast id>/hls/`. Broadcast ids
//! are UUIDs generated here and checked ([`crate::archives::valid_id`]) before any path is
//! made from one.

pub mod model;
pub mod pipeline;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use parlor_compositor::ffmpeg::FfmpegInfo;
use parlor_compositor::layout::{LayoutStream, Resolution};
use parlor_proto::signaling::Stream;
use tokio::sync::mpsc;

use self::model::{BroadcastRecord, BroadcastStatus, HlsSettings, OutputStatus, RtmpRecord};
use self::pipeline::{Pipeline, PipelineEvent};
use crate::archives::model::{ArchiveStreamRecord, LayoutRecord, StreamMode};
use crate::archives::{EMPTY_SESSION_GRACE, apply_stream_change, layout_stream, valid_id};
use crate::callbacks::{Notice, Notifier};
use crate::signaling::{SessionEvent, Signaling, lock};
use crate::store::{Store, StoreError};

/// How long a stopped broadcast's HLS files stay (players finishing the last segments).
pub const HLS_GRACE: Duration = Duration::from_secs(120);

/// Why a broadcast call was refused: the archive calls' errors (the same kinds, mapped to
/// the same statuses by the API layer).
pub use crate::archives::ArchiveError as BroadcastError;

/// What starting a broadcast asks for (validated by the API layer's parsing).
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub session_id: String,
    pub hls: Option<HlsSettings>,
    /// `(id, serverUrl, streamName)`.
    pub rtmp: Vec<(String, String, String)>,
    pub layout: LayoutRecord,
    pub max_duration: u64,
    pub resolution: String,
    pub stream_mode: StreamMode,
    pub multi_broadcast_tag: Option<String>,
    pub max_bitrate: u64,
    pub has_audio: bool,
    pub has_video: bool,
}

/// A change to a manual-mode broadcast's streams.
pub use crate::archives::StreamChange;

/// What the broadcast knows of a stream of its session.
#[derive(Debug, Clone)]
struct Known {
    stream: Stream,
    classes: Vec<String>,
    added_seq: u64,
}

/// A running broadcast.
struct Running {
    record: BroadcastRecord,
    known: HashMap<String, Known>,
    next_seq: u64,
    pipeline: Pipeline,
    started: tokio::time::Instant,
    empty_since: Option<tokio::time::Instant>,
}

impl Running {
    /// Whether the broadcast includes `stream_id` now, with which tracks.
    fn wants(&self, stream_id: &str) -> Option<(bool, bool)> {
        let known = self.known.get(stream_id)?;
        let (audio, video) = match self.record.stream_mode {
            StreamMode::Auto => (true, true),
            StreamMode::Manual => {
                let s = self
                    .record
                    .streams
                    .iter()
                    .find(|s| s.stream_id == stream_id)?;
                (s.has_audio, s.has_video)
            }
        };
        Some((
            audio && self.record.has_audio && known.stream.has_audio,
            video && self.record.has_video,
        ))
    }

    /// The layout's streams now: those included with video.
    fn layout_streams(&self) -> Vec<LayoutStream> {
        let mut out: Vec<LayoutStream> = self
            .known
            .values()
            .filter(|k| self.wants(&k.stream.stream_id).is_some_and(|(_, v)| v))
            .map(|k| {
                layout_stream(
                    &k.stream,
                    &k.classes,
                    k.added_seq,
                    self.known.values().map(|o| &o.stream),
                )
            })
            .collect();
        out.sort_by_key(|s| s.added_seq);
        out
    }

    /// The sources the pipeline should have: `(stream id, audio, video)`.
    fn sources(&self) -> Vec<(String, bool, bool)> {
        self.known
            .keys()
            .filter_map(|id| {
                let (a, v) = self.wants(id)?;
                (a || v).then(|| (id.clone(), a, v))
            })
            .collect()
    }

    /// Brings the pipeline's sources and layout in line with the known streams.
    fn sync_pipeline(&mut self, signaling: &Arc<Signaling>) {
        if self.record.stream_mode == StreamMode::Auto {
            self.record.streams = {
                let mut s: Vec<&Known> = self.known.values().collect();
                s.sort_by_key(|k| k.added_seq);
                s.iter()
                    .filter_map(|k| {
                        let (a, v) = self.wants(&k.stream.stream_id)?;
                        Some(ArchiveStreamRecord {
                            stream_id: k.stream.stream_id.clone(),
                            has_audio: a,
                            has_video: v && k.stream.has_video,
                        })
                    })
                    .collect()
            };
        }
        let (w, h) = self.record.size();
        let spec = self.record.layout.to_spec().unwrap_or_default();
        let placements = parlor_compositor::layout::layout(
            &self.layout_streams(),
            &spec,
            Resolution {
                width: w,
                height: h,
            },
        );
        self.pipeline
            .update(&signaling.router, self.sources(), placements);
    }
}

/// The broadcast service.
pub struct Broadcasts {
    store: Arc<Store>,
    root: PathBuf,
    signaling: Arc<Signaling>,
    notifier: Notifier,
    ffmpeg: Result<FfmpegInfo, String>,
    running: Mutex<HashMap<String, Running>>,
    events: mpsc::UnboundedSender<PipelineEvent>,
    base_url: String,
}

impl Broadcasts {
    /// Starts the service: follows the sessions, watches the limits, ends broadcasts a
    /// previous run left started.
    pub fn start(
        store: Arc<Store>,
        data_dir: &Path,
        signaling: Arc<Signaling>,
        notifier: Notifier,
        base_url: String,
    ) -> Arc<Broadcasts> {
        let ffmpeg = parlor_compositor::ffmpeg::detect().map_err(|e| e.to_string());
        if let Err(why) = &ffmpeg {
            tracing::warn!("live streaming broadcasts are unavailable: {why}");
        }
        let session_events = signaling.observe();
        let (events, pipeline_events) = mpsc::unbounded_channel();
        let broadcasts = Arc::new(Broadcasts {
            store,
            root: data_dir.join("broadcasts"),
            signaling,
            notifier,
            ffmpeg,
            running: Mutex::new(HashMap::new()),
            events,
            base_url,
        });
        tokio::spawn(broadcasts.clone().follow(session_events));
        tokio::spawn(broadcasts.clone().on_pipeline_events(pipeline_events));
        tokio::spawn(broadcasts.clone().watch_limits());
        let recovering = broadcasts.clone();
        tokio::spawn(async move { recovering.recover().await });
        broadcasts
    }

    /// The scheme, host and port of this server, for URLs in answers.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    async fn db<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(result) => result,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }

    /// The broadcast's directory.
    pub fn dir(&self, project_id: &str, id: &str) -> PathBuf {
        self.root.join(project_id).join(id)
    }

    /// The directory of a broadcast's HLS playlist and segments.
    pub fn hls_dir(&self, project_id: &str, id: &str) -> PathBuf {
        self.dir(project_id, id).join("hls")
    }

    fn current(&self, id: &str) -> Option<BroadcastRecord> {
        lock(&self.running).get(id).map(|r| r.record.clone())
    }

    async fn save(&self, record: &BroadcastRecord) {
        let r = record.clone();
        if let Err(e) = self.db(move |s| s.put_broadcast(&r)).await {
            tracing::error!(broadcast = %record.id, error = %e, "cannot store a broadcast's status");
        }
        self.notifier.notify(Notice {
            project_id: record.project_id.clone(),
            session_id: record.session_id.clone(),
            event: "broadcast",
            body: crate::api::broadcasts::callback_json(record),
        });
    }

    /// Starts a broadcast.
    pub async fn start_broadcast(
        self: &Arc<Self>,
        project_id: &str,
        req: StartRequest,
    ) -> Result<BroadcastRecord, BroadcastError> {
        let sid = req.session_id.clone();
        let session = self
            .db(move |s| s.session(&sid))
            .await?
            .filter(|s| s.project_id == project_id)
            .ok_or_else(|| {
                BroadcastError::NotFound(format!(
                    "session {} does not exist in this project",
                    req.session_id
                ))
            })?;
        if session.media_mode == "relayed" {
            return Err(BroadcastError::Conflict(
                "this session is relayed (p2p.preference=enabled): only routed sessions can be broadcast".into(),
            ));
        }
        let ffmpeg = match &self.ffmpeg {
            Ok(f) => f.clone(),
            Err(why) => {
                return Err(BroadcastError::Unavailable(format!(
                    "this server cannot broadcast: {why}"
                )));
            }
        };
        let now = crate::unix_millis();
        let record = BroadcastRecord {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project_id.to_owned(),
            session_id: req.session_id.clone(),
            status: BroadcastStatus::Started,
            reason: String::new(),
            created_at: now,
            updated_at: now,
            stopped_at: None,
            resolution: req.resolution,
            layout: req.layout,
            stream_mode: req.stream_mode,
            streams: Vec::new(),
            has_audio: req.has_audio,
            has_video: req.has_video,
            max_duration: req.max_duration,
            max_bitrate: req.max_bitrate,
            multi_broadcast_tag: req.multi_broadcast_tag,
            hls_status: req.hls.map(|_| OutputStatus::Connecting),
            hls: req.hls,
            rtmp: req
                .rtmp
                .into_iter()
                .map(|(id, server_url, stream_name)| RtmpRecord {
                    id,
                    server_url,
                    stream_name,
                    status: OutputStatus::Connecting,
                    error: None,
                })
                .collect(),
        };
        {
            let running = lock(&self.running);
            if let Some(other) = running.values().find(|r| {
                r.record.session_id == record.session_id
                    && (record.multi_broadcast_tag.is_none()
                        || r.record.multi_broadcast_tag.is_none()
                        || r.record.multi_broadcast_tag == record.multi_broadcast_tag)
            }) {
                return Err(BroadcastError::Conflict(format!(
                    "session {} is already being broadcast (broadcast {}); give each broadcast its own multiBroadcastTag to run several at once",
                    record.session_id, other.record.id
                )));
            }
        }
        let hls_dir = self.hls_dir(project_id, &record.id);
        if record.hls.is_some() {
            std::fs::create_dir_all(&hls_dir).map_err(|e| {
                BroadcastError::Internal(format!("cannot create {}: {e}", hls_dir.display()))
            })?;
        }
        let pipeline = {
            let record = record.clone();
            let events = self.events.clone();
            tokio::task::spawn_blocking(move || Pipeline::start(&ffmpeg, &record, &hls_dir, events))
                .await
                .map_err(|e| BroadcastError::Internal(format!("cannot start the broadcast: {e}")))?
                .map_err(|e| BroadcastError::Internal(format!("cannot start the broadcast: {e}")))?
        };
        let room = self.signaling.existing_room(&record.session_id);
        let streams = room
            .as_ref()
            .map(|room| room.streams_with_classes())
            .unwrap_or_default();
        let saved = {
            let mut running = lock(&self.running);
            // Checked again: another start may have won the race meanwhile.
            if running.values().any(|r| {
                r.record.session_id == record.session_id
                    && (record.multi_broadcast_tag.is_none()
                        || r.record.multi_broadcast_tag.is_none()
                        || r.record.multi_broadcast_tag == record.multi_broadcast_tag)
            }) {
                drop(running);
                tokio::task::spawn_blocking(move || pipeline.stop());
                return Err(BroadcastError::Conflict(format!(
                    "session {} is already being broadcast",
                    record.session_id
                )));
            }
            let mut r = Running {
                record,
                known: HashMap::new(),
                next_seq: streams.len() as u64,
                pipeline,
                started: tokio::time::Instant::now(),
                empty_since: room.is_none().then(tokio::time::Instant::now),
            };
            for (i, (stream, classes)) in streams.into_iter().enumerate() {
                r.known.insert(
                    stream.stream_id.clone(),
                    Known {
                        stream,
                        classes,
                        added_seq: i as u64,
                    },
                );
            }
            r.sync_pipeline(&self.signaling);
            let saved = r.record.clone();
            running.insert(saved.id.clone(), r);
            saved
        };
        tracing::info!(broadcast = %saved.id, session = %saved.session_id, "broadcast started");
        self.save(&saved).await;
        Ok(saved)
    }

    /// Stops a running broadcast (the API's stop, or a limit).
    async fn end(&self, id: &str, reason: &str) -> Option<BroadcastRecord> {
        let running = lock(&self.running).remove(id)?;
        let mut record = running.record;
        let pipeline = running.pipeline;
        let _ = tokio::task::spawn_blocking(move || {
            let _ = pipeline.stop();
        })
        .await;
        let now = crate::unix_millis();
        record.status = BroadcastStatus::Stopped;
        record.reason = reason.to_owned();
        record.updated_at = now;
        record.stopped_at = Some(now);
        if record.hls_status.is_some() {
            record.hls_status = Some(OutputStatus::Ended);
        }
        for t in &mut record.rtmp {
            t.status = OutputStatus::Ended;
        }
        if record.stream_mode == StreamMode::Auto {
            record.streams.clear();
        }
        tracing::info!(broadcast = %record.id, reason, "broadcast stopped");
        self.save(&record).await;
        if record.hls.is_some() {
            let dir = self.dir(&record.project_id, &record.id);
            tokio::spawn(async move {
                tokio::time::sleep(HLS_GRACE).await;
                let _ = tokio::fs::remove_dir_all(&dir).await;
            });
        }
        Some(record)
    }

    /// `POST …/broadcast/{id}/stop`.
    pub async fn stop_broadcast(
        &self,
        project_id: &str,
        id: &str,
    ) -> Result<BroadcastRecord, BroadcastError> {
        let record = self.get_broadcast(project_id, id).await?;
        if record.status != BroadcastStatus::Started {
            return Err(BroadcastError::Conflict(format!(
                "broadcast {id} is not started (its status is {})",
                record.status.as_str()
            )));
        }
        self.end(id, "stopped by the API")
            .await
            .ok_or_else(|| BroadcastError::Conflict(format!("broadcast {id} is not started")))
    }

    /// One broadcast.
    pub async fn get_broadcast(
        &self,
        project_id: &str,
        id: &str,
    ) -> Result<BroadcastRecord, BroadcastError> {
        let missing = || BroadcastError::NotFound(format!("broadcast {id} does not exist"));
        if !valid_id(id) {
            return Err(missing());
        }
        if let Some(r) = self.current(id).filter(|r| r.project_id == project_id) {
            return Ok(r);
        }
        let (p, i) = (project_id.to_owned(), id.to_owned());
        self.db(move |s| s.broadcast(&p, &i))
            .await?
            .ok_or_else(missing)
    }

    /// A page of broadcasts, newest first.
    pub async fn list_broadcasts(
        &self,
        project_id: &str,
        session_id: Option<String>,
        offset: usize,
        count: usize,
    ) -> Result<(usize, Vec<BroadcastRecord>), BroadcastError> {
        let p = project_id.to_owned();
        let (total, mut items) = self
            .db(move |s| s.broadcasts(&p, session_id.as_deref(), offset, count))
            .await?;
        for item in &mut items {
            if let Some(live) = self.current(&item.id) {
                *item = live;
            }
        }
        Ok((total, items))
    }

    /// `PUT …/broadcast/{id}/layout`.
    pub async fn set_layout(
        &self,
        project_id: &str,
        id: &str,
        layout: LayoutRecord,
    ) -> Result<BroadcastRecord, BroadcastError> {
        let record = self.get_broadcast(project_id, id).await?;
        let updated = {
            let mut running = lock(&self.running);
            let Some(r) = running.get_mut(id) else {
                return Err(BroadcastError::Conflict(format!(
                    "broadcast {id} is not started (its status is {})",
                    record.status.as_str()
                )));
            };
            r.record.layout = layout;
            r.record.updated_at = crate::unix_millis();
            r.sync_pipeline(&self.signaling);
            r.record.clone()
        };
        let u = updated.clone();
        self.db(move |s| s.put_broadcast(&u)).await?;
        Ok(updated)
    }

    /// `PATCH …/broadcast/{id}/streams`.
    pub async fn change_streams(
        &self,
        project_id: &str,
        id: &str,
        change: StreamChange,
    ) -> Result<(), BroadcastError> {
        let record = self.get_broadcast(project_id, id).await?;
        if record.stream_mode != StreamMode::Manual {
            return Err(BroadcastError::NotAllowed(format!(
                "broadcast {id} includes every stream (streamMode auto): streams can be chosen only with streamMode manual"
            )));
        }
        let updated = {
            let mut running = lock(&self.running);
            let Some(r) = running.get_mut(id) else {
                return Err(BroadcastError::Conflict(format!(
                    "broadcast {id} is not started (its status is {})",
                    record.status.as_str()
                )));
            };
            apply_stream_change(
                &mut r.record.streams,
                &change,
                |s| r.known.contains_key(s),
                &format!("broadcast {id}"),
                &r.record.session_id,
            )?;
            r.record.updated_at = crate::unix_millis();
            r.sync_pipeline(&self.signaling);
            r.record.clone()
        };
        self.db(move |s| s.put_broadcast(&updated)).await?;
        Ok(())
    }

    async fn follow(self: Arc<Self>, mut events: mpsc::UnboundedReceiver<SessionEvent>) {
        while let Some(event) = events.recv().await {
            let mut running = lock(&self.running);
            match event {
                SessionEvent::Joined { session_id } => {
                    for r in running
                        .values_mut()
                        .filter(|r| r.record.session_id == session_id)
                    {
                        r.empty_since = None;
                    }
                }
                SessionEvent::Emptied { session_id } => {
                    for r in running
                        .values_mut()
                        .filter(|r| r.record.session_id == session_id)
                    {
                        r.empty_since = Some(tokio::time::Instant::now());
                    }
                }
                SessionEvent::StreamPublishing { .. } => {}
                SessionEvent::StreamAnnounced {
                    session_id,
                    stream,
                    classes,
                } => {
                    for r in running
                        .values_mut()
                        .filter(|r| r.record.session_id == session_id)
                    {
                        let added_seq = r.next_seq;
                        r.next_seq += 1;
                        r.known.insert(
                            stream.stream_id.clone(),
                            Known {
                                stream: stream.clone(),
                                classes: classes.clone(),
                                added_seq,
                            },
                        );
                        r.sync_pipeline(&self.signaling);
                    }
                }
                SessionEvent::StreamChanged { session_id, stream } => {
                    for r in running
                        .values_mut()
                        .filter(|r| r.record.session_id == session_id)
                    {
                        if let Some(k) = r.known.get_mut(&stream.stream_id) {
                            k.stream = stream.clone();
                            r.sync_pipeline(&self.signaling);
                        }
                    }
                }
                SessionEvent::ClassesChanged {
                    session_id,
                    stream_id,
                    classes,
                } => {
                    for r in running
                        .values_mut()
                        .filter(|r| r.record.session_id == session_id)
                    {
                        if let Some(k) = r.known.get_mut(&stream_id) {
                            k.classes = classes.clone();
                            r.sync_pipeline(&self.signaling);
                        }
                    }
                }
                SessionEvent::StreamDestroyed {
                    session_id,
                    stream_id,
                } => {
                    for r in running
                        .values_mut()
                        .filter(|r| r.record.session_id == session_id)
                    {
                        if r.known.remove(&stream_id).is_some() {
                            r.sync_pipeline(&self.signaling);
                        }
                    }
                }
            }
        }
    }

    /// Output status changes from the pipelines.
    async fn on_pipeline_events(
        self: Arc<Self>,
        mut events: mpsc::UnboundedReceiver<PipelineEvent>,
    ) {
        while let Some(event) = events.recv().await {
            let (id, changed, failed) = {
                let mut running = lock(&self.running);
                let id = event.broadcast_id().to_owned();
                let Some(r) = running.get_mut(&id) else {
                    continue;
                };
                let mut failed = None;
                let changed = match event {
                    PipelineEvent::Hls { status, .. } => {
                        let old = r.record.hls_status.replace(status);
                        old != Some(status)
                    }
                    PipelineEvent::Rtmp {
                        target,
                        status,
                        error,
                        ..
                    } => match r.record.rtmp.iter_mut().find(|t| t.id == target) {
                        Some(t) if t.status != status || t.error != error => {
                            t.status = status;
                            t.error = error;
                            true
                        }
                        _ => false,
                    },
                    PipelineEvent::Failed { reason, .. } => {
                        failed = Some(reason);
                        false
                    }
                };
                if changed {
                    r.record.updated_at = crate::unix_millis();
                }
                (id, changed.then(|| r.record.clone()), failed)
            };
            if let Some(reason) = failed {
                tracing::warn!(broadcast = %id, %reason, "broadcast failed");
                self.end(&id, &format!("failed: {reason}")).await;
            } else if let Some(record) = changed {
                self.save(&record).await;
            }
        }
    }

    /// Stops broadcasts at their `maxDuration` and [`EMPTY_SESSION_GRACE`] after their
    /// session emptied.
    async fn watch_limits(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let now = tokio::time::Instant::now();
            let due: Vec<(String, &'static str)> = lock(&self.running)
                .values()
                .filter_map(|r| {
                    if now.duration_since(r.started) >= Duration::from_secs(r.record.max_duration) {
                        Some((r.record.id.clone(), "maximum duration exceeded"))
                    } else if r
                        .empty_since
                        .is_some_and(|t| now.duration_since(t) >= EMPTY_SESSION_GRACE)
                    {
                        Some((
                            r.record.id.clone(),
                            "the session has had no client for 60 seconds",
                        ))
                    } else {
                        None
                    }
                })
                .collect();
            for (id, reason) in due {
                self.end(&id, reason).await;
            }
        }
    }

    /// Ends broadcasts a previous run left started (the process died with them).
    async fn recover(&self) {
        let left = match self.db(|s| s.broadcasts_started()).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "cannot read unfinished broadcasts");
                return;
            }
        };
        for mut record in left {
            if lock(&self.running).contains_key(&record.id) {
                continue;
            }
            let now = crate::unix_millis();
            record.status = BroadcastStatus::Stopped;
            record.reason = "the server restarted".into();
            record.updated_at = now;
            record.stopped_at = Some(now);
            if record.hls_status.is_some() {
                record.hls_status = Some(OutputStatus::Ended);
            }
            for t in &mut record.rtmp {
                t.status = OutputStatus::Ended;
            }
            self.save(&record).await;
            let _ = tokio::fs::remove_dir_all(self.dir(&record.project_id, &record.id)).await;
        }
    }
}
