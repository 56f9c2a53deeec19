//! `GET /v2/parlor/webhook_public_key`: the public key Rooms webhooks are signed with
//! (Parlor's own path: Telnyx shows its key in its portal, not through the API).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::auth::RoomsAuth;
use super::wire;
use crate::AppState;

/// `{data: {public_key: <base64 of the raw 32-byte Ed25519 key>, algorithm: "ed25519"}}`:
/// what receivers pass to the official SDKs' `webhooks.unwrap` as `key`.
pub(super) async fn retrieve(_auth: RoomsAuth, State(state): State<AppState>) -> Response {
    wire::one(
        StatusCode::OK,
        json!({
            "public_key": state.rooms.signing_key().public_key_base64(),
            "algorithm": "ed25519",
        }),
    )
}
