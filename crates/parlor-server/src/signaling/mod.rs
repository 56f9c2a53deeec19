//! Signaling: the WebSocket endpoint `/v1/rtc`, the live state of every session (rooms),
//! and the bridge to the media router.
//!
//! * [`connection`] — one task per WebSocket: token first, then requests, heartbeats.
//! * [`outbox`] — each member's bounded outgoing queue.
//! * [`room`] — one room per active session: connections, streams, subscriptions; every
//!   change is applied and broadcast under the room's lock, so every client sees the
//!   same events in the same order.
//!
//! The media router reports transports connecting and closing; [`Signaling::run_router_events`]
//! turns those into `streamCreated`, `streamDestroyed` (mediaStopped) and subscription
//! events (`subscriptionConnected`, `qualityScore`, `videoQuality`).

pub mod connection;
pub mod outbox;
pub(crate) mod requests;
pub(crate) mod resume;
pub mod room;
pub mod rooms_join;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use parlor_proto::signaling::{ProtocolError, ServerMessage, Stream, StreamReason};
use parlor_router::{CloseReason, RouterEvent, RouterHandle, TransportId};
use tokio::sync::mpsc;

pub use room::{Joining, Room};

use crate::callbacks::{self, Notice, Notifier};
use crate::inspector::{History, What};
use crate::limits::{SessionCaps, SignalRateLimiter};
use serde_json::json;

/// What a router transport belongs to.
#[derive(Clone)]
enum TransportOwner {
    Stream(Arc<Room>),
    Subscription(Arc<Room>),
}

/// What rooms tell the server-side media services (archives) about a session, sent under
/// the room's lock so it arrives in the room's order.
#[derive(Debug, Clone)]
pub enum SessionEvent {
    /// A client joined (the session's room exists from now on).
    Joined { session_id: String },
    /// The last client left.
    Emptied { session_id: String },
    /// A stream's producer was created in the router (its media is connecting; the
    /// stream is not announced yet).
    StreamPublishing {
        session_id: String,
        stream: Stream,
        classes: Vec<String>,
    },
    /// A stream's media connected and it was announced to the session.
    StreamAnnounced {
        session_id: String,
        stream: Stream,
        classes: Vec<String>,
    },
    /// An announced stream changed (`hasAudio`, `hasVideo`, dimensions).
    StreamChanged { session_id: String, stream: Stream },
    /// An announced stream's layout classes changed.
    ClassesChanged {
        session_id: String,
        stream_id: String,
        classes: Vec<String>,
    },
    /// A stream ended: an announced one, or one still connecting (after its
    /// `StreamPublishing`).
    StreamDestroyed {
        session_id: String,
        stream_id: String,
    },
}

/// An archive a session's clients are told about (`archiveStarted`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveArchive {
    pub id: String,
    pub name: Option<String>,
}

/// All rooms, the media router, the callback notifier and the session history.
pub struct Signaling {
    pub router: RouterHandle,
    pub(crate) notifier: Notifier,
    pub(crate) history: History,
    /// Join times and quality windows, for `/metrics`.
    pub(crate) histograms: crate::histograms::Histograms,
    rooms: Mutex<HashMap<String, Arc<Room>>>,
    transports: Mutex<HashMap<TransportId, TransportOwner>>,
    /// Sessions under "mute all" (REST `active: true`), with their excluded streams:
    /// streams published later are muted too, until it is lifted.
    mute_all: Mutex<HashMap<String, Vec<String>>>,
    /// Where [`SessionEvent`]s go (archives, broadcasts: [`Signaling::observe`]). Events
    /// are signaling-rate (joins, streams), never per packet.
    observers: Mutex<Vec<mpsc::UnboundedSender<SessionEvent>>>,
    /// Archives running per session: announced to clients joining later.
    active_archives: Mutex<HashMap<String, Vec<ActiveArchive>>>,
    /// What one session may hold.
    caps: SessionCaps,
    /// Signals per second per connection.
    signal_rate: NonZeroU32,
    /// How often clients are asked for `stats` reports, in ms (the router's quality
    /// interval; 0 when it samples none).
    pub(crate) stats_interval_ms: u32,
    /// A session empty for less than this continues its meeting when joined again.
    meeting_gap: std::time::Duration,
    /// Meetings of sessions that emptied less than `meeting_gap` ago: session → (meeting,
    /// when it emptied).
    idle_meetings: Mutex<HashMap<String, (String, std::time::Instant)>>,
    /// The STUN/TURN servers every joining client is given (none until set).
    ice_servers: std::sync::OnceLock<crate::turn::IceServers>,
    /// Connections that can be resumed after a network failure (`resume.rs`).
    pub(crate) resumable: resume::Resumable,
}

impl Signaling {
    pub fn new(
        router: RouterHandle,
        notifier: Notifier,
        history: History,
        caps: SessionCaps,
        signal_rate: NonZeroU32,
        quality_interval: Option<std::time::Duration>,
        meeting_gap: std::time::Duration,
    ) -> Arc<Self> {
        Arc::new(Signaling {
            meeting_gap,
            idle_meetings: Mutex::new(HashMap::new()),
            ice_servers: std::sync::OnceLock::new(),
            resumable: resume::Resumable::default(),
            caps,
            signal_rate,
            stats_interval_ms: quality_interval
                .map_or(0, |d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX)),
            router,
            notifier,
            history,
            histograms: Default::default(),
            rooms: Mutex::new(HashMap::new()),
            transports: Mutex::new(HashMap::new()),
            mute_all: Mutex::new(HashMap::new()),
            observers: Mutex::new(Vec::new()),
            active_archives: Mutex::new(HashMap::new()),
        })
    }

    /// Sets how long a connection that lost its network waits to be resumed (once, at
    /// start; `None`: never resumed).
    pub fn set_reconnect_grace(&self, grace: Option<std::time::Duration>) {
        self.resumable.set_grace(grace);
    }

    /// Sets the STUN/TURN servers given to every client that joins from now on (once, at
    /// start; a second call is ignored).
    pub fn set_ice_servers(&self, servers: crate::turn::IceServers) {
        if !servers.is_empty() {
            tracing::info!(urls = ?servers.urls(), "clients get these STUN/TURN servers");
        }
        if self.ice_servers.set(servers).is_err() {
            tracing::warn!("the ICE servers were set already; keeping the first list");
        }
    }

    /// The ICE servers of a joining connection, TURN credentials minted for it.
    pub(crate) fn ice_servers_for(
        &self,
        connection_id: &str,
    ) -> Vec<parlor_proto::signaling::IceServer> {
        self.ice_servers
            .get()
            .map(|s| s.for_connection(connection_id, std::time::SystemTime::now()))
            .unwrap_or_default()
    }

    /// Starts receiving every session's [`SessionEvent`]s, from now on.
    pub fn observe(&self) -> mpsc::UnboundedReceiver<SessionEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.observers).push(tx);
        rx
    }

    pub(crate) fn emit(&self, event: SessionEvent) {
        let mut observers = lock(&self.observers);
        observers.retain(|tx| !tx.is_closed());
        if let Some((last, rest)) = observers.split_last() {
            for tx in rest {
                let _ = tx.send(event.clone());
            }
            let _ = last.send(event);
        }
    }

    /// An archive of a session started: its clients (and those joining later, until
    /// [`Signaling::archive_stopped`]) get `archiveStarted`.
    pub fn archive_started(&self, session_id: &str, archive: ActiveArchive) {
        lock(&self.active_archives)
            .entry(session_id.to_owned())
            .or_default()
            .push(archive.clone());
        if let Some(room) = self.existing_room(session_id) {
            room.record(What::ArchiveStarted {
                archive_id: archive.id.clone(),
            });
            room.broadcast(&ServerMessage::ArchiveStarted {
                id: archive.id,
                name: archive.name,
            });
        }
    }

    /// An archive of a session stopped: its clients get `archiveStopped`.
    pub fn archive_stopped(&self, session_id: &str, archive_id: &str) {
        let removed = {
            let mut active = lock(&self.active_archives);
            let list = active.entry(session_id.to_owned()).or_default();
            let removed = list
                .iter()
                .position(|a| a.id == archive_id)
                .map(|i| list.remove(i));
            if list.is_empty() {
                active.remove(session_id);
            }
            removed
        };
        if let (Some(archive), Some(room)) = (removed, self.existing_room(session_id)) {
            room.record(What::ArchiveStopped {
                archive_id: archive.id.clone(),
            });
            room.broadcast(&ServerMessage::ArchiveStopped {
                id: archive.id,
                name: archive.name,
            });
        }
    }

    /// The archives running for a session.
    pub(crate) fn active_archives(&self, session_id: &str) -> Vec<ActiveArchive> {
        lock(&self.active_archives)
            .get(session_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Starts (`Some(excluded)`) or lifts (`None`) "mute all" for a session.
    pub fn set_mute_all(&self, session_id: &str, excluded: Option<Vec<String>>) {
        let mut m = lock(&self.mute_all);
        match excluded {
            Some(ex) => {
                m.insert(session_id.to_owned(), ex);
            }
            None => {
                m.remove(session_id);
            }
        }
    }

    /// Whether a newly announced stream of a session must be muted.
    pub(crate) fn mute_all_covers(&self, session_id: &str, stream_id: &str) -> bool {
        lock(&self.mute_all)
            .get(session_id)
            .is_some_and(|ex| !ex.iter().any(|e| e == stream_id))
    }

    /// A new connection's signal rate limiter.
    pub(crate) fn signal_limiter(&self) -> SignalRateLimiter {
        SignalRateLimiter::new(self.signal_rate)
    }

    /// Joins a session's room (created on first use). Holding the rooms lock while
    /// joining means a room being dropped as empty can never take a new member with it.
    /// Refused (`limitExceeded`, `session_full`) when the session is at its cap.
    pub fn join(
        self: &Arc<Self>,
        session_id: &str,
        project_id: &str,
        joining: Joining,
        tx: outbox::Outbox,
    ) -> Result<(Arc<Room>, parlor_proto::signaling::Connection), ProtocolError> {
        let mut rooms = lock(&self.rooms);
        let room = match rooms.get(session_id) {
            Some(room) => room.clone(),
            None => {
                // The meeting of a session that emptied only a moment ago goes on.
                let resumed = lock(&self.idle_meetings)
                    .remove(session_id)
                    .filter(|(_, at)| at.elapsed() < self.meeting_gap)
                    .map(|(meeting, _)| meeting);
                let room = Room::new(
                    session_id,
                    project_id,
                    resumed.clone(),
                    Arc::downgrade(self),
                    self.caps,
                    joining.relayed,
                );
                rooms.insert(session_id.to_owned(), room.clone());
                room.record(What::MeetingStarted {
                    project_id: project_id.to_owned(),
                    resumed: resumed.is_some(),
                });
                self.notifier.notify(Notice {
                    project_id: project_id.to_owned(),
                    session_id: session_id.to_owned(),
                    event: "sessionCreated",
                    body: callbacks::body(project_id, session_id, "sessionCreated", json!({})),
                });
                room
            }
        };
        let connection = room.join(joining, tx)?;
        Ok((room, connection))
    }

    /// The room of a session if anyone is in it.
    pub fn existing_room(&self, session_id: &str) -> Option<Arc<Room>> {
        lock(&self.rooms).get(session_id).cloned()
    }

    /// Forgets a room once its last connection left.
    pub(crate) fn drop_room_if_empty(&self, room: &Room) {
        let mut rooms = lock(&self.rooms);
        if room.is_empty() && rooms.remove(room.session_id()).is_some() {
            room.record(What::MeetingEnded);
            if !self.meeting_gap.is_zero() {
                let mut idle = lock(&self.idle_meetings);
                idle.retain(|_, (_, at)| at.elapsed() < self.meeting_gap);
                idle.insert(
                    room.session_id().to_owned(),
                    (room.meeting_id().to_owned(), std::time::Instant::now()),
                );
            }
            let (project, session) = (room.project_id(), room.session_id());
            self.emit(SessionEvent::Emptied {
                session_id: session.to_owned(),
            });
            self.notifier.notify(Notice {
                project_id: project.to_owned(),
                session_id: session.to_owned(),
                event: "sessionDestroyed",
                body: callbacks::body(project, session, "sessionDestroyed", json!({})),
            });
        }
    }

    pub(crate) fn register_stream(&self, id: &TransportId, room: &Arc<Room>) {
        lock(&self.transports).insert(id.clone(), TransportOwner::Stream(room.clone()));
    }

    pub(crate) fn register_subscription(&self, id: &TransportId, room: &Arc<Room>) {
        lock(&self.transports).insert(id.clone(), TransportOwner::Subscription(room.clone()));
    }

    /// Forgets a transport and closes it in the router.
    pub(crate) fn release_transport(&self, id: &TransportId) {
        lock(&self.transports).remove(id);
        self.router.close(id.clone());
    }

    /// Connections in all rooms.
    pub fn connection_count(&self) -> usize {
        let rooms: Vec<Arc<Room>> = lock(&self.rooms).values().cloned().collect();
        rooms.iter().map(|r| r.member_count()).sum()
    }

    /// Number of rooms and transports known, for leak checks.
    pub fn counts(&self) -> (usize, usize) {
        (lock(&self.rooms).len(), lock(&self.transports).len())
    }

    /// Applies the router's events until it stops.
    pub async fn run_router_events(
        self: Arc<Self>,
        mut events: mpsc::UnboundedReceiver<RouterEvent>,
    ) {
        while let Some(event) = events.recv().await {
            let id = match &event {
                RouterEvent::Connected { id } | RouterEvent::Closed { id, .. } => id.clone(),
                RouterEvent::Quality(sample) => sample.id.clone(),
                RouterEvent::AudioLevel { id, .. }
                | RouterEvent::LayersNeeded { id, .. }
                | RouterEvent::VideoQuality { id, .. } => id.clone(),
            };
            let owner = lock(&self.transports).get(&id).cloned();
            match (event, owner) {
                (RouterEvent::Connected { .. }, Some(TransportOwner::Stream(room))) => {
                    room.stream_media_connected(&id)
                }
                (RouterEvent::Connected { .. }, Some(TransportOwner::Subscription(room))) => {
                    room.subscription_connected(&id)
                }
                (RouterEvent::Closed { reason, .. }, Some(TransportOwner::Stream(room))) => {
                    lock(&self.transports).remove(&id);
                    tracing::info!(stream = %id, ?reason, "publisher media ended");
                    room.destroy_stream(&id, StreamReason::MediaStopped);
                }
                (RouterEvent::Closed { reason, .. }, Some(TransportOwner::Subscription(room))) => {
                    lock(&self.transports).remove(&id);
                    if reason != CloseReason::ProducerClosed {
                        tracing::info!(subscription = %id, ?reason, "subscriber media ended");
                    }
                    room.end_subscription(&id, true);
                }
                (RouterEvent::Quality(sample), Some(TransportOwner::Stream(room))) => {
                    room.quality(&sample, false)
                }
                (RouterEvent::Quality(sample), Some(TransportOwner::Subscription(room))) => {
                    room.quality(&sample, true)
                }
                (RouterEvent::AudioLevel { sample, .. }, Some(TransportOwner::Stream(room))) => {
                    room.audio_level(&id, &sample)
                }
                (RouterEvent::LayersNeeded { layers, .. }, Some(TransportOwner::Stream(room))) => {
                    room.layers_needed(&id, layers)
                }
                (
                    RouterEvent::VideoQuality { state, .. },
                    Some(TransportOwner::Subscription(room)),
                ) => room.video_quality(&id, state),
                (_, None)
                | (
                    RouterEvent::AudioLevel { .. }
                    | RouterEvent::LayersNeeded { .. }
                    | RouterEvent::VideoQuality { .. },
                    _,
                ) => {}
            }
        }
    }
}

/// Locks a mutex, ignoring poisoning: room state is updated so that a panic between two
/// statements cannot leave it inconsistent for the next caller.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
