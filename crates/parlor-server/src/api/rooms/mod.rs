//! The Rooms REST API: Telnyx Video Rooms' wire shapes under `/v2` (`/v2/rooms`,
//! `/v2/room_sessions`, `/v2/room_participants`), a face over [`crate::rooms`] as the
//! OpenTok API is over sessions.
//!
//! Authentication is `Authorization: Bearer <API key>:<API secret>` ([`auth`]). Lists page
//! with `page[number]`/`page[size]` and answer the full `meta`; errors are Telnyx's
//! `errors[]` ([`error`]). Bodies and queries are read field by field so that every bad
//! value gets an answer naming it ([`body`], [`query`]).

mod auth;
mod body;
mod compositions;
mod error;
mod participants;
mod query;
mod recordings;
#[allow(clippy::module_inception)]
mod rooms;
mod sessions;
mod webhook_key;
mod wire;

use axum::Router;
use axum::http::{Method, Uri};
use axum::routing::{MethodRouter, any, get, post};

pub use error::RoomsError;

use crate::AppState;

/// 405 in the Rooms API's shape, for a path's other methods.
async fn method_not_allowed(method: Method, uri: Uri) -> RoomsError {
    RoomsError::method_not_allowed(format!("{method} is not allowed on {}", uri.path()))
}

async fn not_found(uri: Uri) -> RoomsError {
    RoomsError::no_route(format!("no such endpoint: {}", uri.path()))
}

fn route(m: MethodRouter<AppState>) -> MethodRouter<AppState> {
    m.fallback(method_not_allowed)
}

/// The Rooms API's routes (merged into the REST API's router).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/rooms", route(get(rooms::list).post(rooms::create)))
        .route(
            "/v2/rooms/{id}",
            route(
                get(rooms::retrieve)
                    .patch(rooms::update)
                    .delete(rooms::delete),
            ),
        )
        .route("/v2/rooms/{id}/sessions", route(get(rooms::sessions)))
        .route(
            "/v2/rooms/{id}/actions/generate_join_client_token",
            route(post(rooms::generate_join_client_token)),
        )
        .route(
            "/v2/rooms/{id}/actions/refresh_client_token",
            route(post(rooms::refresh_client_token)),
        )
        .route("/v2/room_sessions", route(get(sessions::list)))
        .route("/v2/room_sessions/{id}", route(get(sessions::retrieve)))
        .route(
            "/v2/room_sessions/{id}/participants",
            route(get(sessions::participants)),
        )
        .route(
            "/v2/room_sessions/{id}/actions/end",
            route(post(sessions::end)),
        )
        .route(
            "/v2/room_sessions/{id}/actions/kick",
            route(post(sessions::kick)),
        )
        .route(
            "/v2/room_sessions/{id}/actions/mute",
            route(post(sessions::mute)),
        )
        .route(
            "/v2/room_sessions/{id}/actions/unmute",
            route(post(sessions::unmute)),
        )
        .route("/v2/room_participants", route(get(participants::list)))
        .route(
            "/v2/room_participants/{id}",
            route(get(participants::retrieve)),
        )
        .route(
            "/v2/parlor/webhook_public_key",
            route(get(webhook_key::retrieve)),
        )
        .route(
            "/v2/room_recordings",
            route(get(recordings::list).delete(recordings::delete_bulk)),
        )
        .route(
            "/v2/room_recordings/{id}",
            route(get(recordings::retrieve).delete(recordings::delete)),
        )
        .route(
            "/v2/room_compositions",
            route(get(compositions::list).post(compositions::create)),
        )
        .route(
            "/v2/room_compositions/{id}",
            route(get(compositions::retrieve).delete(compositions::delete)),
        )
        .route(
            "/room-media/{api_key}/{id}/{file}",
            get(recordings::download),
        )
        .route("/v2/rooms/{id}/{*rest}", any(not_found))
        .route("/v2/room_sessions/{id}/{*rest}", any(not_found))
        .route("/v2/room_participants/{id}/{*rest}", any(not_found))
        .layer(axum::middleware::map_response(json_errors))
}

/// The longest extractor explanation passed on.
const MAX_REJECTION_BYTES: usize = 1024;

/// axum answers what its extractors cannot read (a body over the size limit, `%FF` in a
/// path ID) with `text/plain`: on the Rooms routes that becomes a Telnyx error with the
/// same status and explanation (the OpenTok routes have their own such layer).
async fn json_errors(response: axum::response::Response) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let status = response.status();
    let text = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !text || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), MAX_REJECTION_BYTES)
        .await
        .unwrap_or_default();
    let detail = String::from_utf8_lossy(&body).trim().to_owned();
    RoomsError::from_status(status, detail).into_response()
}
