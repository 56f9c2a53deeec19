//! `/v2/room_compositions`: MP4s of an ended room session's recordings
//! ([`crate::rooms::compositions`]), created asynchronously (202, `enqueued`), listed,
//! retrieved and deleted.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::RoomsAuth;
use super::body::{Body, Field};
use super::error::RoomsError;
use super::query::{Query, iso};
use super::recordings::base;
use super::rooms::check_uuid;
use super::wire;
use crate::AppState;
use crate::rooms::compositions::{LayoutError, parse_layout, parse_resolution};
use crate::rooms::media_model::{self, CompositionFilter, CompositionRecord};
use crate::rooms::recordings::size_mb;

fn time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(iso(ms)))
}

fn composition_json(c: &CompositionRecord, download_url: Option<String>) -> Value {
    json!({
        "id": c.composition_id,
        "record_type": "composition",
        "room_id": c.room_id,
        "session_id": c.room_session_id,
        "format": c.format,
        "resolution": c.resolution,
        "status": c.status,
        "video_layout": serde_json::from_str::<Value>(&c.video_layout).unwrap_or(Value::Null),
        "duration_secs": c.duration_secs,
        "size_mb": c.size_bytes.map(size_mb),
        "download_url": download_url,
        "webhook_event_url": c.webhook_event_url,
        "webhook_event_failover_url": c.webhook_event_failover_url,
        "webhook_timeout_secs": c.webhook_timeout_secs,
        "started_at": time(c.started_at),
        "ended_at": time(c.ended_at),
        "completed_at": time(c.completed_at),
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
    })
}

impl From<LayoutError> for RoomsError {
    fn from(e: LayoutError) -> Self {
        RoomsError::invalid(&e.pointer, e.detail)
    }
}

/// `POST /v2/room_compositions` → 202 `enqueued`.
pub async fn create(
    State(state): State<AppState>,
    auth: RoomsAuth,
    bytes: Bytes,
) -> Result<Response, RoomsError> {
    // `video_layout` is an object of regions, read by `parse_layout`; the rest field by
    // field.
    let (layout, rest) = split_layout(&bytes)?;
    let mut body = Body::parse(&rest)?;
    let session_id = match body.string("session_id", 64)? {
        Field::Value(id) => id,
        _ => return Err(RoomsError::missing("session_id")),
    };
    let format = match body.string("format", 16)? {
        Field::Value(f) if f != "mp4" => {
            return Err(RoomsError::invalid(
                "format",
                format!("format must be \"mp4\", not {f:?}"),
            ));
        }
        _ => "mp4".to_owned(),
    };
    let resolution = match body.string("resolution", 16)? {
        Field::Value(r) => r,
        _ => "1280x720".to_owned(),
    };
    let frame = parse_resolution(&resolution)?;
    let webhook_event_url = opt(body.url("webhook_event_url")?);
    let webhook_event_failover_url = opt(body.url("webhook_event_failover_url")?);
    let webhook_timeout_secs = opt(body.integer("webhook_timeout_secs", 0, 30)?);
    body.finish()?;
    if uuid::Uuid::parse_str(&session_id).is_err() {
        return Err(RoomsError::invalid(
            "session_id",
            format!("session_id {session_id:?} is not a room session id (a UUID)"),
        ));
    }
    let lookup = session_id.clone();
    let found = state
        .db(move |s| {
            Ok(match s.room_session(&lookup)? {
                Some((rs, project)) => Some((rs, project, s.recordings_of_session(&lookup)?)),
                None => None,
            })
        })
        .await?;
    let Some((room_session, _, recordings)) =
        found.filter(|(_, project, _)| *project == auth.0.api_key)
    else {
        return Err(RoomsError::invalid(
            "session_id",
            format!("there is no room session {session_id} in this project"),
        ));
    };
    if room_session.active() {
        return Err(RoomsError::invalid(
            "session_id",
            format!("room session {session_id} has not ended: compose it once it has"),
        ));
    }
    parse_layout(layout.as_ref(), frame, &recordings)?;
    if let Err(why) = state.room_media.compositions_available() {
        return Err(RoomsError::unprocessable(format!(
            "compositions cannot be made on this server: {why}"
        )));
    }
    let now = crate::unix_millis();
    let record = CompositionRecord {
        composition_id: uuid::Uuid::new_v4().to_string(),
        project_id: auth.0.api_key.clone(),
        room_id: room_session.room_id.clone(),
        room_session_id: room_session.room_session_id.clone(),
        format,
        resolution,
        video_layout: layout
            .map(|l| l.to_string())
            .unwrap_or_else(|| "null".into()),
        status: media_model::ENQUEUED.to_owned(),
        reason: None,
        duration_secs: None,
        size_bytes: None,
        webhook_event_url,
        webhook_event_failover_url,
        webhook_timeout_secs: webhook_timeout_secs.map(|n| n as u32),
        started_at: None,
        ended_at: None,
        completed_at: None,
        created_at: now,
        updated_at: now,
    };
    let row = record.clone();
    state.db(move |s| s.insert_composition(&row)).await?;
    state.room_media.enqueue(&record.composition_id);
    tracing::info!(composition = %record.composition_id, room_session = %session_id, "room composition enqueued");
    Ok(wire::one(
        StatusCode::ACCEPTED,
        composition_json(&record, None),
    ))
}

/// Takes `video_layout` out of a JSON object body (absent or null: `None`).
fn split_layout(bytes: &Bytes) -> Result<(Option<Value>, Bytes), RoomsError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok((None, bytes.clone()));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(mut fields)) => {
            let layout = fields.remove("video_layout").filter(|v| !v.is_null());
            Ok((layout, Bytes::from(Value::Object(fields).to_string())))
        }
        // Body::parse names what is wrong.
        _ => Ok((None, bytes.clone())),
    }
}

fn opt<T>(f: Field<T>) -> Option<T> {
    match f {
        Field::Value(v) => Some(v),
        _ => None,
    }
}

/// `GET /v2/room_compositions`
pub async fn list(
    State(state): State<AppState>,
    auth: RoomsAuth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, RoomsError> {
    let mut q = Query::parse(raw.as_deref())?;
    let status = q.string("filter[status]");
    if let Some(s) = &status
        && ![
            media_model::ENQUEUED,
            media_model::PROCESSING,
            media_model::COMPLETED,
            media_model::FAILED,
        ]
        .contains(&s.as_str())
    {
        return Err(RoomsError::invalid(
            "filter[status]",
            format!("filter[status] must be enqueued, processing, completed or failed, not {s:?}"),
        )
        .with_parameter("filter[status]"));
    }
    let filter = CompositionFilter {
        room_session_id: q.string("filter[session_id]"),
        status,
        created: q.time_range("date_created_at")?,
    };
    let page = q.page()?;
    q.finish()?;
    let project = auth.0.api_key.clone();
    let listed = state
        .db(move |s| s.compositions(&project, &filter, page))
        .await?;
    let base = base(&state, &headers);
    let secret = &auth.0.api_secret;
    Ok(wire::page(&listed, page, |c| {
        composition_json(c, state.room_media.composition_url(c, &base, secret))
    }))
}

async fn find(
    state: &AppState,
    auth: &RoomsAuth,
    id: &str,
) -> Result<CompositionRecord, RoomsError> {
    check_uuid("room composition", id)?;
    let lookup = id.to_owned();
    state
        .db(move |s| s.composition(&lookup))
        .await?
        .filter(|c| c.project_id == auth.0.api_key)
        .ok_or_else(|| RoomsError::not_found("room composition", id))
}

/// `GET /v2/room_compositions/{id}`
pub async fn retrieve(
    State(state): State<AppState>,
    auth: RoomsAuth,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, RoomsError> {
    let c = find(&state, &auth, &id).await?;
    let url = state
        .room_media
        .composition_url(&c, &base(&state, &headers), &auth.0.api_secret);
    Ok(wire::one(StatusCode::OK, composition_json(&c, url)))
}

/// `DELETE /v2/room_compositions/{id}`: 204.
pub async fn delete(
    State(state): State<AppState>,
    auth: RoomsAuth,
    Path(id): Path<String>,
) -> Result<Response, RoomsError> {
    let c = find(&state, &auth, &id).await?;
    if !state.room_media.delete_composition(&c).await? {
        return Err(RoomsError::not_found("room composition", &id));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
