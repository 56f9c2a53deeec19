//! `/v2/project/{apiKey}/...`: endpoints of features Parlor has not built yet answer 501
//! naming the feature, after authentication and the project check, so an SDK call gets a
//! clear error instead of a 404.

use axum::extract::Path;
use axum::http::StatusCode;

use super::{ApiError, ProjectAuth};

/// The feature behind a path's first segment, for features not built yet.
fn feature(segment: &str) -> Option<&'static str> {
    Some(match segment {
        "archive" => "archiving",
        "dial" => "SIP interconnect",
        "captions" => "live captions",
        "render" => "Experience Composer",
        "connect" => "Audio Connector",
        _ => return None,
    })
}

pub async fn unrouted(auth: ProjectAuth, Path(path): Path<Vec<(String, String)>>) -> ApiError {
    let mut key = "";
    let mut rest = "";
    for (name, value) in &path {
        match name.as_str() {
            "api_key" => key = value,
            "rest" => rest = value,
            _ => {}
        }
    }
    if let Err(e) = auth.check_path_key(key) {
        return e;
    }
    let first = rest.split('/').next().unwrap_or("");
    let feature_name = if first == "session" && rest.ends_with("/play-dtmf") {
        Some("SIP interconnect (DTMF)")
    } else {
        feature(first)
    };
    match feature_name {
        Some(name) => ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("this Parlor server does not support {name} yet"),
        ),
        None => ApiError::not_found(format!("no such endpoint: /v2/project/{key}/{rest}")),
    }
}
