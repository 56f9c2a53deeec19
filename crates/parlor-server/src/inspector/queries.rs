//! Reading the history back: the rows the Inspector API answers with, and the queries.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use super::record::ClientInfo;
use crate::store::{Store, StoreError};

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
    /// What the client reported (`stats`), when it did.
    pub fps: Option<f64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub freezes: Option<i64>,
    pub freeze_ms: Option<i64>,
    pub concealed: Option<f64>,
    pub quality_limitation: Option<String>,
    pub candidate_type: Option<String>,
    pub protocol: Option<String>,
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
    /// A pre-call network test's subscription (`testNetwork`).
    pub test_network: bool,
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

fn opt_client(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<ClientInfo> {
    Ok(ClientInfo {
        sdk: row.get(first)?,
        sdk_version: row.get(first + 1)?,
        user_agent: row.get(first + 2)?,
        remote_addr: row.get(first + 3)?,
    })
}

impl Store {
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
                 destroyed_at, destroy_reason, test_network FROM history_subscriptions \
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
                    test_network: r.get(7)?,
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
             bitrate_bps, packets, nacks, plis, loss, jitter_ms, rtt_ms, mos, fps, width, \
             height, freezes, freeze_ms, concealed, quality_limitation, candidate_type, \
             protocol FROM history_quality \
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
                        fps: r.get(14)?,
                        width: r.get(15)?,
                        height: r.get(16)?,
                        freezes: r.get(17)?,
                        freeze_ms: r.get(18)?,
                        concealed: r.get(19)?,
                        quality_limitation: r.get(20)?,
                        candidate_type: r.get(21)?,
                        protocol: r.get(22)?,
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
