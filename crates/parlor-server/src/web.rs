//! The web side of `parlor serve`: the browser SDK bundle (`/sdk/parlor.js`,
//! `/sdk/parlor.mjs`), the demo app at `/`, and the demo's dev-only session endpoint.
//!
//! The SDK is built from `web/` with esbuild and committed (`web/dist/`), so the binary
//! embeds it and serves it without npm. The demo app (`web/demo/`) is plain HTML, CSS and
//! JavaScript written against `OT.*`. Its one server call, `POST /demo/join`, is what a real
//! app does on its own server with a server SDK: create a session and mint a client token.
//! It hands both to anyone who asks, so it exists only while `config.demo` is on (by default
//! on a loopback listen address, `--demo` / `--no-demo`); otherwise it, and the demo pages,
//! answer 404 like any unknown path.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use parlor_proto::Role;
use parlor_proto::limits::MAX_CONNECTION_DATA_CHARS;
use parlor_proto::token::{self, MintRequest, TokenFormat};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::api::ApiError;

const SDK_JS: &str = include_str!("../../../web/dist/parlor.js");
const SDK_MJS: &str = include_str!("../../../web/dist/parlor.mjs");
const DEMO_HTML: &str = include_str!("../../../web/demo/index.html");
const DEMO_JS: &str = include_str!("../../../web/demo/app.js");
const DEMO_CSS: &str = include_str!("../../../web/demo/app.css");

/// Lifetime of a demo token.
const DEMO_TOKEN_TTL_SECS: i64 = 4 * 3600;
/// Longest display name the demo accepts, in characters.
const MAX_NAME_CHARS: usize = 64;

/// Routes of the web SDK and the demo app.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sdk/parlor.js", get(|| async { script(SDK_JS) }))
        .route("/sdk/parlor.mjs", get(|| async { script(SDK_MJS) }))
        .route("/", get(demo_page))
        .route("/demo/app.js", get(demo_asset))
        .route("/demo/app.css", get(demo_asset))
        .route("/demo/join", post(demo_join))
}

/// An SDK bundle: JavaScript, loadable from any origin (module scripts need CORS).
fn script(body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn demo_off(method: &Method, uri: &Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {method} {}", uri.path()))
}

async fn demo_page(State(state): State<AppState>, method: Method, uri: Uri) -> Response {
    if !state.config.demo {
        return demo_off(&method, &uri).into_response();
    }
    let mut response = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        DEMO_HTML,
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn demo_asset(State(state): State<AppState>, method: Method, uri: Uri) -> Response {
    if !state.config.demo {
        return demo_off(&method, &uri).into_response();
    }
    let (content_type, body) = match uri.path() {
        "/demo/app.js" => ("text/javascript; charset=utf-8", DEMO_JS),
        _ => ("text/css; charset=utf-8", DEMO_CSS),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `POST /demo/join` body: join `sessionId`, or a new room when it is absent.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JoinRequest {
    session_id: Option<String>,
    #[serde(default)]
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JoinResponse {
    api_key: String,
    session_id: String,
    token: String,
    name: String,
    created: bool,
}

/// The dev-only endpoint: a session (new, or an existing one of the local project) and a
/// publisher token for it, with `{"name": …}` as connection data.
async fn demo_join(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    body: Result<Json<JoinRequest>, JsonRejection>,
) -> Result<Json<JoinResponse>, ApiError> {
    if !state.config.demo {
        return Err(demo_off(&method, &uri));
    }
    let Json(req) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let name = req.name.trim();
    let name = if name.is_empty() { "Guest" } else { name };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::bad_request(format!(
            "name must be at most {MAX_NAME_CHARS} characters"
        )));
    }

    let preferred = state
        .config
        .credentials
        .as_ref()
        .map(|(key, _)| key.clone());
    let projects = state.db(|s| s.projects()).await?;
    let project = preferred
        .and_then(|key| projects.iter().find(|p| p.api_key == key).cloned())
        .or_else(|| projects.first().cloned())
        .ok_or_else(|| ApiError::not_found("this server has no project yet"))?;

    let (session_id, created) = match req.session_id.filter(|s| !s.is_empty()) {
        Some(id) => {
            let lookup = id.clone();
            match state.db(move |s| s.session(&lookup)).await? {
                Some(record) if record.project_id == project.api_key => (id, false),
                _ => return Err(ApiError::not_found(format!("no room {id} on this server"))),
            }
        }
        None => {
            // As POST /session/create with p2p.preference=disabled: a routed session.
            let record = crate::api::sessions::store_new(
                &state,
                &project.api_key,
                crate::api::sessions::routed_options(),
            )
            .await?;
            (record.session_id, true)
        }
    };

    let data = serde_json::json!({ "name": name }).to_string();
    debug_assert!(data.chars().count() <= MAX_CONNECTION_DATA_CHARS);
    let now = parlor_proto::unix_now();
    let token = token::mint(&MintRequest {
        api_key: &project.api_key,
        api_secret: &project.api_secret,
        session_id: &session_id,
        role: Role::Publisher,
        create_time: now,
        expire_time: now + DEMO_TOKEN_TTL_SECS,
        data: Some(&data),
        initial_layout_class_list: &[],
        format: TokenFormat::Jwt,
    });
    Ok(Json(JoinResponse {
        api_key: project.api_key,
        session_id,
        token,
        name: name.to_owned(),
        created,
    }))
}
