//! The web side of `parlor serve`: the browser SDK bundle (`/sdk/parlor.js`,
//! `/sdk/parlor.mjs`), the demo app at `/`, and the demo's dev-only session endpoint.
//! (Being written; see issue 4.)

use axum::Router;

use crate::AppState;

/// Routes of the web SDK and the demo app.
pub fn router() -> Router<AppState> {
    Router::new()
}
