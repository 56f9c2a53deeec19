//! One active session: who is connected, what is published, who subscribes to what.
//!
//! Every mutation happens under the room's lock and broadcasts its event before releasing
//! it, so all members see one order of events. Messages are serialized once and handed to
//! each member's [`Outbox`] (bounded; a member that cannot keep up is disconnected, never
//! waited for), drained by its WebSocket task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use axum::extract::ws::Utf8Bytes;
use indexmap::IndexMap;
use parlor_proto::Role;
use parlor_proto::signaling::{
    Capabilities, Connection, ConnectionReason, ErrorCode, P2pCandidate, P2pKind, ProtocolError,
    ServerMessage, StatsReport, Stream, StreamReason, VERSION, VideoDimensions,
};
use parlor_router::TransportId;
use serde_json::Value;

mod censor;
mod history;
pub mod layers;
mod p2p;
mod speakers;

use super::outbox::Outbox;
use super::{SessionEvent, Signaling, lock};
use crate::inspector::{ClientInfo, What};
use crate::limits::{
    MAX_RELAYED_CONNECTIONS, REASON_SESSION_FULL, REASON_STREAM_LIMIT, REASON_SUBSCRIPTION_LIMIT,
    SessionCaps,
};
use crate::{callbacks, wire_name};
use serde_json::json;

/// Who is joining a room: what its token granted, and what the client told about itself.
pub struct Joining {
    /// The token's connection data.
    pub data: String,
    pub role: Role,
    /// The token's initial layout classes, given to this member's streams.
    pub layout_classes: Vec<String>,
    pub client: ClientInfo,
    /// The session is relayed (`p2p.preference=enabled`): its media goes peer to peer.
    pub relayed: bool,
    /// How the client may resume this connection after a network failure (it asked).
    pub resume: Option<parlor_proto::signaling::ResumeGrant>,
}

struct Member {
    connection: Connection,
    role: Role,
    /// The token's initial layout classes, given to this member's streams.
    layout_classes: Vec<String>,
    tx: Outbox,
    /// Signals sent, for the history.
    signals: u64,
    /// When its last `stats` report was taken (more than one a second are ignored).
    last_stats: Option<std::time::Instant>,
}

struct StreamEntry {
    stream: Stream,
    id: TransportId,
    /// Announced (`streamCreated`) once the publisher's media connected.
    announced: bool,
    /// Classes for composed layouts (set by the token, then the REST API).
    layout_class_list: Vec<String>,
    /// The publisher side's last quality score (MOS) per kind of media: audio, video.
    publisher_mos: [Option<f64>; 2],
    /// The publisher's last `stats` report per kind of media, until a quality window
    /// takes it.
    client: [Option<StatsReport>; 2],
    /// Rooms: its audio is censored (`room/censor.rs`); its owner cannot turn it on.
    censored: bool,
    /// Its video's simulcast layers, lowest first (`room/layers.rs`); empty for one.
    layers: Vec<parlor_proto::signaling::SimulcastLayer>,
}

struct SubscriptionEntry {
    connection_id: String,
    stream_id: String,
    /// Its media connected (`subscriptionConnected`).
    connected: bool,
    /// The subscriber's last `stats` report per kind of media, until a quality window
    /// takes it.
    client: [Option<StatsReport>; 2],
    /// A pre-call network test's subscription: what its windows measured so far.
    precall: Option<Box<history::Precall>>,
    /// setPreferredResolution / setPreferredFrameRate (`room/layers.rs`).
    preferred_resolution: Option<VideoDimensions>,
    preferred_frame_rate: Option<f64>,
}

#[derive(Default)]
struct State {
    members: IndexMap<String, Member>,
    streams: IndexMap<String, StreamEntry>,
    subscriptions: HashMap<String, SubscriptionEntry>,
    /// Who is speaking (`room/speakers.rs`).
    speakers: speakers::SpeakerDetector,
}

/// A session with at least one connection.
pub struct Room {
    session_id: String,
    project_id: String,
    /// This period of use of the session, in the history (a room lives as long as a
    /// meeting).
    meeting_id: String,
    hub: Weak<Signaling>,
    caps: SessionCaps,
    /// Relayed (`p2p.preference=enabled`): clients connect to each other directly
    /// (`p2pSignal`); the router has no producer or consumer of this session.
    relayed: bool,
    state: Mutex<State>,
}

fn encode(msg: &ServerMessage) -> Utf8Bytes {
    Utf8Bytes::from(serde_json::to_string(msg).expect("server messages always serialize"))
}

impl State {
    fn send(&self, connection_id: &str, msg: &ServerMessage) {
        if let Some(m) = self.members.get(connection_id) {
            m.tx.send(encode(msg));
        }
    }

    fn broadcast(&self, msg: &ServerMessage) {
        let text = encode(msg);
        for m in self.members.values() {
            m.tx.send(text.clone());
        }
    }

    fn stream_owned_by(
        &self,
        stream_id: &str,
        connection_id: &str,
    ) -> Result<&StreamEntry, ProtocolError> {
        match self.streams.get(stream_id) {
            Some(s) if s.stream.connection.connection_id == connection_id => Ok(s),
            Some(_) => Err(ProtocolError::new(
                ErrorCode::PermissionDenied,
                format!("stream {stream_id} is not yours"),
            )),
            None => Err(not_found("stream", stream_id)),
        }
    }
}

fn not_found(what: &str, id: &str) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::NotFound,
        format!("no {what} {id} in this session"),
    )
}

fn denied(what: &str, role: Role) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::PermissionDenied,
        format!("a {role} token does not allow {what}"),
    )
}

impl Room {
    /// A room for a session: in a new meeting, or continuing `meeting`.
    pub(super) fn new(
        session_id: &str,
        project_id: &str,
        meeting: Option<String>,
        hub: Weak<Signaling>,
        caps: SessionCaps,
        relayed: bool,
    ) -> Arc<Room> {
        Arc::new(Room {
            session_id: session_id.to_owned(),
            project_id: project_id.to_owned(),
            meeting_id: meeting.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            hub,
            caps,
            relayed,
            state: Mutex::new(State::default()),
        })
    }

    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Whether the session is relayed (media peer to peer, never through the router).
    pub fn is_relayed(&self) -> bool {
        self.relayed
    }

    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The meeting this room's life belongs to (the Inspector's).
    pub fn meeting_id(&self) -> &str {
        &self.meeting_id
    }

    /// Sends one message to one member.
    pub fn send_to(&self, connection_id: &str, msg: &ServerMessage) {
        lock(&self.state).send(connection_id, msg);
    }

    /// Sends one message to every member.
    pub fn broadcast(&self, msg: &ServerMessage) {
        lock(&self.state).broadcast(msg);
    }

    /// Tells the server-side media services (archives) about a change, in the room's order
    /// (call under the state lock).
    fn observe(&self, event: SessionEvent) {
        if let Some(hub) = self.hub.upgrade() {
            hub.emit(event);
        }
    }

    /// How many connections the room has.
    pub fn member_count(&self) -> usize {
        lock(&self.state).members.len()
    }

    pub fn is_empty(&self) -> bool {
        lock(&self.state).members.is_empty()
    }

    /// The connections' IDs, oldest first.
    pub fn connection_ids(&self) -> Vec<String> {
        lock(&self.state).members.keys().cloned().collect()
    }

    /// Adds a connection: it receives `connected` (with everyone else and every announced
    /// stream), the others receive `connectionCreated`. Refused when the session holds
    /// [`SessionCaps::connections`] already.
    pub fn join(&self, joining: Joining, tx: Outbox) -> Result<Connection, ProtocolError> {
        let Joining {
            data,
            role,
            layout_classes,
            client,
            relayed: _,
            resume,
        } = joining;
        let mut state = lock(&self.state);
        if self.relayed && state.members.len() >= MAX_RELAYED_CONNECTIONS {
            return Err(ProtocolError::new(
                ErrorCode::LimitExceeded,
                format!(
                    "the relayed session is full: it has {MAX_RELAYED_CONNECTIONS} connections, \
                     the most a relayed (peer-to-peer) session allows; use a routed session \
                     (p2p.preference=disabled) for more participants"
                ),
            )
            .with_reason(REASON_SESSION_FULL));
        }
        if state.members.len() >= self.caps.connections {
            return Err(ProtocolError::new(
                ErrorCode::LimitExceeded,
                format!(
                    "the session is full: it has {} connections, the most this server allows \
                     in one session",
                    self.caps.connections
                ),
            )
            .with_reason(REASON_SESSION_FULL));
        }
        let connection = Connection {
            connection_id: uuid::Uuid::new_v4().to_string(),
            creation_time: crate::unix_millis(),
            data,
        };
        let hub = self.hub.upgrade();
        let connected = ServerMessage::Connected {
            version: VERSION,
            session_id: self.session_id.clone(),
            connection: connection.clone(),
            role,
            capabilities: Capabilities::from(role),
            connections: state
                .members
                .values()
                .map(|m| m.connection.clone())
                .collect(),
            streams: state
                .streams
                .values()
                .filter(|s| s.announced)
                .map(|s| s.stream.clone())
                .collect(),
            stats_interval: hub.as_ref().map_or(0, |h| h.stats_interval_ms),
            ice_servers: hub
                .as_ref()
                .map(|h| h.ice_servers_for(&connection.connection_id))
                .unwrap_or_default(),
            relayed: self.relayed,
            resume,
        };
        tx.send(encode(&connected));
        censor::tell_joiner(&state, &tx);
        speakers::tell_joiner(&state, &tx);
        if let Some(hub) = hub {
            for archive in hub.active_archives(&self.session_id) {
                tx.send(encode(&ServerMessage::ArchiveStarted {
                    id: archive.id,
                    name: archive.name,
                }));
            }
            hub.emit(SessionEvent::Joined {
                session_id: self.session_id.clone(),
            });
        }
        state.broadcast(&ServerMessage::ConnectionCreated {
            connection: connection.clone(),
        });
        self.notify(
            "connectionCreated",
            json!({ "connection": callbacks::connection_json(&connection) }),
        );
        self.record(What::ConnectionCreated {
            connection_id: connection.connection_id.clone(),
            role: role.to_string(),
            data: connection.data.clone(),
            client,
        });
        state.members.insert(
            connection.connection_id.clone(),
            Member {
                connection: connection.clone(),
                role,
                layout_classes,
                tx,
                signals: 0,
                last_stats: None,
            },
        );
        Ok(connection)
    }

    /// Removes a connection with its streams and subscriptions. Idempotent.
    pub fn leave(&self, connection_id: &str, reason: ConnectionReason) {
        self.leave_with(connection_id, reason, None)
    }

    /// [`Room::leave`] with a Rooms participant's finer reason for the others.
    pub fn leave_with(
        &self,
        connection_id: &str,
        reason: ConnectionReason,
        detail: Option<&'static str>,
    ) {
        let mut released = Vec::new();
        {
            let mut state = lock(&self.state);
            let Some(member) = state.members.shift_remove(connection_id) else {
                return;
            };
            let own_streams: Vec<String> = state
                .streams
                .values()
                .filter(|s| s.stream.connection.connection_id == connection_id)
                .map(|s| s.stream.stream_id.clone())
                .collect();
            for stream_id in own_streams {
                self.destroy_stream_locked(&mut state, &stream_id, reason.into(), &mut released);
            }
            let own_subs: Vec<String> = state
                .subscriptions
                .iter()
                .filter(|(_, s)| s.connection_id == connection_id)
                .map(|(id, _)| id.clone())
                .collect();
            for id in own_subs {
                if let Some(sub) = state.subscriptions.remove(&id) {
                    self.record_subscription_end(&id, &sub, "connectionDestroyed");
                    self.tell_relayed_publisher(&state, &id, &sub);
                }
                released.push(TransportId::from(id));
            }
            self.record(What::ConnectionDestroyed {
                connection_id: connection_id.to_owned(),
                reason: wire_name(&reason),
                signals: member.signals,
            });
            self.notify(
                "connectionDestroyed",
                json!({ "connection": callbacks::connection_json(&member.connection), "reason": reason }),
            );
            state.broadcast(&ServerMessage::ConnectionDestroyed {
                connection: member.connection,
                reason,
                detail: detail.map(str::to_owned),
            });
        }
        tracing::info!(session = %self.session_id, connection = connection_id, ?reason, "connection left");
        if let Some(hub) = self.hub.upgrade() {
            for id in &released {
                hub.release_transport(id);
            }
            hub.drop_room_if_empty(self);
        }
    }

    /// A moderator (or the REST API, with `by` = None) ends another connection.
    pub fn force_disconnect(&self, by: Option<&str>, target: &str) -> Result<(), ProtocolError> {
        self.force_disconnect_with(by, target, None)
    }

    /// [`Room::force_disconnect`] with a Rooms participant's finer reason (`kicked`,
    /// `session_terminated`, `token_expired`), told to it and to the others.
    pub fn force_disconnect_with(
        &self,
        by: Option<&str>,
        target: &str,
        detail: Option<&'static str>,
    ) -> Result<(), ProtocolError> {
        let tx = {
            let state = lock(&self.state);
            self.check_moderator(&state, by, "forceDisconnect")?;
            state
                .members
                .get(target)
                .map(|m| m.tx.clone())
                .ok_or_else(|| not_found("connection", target))?
        };
        self.record(What::Moderation {
            action: "forceDisconnect",
            by: by.map(str::to_owned),
            target: Some(target.to_owned()),
        });
        self.leave_with(target, ConnectionReason::ForceDisconnected, detail);
        tx.close_with(ConnectionReason::ForceDisconnected, detail);
        Ok(())
    }

    fn check_moderator(
        &self,
        state: &State,
        by: Option<&str>,
        what: &str,
    ) -> Result<(), ProtocolError> {
        match by {
            None => Ok(()),
            Some(id) => match state.members.get(id) {
                Some(m) if m.role.can_moderate() => Ok(()),
                Some(m) => Err(denied(what, m.role)),
                None => Err(ProtocolError::new(ErrorCode::NotConnected, "not connected")),
            },
        }
    }

    fn role_of(&self, state: &State, connection_id: &str) -> Result<Role, ProtocolError> {
        state
            .members
            .get(connection_id)
            .map(|m| m.role)
            .ok_or_else(|| ProtocolError::new(ErrorCode::NotConnected, "not connected"))
    }

    /// Registers a stream about to be negotiated; returns its transport ID.
    #[allow(clippy::too_many_arguments)]
    pub fn add_stream(
        self: &Arc<Self>,
        connection_id: &str,
        name: String,
        has_audio: bool,
        has_video: bool,
        video_type: parlor_proto::signaling::VideoType,
        video_dimensions: Option<VideoDimensions>,
    ) -> Result<TransportId, ProtocolError> {
        let mut state = lock(&self.state);
        let role = self.role_of(&state, connection_id)?;
        if !role.can_publish() {
            return Err(denied("publishing", role));
        }
        if name.chars().count() > 256 {
            return Err(ProtocolError::new(
                ErrorCode::LimitExceeded,
                "stream name is longer than 256 characters",
            ));
        }
        if !has_audio && !has_video {
            return Err(ProtocolError::new(
                ErrorCode::BadRequest,
                "a stream needs audio, video or both",
            ));
        }
        if state.streams.len() >= self.caps.streams {
            return Err(ProtocolError::new(
                ErrorCode::LimitExceeded,
                format!(
                    "the session has {} streams, the most this server allows in one session",
                    self.caps.streams
                ),
            )
            .with_reason(REASON_STREAM_LIMIT));
        }
        let connection = state.members[connection_id].connection.clone();
        let layout_class_list = state.members[connection_id].layout_classes.clone();
        let stream_id = uuid::Uuid::new_v4().to_string();
        let id = TransportId::from(stream_id.as_str());
        state.streams.insert(
            stream_id.clone(),
            StreamEntry {
                stream: Stream {
                    stream_id,
                    connection,
                    name,
                    has_audio,
                    has_video,
                    video_type,
                    video_dimensions,
                    creation_time: crate::unix_millis(),
                },
                id: id.clone(),
                announced: false,
                censored: false,
                layers: Vec::new(),
                layout_class_list,
                publisher_mos: [None; 2],
                client: [None, None],
            },
        );
        if !self.relayed
            && let Some(hub) = self.hub.upgrade()
        {
            hub.register_stream(&id, self);
        }
        Ok(id)
    }

    /// The stream's producer exists in the router: server-side media services (archives)
    /// may attach to it before its media connects.
    pub fn producer_created(&self, stream_id: &str) {
        let state = lock(&self.state);
        if let Some(entry) = state.streams.get(stream_id) {
            self.observe(SessionEvent::StreamPublishing {
                session_id: self.session_id.clone(),
                stream: entry.stream.clone(),
                classes: entry.layout_class_list.clone(),
            });
        }
    }

    /// The publisher's media connected: announce the stream to everyone.
    pub(super) fn stream_media_connected(&self, id: &TransportId) {
        let mut state = lock(&self.state);
        let Some(entry) = state.streams.get_mut(&**id) else {
            return;
        };
        if entry.announced {
            return;
        }
        entry.announced = true;
        let stream_id = entry.stream.stream_id.clone();
        let owner = entry.stream.connection.connection_id.clone();
        let hub = self.hub.upgrade();
        // A session under "mute all" mutes newcomers too: announced without audio.
        if let Some(hub) = &hub
            && hub.mute_all_covers(&self.session_id, &stream_id)
        {
            entry.stream.has_audio = false;
            hub.router.set_producer_audio(entry.id.clone(), false);
            state.send(
                &owner,
                &ServerMessage::MuteForced {
                    stream_id: stream_id.clone(),
                },
            );
        }
        let stream = state.streams[&stream_id].stream.clone();
        self.record(What::StreamCreated {
            stream_id: stream.stream_id.clone(),
            connection_id: stream.connection.connection_id.clone(),
            name: stream.name.clone(),
            video_type: wire_name(&stream.video_type),
            has_audio: stream.has_audio,
            has_video: stream.has_video,
        });
        self.notify(
            "streamCreated",
            json!({ "stream": callbacks::stream_json(&stream) }),
        );
        self.observe(SessionEvent::StreamAnnounced {
            session_id: self.session_id.clone(),
            stream: stream.clone(),
            classes: state.streams[&stream_id].layout_class_list.clone(),
        });
        state.broadcast(&ServerMessage::StreamCreated { stream });
    }

    /// Reports an event to the session-monitoring callbacks (call under the state lock,
    /// so callbacks see the room's order).
    fn notify(&self, event: &'static str, extra: serde_json::Value) {
        if let Some(hub) = self.hub.upgrade() {
            hub.notifier.notify(callbacks::Notice {
                project_id: self.project_id.clone(),
                session_id: self.session_id.clone(),
                event,
                body: callbacks::body(&self.project_id, &self.session_id, event, extra),
            });
        }
    }

    /// Forgets a stream whose negotiation failed: it was never announced, and its owner
    /// learns of the failure from the error reply, so nobody is told anything.
    pub fn discard_stream(&self, stream_id: &str) {
        let removed = lock(&self.state).streams.shift_remove(stream_id);
        if let (Some(entry), Some(hub)) = (removed, self.hub.upgrade()) {
            hub.release_transport(&entry.id);
        }
    }

    /// Removes a stream (and its subscriptions) for `reason`.
    pub fn destroy_stream(&self, stream_id: &str, reason: StreamReason) {
        let mut released = Vec::new();
        {
            let mut state = lock(&self.state);
            self.destroy_stream_locked(&mut state, stream_id, reason, &mut released);
        }
        if let Some(hub) = self.hub.upgrade() {
            for id in &released {
                hub.release_transport(id);
            }
        }
    }

    fn destroy_stream_locked(
        &self,
        state: &mut State,
        stream_id: &str,
        reason: StreamReason,
        released: &mut Vec<TransportId>,
    ) {
        let Some(entry) = state.streams.shift_remove(stream_id) else {
            return;
        };
        released.push(entry.id.clone());
        let subs: Vec<(String, String)> = state
            .subscriptions
            .iter()
            .filter(|(_, s)| s.stream_id == stream_id)
            .map(|(id, s)| (id.clone(), s.connection_id.clone()))
            .collect();
        for (sub_id, owner) in subs {
            if let Some(sub) = state.subscriptions.remove(&sub_id) {
                self.record_subscription_end(&sub_id, &sub, "streamDestroyed");
            }
            released.push(TransportId::from(sub_id.as_str()));
            state.send(
                &owner,
                &ServerMessage::SubscriptionEnded {
                    subscription_id: sub_id,
                    stream_id: stream_id.to_owned(),
                },
            );
        }
        let msg = ServerMessage::StreamDestroyed {
            stream: entry.stream.clone(),
            reason,
        };
        if entry.announced {
            self.record(What::StreamDestroyed {
                stream_id: stream_id.to_owned(),
                reason: wire_name(&reason),
            });
        } else if reason != StreamReason::ClientDisconnected {
            // Its media never connected (a client that left or unpublished first gave up;
            // that is not a failure).
            self.record(What::PublishFailed {
                connection_id: entry.stream.connection.connection_id.clone(),
                stream_id: Some(stream_id.to_owned()),
                reason: format!(
                    "the stream ended ({}) before its media connected",
                    wire_name(&reason)
                ),
            });
        }
        // Observers hear of every stream that ends, announced or not: archives know a
        // stream from its `StreamPublishing` (to record its first frames), so one whose
        // media never connected must end for them too (else the archive never pauses).
        self.observe(SessionEvent::StreamDestroyed {
            session_id: self.session_id.clone(),
            stream_id: stream_id.to_owned(),
        });
        if entry.announced {
            self.notify(
                "streamDestroyed",
                json!({ "stream": callbacks::stream_json(&entry.stream), "reason": reason }),
            );
            state.broadcast(&msg);
            speakers::forget(state, stream_id);
        } else {
            state.send(&entry.stream.connection.connection_id, &msg);
        }
        tracing::info!(session = %self.session_id, stream = stream_id, ?reason, "stream destroyed");
    }

    /// Unpublish (own stream) or force unpublish (moderator, or the REST API with `by` = None).
    pub fn unpublish(
        &self,
        by: Option<&str>,
        stream_id: &str,
        force: bool,
    ) -> Result<(), ProtocolError> {
        {
            let state = lock(&self.state);
            if force {
                self.check_moderator(&state, by, "forceUnpublish")?;
                if !state.streams.contains_key(stream_id) {
                    return Err(not_found("stream", stream_id));
                }
            } else if let Some(by) = by {
                state.stream_owned_by(stream_id, by)?;
            }
        }
        let reason = if force {
            self.record(What::Moderation {
                action: "forceUnpublish",
                by: by.map(str::to_owned),
                target: Some(stream_id.to_owned()),
            });
            StreamReason::ForceUnpublished
        } else {
            StreamReason::ClientDisconnected
        };
        self.destroy_stream(stream_id, reason);
        Ok(())
    }

    /// Registers a subscription about to be negotiated.
    pub fn add_subscription(
        self: &Arc<Self>,
        connection_id: &str,
        stream_id: &str,
        test_network: bool,
    ) -> Result<TransportId, ProtocolError> {
        let mut state = lock(&self.state);
        let role = self.role_of(&state, connection_id)?;
        if !role.can_subscribe() {
            return Err(denied("subscribing", role));
        }
        match state.streams.get(stream_id) {
            Some(s) if s.announced => {}
            _ => return Err(not_found("stream", stream_id)),
        }
        if state.subscriptions.len() >= self.caps.subscriptions {
            return Err(ProtocolError::new(
                ErrorCode::LimitExceeded,
                format!(
                    "the session has {} subscriptions, the most this server allows in one \
                     session",
                    self.caps.subscriptions
                ),
            )
            .with_reason(REASON_SUBSCRIPTION_LIMIT));
        }
        let id = uuid::Uuid::new_v4().to_string();
        state.subscriptions.insert(
            id.clone(),
            SubscriptionEntry {
                connection_id: connection_id.to_owned(),
                stream_id: stream_id.to_owned(),
                connected: false,
                client: [None, None],
                precall: test_network.then(Default::default),
                preferred_resolution: None,
                preferred_frame_rate: None,
            },
        );
        let id = TransportId::from(id.as_str());
        if !self.relayed
            && let Some(hub) = self.hub.upgrade()
        {
            hub.register_subscription(&id, self);
        }
        Ok(id)
    }

    /// Checks that a subscription is the connection's own.
    /// Whether `stream_id` is a stream of `connection_id`'s.
    pub fn own_stream(&self, connection_id: &str, stream_id: &str) -> Result<(), ProtocolError> {
        lock(&self.state)
            .stream_owned_by(stream_id, connection_id)
            .map(|_| ())
    }

    /// Whether `connection_id` is (still) in the room: not gone, not forced out.
    pub fn is_member(&self, connection_id: &str) -> bool {
        lock(&self.state).members.contains_key(connection_id)
    }

    pub fn own_subscription(
        &self,
        connection_id: &str,
        subscription_id: &str,
    ) -> Result<(), ProtocolError> {
        match lock(&self.state).subscriptions.get(subscription_id) {
            Some(s) if s.connection_id == connection_id => Ok(()),
            _ => Err(not_found("subscription", subscription_id)),
        }
    }

    pub(super) fn subscription_connected(&self, id: &TransportId) {
        let mut state = lock(&self.state);
        if let Some(sub) = state.subscriptions.get_mut(&**id) {
            if !sub.connected {
                sub.connected = true;
                self.record(What::SubscriptionCreated {
                    subscription_id: id.to_string(),
                    stream_id: sub.stream_id.clone(),
                    connection_id: sub.connection_id.clone(),
                    test_network: sub.precall.is_some(),
                });
            }
            let sub = &state.subscriptions[&**id];
            state.send(
                &sub.connection_id,
                &ServerMessage::SubscriptionConnected {
                    subscription_id: id.to_string(),
                },
            );
        }
    }

    /// Ends a subscription; `notify` tells its owner (when the client did not ask).
    pub fn end_subscription(&self, subscription_id: &str, notify: bool) {
        let removed = {
            let mut state = lock(&self.state);
            let removed = state.subscriptions.remove(subscription_id);
            if let Some(sub) = &removed {
                // `notify`: the router ended it (its media failed or stopped); otherwise
                // its owner unsubscribed, or its negotiation failed (recorded with the error).
                let reason = if notify {
                    "mediaStopped"
                } else {
                    "unsubscribed"
                };
                if sub.connected || notify {
                    self.record_subscription_end(subscription_id, sub, reason);
                }
            }
            if let Some(sub) = &removed {
                self.tell_relayed_publisher(&state, subscription_id, sub);
            }
            if let (Some(sub), true) = (&removed, notify) {
                state.send(
                    &sub.connection_id,
                    &ServerMessage::SubscriptionEnded {
                        subscription_id: subscription_id.to_owned(),
                        stream_id: sub.stream_id.clone(),
                    },
                );
            }
            removed
        };
        if removed.is_some()
            && let Some(hub) = self.hub.upgrade()
        {
            hub.release_transport(&TransportId::from(subscription_id));
        }
    }

    /// Changes properties of one's own stream; each change is broadcast.
    pub fn set_stream_property(
        &self,
        connection_id: &str,
        stream_id: &str,
        has_audio: Option<bool>,
        has_video: Option<bool>,
        dims: Option<VideoDimensions>,
    ) -> Result<(), ProtocolError> {
        let mut state = lock(&self.state);
        state.stream_owned_by(stream_id, connection_id)?;
        let mut changes: Vec<(&str, Value, Value)> = Vec::new();
        let entry = state.streams.get_mut(stream_id).expect("checked above");
        if has_audio == Some(true) && entry.censored {
            return Err(censor::refused(stream_id));
        }
        let s = &mut entry.stream;
        if let Some(a) = has_audio.filter(|a| *a != s.has_audio) {
            changes.push(("hasAudio", s.has_audio.into(), a.into()));
            s.has_audio = a;
        }
        if let Some(v) = has_video.filter(|v| *v != s.has_video) {
            changes.push(("hasVideo", s.has_video.into(), v.into()));
            s.has_video = v;
        }
        if let Some(d) = dims.filter(|d| Some(*d) != s.video_dimensions) {
            let old = serde_json::to_value(s.video_dimensions).unwrap_or(Value::Null);
            changes.push((
                "videoDimensions",
                old,
                serde_json::to_value(d).unwrap_or(Value::Null),
            ));
            s.video_dimensions = Some(d);
        }
        let (id, audio, announced) = (entry.id.clone(), s.has_audio, entry.announced);
        let stream = s.clone();
        if changes.iter().any(|(p, ..)| *p == "hasAudio")
            && let Some(hub) = self.hub.upgrade()
        {
            hub.router.set_producer_audio(id, audio);
        }
        if announced && !changes.is_empty() {
            self.observe(SessionEvent::StreamChanged {
                session_id: self.session_id.clone(),
                stream: stream.clone(),
            });
        }
        for (prop, old, new) in changes {
            let msg = ServerMessage::StreamPropertyChanged {
                stream: stream.clone(),
                changed_property: prop.to_owned(),
                old_value: old,
                new_value: new,
            };
            if announced {
                state.broadcast(&msg);
            } else {
                state.send(connection_id, &msg);
            }
        }
        Ok(())
    }

    /// Mutes streams' audio: their publishers get `muteForced`, everyone
    /// `streamPropertyChanged` hasAudio=false; the router stops forwarding their audio.
    /// `only` = one stream; otherwise every stream but `excluded`.
    pub fn force_mute(
        &self,
        by: Option<&str>,
        only: Option<&str>,
        excluded: &[String],
    ) -> Result<(), ProtocolError> {
        let mut state = lock(&self.state);
        self.check_moderator(&state, by, "forceMute")?;
        if let Some(id) = only
            && !state.streams.contains_key(id)
        {
            return Err(not_found("stream", id));
        }
        let targets: Vec<String> = state
            .streams
            .keys()
            .filter(|id| only.is_none_or(|o| o == id.as_str()) && !excluded.contains(id))
            .cloned()
            .collect();
        self.record(What::Moderation {
            action: if only.is_some() {
                "forceMuteStream"
            } else {
                "forceMuteAll"
            },
            by: by.map(str::to_owned),
            target: only.map(str::to_owned),
        });
        let hub = self.hub.upgrade();
        for stream_id in targets {
            let entry = state.streams.get_mut(&stream_id).expect("listed above");
            if let Some(hub) = &hub {
                hub.router.set_producer_audio(entry.id.clone(), false);
            }
            let owner = entry.stream.connection.connection_id.clone();
            let was = entry.stream.has_audio;
            entry.stream.has_audio = false;
            let stream = entry.stream.clone();
            let announced = entry.announced;
            state.send(
                &owner,
                &ServerMessage::MuteForced {
                    stream_id: stream_id.clone(),
                },
            );
            if was && announced {
                state.broadcast(&ServerMessage::StreamPropertyChanged {
                    stream,
                    changed_property: "hasAudio".into(),
                    old_value: true.into(),
                    new_value: false.into(),
                });
            }
        }
        Ok(())
    }

    /// Sends a signal to one connection or all; `from` is None for the REST API.
    pub fn signal(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        signal_type: String,
        data: String,
    ) -> Result<(), ProtocolError> {
        let mut state = lock(&self.state);
        let sender = match from {
            Some(id) => {
                let m = state
                    .members
                    .get(id)
                    .ok_or_else(|| ProtocolError::new(ErrorCode::NotConnected, "not connected"))?;
                if !m.role.can_signal() {
                    return Err(denied("signaling", m.role));
                }
                Some(m.connection.clone())
            }
            None => None,
        };
        parlor_proto::signaling::validate_signal(&signal_type, &data)?;
        if let Some(m) = from.and_then(|id| state.members.get_mut(id)) {
            m.signals += 1;
        }
        let msg = ServerMessage::Signal {
            signal_type,
            data,
            from: sender,
        };
        match to {
            Some(target) => {
                if !state.members.contains_key(target) {
                    return Err(not_found("connection", target));
                }
                state.send(target, &msg);
            }
            None => state.broadcast(&msg),
        }
        Ok(())
    }

    /// An announced stream with its layout classes.
    pub fn stream(&self, stream_id: &str) -> Option<(Stream, Vec<String>)> {
        let state = lock(&self.state);
        let e = state.streams.get(stream_id).filter(|e| e.announced)?;
        Some((e.stream.clone(), e.layout_class_list.clone()))
    }

    /// Announced streams with their layout classes, oldest first.
    pub fn streams_with_classes(&self) -> Vec<(Stream, Vec<String>)> {
        lock(&self.state)
            .streams
            .values()
            .filter(|e| e.announced)
            .map(|e| (e.stream.clone(), e.layout_class_list.clone()))
            .collect()
    }

    /// Sets layout classes of several streams: all or none (an unknown stream fails all).
    pub fn set_layout_classes(&self, items: &[(String, Vec<String>)]) -> Result<(), ProtocolError> {
        let mut state = lock(&self.state);
        if let Some((id, _)) = items
            .iter()
            .find(|(id, _)| !state.streams.get(id).is_some_and(|e| e.announced))
        {
            return Err(not_found("stream", id));
        }
        for (id, classes) in items {
            if let Some(e) = state.streams.get_mut(id) {
                e.layout_class_list = classes.clone();
            }
            self.observe(SessionEvent::ClassesChanged {
                session_id: self.session_id.clone(),
                stream_id: id.clone(),
                classes: classes.clone(),
            });
        }
        Ok(())
    }
}
