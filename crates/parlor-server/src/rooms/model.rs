//! The Rooms domain's durable records: rooms, room sessions (each a Parlor session) and
//! participants (each a connection), with the queries the Rooms API lists them by.
//!
//! Times are milliseconds since the Unix epoch. A room is soft-deleted (`deleted_at`), so
//! its sessions and participants stay listable and its name is free again.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params};

use crate::store::{Store, StoreError};

/// The schema (one migration of [`crate::store`]).
pub const SCHEMA: &str = r#"
CREATE TABLE rooms (
    room_id                    TEXT PRIMARY KEY,
    project_id                 TEXT NOT NULL,
    unique_name                TEXT,
    max_participants           INTEGER NOT NULL,
    enable_recording           INTEGER NOT NULL,
    webhook_event_url          TEXT,
    webhook_event_failover_url TEXT,
    webhook_timeout_secs       INTEGER,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL,
    deleted_at                 INTEGER
);
CREATE UNIQUE INDEX rooms_unique_name ON rooms(project_id, unique_name)
    WHERE deleted_at IS NULL AND unique_name IS NOT NULL;
CREATE INDEX rooms_by_project ON rooms(project_id, created_at);
CREATE TABLE room_sessions (
    room_session_id TEXT PRIMARY KEY,
    room_id         TEXT NOT NULL REFERENCES rooms(room_id),
    session_id      TEXT NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    ended_reason    TEXT
);
CREATE UNIQUE INDEX room_sessions_one_active ON room_sessions(room_id) WHERE ended_at IS NULL;
CREATE TABLE room_participants (
    participant_id  TEXT PRIMARY KEY,
    room_session_id TEXT NOT NULL REFERENCES room_sessions(room_session_id),
    context         TEXT,
    joined_at       INTEGER NOT NULL,
    left_at         INTEGER,
    left_reason     TEXT,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX room_participants_by_session ON room_participants(room_session_id, joined_at);
"#;

/// A room: a persistent, named configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRecord {
    pub room_id: String,
    pub project_id: String,
    pub unique_name: Option<String>,
    pub max_participants: u32,
    pub enable_recording: bool,
    pub webhook_event_url: Option<String>,
    pub webhook_event_failover_url: Option<String>,
    pub webhook_timeout_secs: Option<u32>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    /// The live session, if one is.
    pub active_session_id: Option<String>,
}

/// One live period of a room: a Parlor session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSessionRecord {
    pub room_session_id: String,
    pub room_id: String,
    /// The Parlor session it is.
    pub session_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub ended_at: Option<i64>,
    pub ended_reason: Option<String>,
}

impl RoomSessionRecord {
    pub fn active(&self) -> bool {
        self.ended_at.is_none()
    }
}

/// One connection to a room session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantRecord {
    /// The connection's ID.
    pub participant_id: String,
    pub room_session_id: String,
    pub context: Option<String>,
    pub joined_at: i64,
    pub left_at: Option<i64>,
    pub left_reason: Option<String>,
    pub updated_at: i64,
}

/// A time range filter (`filter[date_*][eq|gte|lte]`), inclusive milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl TimeRange {
    pub fn is_empty(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

/// Which rows of a list, and which page of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based.
    pub number: u32,
    pub size: u32,
}

/// A page of rows and how many rows match in all.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub total: u64,
}

#[derive(Debug, Clone, Default)]
pub struct RoomFilter {
    pub unique_name: Option<String>,
    pub created: TimeRange,
    pub updated: TimeRange,
}

#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub room_id: Option<String>,
    pub active: Option<bool>,
    pub created: TimeRange,
    pub updated: TimeRange,
    pub ended: TimeRange,
}

#[derive(Debug, Clone, Default)]
pub struct ParticipantFilter {
    pub room_session_id: Option<String>,
    pub context: Option<String>,
    pub joined: TimeRange,
    pub left: TimeRange,
    pub updated: TimeRange,
}

/// A WHERE clause under construction (the Rooms lists', also [`super::media_model`]'s).
#[derive(Default)]
pub(super) struct Where {
    clauses: Vec<String>,
    pub(super) values: Vec<Value>,
}

impl Where {
    pub(super) fn eq(&mut self, column: &str, value: impl Into<Value>) {
        self.values.push(value.into());
        self.clauses
            .push(format!("{column} = ?{}", self.values.len()));
    }

    /// `column = value` when there is a value.
    pub(super) fn opt(&mut self, column: &str, value: &Option<impl Clone + Into<Value>>) {
        if let Some(v) = value {
            self.eq(column, v.clone());
        }
    }

    pub(super) fn range(&mut self, column: &str, range: TimeRange) {
        if let Some(from) = range.from {
            self.values.push(from.into());
            self.clauses
                .push(format!("{column} >= ?{}", self.values.len()));
        }
        if let Some(to) = range.to {
            self.values.push(to.into());
            self.clauses
                .push(format!("{column} <= ?{}", self.values.len()));
        }
    }

    pub(super) fn raw(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }

    pub(super) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }
}

const ROOM_COLUMNS: &str = "r.room_id, r.project_id, r.unique_name, r.max_participants, \
    r.enable_recording, r.webhook_event_url, r.webhook_event_failover_url, \
    r.webhook_timeout_secs, r.created_at, r.updated_at, r.deleted_at, \
    (SELECT room_session_id FROM room_sessions s WHERE s.room_id = r.room_id AND s.ended_at IS NULL)";

fn room_row(r: &Row) -> rusqlite::Result<RoomRecord> {
    Ok(RoomRecord {
        room_id: r.get(0)?,
        project_id: r.get(1)?,
        unique_name: r.get(2)?,
        max_participants: r.get(3)?,
        enable_recording: r.get(4)?,
        webhook_event_url: r.get(5)?,
        webhook_event_failover_url: r.get(6)?,
        webhook_timeout_secs: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        deleted_at: r.get(10)?,
        active_session_id: r.get(11)?,
    })
}

const SESSION_COLUMNS: &str = "s.room_session_id, s.room_id, s.session_id, s.created_at, s.updated_at, s.ended_at, s.ended_reason";

fn session_row(r: &Row) -> rusqlite::Result<RoomSessionRecord> {
    Ok(RoomSessionRecord {
        room_session_id: r.get(0)?,
        room_id: r.get(1)?,
        session_id: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
        ended_at: r.get(5)?,
        ended_reason: r.get(6)?,
    })
}

const PARTICIPANT_COLUMNS: &str = "p.participant_id, p.room_session_id, p.context, p.joined_at, \
    p.left_at, p.left_reason, p.updated_at";

fn participant_row(r: &Row) -> rusqlite::Result<ParticipantRecord> {
    Ok(ParticipantRecord {
        participant_id: r.get(0)?,
        room_session_id: r.get(1)?,
        context: r.get(2)?,
        joined_at: r.get(3)?,
        left_at: r.get(4)?,
        left_reason: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

/// Runs a count and a page query over `from` + `filter`.
pub(super) fn list<T>(
    store: &Store,
    columns: &str,
    from: &str,
    filter: &Where,
    order: &str,
    page: Page,
    row: fn(&Row) -> rusqlite::Result<T>,
) -> Result<Listed<T>, StoreError> {
    let conn = store.conn();
    let where_sql = filter.sql();
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM {from}{where_sql}"),
        rusqlite::params_from_iter(filter.values.iter()),
        |r| r.get(0),
    )?;
    let offset = (u64::from(page.number) - 1) * u64::from(page.size);
    let mut stmt = conn.prepare(&format!(
        "SELECT {columns} FROM {from}{where_sql} ORDER BY {order} LIMIT {} OFFSET {offset}",
        page.size
    ))?;
    let items = stmt
        .query_map(rusqlite::params_from_iter(filter.values.iter()), row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Listed {
        items,
        total: total as u64,
    })
}

/// Whether an insert or update failed on the unique-name index.
pub fn is_unique_violation(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _))
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

impl Store {
    pub fn insert_room(&self, room: &RoomRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO rooms (room_id, project_id, unique_name, max_participants, \
             enable_recording, webhook_event_url, webhook_event_failover_url, \
             webhook_timeout_secs, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                room.room_id,
                room.project_id,
                room.unique_name,
                room.max_participants,
                room.enable_recording,
                room.webhook_event_url,
                room.webhook_event_failover_url,
                room.webhook_timeout_secs,
                room.created_at,
                room.updated_at,
            ],
        )?;
        Ok(())
    }

    /// Writes a room's settings (everything but its ID, project and creation time).
    pub fn update_room(&self, room: &RoomRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE rooms SET unique_name = ?2, max_participants = ?3, enable_recording = ?4, \
             webhook_event_url = ?5, webhook_event_failover_url = ?6, \
             webhook_timeout_secs = ?7, updated_at = ?8 WHERE room_id = ?1",
            params![
                room.room_id,
                room.unique_name,
                room.max_participants,
                room.enable_recording,
                room.webhook_event_url,
                room.webhook_event_failover_url,
                room.webhook_timeout_secs,
                room.updated_at,
            ],
        )?;
        Ok(())
    }

    /// Marks a room deleted; false if it was not there (or already deleted).
    pub fn delete_room(&self, room_id: &str, now: i64) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE rooms SET deleted_at = ?2, updated_at = ?2 \
             WHERE room_id = ?1 AND deleted_at IS NULL",
            params![room_id, now],
        )?;
        Ok(n == 1)
    }

    /// A room, deleted ones included (the caller decides what a deleted room means).
    pub fn room(&self, room_id: &str) -> Result<Option<RoomRecord>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {ROOM_COLUMNS} FROM rooms r WHERE r.room_id = ?1"),
                params![room_id],
                room_row,
            )
            .optional()?)
    }

    /// A project's rooms (not deleted), newest first.
    pub fn rooms(
        &self,
        project_id: &str,
        filter: &RoomFilter,
        page: Page,
    ) -> Result<Listed<RoomRecord>, StoreError> {
        let mut w = Where::default();
        w.eq("r.project_id", project_id.to_owned());
        w.raw("r.deleted_at IS NULL");
        if let Some(name) = &filter.unique_name {
            w.eq("r.unique_name", name.clone());
        }
        w.range("r.created_at", filter.created);
        w.range("r.updated_at", filter.updated);
        list(
            self,
            ROOM_COLUMNS,
            "rooms r",
            &w,
            "r.created_at DESC, r.room_id",
            page,
            room_row,
        )
    }

    /// Starts a room session. Fails (unique index) if the room has an active one.
    pub fn insert_room_session(&self, s: &RoomSessionRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO room_sessions (room_session_id, room_id, session_id, created_at, \
             updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![s.room_session_id, s.room_id, s.session_id, s.created_at],
        )?;
        Ok(())
    }

    /// Ends a room session, and marks its remaining participants left (same time and
    /// reason). False if it had ended already.
    pub fn end_room_session(
        &self,
        room_session_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "UPDATE room_sessions SET ended_at = ?2, updated_at = ?2, ended_reason = ?3 \
             WHERE room_session_id = ?1 AND ended_at IS NULL",
            params![room_session_id, now, reason],
        )?;
        tx.execute(
            "UPDATE room_participants SET left_at = ?2, updated_at = ?2, left_reason = ?3 \
             WHERE room_session_id = ?1 AND left_at IS NULL",
            params![room_session_id, now, reason],
        )?;
        tx.commit()?;
        Ok(n == 1)
    }

    /// Every room session still marked active (after a crash, none is live).
    pub fn active_room_sessions(&self) -> Result<Vec<RoomSessionRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {SESSION_COLUMNS} FROM room_sessions s WHERE s.ended_at IS NULL"
        ))?;
        let rows = stmt
            .query_map([], session_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// A room session with its room's project.
    pub fn room_session(
        &self,
        room_session_id: &str,
    ) -> Result<Option<(RoomSessionRecord, String)>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT {SESSION_COLUMNS}, r.project_id FROM room_sessions s \
                     JOIN rooms r ON r.room_id = s.room_id WHERE s.room_session_id = ?1"
                ),
                params![room_session_id],
                |r| Ok((session_row(r)?, r.get(7)?)),
            )
            .optional()?)
    }

    /// The room session that is the Parlor session `session_id`, if one is.
    pub fn room_session_of(
        &self,
        session_id: &str,
    ) -> Result<Option<RoomSessionRecord>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM room_sessions s WHERE s.session_id = ?1"),
                params![session_id],
                session_row,
            )
            .optional()?)
    }

    /// A project's room sessions, newest first.
    pub fn room_sessions(
        &self,
        project_id: &str,
        filter: &SessionFilter,
        page: Page,
    ) -> Result<Listed<RoomSessionRecord>, StoreError> {
        let mut w = Where::default();
        w.eq("r.project_id", project_id.to_owned());
        if let Some(room) = &filter.room_id {
            w.eq("s.room_id", room.clone());
        }
        match filter.active {
            Some(true) => w.raw("s.ended_at IS NULL"),
            Some(false) => w.raw("s.ended_at IS NOT NULL"),
            None => {}
        }
        w.range("s.created_at", filter.created);
        w.range("s.updated_at", filter.updated);
        w.range("s.ended_at", filter.ended);
        list(
            self,
            SESSION_COLUMNS,
            "room_sessions s JOIN rooms r ON r.room_id = s.room_id",
            &w,
            "s.created_at DESC, s.room_session_id",
            page,
            session_row,
        )
    }

    pub fn insert_participant(&self, p: &ParticipantRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR IGNORE INTO room_participants (participant_id, room_session_id, context, \
             joined_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![p.participant_id, p.room_session_id, p.context, p.joined_at],
        )?;
        Ok(())
    }

    /// Marks a participant left; false if it had left already.
    pub fn participant_left(
        &self,
        participant_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE room_participants SET left_at = ?2, updated_at = ?2, left_reason = ?3 \
             WHERE participant_id = ?1 AND left_at IS NULL",
            params![participant_id, now, reason],
        )?;
        Ok(n == 1)
    }

    /// A participant with its room's project.
    pub fn participant(
        &self,
        participant_id: &str,
    ) -> Result<Option<(ParticipantRecord, String)>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT {PARTICIPANT_COLUMNS}, r.project_id FROM room_participants p \
                     JOIN room_sessions s ON s.room_session_id = p.room_session_id \
                     JOIN rooms r ON r.room_id = s.room_id WHERE p.participant_id = ?1"
                ),
                params![participant_id],
                |r| Ok((participant_row(r)?, r.get(7)?)),
            )
            .optional()?)
    }

    /// A project's participants, oldest first (the order they joined).
    pub fn participants(
        &self,
        project_id: &str,
        filter: &ParticipantFilter,
        page: Page,
    ) -> Result<Listed<ParticipantRecord>, StoreError> {
        let mut w = Where::default();
        w.eq("r.project_id", project_id.to_owned());
        if let Some(s) = &filter.room_session_id {
            w.eq("p.room_session_id", s.clone());
        }
        if let Some(c) = &filter.context {
            w.eq("p.context", c.clone());
        }
        w.range("p.joined_at", filter.joined);
        w.range("p.left_at", filter.left);
        w.range("p.updated_at", filter.updated);
        list(
            self,
            PARTICIPANT_COLUMNS,
            "room_participants p JOIN room_sessions s ON s.room_session_id = p.room_session_id \
             JOIN rooms r ON r.room_id = s.room_id",
            &w,
            "p.joined_at, p.participant_id",
            page,
            participant_row,
        )
    }

    /// The participants of some room sessions, for `include_participants` (oldest first).
    pub fn participants_of(
        &self,
        room_session_ids: &[String],
    ) -> Result<Vec<ParticipantRecord>, StoreError> {
        if room_session_ids.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.conn();
        let marks = vec!["?"; room_session_ids.len()].join(", ");
        let mut stmt = conn.prepare(&format!(
            "SELECT {PARTICIPANT_COLUMNS} FROM room_participants p \
             WHERE p.room_session_id IN ({marks}) ORDER BY p.joined_at, p.participant_id"
        ))?;
        let rows = stmt
            .query_map(
                rusqlite::params_from_iter(room_session_ids.iter()),
                participant_row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The sessions of some rooms, for `include_sessions` (newest first).
    pub fn sessions_of_rooms(
        &self,
        room_ids: &[String],
    ) -> Result<Vec<RoomSessionRecord>, StoreError> {
        if room_ids.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.conn();
        let marks = vec!["?"; room_ids.len()].join(", ");
        let mut stmt = conn.prepare(&format!(
            "SELECT {SESSION_COLUMNS} FROM room_sessions s WHERE s.room_id IN ({marks}) \
             ORDER BY s.created_at DESC, s.room_session_id"
        ))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(room_ids.iter()), session_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
