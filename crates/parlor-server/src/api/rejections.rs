//! axum's extractors answer a request they cannot read themselves — a query string or a
//! path segment that does not parse (`?exp=12x`, `?offset=1&offset=2`, `%FF` in an ID) —
//! with a `text/plain` 400. The API answers every error as JSON
//! (`{"code": <status>, "message": ...}`, `Content-Type: application/json`): this layer
//! turns those text answers into [`ApiError`]s, keeping their status and explanation.
//! Found by the `rest_params` fuzz target.

use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// The longest extractor explanation passed on.
const MAX_MESSAGE_BYTES: usize = 1024;

/// `map_response` layer: a `text/plain` error answer becomes the API's JSON error.
pub(super) async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let text = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !text || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), MAX_MESSAGE_BYTES)
        .await
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&body).trim().to_owned();
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        message
    };
    ApiError::new(status, message).into_response()
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::extract::{Path, Query};
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt as _;

    #[derive(serde::Deserialize)]
    struct Q {
        #[allow(dead_code)]
        exp: Option<i64>,
    }

    async fn call(uri: &str) -> (StatusCode, Option<String>, serde_json::Value) {
        let app = Router::new()
            .route("/q", get(|Query(_): Query<Q>| async { "ok" }))
            .route("/p/{id}", get(|Path(id): Path<String>| async move { id }))
            .layer(axum::middleware::map_response(super::json_errors));
        let resp = app
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        (status, ct, json)
    }

    #[tokio::test]
    async fn extractor_rejections_are_json_errors() {
        // The query of an archive download URL with a mangled expiry (what the fuzzer sent).
        for uri in ["/q?exp=1800000%01000", "/q?exp=1&exp=2", "/p/%FF"] {
            let (status, ct, json) = call(uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(ct.as_deref(), Some("application/json"), "{uri}");
            assert_eq!(json["code"], 400, "{uri}: {json}");
            assert!(
                json["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{uri}: {json}"
            );
        }
        // Successes pass untouched.
        let (status, ct, _) = call("/q?exp=5").await;
        assert_eq!(status, StatusCode::OK);
        assert_ne!(ct.as_deref(), Some("application/json"));
    }
}
