//! Rooms: the Telnyx Video Rooms model over Parlor's one domain.
//!
//! A *room* is a persistent, named configuration. A *room session* is one live period of
//! a room, and it **is** a Parlor session (routed, created at the room's first join, ended
//! when the last participant leaves or by `actions/end`). A *participant* **is** a
//! connection: its ID is the connection ID and its `context` the connection data. The
//! Rooms REST API (`crate::api::rooms`) is a face over this module, as the OpenTok API is
//! over sessions; joining goes through the same signaling connection, with a Rooms join
//! token (`parlor_proto::rooms_token`) instead of an OpenTok token.
//!
//! Choosing a room's live session, admitting a join and ending a session are serialized
//! by one lock held for milliseconds on joins and leaves (never on the media path), so a
//! join racing the last leave lands either in the live session or in a new one, never in
//! an ended one.

pub mod compositions;
pub mod key;
pub mod media_model;
pub mod model;
pub mod recordings;
pub mod webhooks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use parlor_proto::rooms_token::{self, JoinGrant, SigningKey, TokenKind};
use parlor_proto::signaling::{Connection, ConnectionReason, ErrorCode, ProtocolError};

use crate::signaling::{Room, Signaling};
use crate::store::{SessionRecord, Store, StoreError};
pub use model::{ParticipantRecord, RoomRecord, RoomSessionRecord};

/// Why a room session ended (`ended_reason`).
pub mod ended {
    pub const ALL_LEFT: &str = "all_participants_left";
    pub const BY_API: &str = "ended_via_api";
    pub const ROOM_DELETED: &str = "room_deleted";
    pub const SERVER_RESTARTED: &str = "server_restarted";
}

/// Why a participant left (`left_reason`, and the Telnyx client's disconnect reason).
pub mod left {
    pub const USER_INITIATED: &str = "user_initiated";
    pub const NETWORK_ERROR: &str = "network_error";
    pub const KICKED: &str = "kicked";
    pub const SESSION_TERMINATED: &str = "session_terminated";
    pub const TOKEN_EXPIRED: &str = "token_expired";
}

/// The most [`RoomsEvent`]s kept for the first observer (the ends of sessions a crash left
/// open; a server with more open participants than this at a crash sends the rest no
/// webhook).
const MAX_EVENTS_BEFORE_OBSERVERS: usize = 10_000;

/// What happened in a room, for the Rooms webhooks (`video.room.*`), in order per room
/// session. Every event names its room (for its webhook settings) and carries the
/// webhook's payload fields.
#[derive(Debug, Clone, PartialEq)]
pub enum RoomsEvent {
    /// `video.room.session.started`
    SessionStarted {
        room_id: String,
        room_session_id: String,
        at: i64,
    },
    /// `video.room.session.ended`
    SessionEnded {
        room_id: String,
        room_session_id: String,
        at: i64,
        duration_secs: i64,
        ended_reason: String,
    },
    /// `video.room.participant.joined`
    ParticipantJoined {
        room_id: String,
        room_session_id: String,
        participant_id: String,
        context: Option<String>,
        at: i64,
    },
    /// `video.room.participant.left`
    ParticipantLeft {
        room_id: String,
        room_session_id: String,
        participant_id: String,
        context: Option<String>,
        at: i64,
        duration_secs: i64,
        left_reason: String,
    },
    /// `video.room.recording.started` (`crate::rooms::recordings`): a participant's track
    /// started recording. `type` is `audio` or `video`.
    RecordingStarted {
        room_id: String,
        room_session_id: String,
        recording_id: String,
        participant_id: String,
        r#type: String,
        at: i64,
    },
    /// `video.room.recording.completed`: its file is whole (`download_url` signed, expiring).
    RecordingCompleted {
        room_id: String,
        room_session_id: String,
        recording_id: String,
        participant_id: String,
        r#type: String,
        codec: String,
        duration_secs: i64,
        size_mb: f64,
        download_url: Option<String>,
        at: i64,
    },
    /// `video.room.composition.completed` (`crate::rooms::compositions`).
    CompositionCompleted {
        composition_id: String,
        room_id: String,
        room_session_id: String,
        download_url: Option<String>,
        duration_secs: i64,
        size_mb: f64,
        at: i64,
    },
}

/// Why a Rooms join was refused.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error(transparent)]
    Token(#[from] rooms_token::RoomsTokenError),
    /// The room does not exist (any more): the token outlived it.
    #[error("room {0} does not exist (it was deleted)")]
    NoRoom(String),
    #[error("the session named at connect ({requested}) is not the token's room ({room})")]
    WrongRoom { requested: String, room: String },
    /// Refused by the room or the session (full, ...).
    #[error(transparent)]
    Refused(ProtocolError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The room session a participant is in, as its connection knows it.
#[derive(Debug, Clone, Copy)]
pub struct RoomSessionRef<'a> {
    pub room_id: &'a str,
    pub room_session_id: &'a str,
    /// The Parlor session it is.
    pub session_id: &'a str,
}

/// A join that was let in.
pub struct Admitted {
    pub room: Arc<Room>,
    pub connection: Connection,
    pub room_id: String,
    pub room_session_id: String,
    /// When the join token expires (Unix seconds): the connection must refresh it.
    pub token_expires_at: i64,
}

/// The Rooms domain: the signing key, and the serialization of joins and session ends.
pub struct Rooms {
    store: Arc<Store>,
    signaling: Arc<Signaling>,
    key: SigningKey,
    /// Held while choosing or ending a room's live session (see the module docs).
    live: Mutex<()>,
    /// Why a participant the server is removing leaves (kick, end, room deletion),
    /// consumed when its connection ends.
    leave_reasons: Mutex<HashMap<String, &'static str>>,
    /// Receivers of [`RoomsEvent`]s.
    observers: Mutex<Vec<tokio::sync::mpsc::UnboundedSender<RoomsEvent>>>,
    /// Events made before anyone observed (the sessions a crash left open, ended at
    /// start), for the first observer.
    at_start: Mutex<Vec<RoomsEvent>>,
}

impl std::fmt::Debug for Rooms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rooms").finish_non_exhaustive()
    }
}

impl Rooms {
    /// The domain over `store`; sessions left active by a previous run (a crash) end now,
    /// since none of their connections survived it.
    pub fn new(
        store: Arc<Store>,
        signaling: Arc<Signaling>,
        key: SigningKey,
    ) -> Result<Self, StoreError> {
        let rooms = Rooms {
            store,
            signaling,
            key,
            live: Mutex::new(()),
            leave_reasons: Mutex::new(HashMap::new()),
            observers: Mutex::new(Vec::new()),
            at_start: Mutex::new(Vec::new()),
        };
        // Their participants lost their connections with the crash (network_error); the
        // events wait for the first observer (the webhooks).
        let now = crate::unix_millis();
        for s in rooms.store.active_room_sessions()? {
            let r = RoomSessionRef {
                room_id: &s.room_id,
                room_session_id: &s.room_session_id,
                session_id: &s.session_id,
            };
            for p in rooms
                .store
                .participants_of(std::slice::from_ref(&s.room_session_id))?
                .into_iter()
                .filter(|p| p.left_at.is_none())
            {
                rooms.participant_gone(&r, &p.participant_id, left::NETWORK_ERROR, now)?;
            }
            rooms.session_gone(&r, ended::SERVER_RESTARTED, now)?;
        }
        Ok(rooms)
    }

    /// Starts receiving every room's [`RoomsEvent`]s, from now on. The first observer
    /// also gets the ends of the sessions a crash left open (see [`Rooms::new`]).
    pub fn observe(&self) -> tokio::sync::mpsc::UnboundedReceiver<RoomsEvent> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut observers = crate::signaling::lock(&self.observers);
        for event in crate::signaling::lock(&self.at_start).drain(..) {
            let _ = tx.send(event);
        }
        observers.push(tx);
        rx
    }

    /// Tells the observers (also the recordings and compositions, [`recordings`]).
    pub(crate) fn emit(&self, event: RoomsEvent) {
        let mut observers = crate::signaling::lock(&self.observers);
        if observers.is_empty() {
            // Before anyone observes: at start (Rooms::new), kept for the first observer;
            // bounded, for a server (or a test harness) that never observes.
            let mut kept = crate::signaling::lock(&self.at_start);
            if kept.len() < MAX_EVENTS_BEFORE_OBSERVERS {
                kept.push(event);
            }
            return;
        }
        observers.retain(|tx| tx.send(event.clone()).is_ok());
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// Mints a join token for a room (the caller checked the room).
    pub fn mint(&self, room_id: &str, kind: TokenKind, ttl_secs: i64) -> rooms_token::MintedToken {
        rooms_token::mint(&self.key, room_id, kind, ttl_secs, parlor_proto::unix_now())
    }

    /// Verifies a token of `kind` signed by this server.
    pub fn verify(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Result<JoinGrant, rooms_token::RoomsTokenError> {
        let grant = rooms_token::verify(&self.key.public_key(), token, parlor_proto::unix_now())?;
        rooms_token::expect_kind(&grant, kind)?;
        Ok(grant)
    }

    /// Admits a client presenting the join token `token` (for the room `requested`, the
    /// `sessionId` of its `connect`): checks the token, the room and its participant cap,
    /// starts a room session if none is live, and joins it through `join`. Blocking
    /// (SQLite): call from a blocking task.
    pub fn join(
        &self,
        token: &str,
        requested: &str,
        join: impl FnOnce(&SessionRecord) -> Result<(Arc<Room>, Connection), ProtocolError>,
    ) -> Result<Admitted, JoinError> {
        let grant = self.verify(token, TokenKind::Access)?;
        if requested != grant.room_id {
            return Err(JoinError::WrongRoom {
                requested: requested.to_owned(),
                room: grant.room_id,
            });
        }
        let _live = crate::signaling::lock(&self.live);
        let room = self
            .store
            .room(&grant.room_id)?
            .filter(|r| r.deleted_at.is_none())
            .ok_or_else(|| JoinError::NoRoom(grant.room_id.clone()))?;
        let now = crate::unix_millis();
        let (room_session_id, session) = match &room.active_session_id {
            Some(active) => {
                let (s, _) = self
                    .store
                    .room_session(active)?
                    .ok_or_else(|| JoinError::NoRoom(room.room_id.clone()))?;
                let members = self
                    .signaling
                    .existing_room(&s.session_id)
                    .map_or(0, |r| r.member_count());
                if members >= room.max_participants as usize {
                    return Err(JoinError::Refused(
                        ProtocolError::new(
                            ErrorCode::LimitExceeded,
                            format!(
                                "room {} is full: it has {members} participants, its \
                                 max_participants",
                                room.room_id
                            ),
                        )
                        .with_reason(crate::limits::REASON_SESSION_FULL),
                    ));
                }
                let session = self
                    .store
                    .session(&s.session_id)?
                    .ok_or_else(|| JoinError::NoRoom(room.room_id.clone()))?;
                (s.room_session_id, session)
            }
            None => self.start_session(&room, now)?,
        };
        let (signaling_room, connection) = join(&session).map_err(JoinError::Refused)?;
        self.store.insert_participant(&ParticipantRecord {
            participant_id: connection.connection_id.clone(),
            room_session_id: room_session_id.clone(),
            context: (!connection.data.is_empty()).then(|| connection.data.clone()),
            joined_at: connection.creation_time,
            left_at: None,
            left_reason: None,
            updated_at: connection.creation_time,
        })?;
        self.emit(RoomsEvent::ParticipantJoined {
            room_id: room.room_id.clone(),
            room_session_id: room_session_id.clone(),
            participant_id: connection.connection_id.clone(),
            context: (!connection.data.is_empty()).then(|| connection.data.clone()),
            at: connection.creation_time,
        });
        Ok(Admitted {
            room: signaling_room,
            connection,
            room_id: room.room_id,
            room_session_id,
            token_expires_at: grant.expires_at,
        })
    }

    /// Starts a room session: a new routed Parlor session of the room's project.
    fn start_session(
        &self,
        room: &RoomRecord,
        now: i64,
    ) -> Result<(String, SessionRecord), StoreError> {
        let mut session = crate::api::sessions::routed_options();
        session.session_id = parlor_proto::session_id::generate(&room.project_id, None, now);
        session.project_id = room.project_id.clone();
        session.created_at = now;
        self.store.insert_session(&session)?;
        let record = RoomSessionRecord {
            room_session_id: uuid::Uuid::new_v4().to_string(),
            room_id: room.room_id.clone(),
            session_id: session.session_id.clone(),
            created_at: now,
            updated_at: now,
            ended_at: None,
            ended_reason: None,
        };
        self.store.insert_room_session(&record)?;
        self.emit(RoomsEvent::SessionStarted {
            room_id: room.room_id.clone(),
            room_session_id: record.room_session_id.clone(),
            at: now,
        });
        tracing::info!(room = %room.room_id, room_session = %record.room_session_id,
                       session = %session.session_id, "room session started");
        Ok((record.room_session_id, session))
    }

    /// A participant's connection ended (`reason` as the signaling server saw it): records
    /// it, and ends the room session if it was the last one in. Blocking (SQLite).
    pub fn left(
        &self,
        room: &RoomSessionRef<'_>,
        participant_id: &str,
        reason: ConnectionReason,
        token_expired: bool,
    ) -> Result<(), StoreError> {
        let why = crate::signaling::lock(&self.leave_reasons)
            .remove(participant_id)
            .unwrap_or(if token_expired {
                left::TOKEN_EXPIRED
            } else {
                match reason {
                    ConnectionReason::ClientDisconnected => left::USER_INITIATED,
                    ConnectionReason::ForceDisconnected => left::KICKED,
                    ConnectionReason::NetworkDisconnected => left::NETWORK_ERROR,
                }
            });
        let _live = crate::signaling::lock(&self.live);
        let now = crate::unix_millis();
        self.participant_gone(room, participant_id, why, now)?;
        let empty = self
            .signaling
            .existing_room(room.session_id)
            .is_none_or(|r| r.is_empty());
        if empty && self.session_gone(room, ended::ALL_LEFT, now)? {
            tracing::info!(room_session = %room.room_session_id, "room session ended: everyone left");
        }
        Ok(())
    }

    /// Marks a participant left (once) and tells the observers. Under the `live` lock.
    fn participant_gone(
        &self,
        room: &RoomSessionRef<'_>,
        participant_id: &str,
        why: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        if self.store.participant_left(participant_id, why, now)?
            && let Some((p, _)) = self.store.participant(participant_id)?
        {
            self.emit(RoomsEvent::ParticipantLeft {
                room_id: room.room_id.to_owned(),
                room_session_id: room.room_session_id.to_owned(),
                participant_id: participant_id.to_owned(),
                context: p.context,
                at: now,
                duration_secs: (now - p.joined_at) / 1000,
                left_reason: why.to_owned(),
            });
        }
        Ok(())
    }

    /// Marks a room session ended (once) and tells the observers. Under the `live` lock.
    fn session_gone(
        &self,
        room: &RoomSessionRef<'_>,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        if !self
            .store
            .end_room_session(room.room_session_id, reason, now)?
        {
            return Ok(false);
        }
        if let Some((s, _)) = self.store.room_session(room.room_session_id)? {
            self.emit(RoomsEvent::SessionEnded {
                room_id: room.room_id.to_owned(),
                room_session_id: room.room_session_id.to_owned(),
                at: now,
                duration_secs: (now - s.created_at) / 1000,
                ended_reason: reason.to_owned(),
            });
        }
        Ok(true)
    }

    /// Disconnects participants of a live room session (all when `targets` is None),
    /// recording `why` as their reason. Returns how many were disconnected.
    pub fn disconnect(
        &self,
        session_id: &str,
        targets: Option<&[String]>,
        exclude: &[String],
        why: &'static str,
    ) -> usize {
        let Some(room) = self.signaling.existing_room(session_id) else {
            return 0;
        };
        let ids: Vec<String> = room
            .connection_ids()
            .into_iter()
            .filter(|id| targets.is_none_or(|t| t.contains(id)) && !exclude.contains(id))
            .collect();
        let mut n = 0;
        for id in ids {
            crate::signaling::lock(&self.leave_reasons).insert(id.clone(), why);
            if room.force_disconnect_with(None, &id, Some(why)).is_ok() {
                n += 1;
            } else {
                crate::signaling::lock(&self.leave_reasons).remove(&id);
            }
        }
        n
    }

    /// Ends a live room session: everyone in it leaves (with `participants_why`) and it is
    /// marked ended with `reason` (new joins start a new session). Blocking (SQLite).
    pub fn end(
        &self,
        room_session: &RoomSessionRecord,
        reason: &str,
        participants_why: &'static str,
    ) -> Result<bool, StoreError> {
        let r = RoomSessionRef {
            room_id: &room_session.room_id,
            room_session_id: &room_session.room_session_id,
            session_id: &room_session.session_id,
        };
        let ended = {
            let _live = crate::signaling::lock(&self.live);
            let now = crate::unix_millis();
            // Their leaves first, then the session's end (the webhooks' order).
            if let Some(room) = self.signaling.existing_room(r.session_id) {
                for id in room.connection_ids() {
                    self.participant_gone(&r, &id, participants_why, now)?;
                }
            }
            self.session_gone(&r, reason, now)?
        };
        self.disconnect(r.session_id, None, &[], participants_why);
        Ok(ended)
    }

    /// Censors the audio of participants' streams (all when `targets` is None): muted as
    /// OpenTok's forced mute, and their owners cannot turn it on until [`Rooms::unmute`].
    /// Returns how many streams changed.
    pub fn mute(&self, session_id: &str, targets: Option<&[String]>, exclude: &[String]) -> usize {
        self.censor(session_id, targets, exclude, true)
    }

    /// Lifts the censoring of participants' audio (all when `targets` is None): they may
    /// turn it on again. Returns how many streams changed.
    pub fn unmute(
        &self,
        session_id: &str,
        targets: Option<&[String]>,
        exclude: &[String],
    ) -> usize {
        self.censor(session_id, targets, exclude, false)
    }

    fn censor(
        &self,
        session_id: &str,
        targets: Option<&[String]>,
        exclude: &[String],
        censored: bool,
    ) -> usize {
        let Some(room) = self.signaling.existing_room(session_id) else {
            return 0;
        };
        let streams: Vec<String> = room
            .streams_with_classes()
            .into_iter()
            .map(|(s, _)| s)
            .filter(|s| {
                let owner = &s.connection.connection_id;
                targets.is_none_or(|t| t.contains(owner)) && !exclude.contains(owner)
            })
            .map(|s| s.stream_id)
            .collect();
        room.censor_audio(&streams, censored)
    }

    /// Deletes a room: its live session ends and its participants are disconnected; its
    /// tokens are refused from now on. False if there was no such room. Blocking.
    pub fn delete(&self, room: &RoomRecord) -> Result<bool, StoreError> {
        let deleted = {
            let _live = crate::signaling::lock(&self.live);
            self.store
                .delete_room(&room.room_id, crate::unix_millis())?
        };
        if let Some(active) = &room.active_session_id
            && let Some((s, _)) = self.store.room_session(active)?
        {
            self.end(&s, ended::ROOM_DELETED, left::SESSION_TERMINATED)?;
        }
        Ok(deleted)
    }
}
