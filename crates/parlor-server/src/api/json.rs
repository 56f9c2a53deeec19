//! JSON request bodies: empty is `{}` (the Python SDK sends `application/json` with no
//! body on most calls); a body that is not the expected JSON is a 400 naming the problem.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::ApiError;
use super::params::read_body;
use crate::AppState;

/// A JSON body of type `T`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let body = read_body(req, state).await?;
        let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &body
        };
        serde_json::from_slice(text)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
    }
}
