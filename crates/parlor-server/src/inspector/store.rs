//! The history's tables and their writes, in the server's SQLite (reads: `queries`).
//!
//! Meetings, connections, streams and subscriptions are one row each (created when they
//! start, completed when they end); `history_events` is the timeline, one row per
//! [`Record`]. Rows refer to each other by ID without foreign keys: they are written
//! asynchronously, in batches, and pruned by time.

use rusqlite::{Transaction, params};
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

/// What clients report of their media (`stats`) beside the router's windows, and which
/// subscriptions are pre-call tests (a third migration).
pub(crate) const CLIENT_STATS_SCHEMA: &str = r#"
    ALTER TABLE history_quality ADD COLUMN fps REAL;
    ALTER TABLE history_quality ADD COLUMN width INTEGER;
    ALTER TABLE history_quality ADD COLUMN height INTEGER;
    ALTER TABLE history_quality ADD COLUMN freezes INTEGER;
    ALTER TABLE history_quality ADD COLUMN freeze_ms INTEGER;
    ALTER TABLE history_quality ADD COLUMN concealed REAL;
    ALTER TABLE history_quality ADD COLUMN quality_limitation TEXT;
    ALTER TABLE history_quality ADD COLUMN candidate_type TEXT;
    ALTER TABLE history_quality ADD COLUMN protocol TEXT;
    ALTER TABLE history_subscriptions ADD COLUMN test_network INTEGER NOT NULL DEFAULT 0;
"#;

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
            let c = q.client.as_ref();
            tx.prepare_cached(
                "INSERT INTO history_quality (session_id, meeting_id, at, stream_id, \
                 subscription_id, connection_id, media, window_ms, bitrate_bps, packets, \
                 nacks, plis, loss, jitter_ms, rtt_ms, mos, fps, width, height, freezes, \
                 freeze_ms, concealed, quality_limitation, candidate_type, protocol) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
                 ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
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
                c.and_then(|c| c.fps),
                c.and_then(|c| c.width),
                c.and_then(|c| c.height),
                c.and_then(|c| c.freezes),
                c.and_then(|c| c.freeze_ms),
                c.and_then(|c| c.concealed),
                c.and_then(|c| c.quality_limitation)
                    .map(|v| crate::wire_name(&v)),
                c.and_then(|c| c.candidate_type)
                    .map(|v| crate::wire_name(&v)),
                c.and_then(|c| c.protocol).map(|v| crate::wire_name(&v)),
            ])?;
            return Ok(None);
        }
        What::MeetingStarted {
            project_id,
            resumed,
        } => {
            // A resumed meeting is open again.
            tx.prepare_cached(
                "INSERT INTO history_meetings (meeting_id, project_id, session_id, started_at) \
                 VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(meeting_id) DO UPDATE SET ended_at = NULL, end_reason = NULL",
            )?
            .execute(params![meeting, project_id, r.session_id, r.at])?;
            (
                None,
                None,
                None,
                None,
                resumed.then(|| json!({ "resumed": true })),
            )
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
            test_network,
        } => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO history_subscriptions (subscription_id, meeting_id, \
                 session_id, stream_id, connection_id, created_at, test_network) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                subscription_id,
                meeting,
                r.session_id,
                stream_id,
                connection_id,
                r.at,
                test_network
            ])?;
            (
                Some(connection_id.as_str()),
                Some(stream_id.as_str()),
                Some(subscription_id.as_str()),
                None,
                test_network.then(|| json!({ "testNetwork": true })),
            )
        }
        What::PrecallTest {
            subscription_id,
            stream_id,
            connection_id,
            summary,
        } => (
            Some(connection_id.as_str()),
            Some(stream_id.as_str()),
            Some(subscription_id.as_str()),
            None,
            Some(summary.clone()),
        ),
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
        What::ConnectionLost {
            connection_id,
            cause,
        } => (Some(connection_id.as_str()), None, None, Some(*cause), None),
        What::ConnectionResumed {
            connection_id,
            away_ms,
            resent,
            heard,
        } => (
            Some(connection_id.as_str()),
            None,
            None,
            None,
            Some(json!({ "awayMs": away_ms, "resent": resent, "heard": heard })),
        ),
        What::VideoQuality {
            subscription_id,
            stream_id,
            connection_id,
            state,
        } => (
            Some(connection_id.as_str()),
            Some(stream_id.as_str()),
            Some(subscription_id.as_str()),
            None,
            Some(json!({ "state": state })),
        ),
    }))
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
                    resumed: false,
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
                    client: None,
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
