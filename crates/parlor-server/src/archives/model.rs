//! The archive as the domain knows it, and how it is stored.
//!
//! One [`ArchiveRecord`] per archive, kept in the `archives` table as JSON (the columns
//! beside it are only what lists and recovery filter on). The OpenTok wire shape is built
//! from it by `api::archives`; other API families can build theirs from the same record.

use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};

/// Where an archive is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchiveStatus {
    /// Recording.
    Started,
    /// Recording, but no client publishes in the session: nothing is being recorded.
    /// It becomes `started` again with the next stream, and stops after the paused
    /// timeout (1 h by default).
    Paused,
    /// Recording ended; the output is being made.
    Stopped,
    /// The output is ready to download.
    Available,
    /// Recording or making the output failed (`reason` says why).
    Failed,
    /// Deleted: its files are gone.
    Deleted,
    /// Its files were removed at the end of the retention period (`--archive-retention`).
    Expired,
}

impl ArchiveStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ArchiveStatus::Started => "started",
            ArchiveStatus::Paused => "paused",
            ArchiveStatus::Stopped => "stopped",
            ArchiveStatus::Available => "available",
            ArchiveStatus::Failed => "failed",
            ArchiveStatus::Deleted => "deleted",
            ArchiveStatus::Expired => "expired",
        }
    }

    /// Whether the archive is still running (`started` or `paused`).
    pub fn is_running(self) -> bool {
        matches!(self, ArchiveStatus::Started | ArchiveStatus::Paused)
    }
}

/// One MP4 of all streams, or a ZIP of one file per stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputMode {
    Composed,
    Individual,
}

/// Every stream of the session (`auto`), or those added through the API (`manual`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamMode {
    Auto,
    Manual,
}

/// A composed archive's layout, as the API gives it (`type` in OpenTok's words).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutRecord {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stylesheet: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screenshare_type: Option<String>,
}

impl Default for LayoutRecord {
    fn default() -> Self {
        LayoutRecord {
            kind: "bestFit".into(),
            stylesheet: None,
            screenshare_type: None,
        }
    }
}

impl LayoutRecord {
    /// The compositor's validated form: a specific error for anything wrong.
    pub fn to_spec(&self) -> Result<parlor_compositor::layout::LayoutSpec, String> {
        use parlor_compositor::layout::{LayoutSpec, LayoutType};
        let kind: LayoutType = self.kind.parse().map_err(|e| format!("{e}"))?;
        let screenshare = match &self.screenshare_type {
            Some(t) => Some(t.parse::<LayoutType>().map_err(|e| format!("{e}"))?),
            None => None,
        };
        LayoutSpec::new(kind, self.stylesheet.clone(), screenshare).map_err(|e| e.to_string())
    }
}

/// A stream in a manual-mode archive (or, in auto mode, one being recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveStreamRecord {
    pub stream_id: String,
    pub has_audio: bool,
    pub has_video: bool,
}

/// A period of an archive without publishers (offsets from its start, in ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pause {
    pub from_ms: u64,
    /// When a client published again; `None` while the pause lasts.
    pub to_ms: Option<u64>,
}

/// An archive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveRecord {
    pub id: String,
    pub project_id: String,
    pub session_id: String,
    pub name: Option<String>,
    pub status: ArchiveStatus,
    /// Why it stopped or failed (OpenTok's `reason`), empty while started.
    pub reason: String,
    pub output_mode: OutputMode,
    pub stream_mode: StreamMode,
    /// `WxH`; composed archives only.
    pub resolution: Option<String>,
    pub layout: LayoutRecord,
    pub has_audio: bool,
    pub has_video: bool,
    pub multi_archive_tag: Option<String>,
    pub max_bitrate: Option<u64>,
    /// Milliseconds since the Unix epoch: when recording started.
    pub created_at: i64,
    pub updated_at: i64,
    /// When recording stopped (ms), once it has.
    pub stopped_at: Option<i64>,
    /// Seconds recorded (0 while started).
    pub duration: u64,
    /// Bytes of the output (0 until available).
    pub size: u64,
    pub sha256sum: Option<String>,
    /// Streams in the archive now (manual mode: the ones added).
    pub streams: Vec<ArchiveStreamRecord>,
    /// The output's file name inside the archive's directory, once made.
    pub output_file: Option<String>,
    /// Started automatically (`archiveMode=always`): the API cannot stop it.
    #[serde(default)]
    pub automatic: bool,
    /// The periods it was paused, oldest first. The composed output leaves them out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pauses: Vec<Pause>,
}

impl ArchiveRecord {
    /// Milliseconds spent paused before offset `now_ms` (a pause still open ends there).
    pub fn paused_ms(&self, now_ms: u64) -> u64 {
        self.pauses
            .iter()
            .map(|p| {
                let end = p.to_ms.unwrap_or(now_ms).min(now_ms);
                end.saturating_sub(p.from_ms)
            })
            .sum()
    }

    /// Maps an offset of the archive's wall clock to the composed output's clock, which
    /// leaves the paused periods out: an offset inside a pause maps to where it began.
    pub fn without_pauses(&self, at_ms: u64) -> u64 {
        at_ms - self.paused_ms(at_ms)
    }

    /// The pause going on now, if any.
    pub fn open_pause(&self) -> Option<&Pause> {
        self.pauses.last().filter(|p| p.to_ms.is_none())
    }

    /// Ends the pause going on, if any, at offset `at_ms`.
    pub fn close_pause(&mut self, at_ms: u64) {
        if let Some(p) = self.pauses.last_mut().filter(|p| p.to_ms.is_none()) {
            p.to_ms = Some(at_ms.max(p.from_ms));
        }
    }
}

impl Store {
    /// Inserts or replaces an archive, unless the stored one is newer (a later
    /// `updatedAt`): two tasks saving one archive (a pause and a stop) cannot put an older
    /// status back. Whether it was written.
    pub fn put_archive(&self, a: &ArchiveRecord) -> Result<bool, StoreError> {
        let record = serde_json::to_string(a).expect("archive records serialize");
        let changed = self.conn().execute(
            "INSERT INTO archives (id, project_id, session_id, status, created_at, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(id) DO UPDATE SET status = ?4, record = ?6
             WHERE json_extract(?6, '$.updatedAt') >= json_extract(archives.record, '$.updatedAt')",
            rusqlite::params![
                a.id,
                a.project_id,
                a.session_id,
                a.status.as_str(),
                a.created_at,
                record
            ],
        )?;
        Ok(changed > 0)
    }

    /// One archive of a project (deleted ones included).
    pub fn archive(&self, project_id: &str, id: &str) -> Result<Option<ArchiveRecord>, StoreError> {
        use rusqlite::OptionalExtension as _;
        let record: Option<String> = self
            .conn()
            .query_row(
                "SELECT record FROM archives WHERE id = ?1 AND project_id = ?2",
                rusqlite::params![id, project_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(record.and_then(|r| serde_json::from_str(&r).ok()))
    }

    /// A page of a project's archives, newest first, deleted ones left out; and how many
    /// there are in all.
    pub fn archives(
        &self,
        project_id: &str,
        session_id: Option<&str>,
        offset: usize,
        count: usize,
    ) -> Result<(usize, Vec<ArchiveRecord>), StoreError> {
        let conn = self.conn();
        let total: i64 = conn.query_row(
            "SELECT COUNT(*) FROM archives WHERE project_id = ?1 AND status != 'deleted'
             AND (?2 IS NULL OR session_id = ?2)",
            rusqlite::params![project_id, session_id],
            |r| r.get(0),
        )?;
        let mut stmt = conn.prepare(
            "SELECT record FROM archives WHERE project_id = ?1 AND status != 'deleted'
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

    /// Available archives that stopped recording at or before `stopped_before` (ms since
    /// the Unix epoch): the ones whose retention has run out.
    pub fn archives_stopped_before(
        &self,
        stopped_before: i64,
    ) -> Result<Vec<ArchiveRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT record FROM archives WHERE status = 'available'
             AND COALESCE(json_extract(record, '$.stoppedAt'), created_at) <= ?1",
        )?;
        let rows = stmt
            .query_map([stopped_before], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .iter()
            .filter_map(|r| serde_json::from_str(r).ok())
            .collect())
    }

    /// Archives in a status, across projects (recovery after a restart).
    pub fn archives_in_status(
        &self,
        status: ArchiveStatus,
    ) -> Result<Vec<ArchiveRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT record FROM archives WHERE status = ?1")?;
        let rows = stmt
            .query_map([status.as_str()], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .iter()
            .filter_map(|r| serde_json::from_str(r).ok())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Project;

    /// A store with project "1" (archives refer to their project).
    fn store_with_project() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("p.db")).unwrap();
        store
            .upsert_project(&Project {
                api_key: "1".into(),
                api_secret: "s".into(),
                created_at: 0,
            })
            .unwrap();
        (dir, store)
    }

    fn record(id: &str, session: &str, created_at: i64) -> ArchiveRecord {
        ArchiveRecord {
            id: id.into(),
            project_id: "1".into(),
            session_id: session.into(),
            name: Some("n".into()),
            status: ArchiveStatus::Started,
            reason: String::new(),
            output_mode: OutputMode::Composed,
            stream_mode: StreamMode::Auto,
            resolution: Some("640x480".into()),
            layout: LayoutRecord::default(),
            has_audio: true,
            has_video: true,
            multi_archive_tag: None,
            max_bitrate: None,
            created_at,
            updated_at: created_at,
            stopped_at: None,
            duration: 0,
            size: 0,
            sha256sum: None,
            streams: vec![],
            output_file: None,
            automatic: false,
            pauses: vec![],
        }
    }

    #[test]
    fn an_older_status_is_not_written_over_a_newer_one() {
        let (_dir, store) = store_with_project();
        let mut paused = record("a", "s", 0);
        paused.status = ArchiveStatus::Paused;
        paused.updated_at = 10;
        let mut stopped = paused.clone();
        stopped.status = ArchiveStatus::Stopped;
        stopped.updated_at = 11;
        assert!(store.put_archive(&stopped).unwrap());
        assert!(!store.put_archive(&paused).unwrap(), "the stale pause");
        assert_eq!(
            store.archive("1", "a").unwrap().unwrap().status,
            ArchiveStatus::Stopped
        );
        assert_eq!(
            store
                .archives_in_status(ArchiveStatus::Paused)
                .unwrap()
                .len(),
            0
        );
        assert!(
            store.put_archive(&stopped).unwrap(),
            "the same again is fine"
        );
    }

    #[test]
    fn pauses_are_left_out_of_the_output_clock() {
        let mut a = record("a", "s", 0);
        assert_eq!(a.without_pauses(5_000), 5_000);
        a.pauses = vec![
            Pause {
                from_ms: 1_000,
                to_ms: Some(3_000),
            },
            Pause {
                from_ms: 10_000,
                to_ms: None,
            },
        ];
        assert_eq!(a.without_pauses(500), 500, "before any pause");
        assert_eq!(
            a.without_pauses(2_000),
            1_000,
            "inside a pause: where it began"
        );
        assert_eq!(a.without_pauses(4_000), 2_000);
        assert_eq!(
            a.paused_ms(12_000),
            4_000,
            "the open pause counts up to now"
        );
        assert_eq!(a.open_pause().map(|p| p.from_ms), Some(10_000));
        a.close_pause(11_000);
        assert!(a.open_pause().is_none());
        assert_eq!(a.paused_ms(20_000), 3_000);
        a.close_pause(30_000);
        assert_eq!(a.paused_ms(40_000), 3_000, "closing twice changes nothing");
    }

    #[test]
    fn retention_finds_available_archives_by_their_stop_time() {
        let (_dir, store) = store_with_project();
        for (id, status, stopped) in [
            ("old", ArchiveStatus::Available, Some(1_000)),
            ("new", ArchiveStatus::Available, Some(9_000)),
            ("failed", ArchiveStatus::Failed, Some(1_000)),
            ("running", ArchiveStatus::Started, None),
        ] {
            let mut a = record(id, "s", 500);
            a.status = status;
            a.stopped_at = stopped;
            store.put_archive(&a).unwrap();
        }
        let due = store.archives_stopped_before(5_000).unwrap();
        assert_eq!(
            due.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["old"]
        );
    }

    #[test]
    fn archives_round_trip_page_and_filter() {
        let (_dir, store) = store_with_project();
        for i in 0..5 {
            store
                .put_archive(&record(
                    &format!("a{i}"),
                    if i % 2 == 0 { "s0" } else { "s1" },
                    i,
                ))
                .unwrap();
        }
        let mut a = record("a4", "s0", 4);
        a.status = ArchiveStatus::Deleted;
        store.put_archive(&a).unwrap();
        let (total, page) = store.archives("1", None, 0, 2).unwrap();
        assert_eq!(total, 4);
        assert_eq!(
            page.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["a3", "a2"]
        );
        let (total, page) = store.archives("1", Some("s0"), 1, 10).unwrap();
        assert_eq!((total, page.len()), (2, 1));
        assert_eq!(
            store.archive("1", "a4").unwrap().unwrap().status,
            ArchiveStatus::Deleted
        );
        assert!(
            store.archive("2", "a1").unwrap().is_none(),
            "another project's"
        );
        assert_eq!(
            store
                .archives_in_status(ArchiveStatus::Started)
                .unwrap()
                .len(),
            4
        );
    }
}
