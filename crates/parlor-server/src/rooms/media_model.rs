//! Room recordings and compositions: their records and tables, with the queries the Rooms
//! API lists them by (in the style of [`super::model`]).
//!
//! Times are milliseconds since the Unix epoch. A recording's file is
//! `<data dir>/rooms/recordings/<project>/<recording id>.<ext>`, a composition's
//! `<data dir>/rooms/compositions/<project>/<composition id>.mp4`; the IDs are UUIDs made
//! here, checked before any path is made from one.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params};

use super::model::{Listed, Page, TimeRange, Where, list};
use crate::store::{Store, StoreError};

/// The schema (one migration of [`crate::store`]).
pub const SCHEMA: &str = r#"
CREATE TABLE room_recordings (
    recording_id    TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL,
    room_id         TEXT NOT NULL,
    room_session_id TEXT NOT NULL,
    participant_id  TEXT NOT NULL,
    stream_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    codec           TEXT,
    file_name       TEXT,
    duration_secs   INTEGER,
    size_bytes      INTEGER,
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    completed_at    INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX room_recordings_by_project ON room_recordings(project_id, started_at);
CREATE INDEX room_recordings_by_session ON room_recordings(room_session_id);
CREATE TABLE room_compositions (
    composition_id             TEXT PRIMARY KEY,
    project_id                 TEXT NOT NULL,
    room_id                    TEXT NOT NULL,
    room_session_id            TEXT NOT NULL,
    format                     TEXT NOT NULL,
    resolution                 TEXT NOT NULL,
    video_layout               TEXT NOT NULL,
    status                     TEXT NOT NULL,
    reason                     TEXT,
    duration_secs              INTEGER,
    size_bytes                 INTEGER,
    webhook_event_url          TEXT,
    webhook_event_failover_url TEXT,
    webhook_timeout_secs       INTEGER,
    started_at                 INTEGER,
    ended_at                   INTEGER,
    completed_at               INTEGER,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);
CREATE INDEX room_compositions_by_project ON room_compositions(project_id, created_at);
"#;

/// `processing` while recording, `completed` once the file is whole.
pub const PROCESSING: &str = "processing";
pub const COMPLETED: &str = "completed";
/// Compositions: waiting for the compositor, then being rendered.
pub const ENQUEUED: &str = "enqueued";
/// A composition that could not be rendered (`reason` says why).
pub const FAILED: &str = "failed";

/// One participant's one track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRecord {
    pub recording_id: String,
    pub project_id: String,
    pub room_id: String,
    pub room_session_id: String,
    pub participant_id: String,
    /// The Parlor stream it recorded.
    pub stream_id: String,
    /// `audio` or `video`.
    pub kind: String,
    pub status: String,
    pub codec: Option<String>,
    /// The file's name in the project's directory, once known.
    pub file_name: Option<String>,
    pub duration_secs: Option<i64>,
    pub size_bytes: Option<u64>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A composition of a room session's recordings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompositionRecord {
    pub composition_id: String,
    pub project_id: String,
    pub room_id: String,
    pub room_session_id: String,
    pub format: String,
    pub resolution: String,
    /// The `video_layout` as given (JSON).
    pub video_layout: String,
    pub status: String,
    pub reason: Option<String>,
    pub duration_secs: Option<i64>,
    pub size_bytes: Option<u64>,
    pub webhook_event_url: Option<String>,
    pub webhook_event_failover_url: Option<String>,
    pub webhook_timeout_secs: Option<u32>,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct RecordingFilter {
    pub room_id: Option<String>,
    pub room_session_id: Option<String>,
    pub participant_id: Option<String>,
    pub status: Option<String>,
    pub kind: Option<String>,
    pub duration_secs: Option<i64>,
    pub started: TimeRange,
    pub ended: TimeRange,
}

#[derive(Debug, Clone, Default)]
pub struct CompositionFilter {
    pub room_session_id: Option<String>,
    pub status: Option<String>,
    pub created: TimeRange,
}

const RECORDING_COLUMNS: &str = "recording_id, project_id, room_id, room_session_id, \
    participant_id, stream_id, kind, status, codec, file_name, duration_secs, size_bytes, \
    started_at, ended_at, completed_at, created_at, updated_at";

fn recording_row(r: &Row) -> rusqlite::Result<RecordingRecord> {
    Ok(RecordingRecord {
        recording_id: r.get(0)?,
        project_id: r.get(1)?,
        room_id: r.get(2)?,
        room_session_id: r.get(3)?,
        participant_id: r.get(4)?,
        stream_id: r.get(5)?,
        kind: r.get(6)?,
        status: r.get(7)?,
        codec: r.get(8)?,
        file_name: r.get(9)?,
        duration_secs: r.get(10)?,
        size_bytes: r.get::<_, Option<i64>>(11)?.map(|n| n.max(0) as u64),
        started_at: r.get(12)?,
        ended_at: r.get(13)?,
        completed_at: r.get(14)?,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
    })
}

const COMPOSITION_COLUMNS: &str = "composition_id, project_id, room_id, room_session_id, \
    format, resolution, video_layout, status, reason, duration_secs, size_bytes, \
    webhook_event_url, webhook_event_failover_url, webhook_timeout_secs, started_at, \
    ended_at, completed_at, created_at, updated_at";

fn composition_row(r: &Row) -> rusqlite::Result<CompositionRecord> {
    Ok(CompositionRecord {
        composition_id: r.get(0)?,
        project_id: r.get(1)?,
        room_id: r.get(2)?,
        room_session_id: r.get(3)?,
        format: r.get(4)?,
        resolution: r.get(5)?,
        video_layout: r.get(6)?,
        status: r.get(7)?,
        reason: r.get(8)?,
        duration_secs: r.get(9)?,
        size_bytes: r.get::<_, Option<i64>>(10)?.map(|n| n.max(0) as u64),
        webhook_event_url: r.get(11)?,
        webhook_event_failover_url: r.get(12)?,
        webhook_timeout_secs: r.get(13)?,
        started_at: r.get(14)?,
        ended_at: r.get(15)?,
        completed_at: r.get(16)?,
        created_at: r.get(17)?,
        updated_at: r.get(18)?,
    })
}

fn recording_where(project_id: &str, f: &RecordingFilter) -> Where {
    let mut w = Where::default();
    w.eq("project_id", project_id.to_owned());
    w.opt("room_id", &f.room_id);
    w.opt("room_session_id", &f.room_session_id);
    w.opt("participant_id", &f.participant_id);
    w.opt("status", &f.status);
    w.opt("kind", &f.kind);
    w.opt("duration_secs", &f.duration_secs);
    w.range("started_at", f.started);
    w.range("ended_at", f.ended);
    w
}

fn all_of<T>(
    store: &Store,
    sql: &str,
    values: &[Value],
    row: fn(&Row) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let conn = store.conn();
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(values.iter()), row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

impl Store {
    pub fn insert_recording(&self, r: &RecordingRecord) -> Result<(), StoreError> {
        self.conn().execute(
            &format!(
                "INSERT INTO room_recordings ({RECORDING_COLUMNS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
            ),
            params![
                r.recording_id,
                r.project_id,
                r.room_id,
                r.room_session_id,
                r.participant_id,
                r.stream_id,
                r.kind,
                r.status,
                r.codec,
                r.file_name,
                r.duration_secs,
                r.size_bytes.map(|n| n as i64),
                r.started_at,
                r.ended_at,
                r.completed_at,
                r.created_at,
                r.updated_at,
            ],
        )?;
        Ok(())
    }

    /// Completes a `processing` recording; false if it was not (deleted, or done).
    pub fn complete_recording(&self, r: &RecordingRecord) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE room_recordings SET status = ?2, codec = ?3, file_name = ?4, \
             duration_secs = ?5, size_bytes = ?6, ended_at = ?7, completed_at = ?8, \
             updated_at = ?9 WHERE recording_id = ?1 AND status = 'processing'",
            params![
                r.recording_id,
                r.status,
                r.codec,
                r.file_name,
                r.duration_secs,
                r.size_bytes.map(|n| n as i64),
                r.ended_at,
                r.completed_at,
                r.updated_at,
            ],
        )?;
        Ok(n == 1)
    }

    pub fn recording(&self, recording_id: &str) -> Result<Option<RecordingRecord>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {RECORDING_COLUMNS} FROM room_recordings WHERE recording_id = ?1"),
                params![recording_id],
                recording_row,
            )
            .optional()?)
    }

    /// A project's recordings, newest first.
    pub fn recordings(
        &self,
        project_id: &str,
        filter: &RecordingFilter,
        page: Page,
    ) -> Result<Listed<RecordingRecord>, StoreError> {
        list(
            self,
            RECORDING_COLUMNS,
            "room_recordings",
            &recording_where(project_id, filter),
            "started_at DESC, recording_id",
            page,
            recording_row,
        )
    }

    /// Every recording matching, unpaged (bulk deletion).
    pub fn recordings_matching(
        &self,
        project_id: &str,
        filter: &RecordingFilter,
    ) -> Result<Vec<RecordingRecord>, StoreError> {
        let w = recording_where(project_id, filter);
        all_of(
            self,
            &format!("SELECT {RECORDING_COLUMNS} FROM room_recordings{}", w.sql()),
            &w.values,
            recording_row,
        )
    }

    /// A room session's recordings, oldest first.
    pub fn recordings_of_session(
        &self,
        room_session_id: &str,
    ) -> Result<Vec<RecordingRecord>, StoreError> {
        all_of(
            self,
            &format!(
                "SELECT {RECORDING_COLUMNS} FROM room_recordings WHERE room_session_id = ?1 \
                 ORDER BY started_at, recording_id"
            ),
            &[room_session_id.to_owned().into()],
            recording_row,
        )
    }

    /// Recordings left `processing` (by a crash, at startup).
    pub fn processing_recordings(&self) -> Result<Vec<RecordingRecord>, StoreError> {
        all_of(
            self,
            &format!("SELECT {RECORDING_COLUMNS} FROM room_recordings WHERE status = 'processing'"),
            &[],
            recording_row,
        )
    }

    /// Deletes a completed recording's row; false if there is none (or it is processing).
    pub fn delete_recording(&self, recording_id: &str) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "DELETE FROM room_recordings WHERE recording_id = ?1 AND status <> 'processing'",
            params![recording_id],
        )?;
        Ok(n == 1)
    }

    pub fn insert_composition(&self, c: &CompositionRecord) -> Result<(), StoreError> {
        self.conn().execute(
            &format!(
                "INSERT INTO room_compositions ({COMPOSITION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, \
                 ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
            ),
            params![
                c.composition_id,
                c.project_id,
                c.room_id,
                c.room_session_id,
                c.format,
                c.resolution,
                c.video_layout,
                c.status,
                c.reason,
                c.duration_secs,
                c.size_bytes.map(|n| n as i64),
                c.webhook_event_url,
                c.webhook_event_failover_url,
                c.webhook_timeout_secs,
                c.started_at,
                c.ended_at,
                c.completed_at,
                c.created_at,
                c.updated_at,
            ],
        )?;
        Ok(())
    }

    /// Writes a composition's progress; false if it was deleted meanwhile.
    pub fn update_composition(&self, c: &CompositionRecord) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE room_compositions SET status = ?2, reason = ?3, duration_secs = ?4, \
             size_bytes = ?5, started_at = ?6, ended_at = ?7, completed_at = ?8, \
             updated_at = ?9 WHERE composition_id = ?1",
            params![
                c.composition_id,
                c.status,
                c.reason,
                c.duration_secs,
                c.size_bytes.map(|n| n as i64),
                c.started_at,
                c.ended_at,
                c.completed_at,
                c.updated_at,
            ],
        )?;
        Ok(n == 1)
    }

    pub fn composition(
        &self,
        composition_id: &str,
    ) -> Result<Option<CompositionRecord>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT {COMPOSITION_COLUMNS} FROM room_compositions WHERE composition_id = ?1"
                ),
                params![composition_id],
                composition_row,
            )
            .optional()?)
    }

    /// A project's compositions, newest first.
    pub fn compositions(
        &self,
        project_id: &str,
        filter: &CompositionFilter,
        page: Page,
    ) -> Result<Listed<CompositionRecord>, StoreError> {
        let mut w = Where::default();
        w.eq("project_id", project_id.to_owned());
        w.opt("room_session_id", &filter.room_session_id);
        w.opt("status", &filter.status);
        w.range("created_at", filter.created);
        list(
            self,
            COMPOSITION_COLUMNS,
            "room_compositions",
            &w,
            "created_at DESC, composition_id",
            page,
            composition_row,
        )
    }

    /// Compositions not finished (enqueued, or processing when the server stopped), oldest
    /// first.
    pub fn unfinished_compositions(&self) -> Result<Vec<CompositionRecord>, StoreError> {
        all_of(
            self,
            &format!(
                "SELECT {COMPOSITION_COLUMNS} FROM room_compositions \
                 WHERE status IN ('enqueued', 'processing') ORDER BY created_at"
            ),
            &[],
            composition_row,
        )
    }

    pub fn delete_composition(&self, composition_id: &str) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "DELETE FROM room_compositions WHERE composition_id = ?1",
            params![composition_id],
        )?;
        Ok(n == 1)
    }
}
