//! `/v2/room_sessions`: room sessions, their participants, and the session actions
//! (`end`, `kick`, `mute`, `unmute`) over the moderation the OpenTok API has.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::auth::RoomsAuth;
use super::body::Body;
use super::error::RoomsError;
use super::participants;
use super::query::Query;
use super::rooms::check_uuid;
use super::wire;
use crate::AppState;
use crate::rooms::model::{ParticipantFilter, SessionFilter};
use crate::rooms::{RoomSessionRecord, ended, left};

/// The date and state filters every session list takes.
pub(super) fn filter(q: &mut Query) -> Result<SessionFilter, RoomsError> {
    Ok(SessionFilter {
        room_id: None,
        active: q.boolean("filter[active]")?,
        created: q.time_range("date_created_at")?,
        updated: q.time_range("date_updated_at")?,
        ended: q.time_range("date_ended_at")?,
    })
}

/// Lists with `filter` (the rest of `q`: `include_participants` and the page).
pub(super) async fn list_filtered(
    state: &AppState,
    auth: &RoomsAuth,
    mut q: Query,
    filter: SessionFilter,
) -> Result<Response, RoomsError> {
    let include = q.boolean("include_participants")?.unwrap_or(false);
    let page = q.page()?;
    q.finish()?;
    let project = auth.0.api_key.clone();
    let (listed, participants) = state
        .db(move |s| {
            let listed = s.room_sessions(&project, &filter, page)?;
            let participants = if include {
                let ids: Vec<String> = listed
                    .items
                    .iter()
                    .map(|s| s.room_session_id.clone())
                    .collect();
                Some(s.participants_of(&ids)?)
            } else {
                None
            };
            Ok((listed, participants))
        })
        .await?;
    Ok(wire::page(&listed, page, |s| {
        let own = participants.as_ref().map(|all| {
            all.iter()
                .filter(|p| p.room_session_id == s.room_session_id)
                .map(wire::participant)
                .collect()
        });
        wire::session(s, own)
    }))
}

/// `GET /v2/room_sessions`
pub async fn list(
    State(state): State<AppState>,
    auth: RoomsAuth,
    RawQuery(raw): RawQuery,
) -> Result<Response, RoomsError> {
    let mut q = Query::parse(raw.as_deref())?;
    let filter = SessionFilter {
        room_id: q.string("filter[room_id]"),
        ..filter(&mut q)?
    };
    list_filtered(&state, &auth, q, filter).await
}

/// A path's room session ID: a session of a room of this project.
pub(super) async fn session_of(
    state: &AppState,
    auth: &RoomsAuth,
    id: &str,
) -> Result<RoomSessionRecord, RoomsError> {
    check_uuid("room session", id)?;
    let lookup = id.to_owned();
    match state.db(move |s| s.room_session(&lookup)).await? {
        Some((s, project)) if project == auth.0.api_key => Ok(s),
        _ => Err(RoomsError::not_found("room session", id)),
    }
}

/// `GET /v2/room_sessions/{id}`
pub async fn retrieve(
    State(state): State<AppState>,
    auth: RoomsAuth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, RoomsError> {
    let mut q = Query::parse(raw.as_deref())?;
    let include = q.boolean("include_participants")?.unwrap_or(false);
    q.finish()?;
    let session = session_of(&state, &auth, &id).await?;
    let participants = if include {
        let ids = vec![session.room_session_id.clone()];
        let all = state.db(move |s| s.participants_of(&ids)).await?;
        Some(all.iter().map(wire::participant).collect())
    } else {
        None
    };
    Ok(wire::one(
        StatusCode::OK,
        wire::session(&session, participants),
    ))
}

/// `GET /v2/room_sessions/{id}/participants`
pub async fn participants(
    State(state): State<AppState>,
    auth: RoomsAuth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, RoomsError> {
    let session = session_of(&state, &auth, &id).await?;
    let mut q = Query::parse(raw.as_deref())?;
    let filter = ParticipantFilter {
        room_session_id: Some(session.room_session_id),
        ..participants::filter(&mut q)?
    };
    participants::list_filtered(&state, &auth, q, filter).await
}

/// A live session for an action: ended ones cannot be acted on.
async fn live_session(
    state: &AppState,
    auth: &RoomsAuth,
    id: &str,
) -> Result<RoomSessionRecord, RoomsError> {
    let session = session_of(state, auth, id).await?;
    if !session.active() {
        return Err(RoomsError::unprocessable(format!(
            "room session {id} has ended"
        )));
    }
    Ok(session)
}

fn ok() -> Response {
    wire::one(StatusCode::OK, json!({ "result": "ok" }))
}

/// `POST /v2/room_sessions/{id}/actions/end`: everyone is disconnected; the next join
/// starts a new session.
pub async fn end(
    State(state): State<AppState>,
    auth: RoomsAuth,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, RoomsError> {
    Body::parse(&body)?.finish()?;
    let session = live_session(&state, &auth, &id).await?;
    let rooms = state.rooms.clone();
    tokio::task::spawn_blocking(move || {
        rooms.end(&session, ended::BY_API, left::SESSION_TERMINATED)
    })
    .await
    .map_err(|_| RoomsError::internal())??;
    tracing::info!(room_session = %id, "room session ended by the API");
    Ok(ok())
}

/// What a participants action names: its live session, `participants` ("all" or IDs)
/// and `exclude`.
struct Targets {
    session: RoomSessionRecord,
    only: Option<Vec<String>>,
    exclude: Vec<String>,
}

async fn targets(
    state: &AppState,
    auth: &RoomsAuth,
    id: &str,
    body: &Bytes,
) -> Result<Targets, RoomsError> {
    let mut body = Body::parse(body)?;
    let (only, exclude) = body.participants()?;
    body.finish()?;
    let session = live_session(state, auth, id).await?;
    Ok(Targets {
        session,
        only,
        exclude,
    })
}

/// `POST /v2/room_sessions/{id}/actions/kick`
pub async fn kick(
    State(state): State<AppState>,
    auth: RoomsAuth,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, RoomsError> {
    let t = targets(&state, &auth, &id, &body).await?;
    let sid = &t.session.session_id;
    state
        .rooms
        .disconnect(sid, t.only.as_deref(), &t.exclude, left::KICKED);
    Ok(ok())
}

/// `POST /v2/room_sessions/{id}/actions/mute`: the participants' audio is censored: muted
/// as OpenTok's forced mute, everyone told (`audioCensored`, `track_censored` in the
/// Telnyx-style client), and they cannot turn it on until an unmute.
pub async fn mute(
    State(state): State<AppState>,
    auth: RoomsAuth,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, RoomsError> {
    let t = targets(&state, &auth, &id, &body).await?;
    state
        .rooms
        .mute(&t.session.session_id, t.only.as_deref(), &t.exclude);
    Ok(ok())
}

/// `POST /v2/room_sessions/{id}/actions/unmute`: lifts the censoring; everyone is told
/// (`track_uncensored`) and the participants may turn their audio on again.
pub async fn unmute(
    State(state): State<AppState>,
    auth: RoomsAuth,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, RoomsError> {
    let t = targets(&state, &auth, &id, &body).await?;
    state
        .rooms
        .unmute(&t.session.session_id, t.only.as_deref(), &t.exclude);
    Ok(ok())
}
