//! Session-monitoring callbacks (webhooks).
//!
//! Rooms report `sessionCreated`, `connectionCreated`, `connectionDestroyed`,
//! `streamCreated`, `streamDestroyed` and `sessionDestroyed` to a [`Notifier`] — a
//! non-blocking channel send, made under the room's lock so events keep the room's order.
//! The dispatcher task delivers each event as a JSON POST to the project's callback URL
//! (`--callback-url`) and to every callback registered for it (`/v2/project/{key}/callback`),
//! signed with the project secret:
//!
//! * `X-Parlor-Signature: sha256=<hex HMAC-SHA256(api secret, body)>`
//! * `X-Parlor-Event: <event>` and `X-Parlor-Delivery: <delivery id>`
//!
//! Per (URL, session) deliveries are strictly ordered: one is in flight at a time, and a
//! failed one (connection error, timeout, non-2xx) is retried with backoff (0.25 s doubling
//! to 5 s) before the next is tried. Retries are bounded: a delivery is given up (recorded
//! `failed`) once it is [`MAX_DELIVERY_AGE`] old, and a queue holds at most
//! [`MAX_QUEUED_PER_TARGET`] deliveries (later events for a receiver that accepts nothing
//! are recorded `failed` at once), so a dead receiver cannot grow memory or retry forever.
//! Nothing here runs on the signaling or media path; a slow or dead receiver only delays
//! its own queue.
//!
//! Every delivery's state is recorded in the store (`callback_deliveries`) before it is
//! first tried, so the queues survive a restart or a crash: deliveries still `pending`
//! when the server starts are queued again, in their order and before any new event, with
//! their delivery IDs (a delivery in flight at a crash may arrive twice; receivers can
//! tell by `X-Parlor-Delivery`). A delivered one's row is removed; failed ones are kept
//! [`FAILED_RETENTION`] (pruned at start and hourly), so the table holds what is still owed and
//! recent failures, not every event ever sent (the soak found it growing).
//!
//! The same machinery delivers the Rooms API's webhooks ([`crate::rooms::webhooks`]): a
//! delivery has a [`DeliveryKind`] (stored with it) that decides its wire format and its
//! signature. [`DeliveryKind::OpenTok`] is the above; a [`DeliveryKind::RoomsWebhook`]
//! stores the Telnyx envelope's `data`, and each attempt wraps it with its `meta` and signs
//! it anew with the server's Rooms key (Ed25519), trying the room's failover URL when the
//! primary one fails. Ordering, durability, backoff and bounds are the same for both.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hmac::{Hmac, Mac};
use parlor_proto::rooms_token::SigningKey;
use parlor_proto::signaling::{Connection, Stream};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

mod store;

use crate::store::{DeliveryRecord, Store};

/// Header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "X-Parlor-Signature";
/// Per-attempt timeout.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A delivery still failing this long after its event is recorded as failed and skipped.
pub const MAX_DELIVERY_AGE: Duration = Duration::from_secs(3600);
/// Deliveries waiting per (URL, session); past this, new events for it fail at once.
pub const MAX_QUEUED_PER_TARGET: usize = 1000;
/// How long a failed delivery's record is kept (pruned at start and every hour).
pub const FAILED_RETENTION: Duration = Duration::from_secs(7 * 86_400);

/// One event to deliver.
#[derive(Debug, Clone)]
pub struct Notice {
    pub project_id: String,
    pub session_id: String,
    pub event: &'static str,
    pub body: Value,
}

/// How a delivery goes on the wire: the shape of its body, its headers and its signature.
/// Stored with the delivery, so one resumed after a restart is sent as it was meant to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryKind {
    /// An OpenTok session-monitoring callback: the stored body as is, HMAC-SHA256 signed
    /// with the project's secret (`X-Parlor-Signature`, `X-Parlor-Event`,
    /// `X-Parlor-Delivery`).
    OpenTok,
    /// A Telnyx-style Rooms webhook ([`crate::rooms::webhooks`]): the stored body is the
    /// envelope's `data`; each attempt adds its `meta` and is signed with the server's
    /// Rooms key. When the URL fails, the same attempt goes to `failover_url`.
    RoomsWebhook {
        failover_url: Option<String>,
        /// Per-attempt timeout (1–30 s); `None`: the dispatcher's own.
        timeout_secs: Option<u32>,
    },
}

impl DeliveryKind {
    /// The `kind` column's value.
    fn as_str(&self) -> &'static str {
        match self {
            DeliveryKind::OpenTok => "opentok",
            DeliveryKind::RoomsWebhook { .. } => "rooms_webhook",
        }
    }

    /// From the `kind`, `failover_url` and `timeout_secs` columns; `None` for a kind this
    /// build does not know.
    fn from_columns(
        kind: &str,
        failover_url: Option<String>,
        timeout_secs: Option<u32>,
    ) -> Option<Self> {
        match kind {
            "opentok" => Some(DeliveryKind::OpenTok),
            "rooms_webhook" => Some(DeliveryKind::RoomsWebhook {
                failover_url,
                timeout_secs,
            }),
            _ => None,
        }
    }

    fn failover_url(&self) -> Option<&str> {
        match self {
            DeliveryKind::OpenTok => None,
            DeliveryKind::RoomsWebhook { failover_url, .. } => failover_url.as_deref(),
        }
    }

    fn timeout_secs(&self) -> Option<u32> {
        match self {
            DeliveryKind::OpenTok => None,
            DeliveryKind::RoomsWebhook { timeout_secs, .. } => *timeout_secs,
        }
    }
}

/// The schema change that gives deliveries a kind (one migration of [`crate::store`]);
/// rows from before it are OpenTok callbacks.
pub const DELIVERY_KIND_SCHEMA: &str = r#"
ALTER TABLE callback_deliveries ADD COLUMN kind TEXT NOT NULL DEFAULT 'opentok';
ALTER TABLE callback_deliveries ADD COLUMN failover_url TEXT;
ALTER TABLE callback_deliveries ADD COLUMN timeout_secs INTEGER;
"#;

/// One webhook to deliver to one URL, its body and kind made by its producer (the Rooms
/// webhooks). Deliveries with the same `url` and `ordering_key` go out one at a time, in
/// the order they were handed over.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The project it is about (kept with the delivery record).
    pub project_id: String,
    /// What orders it (a room session ID), stored as the record's `session_id`.
    pub ordering_key: String,
    /// The event's name (`video.room.session.started`, ...).
    pub event: String,
    pub url: String,
    /// What is stored; for [`DeliveryKind::RoomsWebhook`] the envelope's `data`.
    pub body: String,
    pub kind: DeliveryKind,
}

/// What the dispatcher is handed.
#[derive(Debug)]
enum Job {
    Callback(Notice),
    Webhook(Webhook),
}

/// The signaling side's handle: cheap to clone, never blocks.
#[derive(Clone, Debug)]
pub struct Notifier {
    tx: mpsc::UnboundedSender<Job>,
    /// Deliveries queued and not done yet (in flight and waiting), for `/v1/stats`.
    queued: Arc<AtomicUsize>,
}

impl Notifier {
    /// Starts the dispatcher (on the current tokio runtime) without a Rooms key: Rooms
    /// webhooks wait (pending) for a dispatcher that has one. Fails only if no HTTP client
    /// can be built (TLS initialisation).
    pub fn start(
        store: Arc<Store>,
        callback_url: Option<String>,
    ) -> Result<Notifier, reqwest::Error> {
        Self::start_with(store, callback_url, None)
    }

    /// Starts the dispatcher; `rooms_key` signs the Rooms webhooks.
    pub fn start_with(
        store: Arc<Store>,
        callback_url: Option<String>,
        rooms_key: Option<SigningKey>,
    ) -> Result<Notifier, reqwest::Error> {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let dispatcher = Dispatcher::new(store, callback_url, rooms_key, queued.clone())?;
        tokio::spawn(dispatcher.run(rx));
        Ok(Notifier { tx, queued })
    }

    /// Deliveries queued and not done yet (delivered or given up).
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Queues an event; returns at once.
    pub fn notify(&self, notice: Notice) {
        let _ = self.tx.send(Job::Callback(notice));
    }

    /// Queues a webhook (recorded, then delivered in its order); returns at once.
    pub fn deliver(&self, webhook: Webhook) {
        let _ = self.tx.send(Job::Webhook(webhook));
    }
}

/// `{sessionId, projectId, event, timestamp}` plus `extra`'s fields.
pub fn body(project_id: &str, session_id: &str, event: &str, extra: Value) -> Value {
    let mut b = json!({
        "sessionId": session_id,
        "projectId": project_id,
        "event": event,
        "timestamp": crate::unix_millis(),
    });
    if let (Value::Object(b), Value::Object(extra)) = (&mut b, extra) {
        b.extend(extra);
    }
    b
}

/// A connection as callbacks show it.
pub fn connection_json(c: &Connection) -> Value {
    json!({ "id": c.connection_id, "createdAt": c.creation_time, "data": c.data })
}

/// A stream as callbacks show it.
pub fn stream_json(s: &Stream) -> Value {
    json!({
        "id": s.stream_id,
        "connection": connection_json(&s.connection),
        "createdAt": s.creation_time,
        "name": s.name,
        "videoType": s.video_type,
    })
}

/// The legacy callback API's (group, event) for an event name.
pub fn group_and_event(event: &str) -> Option<(&'static str, &'static str)> {
    Some(match event {
        "sessionCreated" => ("session", "created"),
        "sessionDestroyed" => ("session", "destroyed"),
        "connectionCreated" => ("connection", "created"),
        "connectionDestroyed" => ("connection", "destroyed"),
        "streamCreated" => ("stream", "created"),
        "streamDestroyed" => ("stream", "destroyed"),
        "archive" => ("archive", "status"),
        _ => return None,
    })
}

/// Signs a body with a project secret.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

struct Delivery {
    record: DeliveryRecord,
    how: How,
}

/// How a queued delivery's attempts are made (its kind, with what signs it).
#[derive(Clone)]
enum How {
    /// The body never changes, so its HMAC is computed once.
    OpenTok { signature: String },
    RoomsWebhook {
        key: Arc<SigningKey>,
        failover_url: Option<String>,
        timeout: Option<Duration>,
    },
}

type Key = (String, String); // (url, session)

struct Dispatcher {
    store: Arc<Store>,
    callback_url: Option<String>,
    /// Signs Rooms webhooks; without it they stay pending.
    rooms_key: Option<Arc<SigningKey>>,
    http: reqwest::Client,
    queues: HashMap<Key, VecDeque<Delivery>>,
    /// How many deliveries `queues` holds in all.
    queued: Arc<AtomicUsize>,
    in_flight: JoinSet<(Key, Result<(), String>)>,
}

impl Dispatcher {
    fn new(
        store: Arc<Store>,
        callback_url: Option<String>,
        rooms_key: Option<SigningKey>,
        queued: Arc<AtomicUsize>,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            // Idle connections to receivers are closed after 10 s, not reqwest's 90 s: a
            // server with many receivers does not hold their sockets open for nothing.
            .pool_idle_timeout(Duration::from_secs(10))
            .user_agent(concat!("parlor-callbacks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Dispatcher {
            store,
            callback_url,
            rooms_key: rooms_key.map(Arc::new),
            http,
            queues: HashMap::new(),
            queued,
            in_flight: JoinSet::new(),
        })
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Job>) {
        self.resume().await;
        // Once every sender is gone, only the deliveries in flight are left to finish.
        let mut open = true;
        let mut prune = tokio::time::interval(Duration::from_secs(3600));
        prune.tick().await; // the first tick is now: `resume` just pruned
        loop {
            tokio::select! {
                _ = prune.tick() => {
                    let store = self.store.clone();
                    let cutoff = crate::unix_millis() - FAILED_RETENTION.as_millis() as i64;
                    let _ = tokio::task::spawn_blocking(move || store.prune_failed_deliveries(cutoff)).await;
                }
                job = rx.recv(), if open => match job {
                    Some(Job::Callback(n)) => self.enqueue(n).await,
                    Some(Job::Webhook(w)) => self.enqueue_webhook(w).await,
                    None if self.in_flight.is_empty() => return,
                    None => open = false,
                },
                Some(done) = self.in_flight.join_next(), if !self.in_flight.is_empty() => {
                    if let Ok((key, outcome)) = done {
                        self.finished(key, outcome).await;
                    }
                }
            }
        }
    }

    /// Queues again the deliveries a previous run left pending (it stopped or was killed
    /// before they were delivered or given up), signed with their project's secret now
    /// (OpenTok callbacks) or with the Rooms key (Rooms webhooks).
    async fn resume(&mut self) {
        let store = self.store.clone();
        let found = tokio::task::spawn_blocking(move || {
            let cutoff = crate::unix_millis() - FAILED_RETENTION.as_millis() as i64;
            store.prune_failed_deliveries(cutoff)?;
            let pending = store.pending_deliveries()?;
            let mut secrets = HashMap::new();
            for (d, kind) in &pending {
                if *kind == DeliveryKind::OpenTok
                    && !secrets.contains_key(&d.project_id)
                    && let Some(p) = store.project(&d.project_id)?
                {
                    secrets.insert(d.project_id.clone(), p.api_secret);
                }
            }
            Ok::<_, crate::store::StoreError>((pending, secrets))
        })
        .await;
        let (pending, secrets) = match found {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot read the pending callback deliveries");
                return;
            }
            Err(_) => return,
        };
        if !pending.is_empty() {
            tracing::info!(
                deliveries = pending.len(),
                "resuming callback deliveries left pending"
            );
        }
        for (record, kind) in pending {
            let how = match &kind {
                DeliveryKind::OpenTok => {
                    let Some(secret) = secrets.get(&record.project_id) else {
                        continue; // the project is gone: nothing can sign it
                    };
                    How::OpenTok {
                        signature: sign(secret, record.body.as_bytes()),
                    }
                }
                DeliveryKind::RoomsWebhook { .. } => match self.rooms_how(&kind) {
                    Some(how) => how,
                    None => {
                        tracing::warn!(event = %record.event, "no Rooms key to sign a pending webhook; left pending");
                        continue;
                    }
                },
            };
            self.queue(record, how);
        }
    }

    /// How a Rooms webhook of `kind` is sent, if there is a key to sign it.
    fn rooms_how(&self, kind: &DeliveryKind) -> Option<How> {
        let timeout = kind
            .timeout_secs()
            .filter(|&s| s > 0)
            .map(|s| Duration::from_secs(u64::from(s.min(30))));
        Some(How::RoomsWebhook {
            key: self.rooms_key.clone()?,
            failover_url: kind.failover_url().map(str::to_owned),
            timeout,
        })
    }

    /// Appends a recorded delivery to its queue, starting it if it is the queue's first.
    fn queue(&mut self, record: DeliveryRecord, how: How) {
        let key = (record.url.clone(), record.session_id.clone());
        let queue = self.queues.entry(key.clone()).or_default();
        queue.push_back(Delivery { record, how });
        self.queued.fetch_add(1, Ordering::Relaxed);
        if queue.len() == 1 {
            self.attempt(key, Duration::ZERO);
        }
    }

    /// Records a new delivery and queues it, or records it failed at once when its queue
    /// is full.
    async fn admit(&mut self, record: DeliveryRecord, kind: &DeliveryKind, how: How) {
        let key = (record.url.clone(), record.session_id.clone());
        if self.queues.get(&key).map_or(0, VecDeque::len) >= MAX_QUEUED_PER_TARGET {
            let record = DeliveryRecord {
                status: "failed".into(),
                last_error: Some(format!(
                    "not queued: {MAX_QUEUED_PER_TARGET} deliveries to this URL for this \
                     session are already waiting"
                )),
                ..record
            };
            tracing::warn!(url = %key.0, event = %record.event, "callback queue full; event not delivered");
            self.insert(&record, kind).await;
            return;
        }
        self.insert(&record, kind).await;
        self.queue(record, how);
    }

    /// A webhook handed over by its producer: recorded, then queued.
    async fn enqueue_webhook(&mut self, w: Webhook) {
        let how = match &w.kind {
            DeliveryKind::OpenTok => {
                tracing::error!(event = %w.event, "an OpenTok callback handed over as a webhook; dropped");
                return;
            }
            kind @ DeliveryKind::RoomsWebhook { .. } => self.rooms_how(kind),
        };
        let now = crate::unix_millis();
        let record = DeliveryRecord {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: w.project_id,
            session_id: w.ordering_key,
            event: w.event,
            url: w.url,
            body: w.body,
            status: "pending".into(),
            attempts: 0,
            last_error: None,
            created_at: now,
            updated_at: now,
        };
        match how {
            Some(how) => self.admit(record, &w.kind, how).await,
            None => {
                // Recorded pending: a dispatcher with the key delivers it after a restart.
                tracing::warn!(event = %record.event, "no Rooms key to sign a webhook; left pending");
                self.insert(&record, &w.kind).await;
            }
        }
    }

    /// The URLs an event goes to, and the secret that signs it.
    async fn targets(&self, project_id: &str, event: &str) -> (Vec<String>, Option<String>) {
        let store = self.store.clone();
        let project = project_id.to_owned();
        let server_wide = self.callback_url.is_some();
        let found = tokio::task::spawn_blocking(move || {
            let callbacks = store.callbacks(&project)?;
            if callbacks.is_empty() && !server_wide {
                return Ok(None); // nothing to deliver: no need for the secret
            }
            Ok::<_, crate::store::StoreError>(store.project(&project)?.map(|p| (p, callbacks)))
        })
        .await;
        let (project, callbacks) = match found {
            Ok(Ok(Some(found))) => found,
            Ok(Ok(None)) => return (Vec::new(), None),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, project = project_id, event, "cannot read callbacks; event not delivered");
                return (Vec::new(), None);
            }
            // Cancelled: the runtime is shutting down, nothing is wrong.
            Err(e) if e.is_cancelled() => {
                tracing::debug!("callback lookup cancelled by shutdown");
                return (Vec::new(), None);
            }
            Err(e) => {
                tracing::error!(error = %e, "callback lookup task failed");
                return (Vec::new(), None);
            }
        };
        let mut urls: Vec<String> = self.callback_url.iter().cloned().collect();
        if let Some((group, ev)) = group_and_event(event) {
            for c in callbacks {
                if c.group == group && c.event == ev && !urls.contains(&c.url) {
                    urls.push(c.url);
                }
            }
        }
        (urls, Some(project.api_secret))
    }

    async fn enqueue(&mut self, n: Notice) {
        let (urls, secret) = self.targets(&n.project_id, n.event).await;
        let Some(secret) = secret else { return };
        let body = n.body.to_string();
        let signature = sign(&secret, body.as_bytes());
        let now = crate::unix_millis();
        for url in urls {
            let record = DeliveryRecord {
                id: uuid::Uuid::new_v4().to_string(),
                project_id: n.project_id.clone(),
                session_id: n.session_id.clone(),
                event: n.event.to_owned(),
                url: url.clone(),
                body: body.clone(),
                status: "pending".into(),
                attempts: 0,
                last_error: None,
                created_at: now,
                updated_at: now,
            };
            let how = How::OpenTok {
                signature: signature.clone(),
            };
            self.admit(record, &DeliveryKind::OpenTok, how).await;
        }
    }

    /// Starts the head of `key`'s queue after `delay`.
    fn attempt(&mut self, key: Key, delay: Duration) {
        let Some(head) = self.queues.get(&key).and_then(|q| q.front()) else {
            return;
        };
        let http = self.http.clone();
        let record = head.record.clone();
        let how = head.how.clone();
        self.in_flight.spawn(async move {
            tokio::time::sleep(delay).await;
            (key, send(&http, &record, &how).await)
        });
    }

    async fn finished(&mut self, key: Key, outcome: Result<(), String>) {
        let Some(queue) = self.queues.get_mut(&key) else {
            return;
        };
        let Some(head) = queue.front_mut() else {
            return;
        };
        head.record.attempts += 1;
        head.record.updated_at = crate::unix_millis();
        let done = match outcome {
            Ok(()) => {
                head.record.status = "delivered".into();
                head.record.last_error = None;
                true
            }
            Err(e) => {
                tracing::debug!(url = %key.0, event = %head.record.event, error = %e, "callback delivery failed");
                head.record.last_error = Some(e);
                let age_ms = head.record.updated_at - head.record.created_at;
                if age_ms >= MAX_DELIVERY_AGE.as_millis() as i64 {
                    head.record.status = "failed".into();
                    tracing::warn!(url = %key.0, event = %head.record.event, "callback delivery given up");
                    true
                } else {
                    false
                }
            }
        };
        let record = head.record.clone();
        let attempts = record.attempts;
        self.record(&record).await;
        if done {
            let queue = self.queues.get_mut(&key).expect("present above");
            queue.pop_front();
            self.queued.fetch_sub(1, Ordering::Relaxed);
            if queue.is_empty() {
                self.queues.remove(&key);
            } else {
                self.attempt(key, Duration::ZERO);
            }
        } else {
            // `attempts` counts the one that just failed: 0.25 s after the first.
            let backoff = Duration::from_millis(250)
                .saturating_mul(1 << attempts.saturating_sub(1).min(10) as u32)
                .min(MAX_BACKOFF);
            self.attempt(key, backoff);
        }
    }

    /// Records a new delivery with its kind (before its first attempt).
    async fn insert(&self, record: &DeliveryRecord, kind: &DeliveryKind) {
        let store = self.store.clone();
        let record = record.clone();
        let kind = kind.clone();
        let result =
            tokio::task::spawn_blocking(move || store.insert_delivery(&record, &kind)).await;
        if let Ok(Err(e)) = result {
            tracing::warn!(error = %e, "cannot record a callback delivery");
        }
    }

    /// Records a delivery's new state.
    async fn record(&self, record: &DeliveryRecord) {
        let store = self.store.clone();
        let record = record.clone();
        let result = tokio::task::spawn_blocking(move || store.record_delivery(&record)).await;
        if let Ok(Err(e)) = result {
            tracing::warn!(error = %e, "cannot record a callback delivery");
        }
    }
}

/// One attempt of a delivery: `Ok` when a receiver answered 2xx.
async fn send(http: &reqwest::Client, record: &DeliveryRecord, how: &How) -> Result<(), String> {
    match how {
        How::OpenTok { signature } => {
            let request = http
                .post(&record.url)
                .header("Content-Type", "application/json")
                .header(SIGNATURE_HEADER, signature)
                .header("X-Parlor-Event", &record.event)
                .header("X-Parlor-Delivery", &record.id)
                .body(record.body.clone());
            outcome(request.send().await)
        }
        How::RoomsWebhook {
            key,
            failover_url,
            timeout,
        } => {
            // `attempts` counts the attempts made before this one.
            let attempt = record.attempts + 1;
            let mut errors = Vec::new();
            for url in std::iter::once(record.url.as_str()).chain(failover_url.as_deref()) {
                let mut request =
                    crate::rooms::webhooks::request(http, key, &record.body, attempt, url);
                if let Some(timeout) = timeout {
                    request = request.timeout(*timeout);
                }
                match outcome(request.send().await) {
                    Ok(()) => return Ok(()),
                    Err(e) if failover_url.is_some() => errors.push(format!("{url}: {e}")),
                    Err(e) => errors.push(e),
                }
            }
            Err(errors.join("; "))
        }
    }
}

fn outcome(sent: Result<reqwest::Response, reqwest::Error>) -> Result<(), String> {
    match sent {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests;
