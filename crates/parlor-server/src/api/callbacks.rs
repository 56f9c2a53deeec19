//! The legacy callback registration API: `POST/GET /v2/project/{key}/callback`,
//! `DELETE /v2/project/{key}/callback/{id}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::json::JsonBody;
use super::{ApiError, ProjectAuth};
use crate::AppState;
use crate::store::CallbackRecord;

#[derive(Deserialize)]
pub struct NewCallback {
    group: Option<String>,
    event: Option<String>,
    url: Option<String>,
}

/// The (group, event) pairs that exist.
const KINDS: &[(&str, &str)] = &[
    ("session", "created"),
    ("session", "destroyed"),
    ("connection", "created"),
    ("connection", "destroyed"),
    ("stream", "created"),
    ("stream", "destroyed"),
    ("archive", "status"),
];

pub async fn register(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path(api_key): Path<String>,
    JsonBody(body): JsonBody<NewCallback>,
) -> Result<Json<CallbackRecord>, ApiError> {
    auth.check_path_key(&api_key)?;
    let (Some(group), Some(event), Some(url)) = (body.group, body.event, body.url) else {
        return Err(ApiError::bad_request(
            "'group', 'event' and 'url' are required",
        ));
    };
    if !KINDS.contains(&(group.as_str(), event.as_str())) {
        let kinds: Vec<String> = KINDS.iter().map(|(g, e)| format!("{g}/{e}")).collect();
        return Err(ApiError::bad_request(format!(
            "no callback for group '{group}' and event '{event}' (one of {})",
            kinds.join(", ")
        )));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 2048 {
        return Err(ApiError::bad_request(
            "'url' must be an http(s) URL of at most 2048 characters",
        ));
    }
    let record = CallbackRecord {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: auth.0.api_key.clone(),
        group,
        event,
        url,
        created_at: crate::unix_millis(),
    };
    let stored = record.clone();
    state.db(move |s| s.insert_callback(&stored)).await?;
    Ok(Json(record))
}

pub async fn list(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path(api_key): Path<String>,
) -> Result<Json<Vec<CallbackRecord>>, ApiError> {
    auth.check_path_key(&api_key)?;
    let project = auth.0.api_key.clone();
    Ok(Json(state.db(move |s| s.callbacks(&project)).await?))
}

pub async fn unregister(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.check_path_key(&api_key)?;
    let project = auth.0.api_key.clone();
    let lookup = id.clone();
    if state
        .db(move |s| s.delete_callback(&project, &lookup))
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no callback {id}")))
    }
}
