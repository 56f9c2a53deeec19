//! A Rooms participant's signaling connection: joining with a Rooms join token (instead
//! of an OpenTok token), replacing the token while connected (`updateToken`), being
//! closed when it lapses, and the participant's record when it leaves.
//!
//! The room session and participant bookkeeping is [`crate::rooms::Rooms`]'; this module
//! is the connection's side of it.

use parlor_proto::Role;
use parlor_proto::rooms_token::TokenKind;
use parlor_proto::signaling::{
    ConnectionReason, ErrorCode, MAX_CONTEXT_BYTES, ProtocolError, ServerMessage,
};

use super::Joining;
use super::connection::Member;
use super::outbox::Outbox;
use crate::AppState;
use crate::inspector::ClientInfo;
use crate::logsafe::Untrusted;
use crate::rooms::JoinError;

/// The `reason` of the error a connection gets when its join token expires.
pub const REASON_TOKEN_EXPIRED: &str = "token expired";

/// A refused join: what to send, and the close frame's code and reason.
pub(super) struct Refusal {
    pub msg: ServerMessage,
    pub code: u16,
    pub reason: String,
}

/// A participant's Rooms side of its connection.
pub(crate) struct Participant {
    room_id: String,
    room_session_id: String,
    session_id: String,
    /// When its current token expires (Unix seconds).
    token_expires_at: i64,
    /// The connection ended because the token expired.
    pub token_expired: bool,
}

fn refused(code: ErrorCode, reason: &str, message: String, close_code: u16) -> Refusal {
    Refusal {
        msg: ServerMessage::Error {
            id: None,
            code,
            reason: Some(reason.to_owned()),
            message,
        },
        code: close_code,
        reason: reason.to_owned(),
    }
}

/// Admits a client that connected with a Rooms join token to `room_id`.
pub(super) async fn admit(
    state: &AppState,
    room_id: String,
    token: String,
    context: Option<String>,
    client: ClientInfo,
    tx: Outbox,
    resume: Option<parlor_proto::signaling::ResumeGrant>,
) -> Result<Member, Refusal> {
    if let Some(c) = &context
        && c.len() > MAX_CONTEXT_BYTES
    {
        return Err(refused(
            ErrorCode::BadRequest,
            "context too large",
            format!(
                "the participant context is {} bytes; the limit is {MAX_CONTEXT_BYTES}",
                c.len()
            ),
            4000,
        ));
    }
    let rooms = state.rooms.clone();
    let signaling = state.signaling.clone();
    let requested = room_id.clone();
    let joined = tokio::task::spawn_blocking(move || {
        rooms.join(&token, &requested, |session| {
            signaling.join(
                &session.session_id,
                &session.project_id,
                Joining {
                    data: context.unwrap_or_default(),
                    role: Role::Publisher,
                    layout_classes: Vec::new(),
                    client: client.clone(),
                    relayed: false,
                    resume: resume.clone(),
                },
                tx,
            )
        })
    })
    .await;
    let admitted = match joined {
        Ok(Ok(admitted)) => admitted,
        Ok(Err(JoinError::Token(e))) => {
            tracing::info!(room = %Untrusted(&room_id), reason = e.reason(), "join token refused");
            return Err(refused(
                ErrorCode::AuthFailed,
                e.reason(),
                e.to_string(),
                4001,
            ));
        }
        Ok(Err(e @ (JoinError::NoRoom(_) | JoinError::WrongRoom { .. }))) => {
            tracing::info!(room = %Untrusted(&room_id), "join refused: {e}");
            return Err(refused(
                ErrorCode::AuthFailed,
                "wrong room",
                e.to_string(),
                4001,
            ));
        }
        Ok(Err(JoinError::Refused(e))) => {
            tracing::info!(room = %Untrusted(&room_id), "join refused: {e}");
            let reason = e.reason.unwrap_or("limit exceeded").to_owned();
            return Err(Refusal {
                msg: e.to_message(None),
                code: 4029,
                reason,
            });
        }
        Ok(Err(JoinError::Store(e))) => {
            tracing::error!(error = %e, "storage failure while admitting a Rooms join");
            return Err(refused(
                ErrorCode::Internal,
                "internal error",
                "internal error".into(),
                1011,
            ));
        }
        Err(_) => {
            return Err(refused(
                ErrorCode::Internal,
                "internal error",
                "internal error".into(),
                1011,
            ));
        }
    };
    tracing::info!(room = %admitted.room_id, room_session = %admitted.room_session_id,
                   connection = %admitted.connection.connection_id, "participant joined");
    Ok(Member {
        me: admitted.connection.connection_id,
        rooms: Some(Participant {
            room_id: admitted.room_id,
            room_session_id: admitted.room_session_id,
            session_id: admitted.room.session_id().to_owned(),
            token_expires_at: admitted.token_expires_at,
            token_expired: false,
        }),
        room: admitted.room,
    })
}

/// Resolves when the participant's token expires; never for other connections.
pub(super) async fn token_expiry(participant: Option<&Participant>) {
    match participant {
        Some(p) => {
            let left = (p.token_expires_at - parlor_proto::unix_now()).max(0) as u64;
            tokio::time::sleep(std::time::Duration::from_secs(left)).await
        }
        None => std::future::pending().await,
    }
}

impl Participant {
    /// `updateToken`: a fresh access token for the same room extends the connection.
    pub(super) async fn update_token(
        &mut self,
        state: &AppState,
        token: &str,
    ) -> Result<(), ProtocolError> {
        let grant = state.rooms.verify(token, TokenKind::Access).map_err(|e| {
            ProtocolError::new(ErrorCode::AuthFailed, e.to_string()).with_reason(e.reason())
        })?;
        if grant.room_id != self.room_id {
            return Err(
                ProtocolError::new(ErrorCode::AuthFailed, "the token is for another room")
                    .with_reason("wrong room"),
            );
        }
        self.token_expires_at = self.token_expires_at.max(grant.expires_at);
        Ok(())
    }

    /// The connection ended: the participant's record, and the session's end if it was
    /// the last one in.
    pub(super) async fn left(self, state: &AppState, me: &str, reason: ConnectionReason) {
        let rooms = state.rooms.clone();
        let me = me.to_owned();
        let r = tokio::task::spawn_blocking(move || {
            let room = crate::rooms::RoomSessionRef {
                room_id: &self.room_id,
                room_session_id: &self.room_session_id,
                session_id: &self.session_id,
            };
            rooms.left(&room, &me, reason, self.token_expired)
        })
        .await;
        if let Ok(Err(e)) = r {
            tracing::error!(error = %e, "storage failure recording a participant's leave");
        }
    }
}
