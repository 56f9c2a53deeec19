//! The deliveries' durable records (`callback_deliveries`), with their kind.

use rusqlite::params;

use super::DeliveryKind;
use crate::store::{DeliveryRecord, Store};

impl Store {
    /// Records a new delivery, with its kind. Its later states go through
    /// [`Store::record_delivery`].
    pub fn insert_delivery(
        &self,
        d: &DeliveryRecord,
        kind: &DeliveryKind,
    ) -> Result<(), crate::store::StoreError> {
        self.conn().execute(
            "INSERT INTO callback_deliveries (id, project_id, session_id, event, url, body, status,
                                              attempts, last_error, created_at, updated_at,
                                              kind, failover_url, timeout_secs)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
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
                d.updated_at,
                kind.as_str(),
                kind.failover_url(),
                kind.timeout_secs(),
            ],
        )?;
        Ok(())
    }

    /// Deliveries not yet delivered nor given up, oldest first, with their kinds (rows of
    /// a kind this build does not know are left alone).
    pub fn pending_deliveries(
        &self,
    ) -> Result<Vec<(DeliveryRecord, DeliveryKind)>, crate::store::StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, project_id, session_id, event, url, body, status, attempts, last_error,
                    created_at, updated_at, kind, failover_url, timeout_secs
             FROM callback_deliveries WHERE status = 'pending' ORDER BY created_at, rowid",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let record = DeliveryRecord {
                    id: r.get(0)?,
                    project_id: r.get(1)?,
                    session_id: r.get(2)?,
                    event: r.get(3)?,
                    url: r.get(4)?,
                    body: r.get(5)?,
                    status: r.get(6)?,
                    attempts: r.get(7)?,
                    last_error: r.get(8)?,
                    created_at: r.get(9)?,
                    updated_at: r.get(10)?,
                };
                let kind: String = r.get(11)?;
                let kind = DeliveryKind::from_columns(&kind, r.get(12)?, r.get(13)?);
                Ok(kind.map(|kind| (record, kind)))
            })?
            .filter_map(Result::transpose)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
