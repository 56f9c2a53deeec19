//! `/v2/room_recordings`: each participant's each track of rooms with `enable_recording`
//! ([`crate::rooms::recordings`]), listed, retrieved and deleted (one, or every one
//! matching the filters); and `/room-media/...`, the signed download of a recording's or a
//! composition's file.

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::auth::RoomsAuth;
use super::error::RoomsError;
use super::query::{Query, iso};
use super::rooms::check_uuid;
use super::wire;
use crate::AppState;
use crate::rooms::media_model::{RecordingFilter, RecordingRecord};
use crate::rooms::recordings::{DOWNLOAD_PREFIX, size_mb};

fn time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(iso(ms)))
}

/// A recording as Telnyx writes it.
pub(super) fn recording_json(r: &RecordingRecord, download_url: Option<String>) -> Value {
    json!({
        "id": r.recording_id,
        "record_type": "room_recording",
        "room_id": r.room_id,
        "session_id": r.room_session_id,
        "participant_id": r.participant_id,
        "type": r.kind,
        "status": r.status,
        "codec": r.codec,
        "duration_secs": r.duration_secs,
        "size_mb": r.size_bytes.map(size_mb),
        "download_url": download_url,
        "started_at": iso(r.started_at),
        "ended_at": time(r.ended_at),
        "completed_at": time(r.completed_at),
        "created_at": iso(r.created_at),
        "updated_at": iso(r.updated_at),
    })
}

/// The scheme and host the client reached us at.
pub(super) fn base(state: &AppState, headers: &HeaderMap) -> String {
    crate::api::archives::base_url_for(headers, state.archives.base_url())
}

fn filter(q: &mut Query) -> Result<RecordingFilter, RoomsError> {
    let one_of =
        |q: &mut Query, name: &str, allowed: &[&str]| -> Result<Option<String>, RoomsError> {
            let key = format!("filter[{name}]");
            match q.string(&key) {
                Some(v) if !allowed.contains(&v.as_str()) => Err(RoomsError::invalid(
                    &key,
                    format!("{key} must be one of {}, not {v:?}", allowed.join(", ")),
                )
                .with_parameter(&key)),
                v => Ok(v),
            }
        };
    let status = one_of(q, "status", &["processing", "completed"])?;
    let kind = one_of(q, "type", &["audio", "video"])?;
    let duration_secs = match q.string("filter[duration_secs]") {
        None => None,
        Some(v) => Some(v.parse::<i64>().map_err(|_| {
            RoomsError::invalid(
                "filter[duration_secs]",
                format!("filter[duration_secs] must be an integer, not {v:?}"),
            )
            .with_parameter("filter[duration_secs]")
        })?),
    };
    Ok(RecordingFilter {
        room_id: q.string("filter[room_id]"),
        room_session_id: q.string("filter[session_id]"),
        participant_id: q.string("filter[participant_id]"),
        status,
        kind,
        duration_secs,
        started: q.time_range("date_started_at")?,
        ended: q.time_range("date_ended_at")?,
    })
}

/// `GET /v2/room_recordings`
pub async fn list(
    State(state): State<AppState>,
    auth: RoomsAuth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, RoomsError> {
    let mut q = Query::parse(raw.as_deref())?;
    let filter = filter(&mut q)?;
    let page = q.page()?;
    q.finish()?;
    let project = auth.0.api_key.clone();
    let listed = state
        .db(move |s| s.recordings(&project, &filter, page))
        .await?;
    let base = base(&state, &headers);
    let secret = &auth.0.api_secret;
    Ok(wire::page(&listed, page, |r| {
        recording_json(r, state.room_media.recording_url(r, &base, secret))
    }))
}

async fn find(state: &AppState, auth: &RoomsAuth, id: &str) -> Result<RecordingRecord, RoomsError> {
    check_uuid("room recording", id)?;
    let lookup = id.to_owned();
    state
        .db(move |s| s.recording(&lookup))
        .await?
        .filter(|r| r.project_id == auth.0.api_key)
        .ok_or_else(|| RoomsError::not_found("room recording", id))
}

/// `GET /v2/room_recordings/{id}`
pub async fn retrieve(
    State(state): State<AppState>,
    auth: RoomsAuth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, RoomsError> {
    let r = find(&state, &auth, &id).await?;
    let url = state
        .room_media
        .recording_url(&r, &base(&state, &headers), &auth.0.api_secret);
    Ok(wire::one(StatusCode::OK, recording_json(&r, url)))
}

/// `DELETE /v2/room_recordings/{id}`: 204; 422 while it is still recording.
pub async fn delete(
    State(state): State<AppState>,
    auth: RoomsAuth,
    Path(id): Path<String>,
) -> Result<Response, RoomsError> {
    let r = find(&state, &auth, &id).await?;
    if r.status == crate::rooms::media_model::PROCESSING {
        return Err(RoomsError::unprocessable(format!(
            "room recording {id} is still processing: it can be deleted once completed"
        )));
    }
    if state.room_media.delete_recordings(vec![r]).await? == 0 {
        return Err(RoomsError::not_found("room recording", &id));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /v2/room_recordings?filter...`: deletes every completed recording matching
/// (those still processing are kept) → `{data: {room_recordings: <count>}}`.
pub async fn delete_bulk(
    State(state): State<AppState>,
    auth: RoomsAuth,
    RawQuery(raw): RawQuery,
) -> Result<Response, RoomsError> {
    let mut q = Query::parse(raw.as_deref())?;
    let filter = filter(&mut q)?;
    // The SDKs may send page parameters; they do not limit a deletion.
    q.page()?;
    q.finish()?;
    let project = auth.0.api_key.clone();
    let matching = state
        .db(move |s| s.recordings_matching(&project, &filter))
        .await?;
    let n = state.room_media.delete_recordings(matching).await?;
    tracing::info!(project = %auth.0.api_key, deleted = n, "room recordings deleted in bulk");
    Ok(wire::one(StatusCode::OK, json!({ "room_recordings": n })))
}

/// A refused download: 403, in the Rooms API's error shape.
fn refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        axum::Json(json!({ "errors": [{
            "code": "10010",
            "title": "Authorization failed",
            "detail": "this download URL is invalid or has expired: get the recording or \
                       composition again for a fresh one",
        }]})),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
pub struct DownloadQuery {
    exp: Option<i64>,
    sig: Option<String>,
}

/// `GET /room-media/{project}/{id}/{file}?exp&sig`: a recording's or a composition's file,
/// for whoever holds an unexpired URL signed with the project's secret. Range requests
/// work (tower-http's `ServeFile`).
pub async fn download(
    State(state): State<AppState>,
    Path((api_key, id, file)): Path<(String, String, String)>,
    axum::extract::Query(q): axum::extract::Query<DownloadQuery>,
    request: Request,
) -> Result<Response, RoomsError> {
    let (Some(exp), Some(sig)) = (q.exp, q.sig) else {
        return Ok(refused());
    };
    if !crate::archives::valid_id(&id) {
        return Ok(refused());
    }
    let key = api_key.clone();
    let Some(project) = state.db(move |s| s.project(&key)).await? else {
        return Ok(refused());
    };
    if !crate::api::archives::url_signature_valid(
        DOWNLOAD_PREFIX,
        &project.api_secret,
        (&api_key, &id, &file),
        exp,
        &sig,
    ) {
        return Ok(refused());
    }
    let lookup = id.clone();
    let (recording, composition) = state
        .db(move |s| Ok((s.recording(&lookup)?, s.composition(&lookup)?)))
        .await?;
    let (path, content_type) = if let Some(r) = recording.filter(|r| r.project_id == api_key) {
        let kind = if r.kind == "audio" { "audio" } else { "video" };
        let ct = if file.ends_with(".mkv") {
            format!("{kind}/x-matroska")
        } else {
            format!("{kind}/webm")
        };
        (state.room_media.recording_path(&r), ct)
    } else if let Some(c) = composition.filter(|c| c.project_id == api_key) {
        (
            state.room_media.composition_file(&c),
            "video/mp4".to_owned(),
        )
    } else {
        (None, String::new())
    };
    let Some(path) = path.filter(|p| p.file_name().is_some_and(|f| f == file.as_str())) else {
        return Err(RoomsError::not_found("file", &file));
    };
    let mime = content_type.parse().map_err(|_| RoomsError::internal())?;
    let served = tower_http::services::ServeFile::new_with_mime(&path, &mime)
        .oneshot(request)
        .await
        .map_err(|e| {
            tracing::error!(file = %path.display(), error = %e, "cannot serve a room media file");
            RoomsError::internal()
        })?;
    let mut response = served.into_response();
    if let Ok(v) = format!("attachment; filename=\"{file}\"").parse() {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
