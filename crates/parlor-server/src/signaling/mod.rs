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
//! events.

pub mod connection;
pub mod outbox;
pub mod room;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use parlor_proto::signaling::StreamReason;
use parlor_router::{CloseReason, RouterEvent, RouterHandle, TransportId};
use tokio::sync::mpsc;

pub use room::Room;

use crate::callbacks::{self, Notice, Notifier};
use serde_json::json;

/// What a router transport belongs to.
#[derive(Clone)]
enum TransportOwner {
    Stream(Arc<Room>),
    Subscription(Arc<Room>),
}

/// All rooms, the media router and the callback notifier.
pub struct Signaling {
    pub router: RouterHandle,
    pub(crate) notifier: Notifier,
    rooms: Mutex<HashMap<String, Arc<Room>>>,
    transports: Mutex<HashMap<TransportId, TransportOwner>>,
    /// Sessions under "mute all" (REST `active: true`), with their excluded streams:
    /// streams published later are muted too, until it is lifted.
    mute_all: Mutex<HashMap<String, Vec<String>>>,
}

impl Signaling {
    pub fn new(router: RouterHandle, notifier: Notifier) -> Arc<Self> {
        Arc::new(Signaling {
            router,
            notifier,
            rooms: Mutex::new(HashMap::new()),
            transports: Mutex::new(HashMap::new()),
            mute_all: Mutex::new(HashMap::new()),
        })
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

    /// Joins a session's room (created on first use). Holding the rooms lock while
    /// joining means a room being dropped as empty can never take a new member with it.
    pub fn join(
        self: &Arc<Self>,
        session_id: &str,
        project_id: &str,
        data: String,
        role: parlor_proto::Role,
        layout_classes: Vec<String>,
        tx: outbox::Outbox,
    ) -> (Arc<Room>, parlor_proto::signaling::Connection) {
        let mut rooms = lock(&self.rooms);
        let room = match rooms.get(session_id) {
            Some(room) => room.clone(),
            None => {
                let room = Room::new(session_id, project_id, Arc::downgrade(self));
                rooms.insert(session_id.to_owned(), room.clone());
                self.notifier.notify(Notice {
                    project_id: project_id.to_owned(),
                    session_id: session_id.to_owned(),
                    event: "sessionCreated",
                    body: callbacks::body(project_id, session_id, "sessionCreated", json!({})),
                });
                room
            }
        };
        let connection = room.join(data, role, layout_classes, tx);
        (room, connection)
    }

    /// The room of a session if anyone is in it.
    pub fn existing_room(&self, session_id: &str) -> Option<Arc<Room>> {
        lock(&self.rooms).get(session_id).cloned()
    }

    /// Forgets a room once its last connection left.
    pub(crate) fn drop_room_if_empty(&self, room: &Room) {
        let mut rooms = lock(&self.rooms);
        if room.is_empty() && rooms.remove(room.session_id()).is_some() {
            let (project, session) = (room.project_id(), room.session_id());
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
                (_, None) => {}
            }
        }
    }
}

/// Locks a mutex, ignoring poisoning: room state is updated so that a panic between two
/// statements cannot leave it inconsistent for the next caller.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
