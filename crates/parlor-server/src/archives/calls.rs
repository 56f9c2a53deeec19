//! The API's calls on existing archives: get, list, delete, live layout changes, and
//! manual-mode stream changes.

use super::model::{ArchiveRecord, ArchiveStatus, LayoutRecord, OutputMode, StreamMode};
use super::{ArchiveError, Archives, StreamChange, valid_id};
use crate::signaling::lock;
use parlor_compositor::timeline::EventKind;

impl Archives {
    /// One archive.
    pub async fn get_archive(
        &self,
        project_id: &str,
        id: &str,
    ) -> Result<ArchiveRecord, ArchiveError> {
        if !valid_id(id) {
            return Err(ArchiveError::NotFound(format!(
                "archive {id} does not exist"
            )));
        }
        if let Some(r) = self.current(id).filter(|r| r.project_id == project_id) {
            return Ok(r);
        }
        if let Some(r) = lock(&self.unsaved)
            .get(id)
            .filter(|r| r.project_id == project_id && r.status != ArchiveStatus::Deleted)
        {
            return Ok(r.clone());
        }
        let (p, i) = (project_id.to_owned(), id.to_owned());
        self.db(move |s| s.archive(&p, &i))
            .await?
            .filter(|a| a.status != ArchiveStatus::Deleted)
            .ok_or_else(|| ArchiveError::NotFound(format!("archive {id} does not exist")))
    }

    /// A page of archives, newest first.
    pub async fn list_archives(
        &self,
        project_id: &str,
        session_id: Option<String>,
        offset: usize,
        count: usize,
    ) -> Result<(usize, Vec<ArchiveRecord>), ArchiveError> {
        let p = project_id.to_owned();
        let (total, mut items) = self
            .db(move |s| s.archives(&p, session_id.as_deref(), offset, count))
            .await?;
        for item in &mut items {
            if let Some(live) = self.current(&item.id) {
                *item = live;
            } else if let Some(newer) = lock(&self.unsaved).get(&item.id) {
                *item = newer.clone();
            }
        }
        Ok((total, items))
    }

    /// Deletes an archive's files and marks it deleted.
    pub async fn delete_archive(&self, project_id: &str, id: &str) -> Result<(), ArchiveError> {
        let mut record = self.get_archive(project_id, id).await?;
        if matches!(
            record.status,
            ArchiveStatus::Started | ArchiveStatus::Paused | ArchiveStatus::Stopped
        ) {
            return Err(ArchiveError::Conflict(format!(
                "archive {id} is {}: stop it and wait until it is available before deleting it",
                record.status.as_str()
            )));
        }
        let dir = self.dir(project_id, id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| {
                ArchiveError::Internal(format!("cannot delete the archive's files: {e}"))
            })?;
        }
        record.status = ArchiveStatus::Deleted;
        record.updated_at = crate::unix_millis();
        record.output_file = None;
        let r = record.clone();
        self.db(move |s| s.put_archive(&r)).await?;
        Ok(())
    }

    /// Changes a running composed archive's layout.
    pub async fn set_layout(
        &self,
        project_id: &str,
        id: &str,
        layout: LayoutRecord,
    ) -> Result<ArchiveRecord, ArchiveError> {
        let spec = layout.to_spec().map_err(ArchiveError::BadRequest)?;
        let record = self.get_archive(project_id, id).await?;
        if record.output_mode != OutputMode::Composed {
            return Err(ArchiveError::BadRequest(format!(
                "archive {id} is an individual archive: only composed archives have a layout"
            )));
        }
        let updated = {
            let mut running = lock(&self.running);
            let Some(r) = running.get_mut(id) else {
                return Err(ArchiveError::Conflict(format!(
                    "archive {id} is not being recorded (its status is {})",
                    record.status.as_str()
                )));
            };
            r.record.layout = layout;
            r.event(EventKind::Layout(spec));
            r.record.clone()
        };
        let u = updated.clone();
        self.db(move |s| s.put_archive(&u)).await?;
        Ok(updated)
    }

    /// Adds or removes a stream of a manual-mode archive.
    pub async fn change_streams(
        &self,
        project_id: &str,
        id: &str,
        change: StreamChange,
    ) -> Result<(), ArchiveError> {
        let record = self.get_archive(project_id, id).await?;
        if record.stream_mode != StreamMode::Manual {
            return Err(ArchiveError::NotAllowed(format!(
                "archive {id} records every stream (streamMode auto): streams can be chosen only with streamMode manual"
            )));
        }
        let start = {
            let mut running = lock(&self.running);
            let Some(r) = running.get_mut(id) else {
                return Err(ArchiveError::Conflict(format!(
                    "archive {id} is not being recorded (its status is {})",
                    record.status.as_str()
                )));
            };
            super::apply_stream_change(
                &mut r.record.streams,
                &change,
                |s| r.known.contains_key(s),
                &format!("archive {id}"),
                &r.record.session_id,
            )?;
            r.sync_live();
            match change {
                StreamChange::Add { stream_id, .. } => Some(stream_id),
                StreamChange::Remove { stream_id } => {
                    self.end_stream(r, &stream_id);
                    None
                }
            }
        };
        if let Some(stream_id) = start {
            self.record_stream(id, &stream_id).await;
        }
        if let Some(r) = self.current(id) {
            self.db(move |s| s.put_archive(&r)).await?;
        }
        Ok(())
    }
}
