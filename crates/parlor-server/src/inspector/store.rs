//! The history's tables and queries, in the server's SQLite.
//!
//! Meetings, connections, streams and subscriptions are one row each (created when they
//! start, completed when they end); `history_events` is the timeline, one row per
//! [`Record`]. Rows refer to each other by ID without foreign keys: they are written
//! asynchronously, in batches, and pruned by time.

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use serde_json::{Value, json};

use super::record::{ClientInfo, Record, What};
use crate::store::{Store, StoreError};

/// The schema (one migration of [`crate::store`]).
pub(crate) const SCHEMA: &str = r#"
    CREATE TABLE history_meetings (
        meeting_id  TEXT PRIMARY KEY,
        project_id  TEXT NOT NULL,
        session_id  TEXT NOT NULL,
        started_at  INTEGER NOT NULL,
        ended_at    INTEGER,
        end_reason  TEXT
    );
    CREATE INDEX history_meetings_by_project ON history_meetings(project_id, started_at);
    CREATE INDEX history_meetings_by_session ON history_meetings(session_id, started_at);
    CREATE INDEX history_meetings_by_end ON history_meetings(ended_at);
    CREATE TABLE history_connections (
        connection_id TEXT PRIMARY KEY,
        meeting_id    TEXT NOT NULL,
        session_id    TEXT NOT NULL,
        role          TEXT NOT NULL,
        data          TEXT NOT NULL,
        sdk           TEXT,
        sdk_version   TEXT,
        user_agent    TEXT,
        remote_addr   TEXT,
        joined_at     INTEGER NOT NULL,
        left_at       INTEGER,
        leave_reason  TEXT,
        signals_sent  INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX history_connections_by_session ON history_connections(session_id, joined_at);
    CREATE INDEX history_connections_by_meeting ON history_connections(meeting_id);
    CREATE TABLE history_streams (
        stream_id      TEXT PRIMARY KEY,
        meeting_id     TEXT NOT NULL,
        session_id     TEXT NOT NULL,
        connection_id  TEXT NOT NULL,
        name           TEXT NOT NULL,
        video_type     TEXT NOT NULL,
        has_audio      INTEGER NOT NULL,
        has_video      INTEGER NOT NULL,
        created_at     INTEGER NOT NULL,
        destroyed_at   INTEGER,
        destroy_reason TEXT
    );
    CREATE INDEX history_streams_by_session ON history_streams(session_id, created_at);
    CREATE INDEX history_streams_by_meeting ON history_streams(meeting_id);
    CREATE TABLE history_subscriptions (
        subscription_id TEXT PRIMARY KEY,
        meeting_id      TEXT NOT NULL,
        session_id      TEXT NOT NULL,
        stream_id       TEXT NOT NULL,
        connection_id   TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        destroyed_at    INTEGER,
        destroy_reason  TEXT
    );
    CREATE INDEX history_subscriptions_by_session ON history_subscriptions(session_id, created_at);
    CREATE INDEX history_subscriptions_by_meeting ON history_subscriptions(meeting_id);
    CREATE TABLE history_events (
        id              INTEGER PRIMARY KEY,
        session_id      TEXT NOT NULL,
        meeting_id      TEXT,
        at              INTEGER NOT NULL,
        kind            TEXT NOT NULL,
        connection_id   TEXT,
        stream_id       TEXT,
        subscription_id TEXT,
        reason          TEXT,
        detail          TEXT
    );
    CREATE INDEX history_events_by_session ON history_events(session_id, id);
    CREATE INDEX history_events_by_time ON history_events(at);
"#;

/// Media quality windows (a second migration).
pub(crate) const QUALITY_SCHEMA: &str = r#"
    CREATE TABLE history_quality (
        id              INTEGER PRIMARY KEY,
        session_id      TEXT NOT NULL,
        meeting_id      TEXT,
        at              INTEGER NOT NULL,
        stream_id       TEXT NOT NULL,
        subscription_id TEXT,
        connection_id   TEXT NOT NULL,
        media           TEXT NOT NULL,
        window_ms       INTEGER NOT NULL,
        bitrate_bps     INTEGER NOT NULL,
        packets         INTEGER NOT NULL,
        nacks           INTEGER NOT NULL,
        plis            INTEGER NOT NULL,
        loss            REAL,
        jitter_ms       REAL,
        rtt_ms          REAL,
        mos             REAL
    );
    CREATE INDEX history_quality_by_session ON history_quality(session_id, at);
    CREATE INDEX history_quality_by_time ON history_quality(at);
"#;

/// At most this many quality windows are returned per request (the newest).
pub const MAX_QUALITY_ROWS: i64 = 20_000;

/// One window of quality, as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QualityRow {
    pub at: i64,
    pub stream_id: String,
    pub subscription_id: Option<String>,
    pub connection_id: String,
    pub media: String,
    pub window_ms: i64,
    pub bitrate_bps: i64,
    pub packets: i64,
    pub nacks: i64,
    pub plis: i64,
    pub loss: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub rtt_ms: Option<f64>,
    pub mos: Option<f64>,
}

/// At most this many connections, streams or subscriptions are listed per session (the
/// newest); the counts are always complete.
pub const MAX_ROWS_PER_SESSION: i64 = 5000;

/// One session in the list.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SessionSummary {
    pub session_id: String,
    pub first_started_at: i64,
    pub last_started_at: i64,
    /// When the last meeting ended (`None` while one is open).
    pub last_ended_at: Option<i64>,
    pub meetings: i64,
    pub connections: i64,
    pub streams: i64,
}

/// A meeting.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MeetingRow {
    pub id: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
}

/// A connection.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionRow {
    pub id: String,
    pub meeting_id: String,
    pub role: String,
    pub data: String,
    #[serde(flatten)]
    pub client: ClientInfo,
    pub joined_at: i64,
    pub left_at: Option<i64>,
    pub leave_reason: Option<String>,
    pub signals_sent: i64,
}

/// A stream.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StreamRow {
    pub id: String,
    pub meeting_id: String,
    pub connection_id: String,
    pub name: String,
    pub video_type: String,
    pub has_audio: bool,
    pub has_video: bool,
    pub created_at: i64,
    pub destroyed_at: Option<i64>,
    pub destroy_reason: Option<String>,
}

/// A subscription.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionRow {
    pub id: String,
    pub meeting_id: String,
    pub stream_id: String,
    pub connection_id: String,
    pub created_at: i64,
    pub destroyed_at: Option<i64>,
    pub destroy_reason: Option<String>,
}

/// One event of the timeline.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EventRow {
    /// Increasing; the cursor of the events API (`after`).
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub meeting_id: Option<String>,
    pub connection_id: Option<String>,
    pub stream_id: Option<String>,
    pub subscription_id: Option<String>,
    pub reason: Option<String>,
    pub detail: Option<Value>,
}

/// Everything kept about one session.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionHistory {
    pub meetings: Vec<MeetingRow>,
    pub connections: Vec<ConnectionRow>,
    pub streams: Vec<StreamRow>,
    pub subscriptions: Vec<SubscriptionRow>,
    /// Events by kind, over the whole session (for failure rates).
    pub counts: std::collections::BTreeMap<String, i64>,
}

/// The columns an event row gets from a record: connection, stream, subscription, reason,
/// detail.
type EventColumns<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<Value>,
);

fn client_json(c: &ClientInfo) -> Value {
    serde_json::to_value(c).unwrap_or(Value::Null)
}

/// Updates the entity tables for one record and returns its event columns (`None`: it is
/// not an event of the timeline).
fn apply<'a>(tx: &Transaction<'_>, r: &'a Record) -> Result<Option<EventColumns<'a>>, StoreError> {
    let meeting = r.meeting_id.as_deref();
    Ok(Some(match &r.what {
        What::Quality(q) => {
            tx.prepare_cached(
                "INSERT INTO history_quality (session_id, meeting_id, at, stream_id, \
                 subscription_id, connection_id, media, window_ms, bitrate_bps, packets, \
                 nacks, plis, loss, jitter_ms, rtt_ms, mos) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?
            .execute(params![
                r.session_id,
                meeting,
                r.at,
                q.stream_id,
                q.subscription_id,
                q.connection_id,
                q.media,
                q.window_ms,
                i64::try_from(q.bitrate_bps).unwrap_or(i64::MAX),
                i64::try_from(q.packets).unwrap_or(i64::MAX),
                i64::try_from(q.nacks).unwrap_or(i64::MAX),
                i64::try_from(q.plis).unwrap_or(i64::MAX),
                q.loss,
                q.jitter_ms,
                q.rtt_ms,
                q.mos,
            ])?;
            return Ok(None);
        }
        What::MeetingStarted { project_id } => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO history_meetings (meeting_id, project_id, session_id, \
                 started_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![meeting, project_id, r.session_id, r.at])?;
            (None, None, None, None, None)
        }
        What::MeetingEnded => {
            tx.prepare_cached(
                "UPDATE history_meetings SET ended_at = ?2, end_reason = 'lastConnectionLeft' \
                 WHERE meeting_id = ?1 AND ended_at IS NULL",
            )?
            .execute(params![meeting, r.at])?;
            (None, None, None, None, None)
        }
        What::ConnectionCreated {
            connection_id,
            role,
            data,
            client,
        } => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO history_connections (connection_id, meeting_id, \
                 session_id, role, data, sdk, sdk_version, user_agent, remote_addr, joined_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                connection_id,
                meeting,
                r.session_id,
                role,
                data,
                client.sdk,
                client.sdk_version,
                client.user_agent,
                client.remote_addr,
                r.at
            ])?;
            (Some(connection_id.as_str()), None, None, None, None)
        }
        What::ConnectionFailed {
            reason,
            message,
            client,
        } => {
            let mut detail = client_json(client);
            if let Value::Object(d) = &mut detail {
                d.insert("message".into(), message.as_str().into());
            }
            (None, None, None, Some(reason.as_str()), Some(detail))
        }
        What::ConnectionDestroyed {
            connection_id,
            reason,
            signals,
        } => {
            tx.prepare_cached(
                "UPDATE history_connections SET left_at = ?2, leave_reason = ?3, \
                 signals_sent = ?4 WHERE connection_id = ?1",
            )?
            .execute(params![
                connection_id,
                r.at,
                reason,
                i64::try_from(*signals).unwrap_or(i64::MAX)
            ])?;
            let detail = json!({ "signalsSent": signals });
            (
                Some(connection_id.as_str()),
                None,
                None,
                Some(reason.as_str()),
                Some(detail),
            )
        }
        What::StreamCreated {
            stream_id,
            connection_id,
            name,
            video_type,
            has_audio,
            has_video,
        } => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO history_streams (stream_id, meeting_id, session_id, \
                 connection_id, name, video_type, has_audio, has_video, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                stream_id,
                meeting,
                r.session_id,
                connection_id,
                name,
                video_type,
                has_audio,
                has_video,
                r.at
            ])?;
            let detail = json!({
                "name": name, "videoType": video_type,
                "hasAudio": has_audio, "hasVideo": has_video,
            });
            (
                Some(connection_id.as_str()),
                Some(stream_id.as_str()),
                None,
                None,
                Some(detail),
            )
        }
        What::StreamDestroyed { stream_id, reason } => {
            tx.prepare_cached(
                "UPDATE history_streams SET destroyed_at = ?2, destroy_reason = ?3 \
                 WHERE stream_id = ?1",
            )?
            .execute(params![stream_id, r.at, reason])?;
            (
                None,
                Some(stream_id.as_str()),
                None,
                Some(reason.as_str()),
                None,
            )
        }
        What::PublishFailed {
            connection_id,
            stream_id,
            reason,
        } => (
            Some(connection_id.as_str()),
            stream_id.as_deref(),
            None,
            Some(reason.as_str()),
            None,
        ),
        What::SubscriptionCreated {
            subscription_id,
            stream_id,
            connection_id,
        } => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO history_subscriptions (subscription_id, meeting_id, \
                 session_id, stream_id, connection_id, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                subscription_id,
                meeting,
                r.session_id,
                stream_id,
                connection_id,
                r.at
            ])?;
            (
                Some(connection_id.as_str()),
                Some(stream_id.as_str()),
                Some(subscription_id.as_str()),
                None,
                None,
            )
        }
        What::SubscriptionDestroyed {
            subscription_id,
            reason,
        } => {
            tx.prepare_cached(
                "UPDATE history_subscriptions SET destroyed_at = ?2, destroy_reason = ?3 \
                 WHERE subscription_id = ?1",
            )?
            .execute(params![subscription_id, r.at, reason])?;
            (
                None,
                None,
                Some(subscription_id.as_str()),
                Some(reason.as_str()),
                None,
            )
        }
        What::SubscribeFailed {
            connection_id,
            stream_id,
            reason,
        } => (
            Some(connection_id.as_str()),
            Some(stream_id.as_str()),
            None,
            Some(reason.as_str()),
            None,
        ),
        What::Moderation { action, by, target } => {
            let detail = json!({ "action": action, "by": by, "target": target });
            (by.as_deref(), None, None, Some(*action), Some(detail))
        }
        What::ArchiveStarted { archive_id } | What::ArchiveStopped { archive_id } => (
            None,
            None,
            None,
            None,
            Some(json!({ "archiveId": archive_id })),
        ),
    }))
}

fn opt_client(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<ClientInfo> {
    Ok(ClientInfo {
        sdk: row.get(first)?,
        sdk_version: row.get(first + 1)?,
        user_agent: row.get(first + 2)?,
        remote_addr: row.get(first + 3)?,
    })
}

impl Store {
    /// Writes a batch of records in one transaction.
    pub fn write_history(&self, batch: &[Record]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for r in batch {
            let Some((connection, stream, subscription, reason, detail)) = apply(&tx, r)? else {
                continue;
            };
            tx.prepare_cached(
                "INSERT INTO history_events (session_id, meeting_id, at, kind, connection_id, \
                 stream_id, subscription_id, reason, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                r.session_id,
                r.meeting_id,
                r.at,
                r.what.kind(),
                connection,
                stream,
                subscription,
                reason,
                detail.map(|d| d.to_string()),
            ])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Ends what a previous run left open (a crash, `kill -9`, or a shutdown with clients
    /// connected): each open meeting ends at its last event, with `serverStopped`, and so
    /// do its connections, streams and subscriptions. Returns the meetings closed.
    pub fn close_open_history(&self) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS closing (meeting_id TEXT PRIMARY KEY);
             DELETE FROM closing;
             INSERT INTO closing SELECT meeting_id FROM history_meetings WHERE ended_at IS NULL;
             UPDATE history_meetings SET end_reason = 'serverStopped',
                 ended_at = COALESCE((SELECT MAX(at) FROM history_events e
                                      WHERE e.meeting_id = history_meetings.meeting_id),
                                     started_at)
                 WHERE meeting_id IN (SELECT meeting_id FROM closing);
             UPDATE history_connections SET leave_reason = 'serverStopped',
                 left_at = (SELECT ended_at FROM history_meetings m
                            WHERE m.meeting_id = history_connections.meeting_id)
                 WHERE left_at IS NULL AND meeting_id IN (SELECT meeting_id FROM closing);
             UPDATE history_streams SET destroy_reason = 'serverStopped',
                 destroyed_at = (SELECT ended_at FROM history_meetings m
                                 WHERE m.meeting_id = history_streams.meeting_id)
                 WHERE destroyed_at IS NULL AND meeting_id IN (SELECT meeting_id FROM closing);
             UPDATE history_subscriptions SET destroy_reason = 'serverStopped',
                 destroyed_at = (SELECT ended_at FROM history_meetings m
                                 WHERE m.meeting_id = history_subscriptions.meeting_id)
                 WHERE destroyed_at IS NULL AND meeting_id IN (SELECT meeting_id FROM closing);
             INSERT INTO history_events (session_id, meeting_id, at, kind, reason)
                 SELECT session_id, meeting_id, ended_at, 'meetingEnded', 'serverStopped'
                 FROM history_meetings WHERE meeting_id IN (SELECT meeting_id FROM closing);",
        )?;
        let closed: i64 = tx.query_row("SELECT COUNT(*) FROM closing", [], |r| r.get(0))?;
        tx.execute_batch("DROP TABLE closing")?;
        tx.commit()?;
        Ok(usize::try_from(closed).unwrap_or(0))
    }

    /// Deletes what ended before `before_ms` (meetings and their rows), events older than
    /// it, and quality windows older than `quality_before_ms`. Returns the rows deleted.
    pub fn prune_history(
        &self,
        before_ms: i64,
        quality_before_ms: i64,
    ) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut n = 0;
        for table in [
            "history_connections",
            "history_streams",
            "history_subscriptions",
        ] {
            n += tx.execute(
                &format!(
                    "DELETE FROM {table} WHERE meeting_id IN (SELECT meeting_id FROM \
                     history_meetings WHERE ended_at < ?1)"
                ),
                [before_ms],
            )?;
        }
        n += tx.execute(
            "DELETE FROM history_meetings WHERE ended_at < ?1",
            [before_ms],
        )?;
        n += tx.execute("DELETE FROM history_events WHERE at < ?1", [before_ms])?;
        n += tx.execute(
            "DELETE FROM history_quality WHERE at < ?1",
            [quality_before_ms.max(before_ms)],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// A project's sessions with history, the most recently started first, and how many
    /// there are.
    pub fn history_sessions(
        &self,
        project_id: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<SessionSummary>), StoreError> {
        let conn = self.conn();
        let total: i64 = conn.query_row(
            "SELECT COUNT(DISTINCT session_id) FROM history_meetings WHERE project_id = ?1",
            [project_id],
            |r| r.get(0),
        )?;
        let mut stmt = conn.prepare_cached(
            "SELECT m.session_id, MIN(m.started_at), MAX(m.started_at), \
                    CASE WHEN SUM(m.ended_at IS NULL) > 0 THEN NULL ELSE MAX(m.ended_at) END, \
                    COUNT(*), \
                    (SELECT COUNT(*) FROM history_connections c WHERE c.session_id = m.session_id), \
                    (SELECT COUNT(*) FROM history_streams s WHERE s.session_id = m.session_id) \
             FROM history_meetings m WHERE m.project_id = ?1 \
             GROUP BY m.session_id ORDER BY MAX(m.started_at) DESC, m.session_id \
             LIMIT ?2 OFFSET ?3",
        )?;
        let items = stmt
            .query_map(params![project_id, limit, offset], |r| {
                Ok(SessionSummary {
                    session_id: r.get(0)?,
                    first_started_at: r.get(1)?,
                    last_started_at: r.get(2)?,
                    last_ended_at: r.get(3)?,
                    meetings: r.get(4)?,
                    connections: r.get(5)?,
                    streams: r.get(6)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok((total, items))
    }

    /// Everything kept about one session (`None`: nothing).
    pub fn session_history(&self, session_id: &str) -> Result<Option<SessionHistory>, StoreError> {
        let conn = self.conn();
        let meetings = conn
            .prepare_cached(
                "SELECT meeting_id, started_at, ended_at, end_reason FROM history_meetings \
                 WHERE session_id = ?1 ORDER BY started_at, rowid",
            )?
            .query_map([session_id], |r| {
                Ok(MeetingRow {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    ended_at: r.get(2)?,
                    end_reason: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let any_event: Option<i64> = conn
            .query_row(
                "SELECT id FROM history_events WHERE session_id = ?1 LIMIT 1",
                [session_id],
                |r| r.get(0),
            )
            .optional()?;
        if meetings.is_empty() && any_event.is_none() {
            return Ok(None);
        }
        let mut connections = conn
            .prepare_cached(
                "SELECT connection_id, meeting_id, role, data, sdk, sdk_version, user_agent, \
                 remote_addr, joined_at, left_at, leave_reason, signals_sent \
                 FROM history_connections WHERE session_id = ?1 \
                 ORDER BY joined_at DESC, rowid DESC LIMIT ?2",
            )?
            .query_map(params![session_id, MAX_ROWS_PER_SESSION], |r| {
                Ok(ConnectionRow {
                    id: r.get(0)?,
                    meeting_id: r.get(1)?,
                    role: r.get(2)?,
                    data: r.get(3)?,
                    client: opt_client(r, 4)?,
                    joined_at: r.get(8)?,
                    left_at: r.get(9)?,
                    leave_reason: r.get(10)?,
                    signals_sent: r.get(11)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        connections.reverse();
        let mut streams = conn
            .prepare_cached(
                "SELECT stream_id, meeting_id, connection_id, name, video_type, has_audio, \
                 has_video, created_at, destroyed_at, destroy_reason \
                 FROM history_streams WHERE session_id = ?1 ORDER BY created_at DESC, rowid DESC LIMIT ?2",
            )?
            .query_map(params![session_id, MAX_ROWS_PER_SESSION], |r| {
                Ok(StreamRow {
                    id: r.get(0)?,
                    meeting_id: r.get(1)?,
                    connection_id: r.get(2)?,
                    name: r.get(3)?,
                    video_type: r.get(4)?,
                    has_audio: r.get(5)?,
                    has_video: r.get(6)?,
                    created_at: r.get(7)?,
                    destroyed_at: r.get(8)?,
                    destroy_reason: r.get(9)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        streams.reverse();
        let mut subscriptions = conn
            .prepare_cached(
                "SELECT subscription_id, meeting_id, stream_id, connection_id, created_at, \
                 destroyed_at, destroy_reason FROM history_subscriptions \
                 WHERE session_id = ?1 ORDER BY created_at DESC, rowid DESC LIMIT ?2",
            )?
            .query_map(params![session_id, MAX_ROWS_PER_SESSION], |r| {
                Ok(SubscriptionRow {
                    id: r.get(0)?,
                    meeting_id: r.get(1)?,
                    stream_id: r.get(2)?,
                    connection_id: r.get(3)?,
                    created_at: r.get(4)?,
                    destroyed_at: r.get(5)?,
                    destroy_reason: r.get(6)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        subscriptions.reverse();
        let counts = conn
            .prepare_cached(
                "SELECT kind, COUNT(*) FROM history_events WHERE session_id = ?1 GROUP BY kind",
            )?
            .query_map([session_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(Some(SessionHistory {
            meetings,
            connections,
            streams,
            subscriptions,
            counts,
        }))
    }

    /// A session's quality windows since `since_ms`, oldest first (the newest
    /// [`MAX_QUALITY_ROWS`]), optionally of one stream (its publisher side and every
    /// subscription to it).
    pub fn history_quality(
        &self,
        session_id: &str,
        stream_id: Option<&str>,
        since_ms: i64,
    ) -> Result<Vec<QualityRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT at, stream_id, subscription_id, connection_id, media, window_ms, \
             bitrate_bps, packets, nacks, plis, loss, jitter_ms, rtt_ms, mos \
             FROM history_quality \
             WHERE session_id = ?1 AND at >= ?2 AND (?3 IS NULL OR stream_id = ?3) \
             ORDER BY at DESC, id DESC LIMIT ?4",
        )?;
        let mut rows = stmt
            .query_map(
                params![session_id, since_ms, stream_id, MAX_QUALITY_ROWS],
                |r| {
                    Ok(QualityRow {
                        at: r.get(0)?,
                        stream_id: r.get(1)?,
                        subscription_id: r.get(2)?,
                        connection_id: r.get(3)?,
                        media: r.get(4)?,
                        window_ms: r.get(5)?,
                        bitrate_bps: r.get(6)?,
                        packets: r.get(7)?,
                        nacks: r.get(8)?,
                        plis: r.get(9)?,
                        loss: r.get(10)?,
                        jitter_ms: r.get(11)?,
                        rtt_ms: r.get(12)?,
                        mos: r.get(13)?,
                    })
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        rows.reverse();
        Ok(rows)
    }

    /// A session's events after the event `after` (0: from the start), oldest first, of
    /// one kind or all.
    pub fn history_events(
        &self,
        session_id: &str,
        kind: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, at, kind, meeting_id, connection_id, stream_id, subscription_id, \
             reason, detail FROM history_events \
             WHERE session_id = ?1 AND id > ?2 AND (?3 IS NULL OR kind = ?3) \
             ORDER BY id LIMIT ?4",
        )?;
        let rows = stmt
            .query_map(params![session_id, after, kind, limit], |r| {
                let detail: Option<String> = r.get(8)?;
                Ok(EventRow {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    kind: r.get(2)?,
                    meeting_id: r.get(3)?,
                    connection_id: r.get(4)?,
                    stream_id: r.get(5)?,
                    subscription_id: r.get(6)?,
                    reason: r.get(7)?,
                    detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(at: i64, meeting: Option<&str>, what: What) -> Record {
        Record {
            at,
            session_id: "s1".into(),
            meeting_id: meeting.map(str::to_owned),
            what,
        }
    }

    fn meeting(at: i64, id: &str) -> Vec<Record> {
        vec![
            rec(
                at,
                Some(id),
                What::MeetingStarted {
                    project_id: "123".into(),
                },
            ),
            rec(
                at + 1,
                Some(id),
                What::ConnectionCreated {
                    connection_id: format!("c-{id}"),
                    role: "publisher".into(),
                    data: "name=a".into(),
                    client: ClientInfo {
                        sdk: Some("parlor-web".into()),
                        sdk_version: Some("1.0.0".into()),
                        user_agent: Some("Chromium".into()),
                        remote_addr: Some("127.0.0.1".into()),
                    },
                },
            ),
            rec(
                at + 2,
                Some(id),
                What::StreamCreated {
                    stream_id: format!("st-{id}"),
                    connection_id: format!("c-{id}"),
                    name: "cam".into(),
                    video_type: "camera".into(),
                    has_audio: true,
                    has_video: true,
                },
            ),
            rec(
                at + 3,
                Some(id),
                What::PublishFailed {
                    connection_id: format!("c-{id}"),
                    stream_id: None,
                    reason: "the offer has no media".into(),
                },
            ),
        ]
    }

    #[test]
    fn records_build_rows_and_a_timeline() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store.write_history(&meeting(1000, "m1")).unwrap();
        store
            .write_history(&[
                rec(
                    1100,
                    Some("m1"),
                    What::ConnectionDestroyed {
                        connection_id: "c-m1".into(),
                        reason: "clientDisconnected".into(),
                        signals: 3,
                    },
                ),
                rec(1100, Some("m1"), What::MeetingEnded),
            ])
            .unwrap();
        let h = store.session_history("s1").unwrap().unwrap();
        assert_eq!(h.meetings.len(), 1);
        assert_eq!(h.meetings[0].ended_at, Some(1100));
        assert_eq!(h.connections[0].left_at, Some(1100));
        assert_eq!(h.connections[0].signals_sent, 3);
        assert_eq!(h.connections[0].client.sdk.as_deref(), Some("parlor-web"));
        assert_eq!(h.streams[0].name, "cam");
        assert_eq!(h.counts["publishFailed"], 1);
        let events = store.history_events("s1", None, 0, 100).unwrap();
        assert_eq!(events.len(), 6);
        assert_eq!(events[0].kind, "meetingStarted");
        let failed = store
            .history_events("s1", Some("publishFailed"), 0, 100)
            .unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].reason.as_deref(), Some("the offer has no media"));
        // Paging by cursor.
        let rest = store.history_events("s1", None, events[2].id, 100).unwrap();
        assert_eq!(rest.len(), 3);
        let (total, list) = store.history_sessions("123", 10, 0).unwrap();
        assert_eq!(total, 1);
        assert_eq!(list[0].connections, 1);
        assert_eq!(list[0].last_ended_at, Some(1100));
        assert!(store.session_history("other").unwrap().is_none());
    }

    #[test]
    fn open_meetings_close_at_their_last_event_after_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store.write_history(&meeting(1000, "m1")).unwrap();
        assert_eq!(store.close_open_history().unwrap(), 1);
        let h = store.session_history("s1").unwrap().unwrap();
        assert_eq!(h.meetings[0].ended_at, Some(1003));
        assert_eq!(h.meetings[0].end_reason.as_deref(), Some("serverStopped"));
        assert_eq!(h.connections[0].left_at, Some(1003));
        assert_eq!(
            h.connections[0].leave_reason.as_deref(),
            Some("serverStopped")
        );
        assert_eq!(
            h.streams[0].destroy_reason.as_deref(),
            Some("serverStopped")
        );
        assert_eq!(store.close_open_history().unwrap(), 0, "idempotent");
    }

    #[test]
    fn pruning_removes_what_ended_before_the_cutoff_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let mut old = meeting(1000, "old");
        old.push(rec(1500, Some("old"), What::MeetingEnded));
        store.write_history(&old).unwrap();
        // A meeting that started before the cutoff and is still going is kept.
        store.write_history(&meeting(1800, "live")).unwrap();
        assert!(store.prune_history(2000, 2000).unwrap() > 0);
        let h = store.session_history("s1").unwrap().unwrap();
        assert_eq!(h.meetings.len(), 1);
        assert_eq!(h.meetings[0].id, "live");
        assert_eq!(h.connections.len(), 1);
        assert_eq!(h.streams.len(), 1);
        // Its events older than the cutoff went (the timeline is pruned by time).
        assert!(store.history_events("s1", None, 0, 100).unwrap().is_empty());
        assert_eq!(store.prune_history(2000, 2000).unwrap(), 0);
    }

    #[test]
    fn quality_windows_have_their_own_shorter_retention() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let window = |at: i64| {
            rec(
                at,
                Some("m1"),
                What::Quality(crate::inspector::Quality {
                    stream_id: "st".into(),
                    subscription_id: None,
                    connection_id: "c".into(),
                    media: "video",
                    window_ms: 5000,
                    bitrate_bps: 500_000,
                    packets: 200,
                    nacks: 0,
                    plis: 0,
                    loss: Some(0.0),
                    jitter_ms: Some(2.0),
                    rtt_ms: None,
                    mos: Some(4.4),
                }),
            )
        };
        store.write_history(&[window(1000), window(5000)]).unwrap();
        assert!(
            store.history_events("s1", None, 0, 10).unwrap().is_empty(),
            "not events"
        );
        assert_eq!(store.history_quality("s1", None, 0).unwrap().len(), 2);
        assert_eq!(store.prune_history(0, 3000).unwrap(), 1);
        let left = store.history_quality("s1", Some("st"), 0).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].at, 5000);
        assert_eq!(left[0].mos, Some(4.4));
        assert!(
            store
                .history_quality("s1", Some("other"), 0)
                .unwrap()
                .is_empty()
        );
    }
}
