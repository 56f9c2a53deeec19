//! The OpenTok archive API: `/v2/project/{key}/archive…`, as the official SDKs call it,
//! over the [`crate::archives`] domain; and the signed download URL Parlor serves itself.
//!
//! Bodies are JSON; the Python SDK sends explicit `null`s for options it was not given,
//! so every field is optional and `null` means "the default". A wrong type or value is a
//! 400 naming the field.

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use tower::ServiceExt as _;

use super::json::JsonBody;
use super::{ApiError, ProjectAuth};
use crate::AppState;
use crate::archives::model::{ArchiveRecord, LayoutRecord, OutputMode, StreamMode};
use crate::archives::{ArchiveError, StartRequest, StreamChange, valid_id};

/// How long a download URL stays valid.
pub const DOWNLOAD_URL_TTL_SECS: i64 = 600;
/// The most archives one list call returns.
pub const MAX_LIST_COUNT: usize = 1000;
/// `maxBitrate` bounds (bits per second), as OpenTok documents them.
const BITRATE_RANGE: std::ops::RangeInclusive<u64> = 100_000..=6_000_000;

impl From<ArchiveError> for ApiError {
    fn from(e: ArchiveError) -> Self {
        let status = match &e {
            ArchiveError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ArchiveError::NotFound(_) => StatusCode::NOT_FOUND,
            ArchiveError::Conflict(_) => StatusCode::CONFLICT,
            ArchiveError::NotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ArchiveError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ArchiveError::Store(e) => {
                tracing::error!(error = %e, "storage failure");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ArchiveError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

/// An archive in OpenTok's shape. `url` only when available.
pub fn archive_json(a: &ArchiveRecord, url: Option<String>) -> Value {
    let output_mode = match a.output_mode {
        OutputMode::Composed => "composed",
        OutputMode::Individual => "individual",
    };
    let stream_mode = match a.stream_mode {
        StreamMode::Auto => "auto",
        StreamMode::Manual => "manual",
    };
    let mut v = json!({
        "id": a.id,
        "status": a.status.as_str(),
        "name": a.name,
        "reason": a.reason,
        "sessionId": a.session_id,
        "projectId": a.project_id.parse::<u64>().map(Value::from).unwrap_or_else(|_| a.project_id.clone().into()),
        "partnerId": a.project_id.parse::<u64>().map(Value::from).unwrap_or_else(|_| a.project_id.clone().into()),
        "createdAt": a.created_at,
        "updatedAt": a.updated_at,
        "size": a.size,
        "duration": a.duration,
        "outputMode": output_mode,
        "streamMode": stream_mode,
        "hasAudio": a.has_audio,
        "hasVideo": a.has_video,
        "resolution": a.resolution,
        "url": url,
        "sha256sum": a.sha256sum,
        "password": "",
        "streams": a.streams,
        "event": "archive",
    });
    if let Some(b) = a.max_bitrate {
        v["maxBitrate"] = b.into();
    }
    if let Some(tag) = &a.multi_archive_tag {
        v["multiArchiveTag"] = tag.clone().into();
    }
    if a.output_mode == OutputMode::Composed {
        v["layout"] = serde_json::to_value(&a.layout).unwrap_or(Value::Null);
    }
    v
}

/// The signature of a download URL: HMAC-SHA256 (hex) under the project's secret over
/// the URL's `purpose` (its path prefix, so one kind of URL never opens another), project,
/// ID, file and expiry. Shared by archives and Rooms recordings and compositions.
pub(crate) fn sign_url(
    purpose: &str,
    secret: &str,
    api_key: &str,
    id: &str,
    file: &str,
    exp: i64,
) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{purpose}\n{api_key}\n{id}\n{file}\n{exp}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `sig` is [`sign_url`]'s signature and `exp` has not passed (constant time).
pub(crate) fn url_signature_valid(
    purpose: &str,
    secret: &str,
    (api_key, id, file): (&str, &str, &str),
    exp: i64,
    sig: &str,
) -> bool {
    use subtle::ConstantTimeEq as _;
    exp >= parlor_proto::unix_now()
        && bool::from(
            sign_url(purpose, secret, api_key, id, file, exp)
                .as_bytes()
                .ct_eq(sig.as_bytes()),
        )
}

fn sign_download(secret: &str, api_key: &str, id: &str, file: &str, exp: i64) -> String {
    sign_url("archive-download", secret, api_key, id, file, exp)
}

/// A download URL valid for [`DOWNLOAD_URL_TTL_SECS`] from `now`, signed with the
/// project's secret.
pub fn signed_download_url(
    base: &str,
    api_key: &str,
    id: &str,
    file: &str,
    secret: &str,
    now: i64,
) -> String {
    let exp = now + DOWNLOAD_URL_TTL_SECS;
    let sig = sign_download(secret, api_key, id, file, exp);
    format!("{base}/archive-download/{api_key}/{id}/{file}?exp={exp}&sig={sig}")
}

/// The scheme and host the client reached us at (for URLs in answers); `configured` is
/// the server's own base URL (its scheme says whether it serves https).
pub(super) fn base_url_for(headers: &HeaderMap, configured: &str) -> String {
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) if !host.is_empty() && !host.contains(['/', ' ', '@']) => {
            let scheme = if configured.starts_with("https://") {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{host}")
        }
        _ => configured.to_owned(),
    }
}

fn base_url(headers: &HeaderMap, state: &AppState) -> String {
    base_url_for(headers, state.archives.base_url())
}

async fn answer(state: &AppState, headers: &HeaderMap, a: &ArchiveRecord) -> Json<Value> {
    let url = state
        .archives
        .download_url(a, &base_url(headers, state))
        .await;
    Json(archive_json(a, url))
}

/// A JSON field that may be absent or `null` (the default), or of type `T`.
pub(super) fn field<T: serde::de::DeserializeOwned>(
    body: &serde_json::Map<String, Value>,
    name: &str,
    what: &str,
) -> Result<Option<T>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("{name} must be {what}, not {v}"))),
    }
}

pub(super) fn layout_from(v: &Value) -> Result<LayoutRecord, ApiError> {
    let Value::Object(m) = v else {
        return Err(ApiError::bad_request(
            "layout must be an object {type, stylesheet?, screenshareType?}",
        ));
    };
    let layout = LayoutRecord {
        kind: field::<String>(m, "type", "a layout type")?.unwrap_or_else(|| "bestFit".into()),
        stylesheet: field(m, "stylesheet", "a string")?,
        screenshare_type: field(m, "screenshareType", "a layout type")?,
    };
    layout
        .to_spec()
        .map_err(|e| ApiError::bad_request(format!("invalid layout: {e}")))?;
    Ok(layout)
}

/// `POST /v2/project/{key}/archive`.
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
    let name: Option<String> = field(&body, "name", "a string")?;
    if let Some(n) = &name
        && n.chars().count() > 1000
    {
        return Err(ApiError::bad_request("name is longer than 1000 characters"));
    }
    let output_mode = match field::<String>(&body, "outputMode", "a string")?.as_deref() {
        None | Some("composed") => OutputMode::Composed,
        Some("individual") => OutputMode::Individual,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "outputMode must be 'composed' or 'individual', not '{other}'"
            )));
        }
    };
    let stream_mode = match field::<String>(&body, "streamMode", "a string")?.as_deref() {
        None | Some("auto") => StreamMode::Auto,
        Some("manual") => StreamMode::Manual,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "streamMode must be 'auto' or 'manual', not '{other}'"
            )));
        }
    };
    let resolution: Option<String> = field(&body, "resolution", "a string")?;
    if let Some(r) = &resolution {
        if output_mode == OutputMode::Individual {
            return Err(ApiError::bad_request(
                "resolution applies only to composed archives (outputMode 'composed')",
            ));
        }
        if !parlor_proto::limits::ARCHIVE_RESOLUTIONS.contains(&r.as_str()) {
            return Err(ApiError::bad_request(format!(
                "resolution must be one of {}, not '{r}'",
                parlor_proto::limits::ARCHIVE_RESOLUTIONS.join(", ")
            )));
        }
    }
    let layout = match body.get("layout") {
        None | Some(Value::Null) => LayoutRecord::default(),
        Some(v) => {
            if output_mode == OutputMode::Individual {
                return Err(ApiError::bad_request(
                    "layout applies only to composed archives (outputMode 'composed')",
                ));
            }
            layout_from(v)?
        }
    };
    let max_bitrate: Option<u64> = field(&body, "maxBitrate", "a whole number")?;
    if let Some(b) = max_bitrate
        && !BITRATE_RANGE.contains(&b)
    {
        return Err(ApiError::bad_request(format!(
            "maxBitrate must be {} to {} bits per second, not {b}",
            BITRATE_RANGE.start(),
            BITRATE_RANGE.end()
        )));
    }
    if let Some(q) = field::<u64>(&body, "quantizationParameter", "a whole number")?
        && !(15..=40).contains(&q)
    {
        return Err(ApiError::bad_request(format!(
            "quantizationParameter must be 15 to 40, not {q}"
        )));
    }
    let req = StartRequest {
        session_id,
        name,
        has_audio: field(&body, "hasAudio", "true or false")?.unwrap_or(true),
        has_video: field(&body, "hasVideo", "true or false")?.unwrap_or(true),
        output_mode,
        resolution,
        layout,
        stream_mode,
        multi_archive_tag: field(&body, "multiArchiveTag", "a string")?,
        max_bitrate,
    };
    let record = state
        .archives
        .start_archive(&auth.0.api_key, req, false)
        .await?;
    Ok(answer(&state, &headers, &record).await.into_response())
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "archive '{}' does not exist (archive IDs are UUIDs)",
            crate::logsafe::Untrusted(id)
        )))
    }
}

/// `POST /v2/project/{key}/archive/{id}/stop`.
pub async fn stop(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    auth.check_path_key(&api_key)?;
    check_id(&id)?;
    let record = state.archives.stop_archive(&auth.0.api_key, &id).await?;
    Ok(answer(&state, &headers, &record).await)
}

/// `GET /v2/project/{key}/archive/{id}`.
pub async fn get(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    auth.check_path_key(&api_key)?;
    check_id(&id)?;
    let record = state.archives.get_archive(&auth.0.api_key, &id).await?;
    Ok(answer(&state, &headers, &record).await)
}

/// `DELETE /v2/project/{key}/archive/{id}`: 204.
pub async fn delete(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.check_path_key(&api_key)?;
    check_id(&id)?;
    state.archives.delete_archive(&auth.0.api_key, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct ListQuery {
    offset: Option<String>,
    count: Option<String>,
    /// `sessionId` (OpenTok's name); PyPI `vonage` sends `session_id`.
    #[serde(rename = "sessionId", alias = "session_id")]
    session_id: Option<String>,
}

/// `offset`, `count` (default 50, at most [`MAX_LIST_COUNT`]) and `sessionId` of a list
/// call, checked.
pub(super) fn page_params(q: ListQuery) -> Result<(usize, usize, Option<String>), ApiError> {
    let number = |v: Option<String>, name: &str, default: usize| match v.as_deref() {
        None | Some("") => Ok(default),
        Some(s) => s.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!("{name} must be a whole number, not '{s}'"))
        }),
    };
    let offset = number(q.offset, "offset", 0)?;
    let count = number(q.count, "count", 50)?;
    if count > MAX_LIST_COUNT {
        return Err(ApiError::bad_request(format!(
            "count must be at most {MAX_LIST_COUNT}, not {count}"
        )));
    }
    Ok((offset, count, q.session_id.filter(|s| !s.is_empty())))
}

/// `GET /v2/project/{key}/archive?offset&count&sessionId`: `{count, items}`.
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
        .archives
        .list_archives(&auth.0.api_key, session_id, offset, count)
        .await?;
    let base = base_url(&headers, &state);
    let mut answers = Vec::with_capacity(items.len());
    for a in &items {
        answers.push(archive_json(a, state.archives.download_url(a, &base).await));
    }
    let items = answers;
    Ok(Json(json!({ "count": total, "items": items })))
}

/// `PUT /v2/project/{key}/archive/{id}/layout`.
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
        .archives
        .set_layout(&auth.0.api_key, &id, layout)
        .await?;
    Ok(answer(&state, &headers, &record).await)
}

/// `PATCH /v2/project/{key}/archive/{id}/streams`: `{addStream, hasAudio, hasVideo}` or
/// `{removeStream}`; 204.
pub async fn change_streams(
    State(state): State<AppState>,
    auth: ProjectAuth,
    Path((api_key, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<StatusCode, ApiError> {
    auth.check_path_key(&api_key)?;
    check_id(&id)?;
    let change = stream_change_from(body)?;
    state
        .archives
        .change_streams(&auth.0.api_key, &id, change)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A `PATCH …/streams` body: `{addStream, hasAudio?, hasVideo?}` or `{removeStream}`.
pub(super) fn stream_change_from(body: Value) -> Result<StreamChange, ApiError> {
    let Value::Object(body) = body else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    let add: Option<String> = field(&body, "addStream", "a stream ID")?;
    let remove: Option<String> = field(&body, "removeStream", "a stream ID")?;
    match (add, remove) {
        (Some(stream_id), None) => Ok(StreamChange::Add {
            stream_id,
            has_audio: field(&body, "hasAudio", "true or false")?.unwrap_or(true),
            has_video: field(&body, "hasVideo", "true or false")?.unwrap_or(true),
        }),
        (None, Some(stream_id)) => Ok(StreamChange::Remove { stream_id }),
        _ => Err(ApiError::bad_request(
            "give exactly one of addStream and removeStream",
        )),
    }
}

#[derive(Deserialize)]
pub struct DownloadQuery {
    exp: Option<i64>,
    sig: Option<String>,
}

/// `GET /archive-download/{key}/{id}/{file}?exp&sig`: the archive's output, for whoever
/// holds an unexpired URL signed with the project's secret (no other credentials, as
/// OpenTok's storage URLs). Range requests work (tower-http's `ServeFile`).
pub async fn download(
    State(state): State<AppState>,
    Path((api_key, id, file)): Path<(String, String, String)>,
    Query(q): Query<DownloadQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let refused = || {
        ApiError::forbidden(
            "this download URL is invalid or has expired: get the archive again for a fresh one",
        )
    };
    let (Some(exp), Some(sig)) = (q.exp, q.sig) else {
        return Err(refused());
    };
    if exp < parlor_proto::unix_now() || !valid_id(&id) {
        return Err(refused());
    }
    let key = api_key.clone();
    let Some(project) = state.db(move |s| s.project(&key)).await? else {
        return Err(refused());
    };
    let expected = sign_download(&project.api_secret, &api_key, &id, &file, exp);
    use subtle::ConstantTimeEq as _;
    if expected.as_bytes().ct_eq(sig.as_bytes()).unwrap_u8() != 1 {
        return Err(refused());
    }
    let record = state.archives.get_archive(&api_key, &id).await?;
    let path = state
        .archives
        .output_path(&record)
        .filter(|p| p.file_name().is_some_and(|f| f == file.as_str()))
        .ok_or_else(|| ApiError::not_found(format!("archive {id} has no file {file}")))?;
    let content_type = if file.ends_with(".zip") {
        "application/zip"
    } else {
        "video/mp4"
    };
    let served = tower_http::services::ServeFile::new_with_mime(
        &path,
        &content_type.parse().expect("valid mime"),
    )
    .oneshot(request)
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the archive: {e}"),
        )
    })?;
    let mut response = served.into_response();
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{file}\"")
            .parse()
            .expect("a plain file name"),
    );
    Ok(response)
}
