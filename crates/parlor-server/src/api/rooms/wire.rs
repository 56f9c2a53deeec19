//! The Rooms API's resources as Telnyx writes them (`record_type`, ISO times, nulls kept).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::query::iso;
use crate::rooms::model::{Listed, Page};
use crate::rooms::{ParticipantRecord, RoomRecord, RoomSessionRecord};

fn time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(iso(ms)))
}

pub fn room(r: &RoomRecord, sessions: Option<Vec<Value>>) -> Value {
    let mut v = json!({
        "id": r.room_id,
        "record_type": "room",
        "unique_name": r.unique_name,
        "max_participants": r.max_participants,
        "enable_recording": r.enable_recording,
        "webhook_event_url": r.webhook_event_url,
        "webhook_event_failover_url": r.webhook_event_failover_url,
        "webhook_timeout_secs": r.webhook_timeout_secs,
        "active_session_id": r.active_session_id,
        "created_at": iso(r.created_at),
        "updated_at": iso(r.updated_at),
    });
    if let Some(sessions) = sessions {
        v["sessions"] = Value::Array(sessions);
    }
    v
}

pub fn session(s: &RoomSessionRecord, participants: Option<Vec<Value>>) -> Value {
    let mut v = json!({
        "id": s.room_session_id,
        "record_type": "room_session",
        "room_id": s.room_id,
        "active": s.active(),
        "created_at": iso(s.created_at),
        "updated_at": iso(s.updated_at),
        "ended_at": time(s.ended_at),
    });
    if let Some(participants) = participants {
        v["participants"] = Value::Array(participants);
    }
    v
}

pub fn participant(p: &ParticipantRecord) -> Value {
    json!({
        "id": p.participant_id,
        "record_type": "room_participant",
        "session_id": p.room_session_id,
        "context": p.context,
        "joined_at": iso(p.joined_at),
        "left_at": time(p.left_at),
        "updated_at": iso(p.updated_at),
    })
}

/// `{data: {...}}` with `status`.
pub fn one(status: StatusCode, data: Value) -> Response {
    (status, Json(json!({ "data": data }))).into_response()
}

/// `{data: [...], meta: {page_number, page_size, total_pages, total_results}}`.
pub fn page<T>(listed: &Listed<T>, page: Page, each: impl Fn(&T) -> Value) -> Response {
    let total_pages = listed.total.div_ceil(u64::from(page.size));
    let body = json!({
        "data": listed.items.iter().map(each).collect::<Vec<_>>(),
        "meta": {
            "page_number": page.number,
            "page_size": page.size,
            "total_pages": total_pages,
            "total_results": listed.total,
        }
    });
    (StatusCode::OK, Json(body)).into_response()
}
