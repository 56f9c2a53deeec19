//! The JWT steps shared by client tokens and REST auth: reading the claims before the
//! signing key is known (to learn the issuer), checking an HS256 signature (OpenTok API
//! secrets) and an RS256 one (Vonage application keys, [`crate::app_auth`]).

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

/// Reads the JOSE header of a compact JWT without checking anything else.
pub(crate) fn peek_header(token: &str) -> Result<Claims, JwtError> {
    let header = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|_| JwtError::Malformed("JWT header is not base64url"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwtError::Malformed("JWT header is not a JSON object")),
    }
}

/// Why a JWT meant for an application's RSA keys was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AppJwtError {
    Malformed(&'static str),
    /// `alg: none`: an unsigned token.
    AlgNone,
    /// HS256/384/512: signed with a shared secret, which applications do not have.
    SecretSigned(String),
    /// Another asymmetric algorithm (ES256, PS256, EdDSA, …): not an RSA PKCS#1 v1.5 key.
    WrongKeyType(String),
    /// The header names a key ID the application does not have.
    UnknownKid(String),
    /// The application has no key at all (all removed).
    NoKeys,
    BadSignature,
}

/// Checks the header of a token that claims an application: no `crit`, `alg` RS256.
pub(crate) fn check_app_header(token: &str) -> Result<Claims, AppJwtError> {
    check_header(token).map_err(|e| match e {
        JwtError::Malformed(why) => AppJwtError::Malformed(why),
        JwtError::BadSignature => AppJwtError::BadSignature,
    })?;
    let header = peek_header(token)
        .map_err(|_| AppJwtError::Malformed("JWT header is not a JSON object"))?;
    match header.get("alg").and_then(Value::as_str) {
        None => Err(AppJwtError::Malformed("JWT header has no 'alg'")),
        Some("RS256") => Ok(header),
        Some(alg) if alg.eq_ignore_ascii_case("none") => Err(AppJwtError::AlgNone),
        Some(alg @ ("HS256" | "HS384" | "HS512")) => Err(AppJwtError::SecretSigned(alg.to_owned())),
        Some(alg) => Err(AppJwtError::WrongKeyType(alg.chars().take(20).collect())),
    }
}

/// Checks that `token` is RS256-signed by one of `keys` (only the one its header's `kid`
/// names, when it names one) and returns its claims. Time-based claims are the caller's.
pub(crate) fn verify_rs256(
    token: &str,
    keys: &[crate::app_auth::PublicKey],
) -> Result<Claims, AppJwtError> {
    let header = check_app_header(token)?;
    let candidates: Vec<&crate::app_auth::PublicKey> = match header.get("kid") {
        None | Some(Value::Null) => keys.iter().collect(),
        Some(Value::String(kid)) => {
            let found: Vec<_> = keys.iter().filter(|k| k.id() == kid).collect();
            if found.is_empty() {
                return Err(AppJwtError::UnknownKid(kid.chars().take(64).collect()));
            }
            found
        }
        Some(_) => return Err(AppJwtError::Malformed("JWT header 'kid' is not a string")),
    };
    if candidates.is_empty() {
        return Err(AppJwtError::NoKeys);
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    for key in candidates {
        match jsonwebtoken::decode::<Claims>(token, &key.decoding_key(), &validation) {
            Ok(data) => return Ok(data.claims),
            Err(e) => match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => continue,
                _ => return Err(AppJwtError::Malformed("JWT could not be decoded")),
            },
        }
    }
    Err(AppJwtError::BadSignature)
}

/// Signs `claims` with RS256 and `key`, the header naming the key's ID when `with_kid`.
pub(crate) fn sign_rs256(
    claims: &Claims,
    key: &crate::app_auth::PrivateKey,
    with_kid: bool,
) -> String {
    let mut header = Header::new(Algorithm::RS256);
    if with_kid {
        header.kid = Some(key.public_key().id().to_owned());
    }
    jsonwebtoken::encode(&header, claims, &key.encoding_key())
        .expect("an RSA key parsed at load signs any JSON map")
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
