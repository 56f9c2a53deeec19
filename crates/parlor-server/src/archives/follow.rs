//! How archives follow their sessions: streams joining and leaving, layout classes,
//! video on/off (the composed layout's timeline), pausing while nobody publishes,
//! `archiveMode=always`, the automatic stops (60 s after the last client, an hour paused,
//! 4 hours of publishing), expiry at the end of the retention period, and finishing
//! archives a previous run left unfinished.

use std::sync::Arc;
use std::time::Duration;

use parlor_compositor::timeline::EventKind;
use tokio::sync::mpsc;

use super::journal;
use super::model::{ArchiveStatus, LayoutRecord, OutputMode, StreamMode};
use super::{Archives, EMPTY_SESSION_GRACE, StartRequest, StreamInfo, valid_id};
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
                    if let Some(resumed) = self.know_stream(id, &stream, &classes, false) {
                        self.save(&resumed).await;
                    }
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
                    if let Some(resumed) = self.know_stream(id, &stream, &classes, true) {
                        self.save(&resumed).await;
                    }
                    self.record_stream(id, &stream.stream_id).await;
                }
            }
            SessionEvent::StreamDestroyed {
                session_id,
                stream_id,
            } => {
                let mut paused = Vec::new();
                {
                    let mut running = lock(&self.running);
                    for r in running
                        .values_mut()
                        .filter(|r| r.record.session_id == session_id)
                    {
                        if r.known.remove(&stream_id).is_some_and(|i| i.announced) {
                            r.event(EventKind::Removed(stream_id.clone()));
                        }
                        self.end_stream(r, &stream_id);
                        if r.update_paused() {
                            paused.push(r.record.clone());
                        }
                    }
                }
                for record in paused {
                    self.save(&record).await;
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
    /// layout (an `Added` event). A paused archive resumes: its record is returned, to save.
    fn know_stream(
        &self,
        id: &str,
        stream: &Stream,
        classes: &[String],
        announced: bool,
    ) -> Option<super::model::ArchiveRecord> {
        let mut running = lock(&self.running);
        let r = running.get_mut(id)?;
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
        r.update_paused().then(|| r.record.clone())
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

    /// Stops archives whose session has been empty for [`EMPTY_SESSION_GRACE`], that
    /// stayed paused too long or that reached their maximum duration ([`ArchiveLimits`]);
    /// notices recorders that ended by themselves; expires archives whose retention ran out.
    ///
    /// [`ArchiveLimits`]: super::ArchiveLimits
    pub(super) async fn watch_limits(self: Arc<Self>) {
        let limits = self.limits;
        let max_ms = limits.max_duration.as_millis() as u64;
        let max_wall_ms = limits.max_wall_duration().as_millis() as u64;
        let paused_ms = limits.paused_timeout.as_millis() as u64;
        // Retention is checked a tenth as often as its length, between 1 s and 1 min.
        let expiry_every = limits
            .retention
            .map(|r| (r / 10).clamp(Duration::from_secs(1), Duration::from_secs(60)));
        let mut last_expiry: Option<tokio::time::Instant> = None;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let due: Vec<(String, &'static str)> = lock(&self.running)
                .values()
                .filter_map(|r| {
                    let now = r.offset_ms();
                    let reason = if r
                        .empty_since
                        .is_some_and(|t| t.elapsed() >= EMPTY_SESSION_GRACE)
                    {
                        "session ended"
                    } else if r
                        .record
                        .open_pause()
                        .is_some_and(|p| now.saturating_sub(p.from_ms) >= paused_ms)
                    {
                        "no client published while paused"
                    } else if r.record.without_pauses(now) >= max_ms || now >= max_wall_ms {
                        "maximum duration exceeded"
                    } else {
                        return None;
                    };
                    Some((r.record.id.clone(), reason))
                })
                .collect();
            for (id, reason) in due {
                let _ = self.stop(&id, reason).await;
            }
            self.retry_unsaved().await;
            if let (Some(retention), Some(every)) = (limits.retention, expiry_every)
                && last_expiry.is_none_or(|t| t.elapsed() >= every)
            {
                last_expiry = Some(tokio::time::Instant::now());
                self.expire(retention).await;
            }
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

    /// Removes the files of available archives that stopped recording more than
    /// `retention` ago, and marks them `expired`.
    async fn expire(&self, retention: Duration) {
        let before = crate::unix_millis() - retention.as_millis() as i64;
        let due = match self.db(move |s| s.archives_stopped_before(before)).await {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "cannot read archives to expire");
                return;
            }
        };
        for mut record in due {
            if !valid_id(&record.id) {
                continue;
            }
            let dir = self.dir(&record.project_id, &record.id);
            if let Err(e) = std::fs::remove_dir_all(&dir)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::error!(archive = %record.id, error = %e, "cannot remove an expired archive's files");
                continue;
            }
            record.status = ArchiveStatus::Expired;
            record.output_file = None;
            record.updated_at = crate::unix_millis();
            tracing::info!(archive = %record.id, "archive expired: its files were removed");
            self.save(&record).await;
        }
    }

    /// Finishes archives a previous run left `started`, `paused` or `stopped` (it was
    /// killed): the stream files are repaired, and the output is made from what was saved.
    pub(super) async fn recover(self: Arc<Self>) {
        let mut unfinished = Vec::new();
        for status in [
            ArchiveStatus::Started,
            ArchiveStatus::Paused,
            ArchiveStatus::Stopped,
        ] {
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
            if record.status.is_running() {
                let end = recovered.last_offset_ms;
                record.close_pause(end);
                record.status = ArchiveStatus::Stopped;
                record.reason = "the server stopped while recording".into();
                record.stopped_at = Some(record.created_at + end as i64);
                record.duration = record.without_pauses(end) / 1000;
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
                    None,
                )
                .await;
        }
    }
}
