//! Streams of a live session: list, get, set layout class lists.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use parlor_proto::signaling::Stream;
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::JsonBody;
use super::moderation::{from_protocol, session_of};
use super::{ApiError, ProjectAuth};
use crate::AppState;

fn stream_json(stream: &Stream, classes: &[String]) -> Value {
    json!({
        "id": stream.stream_id,
        "videoType": stream.video_type,
        "name": stream.name,
        "layoutClassList": classes,
    })
}

/// `GET .../session/{sid}/stream`: `{count, items}`.
pub async fn list(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, session_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    session_of(&state, &auth, &api_key, &session_id).await?;
    let items: Vec<Value> = state
        .signaling
        .existing_room(&session_id)
        .map(|r| r.streams_with_classes())
        .unwrap_or_default()
        .iter()
        .map(|(s, c)| stream_json(s, c))
        .collect();
    Ok(Json(json!({ "count": items.len(), "items": items })))
}

/// `GET .../session/{sid}/stream/{stid}`: `{id, videoType, name, layoutClassList}`.
///
/// Sent as `text/plain` to OpenTok credentials: the Node `opentok` SDK's `getStream` parses
/// the body itself and fails on a body its HTTP layer already parsed (it does so for
/// `application/json`). Sent as `application/json` to application credentials:
/// `@vonage/video` decodes by content type and hands a `text/plain` body over as a string.
pub async fn get(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, session_id, stream_id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    session_of(&state, &auth, &api_key, &session_id).await?;
    let (stream, classes) = state
        .signaling
        .existing_room(&session_id)
        .and_then(|r| r.stream(&stream_id))
        .ok_or_else(|| ApiError::not_found(format!("no stream {stream_id} in this session")))?;
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            if auth.is_application() {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            },
        )],
        stream_json(&stream, &classes).to_string(),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct ClassListsBody {
    items: Vec<ClassListItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassListItem {
    id: String,
    layout_class_list: Vec<String>,
}

/// `PUT .../session/{sid}/stream` `{items: [{id, layoutClassList}]}`: 200; all or none.
pub async fn set_class_lists(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, session_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<ClassListsBody>,
) -> Result<Json<Value>, ApiError> {
    session_of(&state, &auth, &api_key, &session_id).await?;
    if body.items.is_empty() {
        return Err(ApiError::bad_request(
            "'items' must list at least one stream",
        ));
    }
    for item in &body.items {
        if let Some(bad) = item
            .layout_class_list
            .iter()
            .find(|c| c.is_empty() || c.len() > 128 || c.contains(char::is_whitespace))
        {
            return Err(ApiError::bad_request(format!(
                "layout class '{bad}' must be 1 to 128 characters without spaces"
            )));
        }
    }
    let room = state.signaling.existing_room(&session_id).ok_or_else(|| {
        ApiError::not_found(format!("no stream {} in this session", body.items[0].id))
    })?;
    let items: Vec<(String, Vec<String>)> = body
        .items
        .into_iter()
        .map(|i| (i.id, i.layout_class_list))
        .collect();
    room.set_layout_classes(&items).map_err(from_protocol)?;
    // PyPI `vonage` reads the session's streams back from this answer (`items`); the
    // OpenTok SDKs get the empty object they always had.
    if auth.is_application() {
        let items: Vec<Value> = room
            .streams_with_classes()
            .iter()
            .map(|(s, c)| stream_json(s, c))
            .collect();
        return Ok(Json(json!({ "count": items.len(), "items": items })));
    }
    Ok(Json(json!({})))
}
