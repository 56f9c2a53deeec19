//! [`History`]: where the signaling layer records, and the task that writes it down.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::record::{Record, What};
use crate::store::Store;

/// Records waiting to be written; past this, new ones are dropped (and counted).
const QUEUE: usize = 16_384;
/// At most this many records per transaction (the store's lock is held that long).
const BATCH: usize = 256;
/// How often what is older than the retention is deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The recording side's handle: cheap to clone, never blocks.
#[derive(Clone, Debug)]
pub struct History {
    tx: mpsc::Sender<Record>,
    dropped: Arc<AtomicU64>,
}

impl History {
    /// Closes what a previous run left open, then starts the writer and the pruner (on
    /// the current tokio runtime). History older than `retention`, and quality windows
    /// older than `quality_retention`, are deleted hourly.
    pub fn start(store: Arc<Store>, retention: Duration, quality_retention: Duration) -> History {
        match store.close_open_history() {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                meetings = n,
                "history: closed meetings a previous run left open"
            ),
            Err(e) => tracing::error!(error = %e, "history: cannot close open meetings"),
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(write(store.clone(), rx));
        tokio::spawn(prune(store, retention, quality_retention));
        History { tx, dropped }
    }

    /// Records `what` now; returns at once.
    pub fn record(&self, session_id: &str, meeting_id: Option<&str>, what: What) {
        let record = Record {
            at: crate::unix_millis(),
            session_id: session_id.to_owned(),
            meeting_id: meeting_id.map(str::to_owned),
            what,
        };
        if self.tx.try_send(record).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records dropped because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Writes records in batches until every [`History`] is dropped.
async fn write(store: Arc<Store>, mut rx: mpsc::Receiver<Record>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let store = store.clone();
        let records = std::mem::take(&mut batch);
        let written = tokio::task::spawn_blocking(move || {
            let r = store.write_history(&records);
            (r, records)
        })
        .await;
        match written {
            Ok((Ok(()), mut records)) => {
                records.clear();
                batch = records;
            }
            Ok((Err(e), _)) => tracing::error!(error = %e, "history: cannot write records"),
            Err(e) if e.is_panic() => tracing::error!("history: the writer panicked"),
            // The runtime is shutting down.
            Err(_) => return,
        }
    }
}

/// Deletes history older than its retentions, at start and then hourly.
async fn prune(store: Arc<Store>, retention: Duration, quality_retention: Duration) {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let (retention_ms, quality_ms) = (ms(retention), ms(quality_retention));
    let mut every = tokio::time::interval(PRUNE_EVERY);
    loop {
        every.tick().await;
        let store = store.clone();
        let now = crate::unix_millis();
        let (cutoff, quality_cutoff) = (
            now.saturating_sub(retention_ms),
            now.saturating_sub(quality_ms),
        );
        match tokio::task::spawn_blocking(move || store.prune_history(cutoff, quality_cutoff)).await
        {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(rows = n, "history: pruned what is past the retention"),
            Ok(Err(e)) => tracing::error!(error = %e, "history: cannot prune"),
            Err(e) if e.is_panic() => tracing::error!("history: pruning panicked"),
            Err(_) => return,
        }
    }
}
