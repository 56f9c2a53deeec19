//! The two JWT steps shared by client tokens and REST auth: reading the claims before the
//! signing key is known (to learn the issuer), and checking an HS256 signature.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

pub(crate) type Claims = Map<String, Value>;

/// Why a JWT could not be read or trusted.
#[derive(Debug)]
pub(crate) enum JwtError {
    Malformed(&'static str),
    BadSignature,
}

/// Reads the claims of a compact JWT without checking its signature. Only for finding the
/// key to verify it with: nothing read here is trusted until [`verify_hs256`] passes.
pub(crate) fn peek_claims(token: &str) -> Result<Claims, JwtError> {
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("a JWT has three dot-separated parts"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| JwtError::Malformed("JWT payload is not base64url"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwtError::Malformed("JWT payload is not a JSON object")),
    }
}

/// Claims that only client tokens carry: a JWT with any of them is a client token, whatever
/// else it says (the official SDKs sign both kinds with the same secret and `iss`/`ist`).
pub(crate) const CLIENT_TOKEN_CLAIMS: [&str; 8] = [
    "scope",
    "session_id",
    "role",
    "connection_data",
    "initial_layout_class_list",
    "nonce",
    "create_time",
    "expire_time",
];

/// The first client-token claim `claims` carries, if any.
pub(crate) fn client_token_claim(claims: &Claims) -> Option<&'static str> {
    CLIENT_TOKEN_CLAIMS
        .into_iter()
        .find(|c| claims.contains_key(*c))
}

/// Refuses a JOSE header with a `crit` member: it names extensions the verifier must
/// understand (RFC 7515 §4.1.11), and this verifier understands none.
fn check_header(token: &str) -> Result<(), JwtError> {
    let header = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|_| JwtError::Malformed("JWT header is not base64url"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) if map.contains_key("crit") => Err(JwtError::Malformed(
            "JWT header has a 'crit' extension this server does not support (RFC 7515)",
        )),
        Ok(Value::Object(_)) => Ok(()),
        _ => Err(JwtError::Malformed("JWT header is not a JSON object")),
    }
}

/// Checks that `token` is HS256-signed with `secret` and returns its claims. Time-based
/// claims are left to the caller, which knows its own rules and clock. A header with
/// critical extensions (`crit`) is refused.
pub(crate) fn verify_hs256(token: &str, secret: &str) -> Result<Claims, JwtError> {
    check_header(token)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    match jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    ) {
        Ok(data) => Ok(data.claims),
        Err(e) => match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => Err(JwtError::BadSignature),
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => {
                Err(JwtError::Malformed("JWT must be signed with HS256"))
            }
            _ => Err(JwtError::Malformed("JWT could not be decoded")),
        },
    }
}

/// Signs `claims` with HS256.
pub(crate) fn sign_hs256(claims: &Claims, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("serializing a JSON map cannot fail")
}

/// A claim that should be a number of seconds; SDKs send integers, some send floats.
pub(crate) fn seconds(claims: &Claims, name: &str) -> Option<Result<i64, ()>> {
    claims.get(name).map(|v| match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or(()),
        Value::String(s) => s.parse::<i64>().map_err(|_| ()),
        _ => Err(()),
    })
}

/// A claim that should be a string; numbers are accepted for API keys sent as numbers.
pub(crate) fn string(claims: &Claims, name: &str) -> Option<Result<String, ()>> {
    claims.get(name).map(|v| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(()),
    })
}
