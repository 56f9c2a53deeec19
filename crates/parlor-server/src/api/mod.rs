//! The REST API: the OpenTok wire format (`docs/` and the reference describe it), and the
//! Rooms (Telnyx Video Rooms) API in its own module, [`rooms`], with its own shapes.
//!
//! Every OpenTok response is JSON with `Content-Type: application/json` exactly (the SDKs compare
//! the whole header); every error is `{"code": <status>, "message": "<specific reason>"}`.
//! Every endpoint but `/health` requires the `X-OPENTOK-AUTH` project JWT.

pub(crate) mod archives;
mod auth;
pub(crate) mod broadcasts;
mod callbacks;
mod error;
pub(crate) mod inspector;
mod json;
mod metrics;
mod moderation;
mod params;
mod project;
mod rejections;
pub mod rooms;
pub(crate) mod sessions;
mod stats;
mod streams;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{any, delete, get, patch, post, put};

pub use auth::ProjectAuth;
pub use error::ApiError;

use crate::AppState;

/// Largest request body accepted by the REST API.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The REST API's routes over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/session/create", post(sessions::create))
        .route("/v1/rtc", get(crate::signaling::connection::upgrade))
        .route("/v1/stats", get(stats::get))
        .route("/metrics", get(metrics::get))
        .route(
            "/v2/project/{api_key}/session/{session_id}/signal",
            post(moderation::signal_session),
        )
        .route(
            "/v2/project/{api_key}/session/{session_id}/connection/{connection_id}/signal",
            post(moderation::signal_connection),
        )
        .route(
            "/v2/project/{api_key}/session/{session_id}/connection/{connection_id}",
            delete(moderation::force_disconnect),
        )
        .route(
            "/v2/project/{api_key}/session/{session_id}/mute",
            post(moderation::mute_all),
        )
        .route(
            "/v2/project/{api_key}/session/{session_id}/stream",
            get(streams::list).put(streams::set_class_lists),
        )
        .route(
            "/v2/project/{api_key}/session/{session_id}/stream/{stream_id}",
            get(streams::get),
        )
        .route(
            "/v2/project/{api_key}/session/{session_id}/stream/{stream_id}/mute",
            post(moderation::mute_stream),
        )
        .route(
            "/v2/project/{api_key}/archive",
            post(archives::start).get(archives::list),
        )
        .route(
            "/v2/project/{api_key}/archive/{id}",
            get(archives::get).delete(archives::delete),
        )
        .route(
            "/v2/project/{api_key}/archive/{id}/stop",
            post(archives::stop),
        )
        .route(
            "/v2/project/{api_key}/archive/{id}/layout",
            put(archives::set_layout),
        )
        .route(
            "/v2/project/{api_key}/archive/{id}/streams",
            patch(archives::change_streams),
        )
        .route(
            "/archive-download/{api_key}/{id}/{file}",
            get(archives::download),
        )
        .route(
            "/v2/project/{api_key}/broadcast",
            post(broadcasts::start).get(broadcasts::list),
        )
        // @vonage/video calls the collection with a trailing slash.
        .route(
            "/v2/project/{api_key}/broadcast/",
            post(broadcasts::start).get(broadcasts::list),
        )
        .route("/v2/project/{api_key}/broadcast/{id}", get(broadcasts::get))
        .route(
            "/v2/project/{api_key}/broadcast/{id}/stop",
            post(broadcasts::stop),
        )
        .route(
            "/v2/project/{api_key}/broadcast/{id}/layout",
            put(broadcasts::set_layout),
        )
        .route(
            "/v2/project/{api_key}/broadcast/{id}/streams",
            patch(broadcasts::change_streams),
        )
        .route(
            "/broadcast-hls/{api_key}/{id}/{sig}/{file}",
            get(broadcasts::hls),
        )
        .route(
            "/v2/project/{api_key}/callback",
            post(callbacks::register).get(callbacks::list),
        )
        .route(
            "/v2/project/{api_key}/callback/{id}",
            delete(callbacks::unregister),
        )
        .route(
            "/v2/project/{api_key}/inspector/sessions",
            get(inspector::sessions),
        )
        .route(
            "/v2/project/{api_key}/inspector/sessions/{session_id}",
            get(inspector::session),
        )
        .route(
            "/v2/project/{api_key}/inspector/sessions/{session_id}/events",
            get(inspector::events),
        )
        .route(
            "/v2/project/{api_key}/inspector/sessions/{session_id}/quality",
            get(inspector::quality),
        )
        .route("/v2/project/{api_key}", any(project::unrouted))
        .route("/v2/project/{api_key}/{*rest}", any(project::unrouted))
        .merge(rooms::router())
        .merge(crate::web::router())
        .merge(crate::inspector::page::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(rejections::json_errors))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            error::panic_response,
        ))
        .with_state(state)
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
