//! How archives follow their sessions: streams joining and leaving, layout classes,
//! video on/off (the composed layout's timeline), `archiveMode=always`, the automatic
//! stops (60 s after the last client, 4 hours), and finishing archives a previous run
//! left unfinished.

use std::sync::Arc;
use std::time::Duration;

use parlor_compositor::timeline::EventKind;
use tokio::sync::mpsc;

use super::journal;
use super::model::{ArchiveStatus, LayoutRecord, OutputMode, StreamMode};
use super::{
    Archives, EMPTY_SESSION_GRACE, MAX_ARCHIVE_DURATION, StartRequest, StreamInfo, valid_id,
};
use crate::signaling::{SessionEvent, lock};
use parlor_proto::signaling::Stream;

impl Archives {
    pub(super) async fn follow(self: Arc<Self>, mut events: mpsc::UnboundedReceiver<SessionEvent>) {
        while let Some(event) = events.recv().await {
            self.on_session_event(event).await;
        }
    }

    /// The running archives of a session.
    fn of_session(&self, session_id: &str) -> Vec<String> {
        lock(&self.running)
            .values()
            .filter(|r| r.record.session_id == session_id)
            .map(|r| r.record.id.clone())
            .collect()
    }

    async fn on_session_event(self: &Arc<Self>, event: SessionEvent) {
        match event {
            SessionEvent::Joined { session_id } => {
                let mut running = lock(&self.running);
                for r in running
                    .values_mut()
                    .filter(|r| r.record.session_id == session_id)
                {
                    r.empty_since = None;
                }
            }
            SessionEvent::Emptied { session_id } => {
                let mut running = lock(&self.running);
                for r in running
                    .values_mut()
                    .filter(|r| r.record.session_id == session_id)
                {
                    r.empty_since = Some(tokio::time::Instant::now());
                }
            }
            SessionEvent::StreamPublishing {
                session_id,
                stream,
                classes,
            } => {
                // Recording starts as the producer is created, before its media connects,
                // so the publisher's first frames (its first keyframe) are in the file.
                for id in &self.of_session(&session_id) {
                    self.know_stream(id, &stream, &classes, false);
                    self.record_stream(id, &stream.stream_id).await;
                }
            }
            SessionEvent::StreamAnnounced {
                session_id,
                stream,
                classes,
            } => {
                self.start_always_archive(&session_id).await;
                for id in &self.of_session(&session_id) {
                    self.know_stream(id, &stream, &classes, true);
                    self.record_stream(id, &stream.stream_id).await;
                }
            }
            SessionEvent::StreamDestroyed {
                session_id,
                stream_id,
            } => {
                let mut running = lock(&self.running);
                for r in running
                    .values_mut()
                    .filter(|r| r.record.session_id == session_id)
                {
                    if r.known.remove(&stream_id).is_some_and(|i| i.announced) {
                        r.event(EventKind::Removed(stream_id.clone()));
                    }
                    self.end_stream(r, &stream_id);
                }
            }
            SessionEvent::StreamChanged { session_id, stream } => {
                let mut running = lock(&self.running);
                for r in running
                    .values_mut()
                    .filter(|r| r.record.session_id == session_id)
                {
                    let Some(info) = r.known.get_mut(&stream.stream_id) else {
                        continue;
                    };
                    let video_changed = info.stream.has_video != stream.has_video;
                    let size_changed = info.stream.video_dimensions != stream.video_dimensions;
                    info.stream = stream.clone();
                    if video_changed {
                        r.event(EventKind::Video(stream.stream_id.clone(), stream.has_video));
                    }
                    if size_changed && let Some(d) = stream.video_dimensions {
                        r.event(EventKind::Size(
                            stream.stream_id.clone(),
                            (d.width, d.height),
                        ));
                    }
                }
            }
            SessionEvent::ClassesChanged {
                session_id,
                stream_id,
                classes,
            } => {
                let mut running = lock(&self.running);
                for r in running
                    .values_mut()
                    .filter(|r| r.record.session_id == session_id)
                {
                    if let Some(info) = r.known.get_mut(&stream_id) {
                        info.classes = classes.clone();
                        r.event(EventKind::Classes(stream_id.clone(), classes.clone()));
                    }
                }
            }
        }
    }

    /// Notes a stream of an archive's session; once it is announced it joins the composed
    /// layout (an `Added` event).
    fn know_stream(&self, id: &str, stream: &Stream, classes: &[String], announced: bool) {
        let mut running = lock(&self.running);
        let Some(r) = running.get_mut(id) else {
            return;
        };
        let added_seq = match r.known.get(&stream.stream_id) {
            Some(known) => known.added_seq,
            None => {
                r.next_seq += 1;
                r.next_seq - 1
            }
        };
        let was_announced = r.known.get(&stream.stream_id).is_some_and(|k| k.announced);
        let info = StreamInfo {
            stream: stream.clone(),
            classes: classes.to_vec(),
            added_seq,
            announced: announced || was_announced,
        };
        let ls = r.layout_stream(&info);
        r.known.insert(stream.stream_id.clone(), info);
        if announced && !was_announced {
            r.event(EventKind::Added(ls));
        }
    }

    /// `archiveMode=always`: a composed archive starts with the session's first stream.
    async fn start_always_archive(self: &Arc<Self>, session_id: &str) {
        if !self.of_session(session_id).is_empty() {
            return;
        }
        let sid = session_id.to_owned();
        let Ok(Some(session)) = self.db(move |s| s.session(&sid)).await else {
            return;
        };
        if session.archive_mode != "always" {
            return;
        }
        let req = StartRequest {
            session_id: session_id.to_owned(),
            name: session.archive_name.clone(),
            has_audio: true,
            has_video: true,
            output_mode: OutputMode::Composed,
            resolution: session.archive_resolution.clone(),
            layout: LayoutRecord::default(),
            stream_mode: StreamMode::Auto,
            multi_archive_tag: None,
            max_bitrate: None,
        };
        if let Err(e) = self.start_archive(&session.project_id, req, true).await {
            tracing::warn!(session = session_id, error = %e, "cannot start the automatic archive");
        }
    }

    /// Stops archives whose session has been empty for [`EMPTY_SESSION_GRACE`] or that
    /// reached [`MAX_ARCHIVE_DURATION`]; notices recorders that ended by themselves.
    pub(super) async fn watch_limits(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let due: Vec<(String, &'static str)> = lock(&self.running)
                .values()
                .filter_map(|r| {
                    if r.empty_since
                        .is_some_and(|t| t.elapsed() >= EMPTY_SESSION_GRACE)
                    {
                        Some((r.record.id.clone(), "session ended"))
                    } else if r.started.elapsed() >= MAX_ARCHIVE_DURATION {
                        Some((r.record.id.clone(), "maximum duration exceeded"))
                    } else {
                        None
                    }
                })
                .collect();
            for (id, reason) in due {
                let _ = self.stop(&id, reason).await;
            }
            self.retry_unsaved().await;
            // Recorders that ended by themselves: their producer closed (the stream's
            // end is on its way as an event), or they could not write (a full disk):
            // the archive then stops and fails with the reason.
            let ended: Vec<(String, String)> = lock(&self.running)
                .values()
                .flat_map(|r| {
                    r.active
                        .iter()
                        .filter(|(_, a)| a.recording.is_finished())
                        .map(|(s, _)| (r.record.id.clone(), s.clone()))
                })
                .collect();
            for (id, stream_id) in ended {
                // The thread has ended: joining it is immediate.
                let result = {
                    let mut running = lock(&self.running);
                    let Some(r) = running.get_mut(&id) else {
                        continue;
                    };
                    let Some(pending) = self.take_stream(r, &stream_id) else {
                        continue;
                    };
                    let result = pending.finish_blocking();
                    let done = result.clone();
                    r.finished.push(tokio::spawn(async move { done }));
                    result
                };
                // The archive then fails with the reason (see `finalize`).
                if let Err(why) = result {
                    tracing::warn!(archive = %id, reason = %why, "a stream recorder failed: stopping the archive");
                    let _ = self.stop(&id, &format!("recording failed: {why}")).await;
                }
            }
        }
    }

    /// Finishes archives a previous run left `started` or `stopped` (it was killed): the
    /// stream files are repaired, and the output is made from what was saved.
    pub(super) async fn recover(self: Arc<Self>) {
        let mut unfinished = Vec::new();
        for status in [ArchiveStatus::Started, ArchiveStatus::Stopped] {
            match self.db(move |s| s.archives_in_status(status)).await {
                Ok(found) => unfinished.extend(found),
                Err(e) => tracing::error!(error = %e, "cannot read archives to recover"),
            }
        }
        for mut record in unfinished {
            if !valid_id(&record.id) {
                continue;
            }
            let dir = self.dir(&record.project_id, &record.id);
            let recovered = journal::recover(&dir, &record);
            if record.status == ArchiveStatus::Started {
                let end = recovered.last_offset_ms;
                record.status = ArchiveStatus::Stopped;
                record.reason = "the server stopped while recording".into();
                record.stopped_at = Some(record.created_at + end as i64);
                record.duration = end / 1000;
                record.updated_at = crate::unix_millis();
                self.save(&record).await;
            }
            tracing::info!(archive = %record.id, files = recovered.files.len(), "finishing an archive left unfinished");
            self.clone()
                .finalize(
                    record,
                    dir,
                    recovered
                        .files
                        .into_iter()
                        .map(super::finish::finished)
                        .collect(),
                    recovered.events,
                )
                .await;
        }
    }
}
