//! The OpenTok broadcast API: `/v2/project/{key}/broadcast…`, as the official SDKs call
//! it, over the [`crate::broadcasts`] domain; and the HLS output Parlor serves itself.
//!
//! Bodies are JSON; `null` means "the default" (the Python SDK sends explicit `null`s). A
//! wrong type or value is a 400 naming the field.
//!
//! The HLS URL is a capability, as a CDN URL is for OpenTok's viewers: players fetch it
//! with no credentials, so the path carries a signature of the broadcast (HMAC-SHA256 with
//! the project's secret): `/broadcast-hls/{key}/{id}/{sig}/index.m3u8`, segments beside
//! it. It works while the broadcast's files exist: until [`crate::broadcasts::HLS_GRACE`]
//! after it stopped.

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use tower::ServiceExt as _;

use super::archives::{ListQuery, base_url_for, field, layout_from, page_params};
use super::json::JsonBody;
use super::{ApiError, ProjectAuth};
use crate::AppState;
use crate::archives::model::{LayoutRecord, StreamMode};
use crate::broadcasts::StartRequest;
use crate::broadcasts::model::{BroadcastRecord, HlsSettings, OutputStatus};

/// `maxDuration` bounds in seconds, and its default (OpenTok's).
const MAX_DURATION_RANGE: std::ops::RangeInclusive<u64> = 60..=36_000;
const DEFAULT_MAX_DURATION: u64 = 14_400;
/// `maxBitrate` bounds (bits per second).
const BITRATE_RANGE: std::ops::RangeInclusive<u64> = 100_000..=6_000_000;
/// At most this many RTMP targets (OpenTok's limit).
pub const MAX_RTMP_TARGETS: usize = 5;

fn status_str(s: OutputStatus) -> &'static str {
    match s {
        OutputStatus::Connecting => "connecting",
        OutputStatus::Ready => "ready",
        OutputStatus::Live => "live",
        OutputStatus::Ended => "ended",
        OutputStatus::Error => "error",
    }
}

fn project_id_json(id: &str) -> Value {
    id.parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| id.to_owned().into())
}

fn sign_hls(secret: &str, api_key: &str, id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("broadcast-hls\n{api_key}\n{id}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A broadcast in OpenTok's shape; `hls_url` when it has an HLS output.
pub fn broadcast_json(b: &BroadcastRecord, hls_url: Option<String>) -> Value {
    let mut urls = Map::new();
    if b.hls.is_some() {
        urls.insert("hls".into(), hls_url.into());
        if let Some(s) = b.hls_status {
            urls.insert("hlsStatus".into(), status_str(s).into());
        }
    }
    if !b.rtmp.is_empty() {
        let targets: Vec<Value> = b
            .rtmp
            .iter()
            .map(|t| {
                json!({
                    "id": t.id,
                    "serverUrl": t.server_url,
                    "streamName": t.stream_name,
                    "status": status_str(t.status),
                })
            })
            .collect();
        urls.insert("rtmp".into(), targets.into());
    }
    let mut v = json!({
        "id": b.id,
        "sessionId": b.session_id,
        "projectId": project_id_json(&b.project_id),
        "createdAt": b.created_at,
        "updatedAt": b.updated_at,
        "resolution": b.resolution,
        "status": b.status.as_str(),
        "broadcastUrls": urls,
        "maxDuration": b.max_duration,
        "maxBitrate": b.max_bitrate,
        "streamMode": match b.stream_mode { StreamMode::Auto => "auto", StreamMode::Manual => "manual" },
        "streams": b.streams,
        "hasAudio": b.has_audio,
        "hasVideo": b.has_video,
        "layout": b.layout,
    });
    if let Some(h) = b.hls {
        v["settings"] = json!({ "hls": { "dvr": h.dvr, "lowLatency": h.low_latency } });
    }
    if !b.reason.is_empty() {
        v["reason"] = b.reason.clone().into();
    }
    v
}

/// The body of a `broadcast` status callback: the broadcast with `event`, `partnerId`.
pub fn callback_json(b: &BroadcastRecord) -> Value {
    let mut v = broadcast_json(b, None);
    v["event"] = "broadcast".into();
    v["partnerId"] = project_id_json(&b.project_id);
    v
}

async fn answer(state: &AppState, headers: &HeaderMap, b: &BroadcastRecord) -> Json<Value> {
    Json(broadcast_json(b, hls_url(state, headers, b).await))
}

/// The broadcast's signed HLS URL (when it has HLS and the project is known).
async fn hls_url(state: &AppState, headers: &HeaderMap, b: &BroadcastRecord) -> Option<String> {
    b.hls?;
    let key = b.project_id.clone();
    let project = state.db(move |s| s.project(&key)).await.ok().flatten()?;
    let sig = sign_hls(&project.api_secret, &b.project_id, &b.id);
    let base = base_url_for(headers, state.broadcasts.base_url());
    Some(format!(
        "{base}/broadcast-hls/{}/{}/{sig}/index.m3u8",
        b.project_id, b.id
    ))
}

fn hls_from(v: &Value) -> Result<HlsSettings, ApiError> {
    let Value::Object(m) = v else {
        return Err(ApiError::bad_request(
            "outputs.hls must be an object {dvr?, lowLatency?}",
        ));
    };
    let h = HlsSettings {
        dvr: field(m, "dvr", "true or false")?.unwrap_or(false),
        low_latency: field(m, "lowLatency", "true or false")?.unwrap_or(false),
    };
    if h.dvr && h.low_latency {
        return Err(ApiError::bad_request(
            "outputs.hls cannot have both dvr and lowLatency",
        ));
    }
    Ok(h)
}

/// Whether `s` is safe inside a URL given to ffmpeg: no spaces, controls or characters
/// ffmpeg's option parsing gives meaning to.
fn plain_url_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 1024
        && s.chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '|' | '[' | ']' | '\\' | '"' | '\''))
}

fn rtmp_from(v: &Value) -> Result<Vec<(String, String, String)>, ApiError> {
    let Value::Array(targets) = v else {
        return Err(ApiError::bad_request(
            "outputs.rtmp must be an array of {id, serverUrl, streamName}",
        ));
    };
    if targets.len() > MAX_RTMP_TARGETS {
        return Err(ApiError::bad_request(format!(
            "outputs.rtmp has {} targets: at most {MAX_RTMP_TARGETS} are allowed",
            targets.len()
        )));
    }
    let mut out: Vec<(String, String, String)> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let Value::Object(m) = t else {
            return Err(ApiError::bad_request(format!(
                "outputs.rtmp[{i}] must be an object {{id, serverUrl, streamName}}"
            )));
        };
        let id: String = field::<String>(m, "id", "a string")?
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("rtmp{}", i + 1));
        if id.chars().count() > 200 {
            return Err(ApiError::bad_request(format!(
                "outputs.rtmp[{i}].id is longer than 200 characters"
            )));
        }
        if out.iter().any(|(o, _, _)| *o == id) {
            return Err(ApiError::bad_request(format!(
                "outputs.rtmp has two targets with id '{id}': ids must be unique"
            )));
        }
        let server_url: String = field(m, "serverUrl", "a string")?.ok_or_else(|| {
            ApiError::bad_request(format!("outputs.rtmp[{i}].serverUrl is required"))
        })?;
        let lower = server_url.to_ascii_lowercase();
        let host_part = lower
            .strip_prefix("rtmp://")
            .or_else(|| lower.strip_prefix("rtmps://"));
        if !host_part.is_some_and(|h| !h.is_empty() && !h.starts_with(['/', ':']))
            || !plain_url_part(&server_url)
        {
            return Err(ApiError::bad_request(format!(
                "outputs.rtmp[{i}].serverUrl must be an rtmp:// or rtmps:// URL with a host, not '{}'",
                crate::logsafe::Untrusted(&server_url)
            )));
        }
        let stream_name: String = field(m, "streamName", "a string")?.ok_or_else(|| {
            ApiError::bad_request(format!("outputs.rtmp[{i}].streamName is required"))
        })?;
        if !plain_url_part(&stream_name) {
            return Err(ApiError::bad_request(format!(
                "outputs.rtmp[{i}].streamName must be 1 to 1024 printable characters without spaces, quotes, '|', '[', ']' or '\\'"
            )));
        }
        if server_url.len() + stream_name.len() > 2000 {
            return Err(ApiError::bad_request(format!(
                "outputs.rtmp[{i}]: serverUrl and streamName together are longer than 2000 bytes"
            )));
        }
        out.push((id, server_url, stream_name));
    }
    Ok(out)
}

/// `POST /v2/project/{key}/broadcast`.
pub async fn start(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path(api_key): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    auth.check_path_key(&api_key)?;
    let Value::Object(body) = body else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    let session_id: String = field(&body, "sessionId", "a string")?
        .filter(|s: &String| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("sessionId is required"))?;
    if parlor_proto::session_id::decode(&session_id).is_err() {
        return Err(ApiError::bad_request(format!(
            "sessionId '{}' is not a valid session ID",
            crate::logsafe::Untrusted(&session_id)
        )));
    }
    let Some(Value::Object(outputs)) = body.get("outputs") else {
        return Err(ApiError::bad_request(
            "outputs is required: an object with hls, rtmp or both",
        ));
    };
    let hls = match outputs.get("hls") {
        None | Some(Value::Null) => None,
        Some(v) => Some(hls_from(v)?),
    };
    let rtmp = match outputs.get("rtmp") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => rtmp_from(v)?,
    };
    if hls.is_none() && rtmp.is_empty() {
        return Err(ApiError::bad_request(
            "outputs must have hls, at least one rtmp target, or both",
        ));
    }
    let stream_mode = match field::<String>(&body, "streamMode", "a string")?.as_deref() {
        None | Some("auto") => StreamMode::Auto,
        Some("manual") => StreamMode::Manual,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "streamMode must be 'auto' or 'manual', not '{other}'"
            )));
        }
    };
    let resolution: String =
        field(&body, "resolution", "a string")?.unwrap_or_else(|| "640x480".into());
    if !parlor_proto::limits::ARCHIVE_RESOLUTIONS.contains(&resolution.as_str()) {
        return Err(ApiError::bad_request(format!(
            "resolution must be one of {}, not '{resolution}'",
            parlor_proto::limits::ARCHIVE_RESOLUTIONS.join(", ")
        )));
    }
    let layout = match body.get("layout") {
        None | Some(Value::Null) => LayoutRecord::default(),
        Some(v) => layout_from(v)?,
    };
    let max_duration: u64 =
        field(&body, "maxDuration", "a whole number of seconds")?.unwrap_or(DEFAULT_MAX_DURATION);
    if !MAX_DURATION_RANGE.contains(&max_duration) {
        return Err(ApiError::bad_request(format!(
            "maxDuration must be {} to {} seconds, not {max_duration}",
            MAX_DURATION_RANGE.start(),
            MAX_DURATION_RANGE.end()
        )));
    }
    let max_bitrate: u64 = match field(&body, "maxBitrate", "a whole number")? {
        Some(b) => b,
        None => default_bitrate(&resolution),
    };
    if !BITRATE_RANGE.contains(&max_bitrate) {
        return Err(ApiError::bad_request(format!(
            "maxBitrate must be {} to {} bits per second, not {max_bitrate}",
            BITRATE_RANGE.start(),
            BITRATE_RANGE.end()
        )));
    }
    let has_audio = field(&body, "hasAudio", "true or false")?.unwrap_or(true);
    let has_video = field(&body, "hasVideo", "true or false")?.unwrap_or(true);
    if !has_audio && !has_video {
        return Err(ApiError::bad_request(
            "a broadcast needs audio, video or both (hasAudio and hasVideo are false)",
        ));
    }
    let multi_broadcast_tag: Option<String> = field(&body, "multiBroadcastTag", "a string")?;
    if let Some(t) = &multi_broadcast_tag
        && (t.is_empty() || t.chars().count() > 200)
    {
        return Err(ApiError::bad_request(
            "multiBroadcastTag must be 1 to 200 characters",
        ));
    }
    let req = StartRequest {
        session_id,
        hls,
        rtmp,
        layout,
        max_duration,
        resolution,
        stream_mode,
        multi_broadcast_tag,
        max_bitrate,
        has_audio,
        has_video,
    };
    let record = state
        .broadcasts
        .start_broadcast(&auth.0.api_key, req)
        .await?;
    Ok(answer(&state, &headers, &record).await.into_response())
}

/// The composed video's bit rate when the caller gives none.
fn default_bitrate(resolution: &str) -> u64 {
    match resolution {
        "1920x1080" | "1080x1920" => 4_000_000,
        "1280x720" | "720x1280" => 2_500_000,
        _ => 1_000_000,
    }
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if crate::archives::valid_id(id) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "broadcast '{}' does not exist (broadcast IDs are UUIDs)",
            crate::logsafe::Untrusted(id)
        )))
    }
}

/// `POST /v2/project/{key}/broadcast/{id}/stop`.
pub async fn stop(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    auth.check_path_key(&api_key)?;
    check_id(&id)?;
    let record = state
        .broadcasts
        .stop_broadcast(&auth.0.api_key, &id)
        .await?;
    Ok(answer(&state, &headers, &record).await)
}

/// `GET /v2/project/{key}/broadcast/{id}`.
pub async fn get(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    auth.check_path_key(&api_key)?;
    check_id(&id)?;
    let record = state.broadcasts.get_broadcast(&auth.0.api_key, &id).await?;
    Ok(answer(&state, &headers, &record).await)
}

/// `GET /v2/project/{key}/broadcast?offset&count&sessionId`: `{count, items}`.
pub async fn list(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path(api_key): Path<String>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    auth.check_path_key(&api_key)?;
    let (offset, count, session_id) = page_params(q)?;
    let (total, items) = state
        .broadcasts
        .list_broadcasts(&auth.0.api_key, session_id, offset, count)
        .await?;
    let mut answers = Vec::with_capacity(items.len());
    for b in &items {
        answers.push(broadcast_json(b, hls_url(&state, &headers, b).await));
    }
    Ok(Json(json!({ "count": total, "items": answers })))
}

/// `PUT /v2/project/{key}/broadcast/{id}/layout`.
pub async fn set_layout(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, id)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    auth.check_path_key(&api_key)?;
    check_id(&id)?;
    let layout = layout_from(&body)?;
    let record = state
        .broadcasts
        .set_layout(&auth.0.api_key, &id, layout)
        .await?;
    Ok(answer(&state, &headers, &record).await)
}

/// `PATCH /v2/project/{key}/broadcast/{id}/streams`: `{addStream, hasAudio, hasVideo}`
/// or `{removeStream}`; 204.
pub async fn change_streams(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<StatusCode, ApiError> {
    auth.check_path_key(&api_key)?;
    check_id(&id)?;
    let change = super::archives::stream_change_from(body)?;
    state
        .broadcasts
        .change_streams(&auth.0.api_key, &id, change)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether `file` is a name the HLS muxer writes (so never a path).
fn hls_file_name(file: &str) -> Option<&'static str> {
    let (stem, ext) = file.rsplit_once('.')?;
    if stem.is_empty()
        || stem.len() > 64
        || !stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    match ext {
        "m3u8" => Some("application/vnd.apple.mpegurl"),
        "ts" => Some("video/mp2t"),
        "m4s" | "mp4" => Some("video/mp4"),
        _ => None,
    }
}

/// `GET /broadcast-hls/{key}/{id}/{sig}/{file}`: the HLS playlist and segments, for
/// whoever holds the signed URL; CORS open (players on any origin), the playlist never
/// cached, segments cached (they never change).
pub async fn hls(
    State(state): State<AppState>,
    Path((api_key, id, sig, file)): Path<(String, String, String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let refused = || {
        ApiError::not_found("no such broadcast output (the URL is wrong, or the broadcast ended)")
    };
    if !crate::archives::valid_id(&id) {
        return Err(refused());
    }
    let Some(content_type) = hls_file_name(&file) else {
        return Err(refused());
    };
    let key = api_key.clone();
    let Some(project) = state.db(move |s| s.project(&key)).await? else {
        return Err(refused());
    };
    let expected = sign_hls(&project.api_secret, &api_key, &id);
    use subtle::ConstantTimeEq as _;
    if expected.as_bytes().ct_eq(sig.as_bytes()).unwrap_u8() != 1 {
        return Err(refused());
    }
    let path = state.broadcasts.hls_dir(&api_key, &id).join(&file);
    if !path.is_file() {
        return Err(refused());
    }
    let served = tower_http::services::ServeFile::new_with_mime(
        &path,
        &content_type.parse().expect("valid mime"),
    )
    .oneshot(request)
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the broadcast output: {e}"),
        )
    })?;
    let mut response = served.into_response();
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if file.ends_with(".m3u8") {
            "no-cache, no-store"
        } else {
            "public, max-age=3600, immutable"
        }),
    );
    Ok(response)
}
