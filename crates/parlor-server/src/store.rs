//! Durable state in SQLite: projects (and Vonage applications), sessions, callbacks,
//! archives, and the Inspector's session history (its tables and queries live in
//! `crate::inspector::store`).
//!
//! One connection behind a mutex. Calls are short (indexed lookups, single-row inserts)
//! and never on the media path; async callers go through [`crate::AppState::db`], which
//! runs them on tokio's blocking pool. The schema is versioned with `PRAGMA user_version`
//! and migrated forward at open. WAL mode lets the CLI read while a server writes.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// A storage failure. These are server faults, never the client's.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database at {path} has schema version {found}, newer than this build's {known}")]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
}

/// Schema migrations, applied in order; index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE projects (
        api_key     TEXT PRIMARY KEY,
        api_secret  TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        session_id         TEXT PRIMARY KEY,
        project_id         TEXT NOT NULL REFERENCES projects(api_key),
        media_mode         TEXT NOT NULL,
        archive_mode       TEXT NOT NULL,
        location           TEXT,
        e2ee               INTEGER NOT NULL,
        archive_name       TEXT,
        archive_resolution TEXT,
        created_at         INTEGER NOT NULL
    );
    CREATE INDEX sessions_by_project ON sessions(project_id, created_at);
"#,
    r#"
    CREATE TABLE callbacks (
        id          TEXT PRIMARY KEY,
        project_id  TEXT NOT NULL REFERENCES projects(api_key),
        grp         TEXT NOT NULL,
        event       TEXT NOT NULL,
        url         TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX callbacks_by_project ON callbacks(project_id, created_at);
    CREATE TABLE callback_deliveries (
        id          TEXT PRIMARY KEY,
        project_id  TEXT NOT NULL,
        session_id  TEXT NOT NULL,
        event       TEXT NOT NULL,
        url         TEXT NOT NULL,
        body        TEXT NOT NULL,
        status      TEXT NOT NULL,
        attempts    INTEGER NOT NULL,
        last_error  TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    );
    CREATE INDEX callback_deliveries_by_session
        ON callback_deliveries(project_id, session_id, created_at);
"#,
    r#"
    CREATE TABLE archives (
        id          TEXT PRIMARY KEY,
        project_id  TEXT NOT NULL REFERENCES projects(api_key),
        session_id  TEXT NOT NULL,
        status      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        record      TEXT NOT NULL
    );
    CREATE INDEX archives_by_project ON archives(project_id, created_at);
    CREATE INDEX archives_by_status ON archives(status);
"#,
    // Vonage applications: a project row (the owner of sessions, archives, callbacks; its
    // secret is internal, for signing callbacks and download URLs, never shown) plus RSA
    // public keys. A deleted application keeps its row (its sessions and archives refer to
    // it) with `deleted_at` set and no keys.
    r#"
    CREATE TABLE applications (
        application_id TEXT PRIMARY KEY REFERENCES projects(api_key),
        name           TEXT,
        created_at     INTEGER NOT NULL,
        deleted_at     INTEGER
    );
    CREATE TABLE application_keys (
        application_id TEXT NOT NULL REFERENCES applications(application_id),
        key_id         TEXT NOT NULL,
        public_key_pem TEXT NOT NULL,
        created_at     INTEGER NOT NULL,
        PRIMARY KEY (application_id, key_id)
    );
"#,
    // The Inspector's session history (`crate::inspector::store`).
    crate::inspector::store::SCHEMA,
    crate::inspector::store::QUALITY_SCHEMA,
    crate::inspector::store::CLIENT_STATS_SCHEMA,
    // Live streaming broadcasts (`crate::broadcasts::model`).
    crate::broadcasts::model::SCHEMA,
    // Rooms, room sessions and participants (`crate::rooms::model`).
    crate::rooms::model::SCHEMA,
    // Room recordings and compositions (`crate::rooms::media_model`).
    crate::rooms::media_model::SCHEMA,
    // Delivery kinds: OpenTok callbacks and Rooms webhooks (`crate::callbacks`).
    crate::callbacks::DELIVERY_KIND_SCHEMA,
];

/// A project: the owner of sessions, identified by its API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub api_key: String,
    pub api_secret: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// A Vonage application: the second kind of project credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub application_id: String,
    pub name: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it was deleted (milliseconds), if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
    /// Its public keys, oldest first.
    pub keys: Vec<ApplicationKey>,
}

/// One RSA public key of an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationKey {
    /// [`parlor_proto::app_auth::PublicKey::id`].
    pub key_id: String,
    /// SPKI PEM.
    pub public_key_pem: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// What removing an application key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRemoval {
    Removed,
    /// No such application or key.
    NotFound,
    /// Refused: it is the application's only key (add the new one first).
    LastKey,
}

/// A session as stored, with the options it was created with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    pub session_id: String,
    pub project_id: String,
    /// `routed` or `relayed`.
    pub media_mode: String,
    /// `manual` or `always`.
    pub archive_mode: String,
    pub location: Option<String>,
    pub e2ee: bool,
    pub archive_name: Option<String>,
    pub archive_resolution: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// A registered callback (the legacy `/callback` API): `url` receives the events of
/// `group` (`connection`, `stream`, `session`, `archive`) named `event` (`created`,
/// `destroyed`, `status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackRecord {
    pub id: String,
    #[serde(skip)]
    pub project_id: String,
    pub group: String,
    pub event: String,
    pub url: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// The state of one event's delivery to one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: String,
    pub project_id: String,
    pub session_id: String,
    pub event: String,
    pub url: String,
    pub body: String,
    /// `pending`, `delivered` or `failed` (gave up).
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The database.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let store = Store {
            conn: Mutex::new(conn),
        };
        store.migrate(&path.display().to_string())?;
        Ok(store)
    }

    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (it has its own
        // transactions), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn migrate(&self, path: &str) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path: path.to_owned(),
                found: version,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
            tracing::info!(version = i + 1, "applied database migration");
        }
        Ok(())
    }

    /// The project with this API key.
    pub fn project(&self, api_key: &str) -> Result<Option<Project>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT api_key, api_secret, created_at FROM projects WHERE api_key = ?1",
                [api_key],
                project_from_row,
            )
            .optional()?)
    }

    /// All OpenTok projects (API key and secret), oldest first; applications are not
    /// listed (see [`Store::applications`]).
    pub fn projects(&self) -> Result<Vec<Project>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT api_key, api_secret, created_at FROM projects
             WHERE api_key NOT IN (SELECT application_id FROM applications)
             ORDER BY created_at",
        )?;
        let rows = stmt.query_map([], project_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Inserts a project, or sets the secret of an existing one. Returns whether an
    /// existing project's secret changed.
    pub fn upsert_project(&self, project: &Project) -> Result<bool, StoreError> {
        let conn = self.conn();
        let existed: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM projects WHERE api_key = ?1)",
            [&project.api_key],
            |r| r.get(0),
        )?;
        let changed = conn.execute(
            "INSERT INTO projects (api_key, api_secret, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(api_key) DO UPDATE SET api_secret = excluded.api_secret
             WHERE api_secret != excluded.api_secret",
            params![project.api_key, project.api_secret, project.created_at],
        )?;
        Ok(existed && changed > 0)
    }

    /// Stores a new session.
    pub fn insert_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO sessions (session_id, project_id, media_mode, archive_mode, location,
                                   e2ee, archive_name, archive_resolution, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                s.session_id,
                s.project_id,
                s.media_mode,
                s.archive_mode,
                s.location,
                s.e2ee,
                s.archive_name,
                s.archive_resolution,
                s.created_at
            ],
        )?;
        Ok(())
    }

    /// The session with this ID.
    pub fn session(&self, session_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT session_id, project_id, media_mode, archive_mode, location, e2ee,
                        archive_name, archive_resolution, created_at
                 FROM sessions WHERE session_id = ?1",
                [session_id],
                |r| {
                    Ok(SessionRecord {
                        session_id: r.get(0)?,
                        project_id: r.get(1)?,
                        media_mode: r.get(2)?,
                        archive_mode: r.get(3)?,
                        location: r.get(4)?,
                        e2ee: r.get(5)?,
                        archive_name: r.get(6)?,
                        archive_resolution: r.get(7)?,
                        created_at: r.get(8)?,
                    })
                },
            )
            .optional()?)
    }
}

impl Store {
    /// Registers a callback.
    pub fn insert_callback(&self, c: &CallbackRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO callbacks (id, project_id, grp, event, url, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![c.id, c.project_id, c.group, c.event, c.url, c.created_at],
        )?;
        Ok(())
    }

    /// A project's callbacks, oldest first.
    pub fn callbacks(&self, project_id: &str) -> Result<Vec<CallbackRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, project_id, grp, event, url, created_at FROM callbacks
             WHERE project_id = ?1 ORDER BY created_at, id",
        )?;
        let rows = stmt.query_map([project_id], |r| {
            Ok(CallbackRecord {
                id: r.get(0)?,
                project_id: r.get(1)?,
                group: r.get(2)?,
                event: r.get(3)?,
                url: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes a project's callback; returns whether it existed.
    pub fn delete_callback(&self, project_id: &str, id: &str) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "DELETE FROM callbacks WHERE project_id = ?1 AND id = ?2",
            [project_id, id],
        )?;
        Ok(n > 0)
    }

    /// Records (inserts or updates) the state of a delivery. A delivered one is removed:
    /// only pending deliveries (to resume after a restart) and failed ones (for a while,
    /// see [`Store::prune_failed_deliveries`]) are kept, so the table does not grow with
    /// every event ever sent.
    pub fn record_delivery(&self, d: &DeliveryRecord) -> Result<(), StoreError> {
        if d.status == "delivered" {
            self.conn().execute(
                "DELETE FROM callback_deliveries WHERE id = ?1",
                params![d.id],
            )?;
            return Ok(());
        }
        self.conn().execute(
            "INSERT INTO callback_deliveries (id, project_id, session_id, event, url, body, status,
                                              attempts, last_error, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT(id) DO UPDATE SET status = excluded.status,
                 attempts = excluded.attempts, last_error = excluded.last_error,
                 updated_at = excluded.updated_at",
            params![
                d.id,
                d.project_id,
                d.session_id,
                d.event,
                d.url,
                d.body,
                d.status,
                d.attempts,
                d.last_error,
                d.created_at,
                d.updated_at
            ],
        )?;
        Ok(())
    }

    /// Removes failed deliveries last updated before `before_ms` (Unix ms); how many.
    pub fn prune_failed_deliveries(&self, before_ms: i64) -> Result<usize, StoreError> {
        Ok(self.conn().execute(
            "DELETE FROM callback_deliveries WHERE status = 'failed' AND updated_at < ?1",
            params![before_ms],
        )?)
    }
}

impl Store {
    /// Stores a new application with its first key: the project row that owns its sessions
    /// (with `internal_secret`) and the application. Fails if the ID is taken.
    pub fn create_application(
        &self,
        application_id: &str,
        name: Option<&str>,
        internal_secret: &str,
        first_key: &ApplicationKey,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO projects (api_key, api_secret, created_at) VALUES (?1, ?2, ?3)",
            params![application_id, internal_secret, first_key.created_at],
        )?;
        tx.execute(
            "INSERT INTO applications (application_id, name, created_at) VALUES (?1, ?2, ?3)",
            params![application_id, name, first_key.created_at],
        )?;
        tx.execute(
            "INSERT INTO application_keys (application_id, key_id, public_key_pem, created_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                application_id,
                first_key.key_id,
                first_key.public_key_pem,
                first_key.created_at
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The application with this ID (deleted ones too: `deleted_at` says so).
    pub fn application(&self, application_id: &str) -> Result<Option<Application>, StoreError> {
        let conn = self.conn();
        let Some(mut app) = conn
            .query_row(
                "SELECT application_id, name, created_at, deleted_at FROM applications
                 WHERE application_id = ?1",
                [application_id],
                |r| {
                    Ok(Application {
                        application_id: r.get(0)?,
                        name: r.get(1)?,
                        created_at: r.get(2)?,
                        deleted_at: r.get(3)?,
                        keys: Vec::new(),
                    })
                },
            )
            .optional()?
        else {
            return Ok(None);
        };
        let mut stmt = conn.prepare(
            "SELECT key_id, public_key_pem, created_at FROM application_keys
             WHERE application_id = ?1 ORDER BY created_at, rowid",
        )?;
        app.keys = stmt
            .query_map([application_id], |r| {
                Ok(ApplicationKey {
                    key_id: r.get(0)?,
                    public_key_pem: r.get(1)?,
                    created_at: r.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(app))
    }

    /// Every application not deleted, oldest first.
    pub fn applications(&self) -> Result<Vec<Application>, StoreError> {
        let ids: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn.prepare(
                "SELECT application_id FROM applications WHERE deleted_at IS NULL
                 ORDER BY created_at, application_id",
            )?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut apps = Vec::with_capacity(ids.len());
        for id in ids {
            apps.extend(self.application(&id)?);
        }
        Ok(apps)
    }

    /// Adds a key to a live application. Returns false if the application does not exist
    /// (or was deleted) or already has this key.
    pub fn add_application_key(
        &self,
        application_id: &str,
        key: &ApplicationKey,
    ) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "INSERT OR IGNORE INTO application_keys
                 (application_id, key_id, public_key_pem, created_at)
             SELECT ?1, ?2, ?3, ?4 FROM applications
             WHERE application_id = ?1 AND deleted_at IS NULL",
            params![
                application_id,
                key.key_id,
                key.public_key_pem,
                key.created_at
            ],
        )?;
        Ok(n > 0)
    }

    /// Removes one key of an application, unless it is the last one.
    pub fn remove_application_key(
        &self,
        application_id: &str,
        key_id: &str,
    ) -> Result<KeyRemoval, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let count: i64 = tx.query_row(
            "SELECT COUNT(*) FROM application_keys WHERE application_id = ?1",
            [application_id],
            |r| r.get(0),
        )?;
        let exists: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM application_keys
                           WHERE application_id = ?1 AND key_id = ?2)",
            [application_id, key_id],
            |r| r.get(0),
        )?;
        let outcome = if !exists {
            KeyRemoval::NotFound
        } else if count <= 1 {
            KeyRemoval::LastKey
        } else {
            tx.execute(
                "DELETE FROM application_keys WHERE application_id = ?1 AND key_id = ?2",
                [application_id, key_id],
            )?;
            KeyRemoval::Removed
        };
        tx.commit()?;
        Ok(outcome)
    }

    /// Deletes an application: its keys go (nothing it signs is accepted any more), its
    /// row stays, marked, for the sessions and archives that name it. Returns false if
    /// there is no live application with this ID.
    pub fn delete_application(
        &self,
        application_id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "UPDATE applications SET deleted_at = ?2
             WHERE application_id = ?1 AND deleted_at IS NULL",
            params![application_id, now_ms],
        )?;
        tx.execute(
            "DELETE FROM application_keys WHERE application_id = ?1",
            [application_id],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }
}

fn project_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Project> {
    Ok(Project {
        api_key: r.get(0)?,
        api_secret: r.get(1)?,
        created_at: r.get(2)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parlor.db");
        let store = Store::open(&path).unwrap();
        let p = Project {
            api_key: "123".into(),
            api_secret: "abc".into(),
            created_at: 5,
        };
        assert!(
            !store.upsert_project(&p).unwrap(),
            "new project: no secret changed"
        );
        assert!(!store.upsert_project(&p).unwrap(), "same secret: no change");
        let rotated = Project {
            api_secret: "def".into(),
            ..p.clone()
        };
        assert!(store.upsert_project(&rotated).unwrap(), "secret rotated");
        store.upsert_project(&p).unwrap();
        let s = SessionRecord {
            session_id: "1_x".into(),
            project_id: "123".into(),
            media_mode: "routed".into(),
            archive_mode: "manual".into(),
            location: None,
            e2ee: true,
            archive_name: None,
            archive_resolution: Some("640x480".into()),
            created_at: 9,
        };
        store.insert_session(&s).unwrap();
        drop(store);
        // Reopening applies no migration twice and keeps the data.
        let store = Store::open(&path).unwrap();
        assert_eq!(store.session("1_x").unwrap(), Some(s));
        assert_eq!(store.project("123").unwrap(), Some(p));
        assert_eq!(store.session("1_y").unwrap(), None);
        // A session of an unknown project violates the foreign key.
        let orphan = SessionRecord {
            session_id: "1_z".into(),
            project_id: "999".into(),
            ..store.session("1_x").unwrap().unwrap()
        };
        assert!(store.insert_session(&orphan).is_err());
    }

    #[test]
    fn applications_keys_rotation_and_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("parlor.db")).unwrap();
        store
            .upsert_project(&Project {
                api_key: "123".into(),
                api_secret: "abc".into(),
                created_at: 1,
            })
            .unwrap();
        let app = "0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f";
        let key = |id: &str, at: i64| ApplicationKey {
            key_id: id.into(),
            public_key_pem: format!("pem {id}"),
            created_at: at,
        };
        store
            .create_application(app, Some("demo"), "internal", &key("k1", 5))
            .unwrap();
        // The ID is taken now, by the application and as a project.
        assert!(
            store
                .create_application(app, None, "x", &key("k9", 6))
                .is_err()
        );
        assert_eq!(store.project(app).unwrap().unwrap().api_secret, "internal");
        // Projects lists only OpenTok projects: `serve` and the CLI pick among those.
        let keys: Vec<_> = store
            .projects()
            .unwrap()
            .into_iter()
            .map(|p| p.api_key)
            .collect();
        assert_eq!(keys, ["123"]);
        assert!(store.add_application_key(app, &key("k2", 7)).unwrap());
        assert!(
            !store.add_application_key(app, &key("k2", 8)).unwrap(),
            "same key twice"
        );
        assert!(!store.add_application_key("nope", &key("k3", 8)).unwrap());
        let got = store.application(app).unwrap().unwrap();
        assert_eq!(got.name.as_deref(), Some("demo"));
        assert_eq!(got.keys, [key("k1", 5), key("k2", 7)]);
        assert_eq!(
            store.remove_application_key(app, "k1").unwrap(),
            KeyRemoval::Removed
        );
        assert_eq!(
            store.remove_application_key(app, "k1").unwrap(),
            KeyRemoval::NotFound
        );
        assert_eq!(
            store.remove_application_key(app, "k2").unwrap(),
            KeyRemoval::LastKey
        );
        assert_eq!(store.applications().unwrap().len(), 1);
        assert!(store.delete_application(app, 99).unwrap());
        assert!(!store.delete_application(app, 100).unwrap());
        let deleted = store.application(app).unwrap().unwrap();
        assert_eq!((deleted.deleted_at, deleted.keys.len()), (Some(99), 0));
        assert!(store.applications().unwrap().is_empty());
        assert!(!store.add_application_key(app, &key("k4", 101)).unwrap());
    }
}
