//! `/v2/rooms`: rooms CRUD, a room's sessions, and its join client tokens.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use parlor_proto::rooms_token::{
    DEFAULT_REFRESH_TTL_SECS, DEFAULT_TOKEN_TTL_SECS, REFRESH_TTL_SECS, TOKEN_TTL_SECS, TokenKind,
};
use serde_json::json;

use super::auth::RoomsAuth;
use super::body::{Body, Field};
use super::error::RoomsError;
use super::query::{Query, iso};
use super::{sessions, wire};
use crate::AppState;
use crate::rooms::RoomRecord;
use crate::rooms::model::{RoomFilter, SessionFilter, is_unique_violation};

/// `max_participants` when a room is created without one (Telnyx's default).
pub const DEFAULT_MAX_PARTICIPANTS: i64 = 10;
/// The most participants a room may allow (as Telnyx: 2 to 100), and at most the server's
/// connections per session.
pub const MAX_PARTICIPANTS: i64 = 100;
/// The most `unique_name` characters.
const MAX_NAME_CHARS: usize = 255;

/// A path's room ID: a UUID of a room of this project, not deleted.
pub(super) async fn room_of(
    state: &AppState,
    auth: &RoomsAuth,
    room_id: &str,
) -> Result<RoomRecord, RoomsError> {
    check_uuid("room", room_id)?;
    let id = room_id.to_owned();
    state
        .db(move |s| s.room(&id))
        .await?
        .filter(|r| r.project_id == auth.0.api_key && r.deleted_at.is_none())
        .ok_or_else(|| RoomsError::not_found("room", room_id))
}

pub(super) fn check_uuid(what: &str, id: &str) -> Result<(), RoomsError> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| RoomsError::invalid_id(what, id))
}

/// The settings of a create or update body, applied onto `room`.
fn apply(state: &AppState, room: &mut RoomRecord, body: &mut Body) -> Result<(), RoomsError> {
    let max = MAX_PARTICIPANTS.min(state.config.session_caps.connections as i64);
    match body.string("unique_name", MAX_NAME_CHARS)? {
        Field::Value(n) => room.unique_name = Some(n),
        Field::Null => room.unique_name = None,
        Field::Absent => {}
    }
    match body.integer("max_participants", 2, max)? {
        Field::Value(n) => room.max_participants = n as u32,
        Field::Null => room.max_participants = DEFAULT_MAX_PARTICIPANTS as u32,
        Field::Absent => {}
    }
    match body.boolean("enable_recording")? {
        Field::Value(b) => room.enable_recording = b,
        Field::Null => room.enable_recording = false,
        Field::Absent => {}
    }
    for (name, slot) in [
        ("webhook_event_url", &mut room.webhook_event_url),
        (
            "webhook_event_failover_url",
            &mut room.webhook_event_failover_url,
        ),
    ] {
        match body.url(name)? {
            Field::Value(u) => *slot = Some(u),
            Field::Null => *slot = None,
            Field::Absent => {}
        }
    }
    match body.integer("webhook_timeout_secs", 0, 30)? {
        Field::Value(n) => room.webhook_timeout_secs = Some(n as u32),
        Field::Null => room.webhook_timeout_secs = None,
        Field::Absent => {}
    }
    Ok(())
}

fn duplicate(name: &Option<String>) -> RoomsError {
    RoomsError::duplicate(
        "unique_name",
        format!(
            "a room named {:?} exists already in this project; unique_name must be unique",
            name.as_deref().unwrap_or_default()
        ),
    )
}

/// `POST /v2/rooms`
pub async fn create(
    State(state): State<AppState>,
    auth: RoomsAuth,
    body: Bytes,
) -> Result<Response, RoomsError> {
    let mut body = Body::parse(&body)?;
    let now = crate::unix_millis();
    let mut room = RoomRecord {
        room_id: uuid::Uuid::new_v4().to_string(),
        project_id: auth.0.api_key.clone(),
        unique_name: None,
        max_participants: DEFAULT_MAX_PARTICIPANTS as u32,
        enable_recording: false,
        webhook_event_url: None,
        webhook_event_failover_url: None,
        webhook_timeout_secs: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        active_session_id: None,
    };
    apply(&state, &mut room, &mut body)?;
    body.finish()?;
    let stored = room.clone();
    match state.db(move |s| s.insert_room(&stored)).await {
        Err(e) if is_unique_violation(&e) => return Err(duplicate(&room.unique_name)),
        r => r?,
    }
    tracing::info!(room = %room.room_id, project = %room.project_id, "room created");
    Ok(wire::one(StatusCode::CREATED, wire::room(&room, None)))
}

/// `GET /v2/rooms`
pub async fn list(
    State(state): State<AppState>,
    auth: RoomsAuth,
    RawQuery(raw): RawQuery,
) -> Result<Response, RoomsError> {
    let mut q = Query::parse(raw.as_deref())?;
    let filter = RoomFilter {
        unique_name: q.string("filter[unique_name]"),
        created: q.time_range("date_created_at")?,
        updated: q.time_range("date_updated_at")?,
    };
    let include = q.boolean("include_sessions")?.unwrap_or(false);
    let page = q.page()?;
    q.finish()?;
    let project = auth.0.api_key.clone();
    let (listed, sessions) = state
        .db(move |s| {
            let listed = s.rooms(&project, &filter, page)?;
            let sessions = if include {
                let ids: Vec<String> = listed.items.iter().map(|r| r.room_id.clone()).collect();
                Some(s.sessions_of_rooms(&ids)?)
            } else {
                None
            };
            Ok((listed, sessions))
        })
        .await?;
    Ok(wire::page(&listed, page, |r| {
        let own = sessions.as_ref().map(|all| {
            all.iter()
                .filter(|s| s.room_id == r.room_id)
                .map(|s| wire::session(s, None))
                .collect()
        });
        wire::room(r, own)
    }))
}

/// `GET /v2/rooms/{id}`
pub async fn retrieve(
    State(state): State<AppState>,
    auth: RoomsAuth,
    Path(room_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, RoomsError> {
    let mut q = Query::parse(raw.as_deref())?;
    let include = q.boolean("include_sessions")?.unwrap_or(false);
    q.finish()?;
    let room = room_of(&state, &auth, &room_id).await?;
    let sessions = if include {
        let ids = vec![room.room_id.clone()];
        let all = state.db(move |s| s.sessions_of_rooms(&ids)).await?;
        Some(all.iter().map(|s| wire::session(s, None)).collect())
    } else {
        None
    };
    Ok(wire::one(StatusCode::OK, wire::room(&room, sessions)))
}

/// `PATCH /v2/rooms/{id}`
pub async fn update(
    State(state): State<AppState>,
    auth: RoomsAuth,
    Path(room_id): Path<String>,
    body: Bytes,
) -> Result<Response, RoomsError> {
    let mut body = Body::parse(&body)?;
    let mut room = room_of(&state, &auth, &room_id).await?;
    apply(&state, &mut room, &mut body)?;
    body.finish()?;
    room.updated_at = crate::unix_millis();
    let stored = room.clone();
    match state.db(move |s| s.update_room(&stored)).await {
        Err(e) if is_unique_violation(&e) => return Err(duplicate(&room.unique_name)),
        r => r?,
    }
    Ok(wire::one(StatusCode::OK, wire::room(&room, None)))
}

/// `DELETE /v2/rooms/{id}`: ends its live session; its tokens are refused from now on.
pub async fn delete(
    State(state): State<AppState>,
    auth: RoomsAuth,
    Path(room_id): Path<String>,
) -> Result<Response, RoomsError> {
    let room = room_of(&state, &auth, &room_id).await?;
    let rooms = state.rooms.clone();
    let deleted = tokio::task::spawn_blocking(move || rooms.delete(&room))
        .await
        .map_err(|_| RoomsError::internal())??;
    if !deleted {
        return Err(RoomsError::not_found("room", &room_id));
    }
    tracing::info!(room = %room_id, "room deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v2/rooms/{id}/sessions`
pub async fn sessions(
    State(state): State<AppState>,
    auth: RoomsAuth,
    Path(room_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, RoomsError> {
    let room = room_of(&state, &auth, &room_id).await?;
    let mut q = Query::parse(raw.as_deref())?;
    let filter = SessionFilter {
        room_id: Some(room.room_id),
        ..sessions::filter(&mut q)?
    };
    sessions::list_filtered(&state, &auth, q, filter).await
}

/// `POST /v2/rooms/{id}/actions/generate_join_client_token`
pub async fn generate_join_client_token(
    State(state): State<AppState>,
    auth: RoomsAuth,
    Path(room_id): Path<String>,
    body: Bytes,
) -> Result<Response, RoomsError> {
    let mut body = Body::parse(&body)?;
    let token_ttl = ttl(
        &mut body,
        "token_ttl_secs",
        &TOKEN_TTL_SECS,
        DEFAULT_TOKEN_TTL_SECS,
    )?;
    let refresh_ttl = ttl(
        &mut body,
        "refresh_token_ttl_secs",
        &REFRESH_TTL_SECS,
        DEFAULT_REFRESH_TTL_SECS,
    )?;
    body.finish()?;
    let room = room_of(&state, &auth, &room_id).await?;
    let token = state
        .rooms
        .mint(&room.room_id, TokenKind::Access, token_ttl);
    let refresh = state
        .rooms
        .mint(&room.room_id, TokenKind::Refresh, refresh_ttl);
    Ok(wire::one(
        StatusCode::CREATED,
        json!({
            "token": token.token,
            "token_expires_at": iso(token.expires_at * 1000),
            "refresh_token": refresh.token,
            "refresh_token_expires_at": iso(refresh.expires_at * 1000),
        }),
    ))
}

/// `POST /v2/rooms/{id}/actions/refresh_client_token`: a new access token for the holder
/// of a refresh token of this room (reusable until it expires).
pub async fn refresh_client_token(
    State(state): State<AppState>,
    auth: RoomsAuth,
    Path(room_id): Path<String>,
    body: Bytes,
) -> Result<Response, RoomsError> {
    let mut body = Body::parse(&body)?;
    let token_ttl = ttl(
        &mut body,
        "token_ttl_secs",
        &TOKEN_TTL_SECS,
        DEFAULT_TOKEN_TTL_SECS,
    )?;
    let refresh = match body.string("refresh_token", parlor_proto::rooms_token::MAX_TOKEN_BYTES)? {
        Field::Value(t) => t,
        _ => return Err(RoomsError::missing("refresh_token")),
    };
    body.finish()?;
    let room = room_of(&state, &auth, &room_id).await?;
    let grant = state
        .rooms
        .verify(&refresh, TokenKind::Refresh)
        .map_err(|e| RoomsError::invalid("refresh_token", format!("refresh_token refused: {e}")))?;
    if grant.room_id != room.room_id {
        return Err(RoomsError::invalid(
            "refresh_token",
            "refresh_token is for another room",
        ));
    }
    let token = state
        .rooms
        .mint(&room.room_id, TokenKind::Access, token_ttl);
    Ok(wire::one(
        StatusCode::CREATED,
        json!({
            "token": token.token,
            "token_expires_at": iso(token.expires_at * 1000),
        }),
    ))
}

fn ttl(
    body: &mut Body,
    name: &str,
    range: &std::ops::RangeInclusive<i64>,
    default: i64,
) -> Result<i64, RoomsError> {
    match body.integer(name, *range.start(), *range.end())? {
        Field::Value(n) => Ok(n),
        Field::Null | Field::Absent => Ok(default),
    }
}
