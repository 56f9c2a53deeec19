//! Server-side control of live sessions: signals, force disconnect, mute.
//!
//! `/v2/project/{apiKey}/session/{sessionId}/...`, as the OpenTok SDKs call them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use parlor_proto::signaling::{ErrorCode, ProtocolError};
use serde::Deserialize;

use super::json::JsonBody;
use super::{ApiError, ProjectAuth};
use crate::AppState;
use crate::signaling::Room;
use crate::store::SessionRecord;

/// The session named in the path, if it is this project's.
pub(super) async fn session_of(
    state: &AppState,
    auth: &ProjectAuth,
    api_key: &str,
    session_id: &str,
) -> Result<SessionRecord, ApiError> {
    auth.check_path_key(api_key)?;
    let sid = session_id.to_owned();
    let record = state.db(move |s| s.session(&sid)).await?;
    match record {
        Some(s) if s.project_id == auth.0.api_key => Ok(s),
        _ => Err(ApiError::not_found(format!(
            "no session {session_id} in this project"
        ))),
    }
}

/// Maps a room's refusal to a REST error.
pub(super) fn from_protocol(e: ProtocolError) -> ApiError {
    let status = match e.code {
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::LimitExceeded => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, e.message)
}

fn no_clients(session_id: &str) -> ApiError {
    ApiError::not_found(format!("no client is connected to session {session_id}"))
}

fn room(state: &AppState, session_id: &str) -> Option<std::sync::Arc<Room>> {
    state.signaling.existing_room(session_id)
}

/// Unknown fields are ignored, as the SDKs pass an application's payload through.
#[derive(Deserialize)]
pub struct SignalBody {
    #[serde(rename = "type", default)]
    signal_type: String,
    #[serde(default)]
    data: String,
}

/// `POST .../session/{sid}/signal`: 204; to nobody if nobody is connected.
pub async fn signal_session(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, session_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<SignalBody>,
) -> Result<StatusCode, ApiError> {
    session_of(&state, &auth, &api_key, &session_id).await?;
    parlor_proto::signaling::validate_signal(&body.signal_type, &body.data)
        .map_err(from_protocol)?;
    if let Some(room) = room(&state, &session_id) {
        room.signal(None, None, body.signal_type, body.data)
            .map_err(from_protocol)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST .../session/{sid}/connection/{cid}/signal`: 204, or 404 for an unknown connection.
pub async fn signal_connection(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, session_id, connection_id)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<SignalBody>,
) -> Result<StatusCode, ApiError> {
    session_of(&state, &auth, &api_key, &session_id).await?;
    parlor_proto::signaling::validate_signal(&body.signal_type, &body.data)
        .map_err(from_protocol)?;
    let room = room(&state, &session_id).ok_or_else(|| no_clients(&session_id))?;
    room.signal(None, Some(&connection_id), body.signal_type, body.data)
        .map_err(from_protocol)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE .../session/{sid}/connection/{cid}`: 204; the others see forceDisconnected.
pub async fn force_disconnect(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, session_id, connection_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    session_of(&state, &auth, &api_key, &session_id).await?;
    let room = room(&state, &session_id).ok_or_else(|| no_clients(&session_id))?;
    room.force_disconnect(None, &connection_id)
        .map_err(from_protocol)?;
    Ok(StatusCode::NO_CONTENT)
}

fn empty_json() -> Response {
    (StatusCode::OK, axum::Json(serde_json::json!({}))).into_response()
}

/// `POST .../session/{sid}/stream/{stid}/mute`: 200.
pub async fn mute_stream(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, session_id, stream_id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    session_of(&state, &auth, &api_key, &session_id).await?;
    let room = room(&state, &session_id)
        .ok_or_else(|| ApiError::not_found(format!("no stream {stream_id} in this session")))?;
    room.force_mute(None, Some(&stream_id), &[])
        .map_err(from_protocol)?;
    Ok(empty_json())
}

/// The body of "mute all". The exclusions are accepted under all three spellings the
/// SDKs and their docs use.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MuteAllBody {
    active: Option<bool>,
    excluded_stream_ids: Option<Vec<String>>,
    excluded_streams: Option<Vec<String>>,
    excuded_stream_ids: Option<Vec<String>>,
}

/// `POST .../session/{sid}/mute` `{active, excludedStreamIds}`: 200. `active: false`
/// lifts "mute all" (streams stay as they are; new ones are no longer muted).
pub async fn mute_all(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, session_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<MuteAllBody>,
) -> Result<Response, ApiError> {
    session_of(&state, &auth, &api_key, &session_id).await?;
    let active = body
        .active
        .ok_or_else(|| ApiError::bad_request("'active' (true or false) is required"))?;
    if !active {
        state.signaling.set_mute_all(&session_id, None);
        return Ok(empty_json());
    }
    let excluded: Vec<String> = [
        body.excluded_stream_ids,
        body.excluded_streams,
        body.excuded_stream_ids,
    ]
    .into_iter()
    .flatten()
    .flatten()
    .collect();
    state
        .signaling
        .set_mute_all(&session_id, Some(excluded.clone()));
    if let Some(room) = room(&state, &session_id) {
        room.force_mute(None, None, &excluded)
            .map_err(from_protocol)?;
    }
    Ok(empty_json())
}
