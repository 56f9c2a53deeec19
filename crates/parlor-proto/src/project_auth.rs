//! REST authentication: the `X-OPENTOK-AUTH` JWT that server SDKs send with every call.
//!
//! HS256 with the project's API secret; claims `iss` = API key, `ist` = `"project"`, `iat`
//! and `exp`. Python adds `jti`, PHP sometimes `sub`; neither is required. `iat` may be up
//! to [`REST_AUTH_SKEW_SECS`] in the future and `exp` up to as much in the past.

use serde_json::{Map, Value};

use crate::jwt::{self, JwtError};
use crate::limits::REST_AUTH_SKEW_SECS;

/// The HTTP header carrying the JWT.
pub const HEADER: &str = "X-OPENTOK-AUTH";

/// Why a REST request's credentials were refused. Each variant names one reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectAuthError {
    #[error("malformed X-OPENTOK-AUTH token: {0}")]
    Malformed(&'static str),
    #[error("X-OPENTOK-AUTH token has no 'iss' claim naming the API key")]
    MissingIssuer,
    #[error("X-OPENTOK-AUTH token signature does not match the project's API secret")]
    BadSignature,
    #[error("X-OPENTOK-AUTH token 'ist' claim must be \"project\"")]
    WrongIssuerType,
    #[error("X-OPENTOK-AUTH token has no valid 'exp' claim")]
    MissingExpiry,
    #[error("X-OPENTOK-AUTH token expired at {0} (server time {1})")]
    Expired(i64, i64),
    #[error("X-OPENTOK-AUTH token is issued in the future (iat {0}, server time {1})")]
    IssuedInFuture(i64, i64),
}

/// Reads the API key (`iss`) a REST token claims to be from, without trusting it yet.
pub fn claimed_api_key(token: &str) -> Result<String, ProjectAuthError> {
    let claims = jwt::peek_claims(token).map_err(from_jwt)?;
    match jwt::string(&claims, "iss") {
        Some(Ok(iss)) if !iss.is_empty() => Ok(iss),
        _ => Err(ProjectAuthError::MissingIssuer),
    }
}

/// Verifies a REST token against the project's secret at time `now` (Unix seconds).
pub fn verify(token: &str, api_secret: &str, now: i64) -> Result<(), ProjectAuthError> {
    let claims = jwt::verify_hs256(token, api_secret).map_err(from_jwt)?;
    if claims.get("ist").and_then(Value::as_str) != Some("project") {
        return Err(ProjectAuthError::WrongIssuerType);
    }
    let exp = match jwt::seconds(&claims, "exp") {
        Some(Ok(exp)) => exp,
        _ => return Err(ProjectAuthError::MissingExpiry),
    };
    if exp.saturating_add(REST_AUTH_SKEW_SECS) < now {
        return Err(ProjectAuthError::Expired(exp, now));
    }
    match jwt::seconds(&claims, "iat") {
        Some(Ok(iat)) if iat > now.saturating_add(REST_AUTH_SKEW_SECS) => {
            Err(ProjectAuthError::IssuedInFuture(iat, now))
        }
        Some(Err(())) => Err(ProjectAuthError::Malformed("'iat' is not a number")),
        _ => Ok(()),
    }
}

/// Mints a REST token for `api_key`, valid for `ttl_secs` from `now` (what a server SDK
/// sends; the Node SDK uses 300 seconds).
pub fn mint(api_key: &str, api_secret: &str, now: i64, ttl_secs: i64) -> String {
    let mut claims = Map::new();
    claims.insert("iss".into(), api_key.into());
    claims.insert("ist".into(), "project".into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + ttl_secs).into());
    jwt::sign_hs256(&claims, api_secret)
}

fn from_jwt(e: JwtError) -> ProjectAuthError {
    match e {
        JwtError::Malformed(why) => ProjectAuthError::Malformed(why),
        JwtError::BadSignature => ProjectAuthError::BadSignature,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn signed(claims: serde_json::Value, secret: &str) -> String {
        let serde_json::Value::Object(map) = claims else {
            unreachable!()
        };
        jwt::sign_hs256(&map, secret)
    }

    #[test]
    fn accepts_minted_and_python_style_tokens() {
        let t = mint("123", "s3cret", NOW, 300);
        assert_eq!(claimed_api_key(&t).unwrap(), "123");
        verify(&t, "s3cret", NOW).unwrap();
        let py = signed(
            serde_json::json!({"iss":"123","ist":"project","iat":NOW,"exp":NOW+180,"jti":"0.123"}),
            "s3cret",
        );
        verify(&py, "s3cret", NOW + 100).unwrap();
    }

    #[test]
    fn each_refusal_has_its_reason() {
        let t = mint("123", "s3cret", NOW, 300);
        assert_eq!(
            verify(&t, "other", NOW),
            Err(ProjectAuthError::BadSignature)
        );
        assert!(matches!(
            verify(&t, "s3cret", NOW + 300 + REST_AUTH_SKEW_SECS + 1),
            Err(ProjectAuthError::Expired(..))
        ));
        verify(&t, "s3cret", NOW + 300 + REST_AUTH_SKEW_SECS).unwrap();
        assert!(matches!(
            verify(&t, "s3cret", NOW - REST_AUTH_SKEW_SECS - 1),
            Err(ProjectAuthError::IssuedInFuture(..))
        ));
        let account = signed(
            serde_json::json!({"iss":"123","ist":"account","iat":NOW,"exp":NOW+1}),
            "s",
        );
        assert_eq!(
            verify(&account, "s", NOW),
            Err(ProjectAuthError::WrongIssuerType)
        );
        let no_exp = signed(serde_json::json!({"iss":"123","ist":"project"}), "s");
        assert_eq!(
            verify(&no_exp, "s", NOW),
            Err(ProjectAuthError::MissingExpiry)
        );
        assert!(matches!(
            claimed_api_key("abc"),
            Err(ProjectAuthError::Malformed(_))
        ));
        let no_iss = signed(serde_json::json!({"ist":"project"}), "s");
        assert_eq!(
            claimed_api_key(&no_iss),
            Err(ProjectAuthError::MissingIssuer)
        );
    }
}
