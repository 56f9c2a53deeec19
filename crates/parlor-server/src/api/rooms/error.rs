//! The Rooms API's errors, in Telnyx's shape:
//! `{"errors":[{"code":"10005","title":"Resource not found","detail":"...","source":{...}}]}`.
//!
//! Statuses: 400 malformed, 401 bad credentials, 404 unknown ID, 422 validation and
//! permanent conflicts (never 409: the official SDKs retry 409), 429 rate limited.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// Telnyx's error codes.
pub mod code {
    pub const MISSING_PARAMETER: &str = "10004";
    pub const NOT_FOUND: &str = "10005";
    pub const INVALID_ID: &str = "10006";
    pub const UNEXPECTED: &str = "10007";
    pub const AUTHENTICATION_FAILED: &str = "10009";
    pub const TOO_MANY_REQUESTS: &str = "10011";
    pub const DUPLICATE: &str = "10012";
    pub const BAD_REQUEST: &str = "10015";
}

/// Where in the request the error is.
#[derive(Debug, Clone)]
pub enum Source {
    /// A JSON pointer into the body (`/unique_name`).
    Pointer(String),
    /// A query parameter (`page[size]`).
    Parameter(String),
}

/// One error answer.
#[derive(Debug)]
pub struct RoomsError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub source: Option<Source>,
    pub retry_after: Option<u64>,
}

impl RoomsError {
    fn new(status: StatusCode, code: &'static str, title: &'static str, detail: String) -> Self {
        RoomsError {
            status,
            code,
            title,
            detail,
            source: None,
            retry_after: None,
        }
    }

    pub fn with_pointer(mut self, field: &str) -> Self {
        self.source = Some(Source::Pointer(format!("/{field}")));
        self
    }

    pub fn with_parameter(mut self, name: &str) -> Self {
        self.source = Some(Source::Parameter(name.to_owned()));
        self
    }

    /// 401: missing or wrong credentials.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code::AUTHENTICATION_FAILED,
            "Authentication failed",
            detail.into(),
        )
    }

    /// 404: no such resource (in this project).
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code::NOT_FOUND,
            "Resource not found",
            format!("no {what} with id {id}"),
        )
    }

    /// 404 for a path that is not part of the API.
    pub fn no_route(detail: String) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code::NOT_FOUND,
            "Resource not found",
            detail,
        )
    }

    /// 400: a path ID that is not a UUID.
    pub fn invalid_id(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_ID,
            "Invalid ID",
            format!("{what} id {id:?} is not a UUID"),
        )
    }

    /// 400: the request cannot be read (malformed JSON, an unknown parameter).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            code::BAD_REQUEST,
            "Bad request",
            detail.into(),
        )
    }

    /// 422: a field's value is not acceptable.
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code::BAD_REQUEST,
            "Invalid value",
            detail.into(),
        )
        .with_pointer(field)
    }

    /// 422: a required field is missing.
    pub fn missing(field: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code::MISSING_PARAMETER,
            "Missing required parameter",
            format!("{field} is required"),
        )
        .with_pointer(field)
    }

    /// 422: a unique value is taken (a permanent conflict: not 409, which SDKs retry).
    pub fn duplicate(field: &str, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code::DUPLICATE,
            "Duplicate resource",
            detail.into(),
        )
        .with_pointer(field)
    }

    /// 422: the request is valid but the resource's state does not allow it.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code::BAD_REQUEST,
            "Unprocessable entity",
            detail.into(),
        )
    }

    pub fn method_not_allowed(detail: String) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            code::BAD_REQUEST,
            "Method not allowed",
            detail,
        )
    }

    pub fn too_many_requests(detail: String, retry_after_secs: u64) -> Self {
        RoomsError {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                code::TOO_MANY_REQUESTS,
                "Too many requests",
                detail,
            )
        }
    }

    /// An answer of `status` made outside the handlers (an extractor's refusal).
    pub fn from_status(status: StatusCode, detail: String) -> Self {
        let detail = if detail.is_empty() {
            status.canonical_reason().unwrap_or("error").to_owned()
        } else {
            detail
        };
        match status {
            StatusCode::UNAUTHORIZED => Self::unauthenticated(detail),
            StatusCode::NOT_FOUND => Self::no_route(detail),
            s if s.is_server_error() => Self::internal(),
            s => Self::new(s, code::BAD_REQUEST, "Bad request", detail),
        }
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code::UNEXPECTED,
            "Unexpected error",
            "internal error; the server log has details".into(),
        )
    }
}

impl IntoResponse for RoomsError {
    fn into_response(self) -> Response {
        let mut error = json!({
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
        });
        match self.source {
            Some(Source::Pointer(p)) => error["source"] = json!({ "pointer": p }),
            Some(Source::Parameter(p)) => error["source"] = json!({ "parameter": p }),
            None => {}
        }
        let mut response = (self.status, Json(json!({ "errors": [error] }))).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for RoomsError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "storage failure");
        RoomsError::internal()
    }
}
