//! The broadcast as the domain knows it, and how it is stored.
//!
//! One [`BroadcastRecord`] per broadcast, kept in the `broadcasts` table as JSON (the
//! columns beside it are what lists and recovery filter on). The OpenTok wire shape is
//! built from it by `api::broadcasts`.

use serde::{Deserialize, Serialize};

use crate::archives::model::{ArchiveStreamRecord, LayoutRecord, StreamMode};
use crate::store::{Store, StoreError};

/// The table (a migration of [`crate::store`]).
pub const SCHEMA: &str = r#"
    CREATE TABLE broadcasts (
        id          TEXT PRIMARY KEY,
        project_id  TEXT NOT NULL REFERENCES projects(api_key),
        session_id  TEXT NOT NULL,
        status      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        record      TEXT NOT NULL
    );
    CREATE INDEX broadcasts_by_project ON broadcasts(project_id, created_at);
    CREATE INDEX broadcasts_by_status ON broadcasts(status);
"#;

/// Where a broadcast is in its life (OpenTok has no other statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BroadcastStatus {
    /// Live: composing and sending to its outputs.
    Started,
    /// Ended (by the API, its maximum duration, an empty session, a failure or a restart;
    /// `reason` says which).
    Stopped,
}

impl BroadcastStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BroadcastStatus::Started => "started",
            BroadcastStatus::Stopped => "stopped",
        }
    }
}

/// The state of one output, as OpenTok reports `hlsStatus` and each RTMP target's
/// `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputStatus {
    /// Starting: the encoder or the connection to the target is being set up.
    Connecting,
    /// HLS only: the encoder runs, no segment is out yet.
    Ready,
    /// Media flows to the output.
    Live,
    /// The broadcast ended.
    Ended,
    /// The target failed (RTMP: reconnecting with backoff while the broadcast runs).
    Error,
}

/// The HLS output's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct HlsSettings {
    /// Keep every segment (rewind to the start).
    pub dvr: bool,
    /// Shorter segments for a lower latency.
    pub low_latency: bool,
}

/// One RTMP target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RtmpRecord {
    /// The caller's ID for the target (unique within the broadcast).
    pub id: String,
    pub server_url: String,
    pub stream_name: String,
    pub status: OutputStatus,
    /// The last error, while `status` is `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RtmpRecord {
    /// The URL ffmpeg publishes to: the server URL and the stream name.
    pub fn url(&self) -> String {
        format!(
            "{}/{}",
            self.server_url.trim_end_matches('/'),
            self.stream_name
        )
    }
}

/// A broadcast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BroadcastRecord {
    pub id: String,
    pub project_id: String,
    pub session_id: String,
    pub status: BroadcastStatus,
    /// Why it stopped (empty while started).
    #[serde(default)]
    pub reason: String,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default)]
    pub stopped_at: Option<i64>,
    /// `WxH`.
    pub resolution: String,
    pub layout: LayoutRecord,
    pub stream_mode: StreamMode,
    /// Manual mode: the streams added through the API; auto mode: the streams in it.
    pub streams: Vec<ArchiveStreamRecord>,
    pub has_audio: bool,
    pub has_video: bool,
    /// Seconds after which it stops by itself.
    pub max_duration: u64,
    /// Video bits per second of the composed stream.
    pub max_bitrate: u64,
    #[serde(default)]
    pub multi_broadcast_tag: Option<String>,
    /// The HLS output, if asked for.
    #[serde(default)]
    pub hls: Option<HlsSettings>,
    #[serde(default)]
    pub hls_status: Option<OutputStatus>,
    pub rtmp: Vec<RtmpRecord>,
}

impl BroadcastRecord {
    /// Width and height of the composed video.
    pub fn size(&self) -> (u32, u32) {
        let mut parts = self.resolution.split('x').map(|p| p.parse::<u32>().ok());
        match (parts.next().flatten(), parts.next().flatten()) {
            (Some(w), Some(h)) => (w, h),
            _ => (640, 480),
        }
    }
}

impl Store {
    /// Inserts or replaces a broadcast, unless the stored one is newer (a later
    /// `updatedAt`). Whether it was written.
    pub fn put_broadcast(&self, b: &BroadcastRecord) -> Result<bool, StoreError> {
        let record = serde_json::to_string(b).expect("broadcast records serialize");
        let changed = self.conn().execute(
            "INSERT INTO broadcasts (id, project_id, session_id, status, created_at, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(id) DO UPDATE SET status = ?4, record = ?6
             WHERE json_extract(?6, '$.updatedAt') >= json_extract(broadcasts.record, '$.updatedAt')",
            rusqlite::params![
                b.id,
                b.project_id,
                b.session_id,
                b.status.as_str(),
                b.created_at,
                record
            ],
        )?;
        Ok(changed > 0)
    }

    /// One broadcast of a project.
    pub fn broadcast(
        &self,
        project_id: &str,
        id: &str,
    ) -> Result<Option<BroadcastRecord>, StoreError> {
        use rusqlite::OptionalExtension as _;
        let record: Option<String> = self
            .conn()
            .query_row(
                "SELECT record FROM broadcasts WHERE id = ?1 AND project_id = ?2",
                rusqlite::params![id, project_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(record.and_then(|r| serde_json::from_str(&r).ok()))
    }

    /// A page of a project's broadcasts, newest first; and how many there are in all.
    pub fn broadcasts(
        &self,
        project_id: &str,
        session_id: Option<&str>,
        offset: usize,
        count: usize,
    ) -> Result<(usize, Vec<BroadcastRecord>), StoreError> {
        let conn = self.conn();
        let total: i64 = conn.query_row(
            "SELECT COUNT(*) FROM broadcasts WHERE project_id = ?1
             AND (?2 IS NULL OR session_id = ?2)",
            rusqlite::params![project_id, session_id],
            |r| r.get(0),
        )?;
        let mut stmt = conn.prepare(
            "SELECT record FROM broadcasts WHERE project_id = ?1
             AND (?2 IS NULL OR session_id = ?2)
             ORDER BY created_at DESC, id LIMIT ?3 OFFSET ?4",
        )?;
        let rows = stmt
            .query_map(
                rusqlite::params![project_id, session_id, count as i64, offset as i64],
                |r| r.get::<_, String>(0),
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok((
            total as usize,
            rows.iter()
                .filter_map(|r| serde_json::from_str(r).ok())
                .collect(),
        ))
    }

    /// Broadcasts still `started` (recovery after a restart: they end).
    pub fn broadcasts_started(&self) -> Result<Vec<BroadcastRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT record FROM broadcasts WHERE status = 'started'")?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .iter()
            .filter_map(|r| serde_json::from_str(r).ok())
            .collect())
    }
}
