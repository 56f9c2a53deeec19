//! Request parameters from a form-encoded or JSON body.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde_json::Value;

use super::{ApiError, MAX_BODY_BYTES};
use crate::AppState;

/// A flat set of string parameters. The body may be form-encoded (what the SDKs send to
/// `/session/create`) or a JSON object; an empty body is no parameters, whatever the
/// `Content-Type` says (the Python SDK sends `application/json` with no body).
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn parse(content_type: &str, body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Params::default());
        }
        // PyPI `vonage` 4.x keeps the Content-Type of its last JSON call on a later form post
        // (its headers dict is shared between requests): a body that is plainly not JSON but
        // a form is read as the form it is.
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        let form_under_json_type =
            !matches!(first, Some(b'{' | b'[' | b'"')) && body.contains(&b'=');
        let pairs: Vec<(String, String)> =
            if content_type.starts_with("application/json") && !form_under_json_type {
                let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
                    return Err(ApiError::bad_request("request body is not a JSON object"));
                };
                map.into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| match v {
                        Value::String(s) => Ok((k, s)),
                        Value::Bool(_) | Value::Number(_) => Ok((k, v.to_string())),
                        _ => Err(ApiError::bad_request(format!(
                            "parameter '{k}' must be a string, number or boolean"
                        ))),
                    })
                    .collect::<Result<_, _>>()?
            } else {
                serde_urlencoded::from_bytes(body)
                    .map_err(|_| ApiError::bad_request("request body is not form-encoded data"))?
            };
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(seen, _)| seen == k) {
                return Err(ApiError::bad_request(format!(
                    "parameter '{k}' given twice"
                )));
            }
        }
        Ok(Params(pairs))
    }
}

/// The whole request body, within the API's size limit (413 JSON past it).
pub(super) async fn read_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is larger than {MAX_BODY_BYTES} bytes"),
            )
        } else {
            ApiError::bad_request(format!("could not read request body: {e}"))
        }
    })
}

impl FromRequest<AppState> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let body = read_body(req, state).await?;
        Params::parse(&content_type, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_form_json_and_empty() {
        let p = Params::parse(
            "application/x-www-form-urlencoded",
            b"a=1&p2p.preference=x+y",
        )
        .unwrap();
        assert_eq!(p.get("p2p.preference"), Some("x y"));
        let j = Params::parse("application/json", br#"{"e2ee":true,"n":null,"x":"s"}"#).unwrap();
        assert_eq!(j.get("e2ee"), Some("true"));
        assert_eq!(j.get("n"), None);
        assert!(Params::parse("application/json", b"").unwrap().0.is_empty());
        assert!(Params::parse("application/json", b"[1]").is_err());
        assert!(Params::parse("application/json", br#"{"a":[1]}"#).is_err());
        assert!(Params::parse("", b"a=1&a=2").is_err());
        // A form body sent with a stale JSON content type (PyPI vonage) is a form.
        let f = Params::parse(
            "application/json",
            b"archiveMode=manual&p2p.preference=disabled",
        )
        .unwrap();
        assert_eq!(f.get("p2p.preference"), Some("disabled"));
        assert!(Params::parse("application/json", b"not json").is_err());
    }
}
