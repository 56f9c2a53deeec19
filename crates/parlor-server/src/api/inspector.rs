//! The Inspector's data as JSON, for the Inspector page and users' own tools
//! (`/v2/project/{key}/inspector/...`, project auth like every project endpoint):
//!
//! * `GET .../inspector/sessions?offset&count` — the project's sessions with history,
//!   most recently used first: `{count, items: [{sessionId, live, firstStartedAt,
//!   lastStartedAt, lastEndedAt, meetings, connections, streams}]}`.
//! * `GET .../inspector/sessions/{sessionId}` — one session: its meetings, connections
//!   (role, data, SDK, browser, address, join and leave with the reason), streams,
//!   subscriptions, event counts and the failure rates of connect, publish and subscribe.
//! * `GET .../inspector/sessions/{sessionId}/events?after&count&kind` — its timeline,
//!   oldest first, paged by the last event's `id` (`after`); `next` is the cursor of the
//!   next page, `null` at the end.
//!
//! `docs/inspector-openapi.yaml` describes every field (OpenAPI 3.1).

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::moderation::session_of;
use super::{ApiError, ProjectAuth};
use crate::AppState;
use crate::inspector::record::KINDS;

/// Most sessions or events in one page.
pub const MAX_PAGE: i64 = 1000;
/// Sessions or events in a page when `count` is not given.
const DEFAULT_PAGE: i64 = 50;

#[derive(Deserialize)]
pub struct Page {
    offset: Option<String>,
    count: Option<String>,
    after: Option<String>,
    kind: Option<String>,
}

fn number(v: Option<&str>, name: &str, default: i64, max: i64) -> Result<i64, ApiError> {
    let n = match v {
        None | Some("") => return Ok(default),
        Some(s) => s.parse::<i64>().map_err(|_| {
            ApiError::bad_request(format!("{name} must be a whole number, not '{s}'"))
        })?,
    };
    if !(0..=max).contains(&n) {
        return Err(ApiError::bad_request(format!(
            "{name} must be between 0 and {max}, not {n}"
        )));
    }
    Ok(n)
}

/// `GET /v2/project/{key}/inspector/sessions`.
pub async fn sessions(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path(api_key): Path<String>,
    Query(q): Query<Page>,
) -> Result<Json<Value>, ApiError> {
    auth.check_path_key(&api_key)?;
    let offset = number(q.offset.as_deref(), "offset", 0, i64::MAX)?;
    let count = number(q.count.as_deref(), "count", DEFAULT_PAGE, MAX_PAGE)?;
    let project = auth.0.api_key.clone();
    let (total, items) = state
        .db(move |s| s.history_sessions(&project, count, offset))
        .await?;
    let items: Vec<Value> = items
        .into_iter()
        .map(|s| {
            let live = state.signaling.existing_room(&s.session_id).is_some();
            let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
            v["live"] = live.into();
            v
        })
        .collect();
    Ok(Json(json!({ "count": total, "items": items })))
}

/// `{attempts, failures, rate}` of one kind of attempt.
fn rate(counts: &std::collections::BTreeMap<String, i64>, ok: &str, failed: &str) -> Value {
    let ok = counts.get(ok).copied().unwrap_or(0);
    let failures = counts.get(failed).copied().unwrap_or(0);
    let attempts = ok + failures;
    let rate = if attempts == 0 {
        0.0
    } else {
        failures as f64 / attempts as f64
    };
    json!({ "attempts": attempts, "failures": failures, "rate": rate })
}

/// `GET /v2/project/{key}/inspector/sessions/{sessionId}`.
pub async fn session(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, session_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    session_of(&state, &auth, &api_key, &session_id).await?;
    let sid = session_id.clone();
    let history = state.db(move |s| s.session_history(&sid)).await?;
    let live = state.signaling.existing_room(&session_id).is_some();
    let Some(h) = history else {
        return Ok(Json(json!({
            "sessionId": session_id,
            "live": live,
            "meetings": [],
            "connections": [],
            "streams": [],
            "subscriptions": [],
            "eventCounts": {},
            "failureRates": {
                "connect": rate(&Default::default(), "", ""),
                "publish": rate(&Default::default(), "", ""),
                "subscribe": rate(&Default::default(), "", ""),
            },
        })));
    };
    let failure_rates = json!({
        "connect": rate(&h.counts, "connectionCreated", "connectionFailed"),
        "publish": rate(&h.counts, "streamCreated", "publishFailed"),
        "subscribe": rate(&h.counts, "subscriptionCreated", "subscribeFailed"),
    });
    Ok(Json(json!({
        "sessionId": session_id,
        "live": live,
        "meetings": h.meetings,
        "connections": h.connections,
        "streams": h.streams,
        "subscriptions": h.subscriptions,
        "eventCounts": h.counts,
        "failureRates": failure_rates,
    })))
}

/// `GET /v2/project/{key}/inspector/sessions/{sessionId}/events`.
pub async fn events(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, session_id)): Path<(String, String)>,
    Query(q): Query<Page>,
) -> Result<Json<Value>, ApiError> {
    session_of(&state, &auth, &api_key, &session_id).await?;
    let after = number(q.after.as_deref(), "after", 0, i64::MAX)?;
    let count = number(q.count.as_deref(), "count", DEFAULT_PAGE * 4, MAX_PAGE)?;
    let kind = match q.kind.filter(|k| !k.is_empty()) {
        Some(k) if KINDS.contains(&k.as_str()) => Some(k),
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "unknown event kind '{k}'; the kinds are {}",
                KINDS.join(", ")
            )));
        }
        None => None,
    };
    let items = state
        .db(move |s| s.history_events(&session_id, kind.as_deref(), after, count))
        .await?;
    let next = if i64::try_from(items.len()).unwrap_or(i64::MAX) == count && count > 0 {
        items.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Json(json!({ "items": items, "next": next })))
}

#[derive(Deserialize)]
pub struct QualityQuery {
    #[serde(rename = "streamId")]
    stream_id: Option<String>,
    since: Option<String>,
}

/// `GET /v2/project/{key}/inspector/sessions/{sessionId}/quality?streamId&since`: the
/// quality windows as series, one per stream side (the publisher's, each subscription's)
/// and kind of media, each with its samples oldest first and a summary.
pub async fn quality(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, session_id)): Path<(String, String)>,
    Query(q): Query<QualityQuery>,
) -> Result<Json<Value>, ApiError> {
    session_of(&state, &auth, &api_key, &session_id).await?;
    let since = number(q.since.as_deref(), "since", 0, i64::MAX)?;
    let stream = q.stream_id.filter(|s| !s.is_empty());
    let rows = state
        .db(move |s| s.history_quality(&session_id, stream.as_deref(), since))
        .await?;
    // Series in the order they first appear.
    let mut order: Vec<(String, Option<String>, String)> = Vec::new();
    let mut series: std::collections::HashMap<(String, Option<String>, String), Vec<Value>> =
        std::collections::HashMap::new();
    let mut owners = std::collections::HashMap::new();
    for r in rows {
        let key = (
            r.stream_id.clone(),
            r.subscription_id.clone(),
            r.media.clone(),
        );
        let samples = series.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Vec::new()
        });
        owners.insert(key, r.connection_id.clone());
        samples.push(json!({
            "at": r.at,
            "windowMs": r.window_ms,
            "bitrateBps": r.bitrate_bps,
            "packets": r.packets,
            "nacks": r.nacks,
            "plis": r.plis,
            "loss": r.loss,
            "jitterMs": r.jitter_ms,
            "rttMs": r.rtt_ms,
            "mos": r.mos,
            "fps": r.fps,
            "width": r.width,
            "height": r.height,
            "freezes": r.freezes,
            "freezeMs": r.freeze_ms,
            "concealed": r.concealed,
            "qualityLimitation": r.quality_limitation,
            "candidateType": r.candidate_type,
            "protocol": r.protocol,
        }));
    }
    let items: Vec<Value> = order
        .into_iter()
        .map(|key| {
            let samples = series.remove(&key).unwrap_or_default();
            let connection = owners.remove(&key);
            let (stream_id, subscription_id, media) = key;
            let mos: Vec<f64> = samples.iter().filter_map(|s| s["mos"].as_f64()).collect();
            let loss: Vec<f64> = samples.iter().filter_map(|s| s["loss"].as_f64()).collect();
            let rtt: Vec<f64> = samples.iter().filter_map(|s| s["rttMs"].as_f64()).collect();
            let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
            let last_mos = mos.last().copied();
            json!({
                "streamId": stream_id,
                "subscriptionId": subscription_id,
                "side": if subscription_id.is_some() { "subscriber" } else { "publisher" },
                "connectionId": connection,
                "media": media,
                "summary": {
                    "samples": samples.len(),
                    "meanMos": mean(&mos),
                    "lastMos": last_mos,
                    "score": last_mos.map(crate::inspector::score::opentok_score),
                    "meanLoss": mean(&loss),
                    "maxLoss": loss.iter().copied().fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x)))),
                    "meanRttMs": mean(&rtt),
                },
                "samples": samples,
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}
