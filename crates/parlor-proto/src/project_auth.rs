//! REST authentication: the `X-OPENTOK-AUTH` JWT that server SDKs send with every call.
//!
//! HS256 with the project's API secret; claims `iss` = API key, `ist` = `"project"`, `iat`
//! and `exp`. Python adds `jti`, PHP sometimes `sub`; neither is required. `iat` may be up
//! to [`REST_AUTH_SKEW_SECS`] in the future and `exp` up to as much in the past, and `exp`
//! at most [`MAX_REST_AUTH_TTL_SECS`] (24 h) ahead.
//!
//! Client tokens are signed with the same secret and carry the same `iss` and `ist`, so a
//! REST JWT is also told apart by shape: one that carries any client-token claim
//! (`scope`, `session_id`, `role`, `connection_data`, …) is a client token and is refused,
//! as is a T1 token. A client token admits one user to one session; it never authenticates
//! the project.

use serde_json::{Map, Value};

use crate::jwt::{self, JwtError};
use crate::limits::{MAX_REST_AUTH_TTL_SECS, REST_AUTH_SKEW_SECS};

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
    #[error(
        "X-OPENTOK-AUTH token expires at {0}, more than 24 hours after server time {1}: \
         REST JWTs may live at most {MAX_REST_AUTH_TTL_SECS} s"
    )]
    LifetimeTooLong(i64, i64),
    #[error(
        "X-OPENTOK-AUTH carries a client token (it has the '{0}' claim): client tokens admit a \
         user to a session and cannot authenticate REST calls; sign a project JWT with the API secret"
    )]
    ClientToken(&'static str),
}

/// Reads the API key (`iss`) a REST token claims to be from, without trusting it yet.
pub fn claimed_api_key(token: &str) -> Result<String, ProjectAuthError> {
    if token.starts_with(crate::token::T1_PREFIX) {
        return Err(ProjectAuthError::ClientToken("T1=="));
    }
    let claims = jwt::peek_claims(token).map_err(from_jwt)?;
    match jwt::string(&claims, "iss") {
        Some(Ok(iss)) if !iss.is_empty() => Ok(iss),
        _ => Err(ProjectAuthError::MissingIssuer),
    }
}

/// Verifies a REST token against the project's secret at time `now` (Unix seconds).
pub fn verify(token: &str, api_secret: &str, now: i64) -> Result<(), ProjectAuthError> {
    let claims = jwt::verify_hs256(token, api_secret).map_err(from_jwt)?;
    if let Some(claim) = jwt::client_token_claim(&claims) {
        return Err(ProjectAuthError::ClientToken(claim));
    }
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
    if exp > now.saturating_add(MAX_REST_AUTH_TTL_SECS + REST_AUTH_SKEW_SECS) {
        return Err(ProjectAuthError::LifetimeTooLong(exp, now));
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

    #[test]
    fn client_tokens_are_refused_with_their_reason() {
        use crate::token::{MintRequest, TokenFormat, mint as mint_token};
        let sid = crate::session_id::generate("123", None, NOW * 1000);
        for format in [TokenFormat::Jwt, TokenFormat::T1] {
            for role in [
                crate::Role::Publisher,
                crate::Role::Subscriber,
                crate::Role::Moderator,
                crate::Role::PublisherOnly,
            ] {
                let token = mint_token(&MintRequest {
                    api_key: "123",
                    api_secret: "s3cret",
                    session_id: &sid,
                    role,
                    create_time: NOW,
                    expire_time: NOW + 60,
                    data: None,
                    initial_layout_class_list: &[],
                    format,
                });
                let refused = claimed_api_key(&token)
                    .and_then(|_| verify(&token, "s3cret", NOW))
                    .unwrap_err();
                assert!(
                    matches!(refused, ProjectAuthError::ClientToken(_)),
                    "{format:?} {role}: {refused:?}"
                );
                assert!(refused.to_string().contains("client token"));
            }
        }
        // One client-token claim is enough, whichever it is.
        for claim in jwt::CLIENT_TOKEN_CLAIMS {
            let mut claims =
                serde_json::json!({"iss":"123","ist":"project","iat":NOW,"exp":NOW+60});
            claims[claim] = "x".into();
            assert_eq!(
                verify(&signed(claims, "s"), "s", NOW),
                Err(ProjectAuthError::ClientToken(claim))
            );
        }
    }

    #[test]
    fn lifetime_is_capped_at_a_day() {
        verify(&mint("123", "s", NOW, MAX_REST_AUTH_TTL_SECS), "s", NOW).unwrap();
        assert!(matches!(
            verify(
                &mint(
                    "123",
                    "s",
                    NOW,
                    MAX_REST_AUTH_TTL_SECS + REST_AUTH_SKEW_SECS + 1
                ),
                "s",
                NOW
            ),
            Err(ProjectAuthError::LifetimeTooLong(..))
        ));
        for exp in [
            serde_json::json!(9_223_372_036_854_775_807i64),
            serde_json::json!(1e300),
        ] {
            let t = signed(
                serde_json::json!({"iss":"123","ist":"project","iat":NOW,"exp":exp}),
                "s",
            );
            assert!(
                matches!(
                    verify(&t, "s", NOW),
                    Err(ProjectAuthError::LifetimeTooLong(..))
                ),
                "exp {exp}"
            );
        }
    }
}
