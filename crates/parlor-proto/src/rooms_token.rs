//! Telnyx-style Rooms join client tokens and the server's Ed25519 Rooms key.
//!
//! A join client token is a compact JWT signed with Ed25519 (header
//! `{"alg":"Ed25519","typ":"JWT"}`) whose claims are those Telnyx puts in its own:
//!
//! ```json
//! {"aud":"telnyx_access_token","iss":"telnyx_access_token","typ":"access",
//!  "jti":"<uuid v4>","iat":1700000000,"nbf":1700000000,"exp":1700000600,
//!  "grants_version":1,
//!  "grants":[{"actions":["join"],"resources":["telnyx:video:rooms:<room_id>"]}]}
//! ```
//!
//! `POST /v2/rooms/{id}/actions/generate_join_client_token` mints an access token and a
//! refresh token of the same shape (`typ` `refresh`); a refresh token stays valid (and
//! reusable) until its own expiry. [`verify`] checks a token against the server's public
//! key and a caller-supplied `now`; whether an access or a refresh token is wanted is the
//! caller's to check ([`expect_kind`]).
//!
//! The same key signs webhooks the way Telnyx does ([`webhook_signature`]): the header
//! `telnyx-signature-ed25519` is base64 of the Ed25519 signature over
//! `"<telnyx-timestamp>|<raw body>"`, and receivers verify it with the base64 of the raw
//! 32-byte public key ([`SigningKey::public_key_base64`]).
//!
//! Sans-IO like the rest of the crate: the time is always passed in.

use std::fmt;
use std::ops::RangeInclusive;

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

/// Accepted `token_ttl_secs` of an access token (Telnyx: 10–3600).
pub const TOKEN_TTL_SECS: RangeInclusive<i64> = 10..=3600;
/// `token_ttl_secs` when the request names none.
pub const DEFAULT_TOKEN_TTL_SECS: i64 = 600;
/// Accepted `refresh_token_ttl_secs` of a refresh token (Telnyx: 60–86400).
pub const REFRESH_TTL_SECS: RangeInclusive<i64> = 60..=86400;
/// `refresh_token_ttl_secs` when the request names none.
pub const DEFAULT_REFRESH_TTL_SECS: i64 = 3600;
/// Longer tokens are refused before any decoding (a minted one is about 520 bytes).
pub const MAX_TOKEN_BYTES: usize = 4096;

/// `aud` and `iss` of every join token.
const AUDIENCE: &str = "telnyx_access_token";
/// The JOSE `alg` of join tokens (Telnyx's spelling, not RFC 8037's `EdDSA`).
const ALG: &str = "Ed25519";
/// The only `grants_version` there is.
const GRANTS_VERSION: i64 = 1;
/// The grant's resource is this prefix and the room ID.
const ROOM_RESOURCE_PREFIX: &str = "telnyx:video:rooms:";
/// Longest room ID and `jti` a token may carry (Parlor's are 36-character UUIDs).
const MAX_ID_BYTES: usize = 128;
/// The webhook signature header is base64 of 64 bytes (88 characters); anything much
/// longer is refused before decoding.
const MAX_SIGNATURE_B64_BYTES: usize = 128;

/// Why a join token (or a key) was refused. [`RoomsTokenError::reason`] gives a short,
/// stable reason for APIs and logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomsTokenError {
    /// Longer than [`MAX_TOKEN_BYTES`]; not decoded at all.
    #[error("join token is {len} bytes long; at most {MAX_TOKEN_BYTES} are accepted")]
    TooLong { len: usize },
    /// Not a well-formed join token: layout, encoding, JSON or a claim's presence or type.
    #[error("malformed join token: {0}")]
    Malformed(&'static str),
    /// The header names another algorithm than `Ed25519`.
    #[error("join token is signed with '{0}'; only Ed25519 join tokens are accepted")]
    UnsupportedAlgorithm(String),
    /// The signature does not verify with the server's public key.
    #[error("join token signature does not verify with this server's Rooms key")]
    BadSignature,
    /// `exp` is not after `now`.
    #[error("join token expired at {expires_at} (now {now})")]
    Expired { expires_at: i64, now: i64 },
    /// `nbf` is after `now`.
    #[error("join token is not valid before {not_before} (now {now})")]
    NotYetValid { not_before: i64, now: i64 },
    /// `aud` is not `telnyx_access_token`.
    #[error("join token audience is '{0}', not 'telnyx_access_token'")]
    WrongAudience(String),
    /// `iss` is not `telnyx_access_token`.
    #[error("join token issuer is '{0}', not 'telnyx_access_token'")]
    WrongIssuer(String),
    /// `typ` is neither `access` nor `refresh`.
    #[error("join token type is '{0}', neither 'access' nor 'refresh'")]
    UnknownType(String),
    /// `grants` is not exactly one grant of the action `join` on one room.
    #[error(
        "join token does not grant exactly the action 'join' on one resource 'telnyx:video:rooms:<room_id>'"
    )]
    NoJoinGrant,
    /// A token of the other kind than the one the caller wanted ([`expect_kind`]).
    #[error("{} token used as {} token", .got.as_str(), .expected.as_str())]
    WrongKind { expected: TokenKind, got: TokenKind },
    /// Bytes that are not a usable Ed25519 key.
    #[error("not a usable Ed25519 key")]
    BadKey,
}

impl RoomsTokenError {
    /// A short, stable, machine-readable reason (`"token expired"`, `"bad signature"`, …).
    pub fn reason(&self) -> &'static str {
        match self {
            RoomsTokenError::TooLong { .. } => "token too long",
            RoomsTokenError::Malformed(_) => "malformed token",
            RoomsTokenError::UnsupportedAlgorithm(_) => "unsupported algorithm",
            RoomsTokenError::BadSignature => "bad signature",
            RoomsTokenError::Expired { .. } => "token expired",
            RoomsTokenError::NotYetValid { .. } => "token not yet valid",
            RoomsTokenError::WrongAudience(_) => "wrong audience",
            RoomsTokenError::WrongIssuer(_) => "wrong issuer",
            RoomsTokenError::UnknownType(_) => "unknown token type",
            RoomsTokenError::NoJoinGrant => "no join grant",
            RoomsTokenError::WrongKind {
                got: TokenKind::Refresh,
                ..
            } => "refresh token used as access token",
            RoomsTokenError::WrongKind {
                got: TokenKind::Access,
                ..
            } => "access token used as refresh token",
            RoomsTokenError::BadKey => "bad key",
        }
    }
}

/// An Ed25519 signing key (the server's Rooms key: signs join tokens and webhooks).
///
/// Its `Debug` shows only the public key.
#[derive(Clone)]
pub struct SigningKey {
    seed: [u8; 32],
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// A new random key (the seed from the thread-local CSPRNG).
    pub fn generate() -> SigningKey {
        let seed: [u8; 32] = rand::random();
        SigningKey::from_seed(&seed).expect("every 32-byte string is an Ed25519 seed")
    }

    /// The key whose RFC 8032 private key (seed) is `seed`, as [`SigningKey::seed`] gave it.
    pub fn from_seed(seed: &[u8; 32]) -> Result<SigningKey, RoomsTokenError> {
        let pair =
            Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| RoomsTokenError::BadKey)?;
        Ok(SigningKey { seed: *seed, pair })
    }

    /// The 32-byte seed, for storing the key. Secret.
    pub fn seed(&self) -> [u8; 32] {
        self.seed
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    /// Base64 (standard, padded) of the raw 32-byte public key — what Telnyx shows as the
    /// account's public key and what the official SDKs' `webhooks.unwrap` take.
    pub fn public_key_base64(&self) -> String {
        STANDARD.encode(self.public_key())
    }

    /// The Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public_key", &self.public_key_base64())
            .finish_non_exhaustive()
    }
}

/// The message a webhook signature covers: `"<timestamp>|<body>"`.
fn webhook_message(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut message = format!("{timestamp}|").into_bytes();
    message.extend_from_slice(body);
    message
}

/// Telnyx webhook signature (the `telnyx-signature-ed25519` header): base64 (standard) of
/// the Ed25519 signature over the UTF-8 string `"<timestamp>|<body>"`, `timestamp` being
/// the `telnyx-timestamp` header (Unix seconds).
pub fn webhook_signature(key: &SigningKey, timestamp: i64, body: &[u8]) -> String {
    STANDARD.encode(key.sign(&webhook_message(timestamp, body)))
}

/// Verifies a webhook signature (for tests and for `parlor` tooling). Only the signature:
/// how far `timestamp` may be from the receiver's clock (Telnyx's SDKs allow ±300 s) is
/// the caller's.
pub fn verify_webhook_signature(
    public_key: &[u8; 32],
    timestamp: i64,
    body: &[u8],
    signature_b64: &str,
) -> bool {
    if signature_b64.len() > MAX_SIGNATURE_B64_BYTES {
        return false;
    }
    let Ok(signature) = STANDARD.decode(signature_b64) else {
        return false;
    };
    signature.len() == 64
        && UnparsedPublicKey::new(&ED25519, public_key)
            .verify(&webhook_message(timestamp, body), &signature)
            .is_ok()
}

/// An access token (for joining) or a refresh token (for minting new access tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    /// The `typ` claim: `access` or `refresh`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// What a verified token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGrant {
    /// The room of the grant's resource (`telnyx:video:rooms:<room_id>`).
    pub room_id: String,
    pub kind: TokenKind,
    pub jti: String,
    /// `iat`, Unix seconds.
    pub issued_at: i64,
    /// `exp`, Unix seconds: the token is refused from this second on.
    pub expires_at: i64,
}

/// A minted token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedToken {
    pub token: String,
    /// `exp`, Unix seconds.
    pub expires_at: i64,
}

/// The claims of a minted token, in the order Telnyx writes them.
#[derive(serde::Serialize)]
struct MintClaims<'a> {
    aud: &'static str,
    iss: &'static str,
    typ: &'static str,
    jti: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    grants_version: i64,
    grants: [MintGrant<'a>; 1],
}

#[derive(serde::Serialize)]
struct MintGrant<'a> {
    actions: [&'static str; 1],
    resources: [&'a str; 1],
}

/// Mints a token of `kind` granting `join` on `room_id`, issued at `now` and expiring
/// `ttl_secs` later. Checking `ttl_secs` against [`TOKEN_TTL_SECS`] or [`REFRESH_TTL_SECS`]
/// is the caller's (a request's values are a 422, not a panic). A room ID [`verify`] would
/// not accept (empty, or longer than 128 bytes) mints a token that never verifies.
pub fn mint(
    key: &SigningKey,
    room_id: &str,
    kind: TokenKind,
    ttl_secs: i64,
    now: i64,
) -> MintedToken {
    let expires_at = now.saturating_add(ttl_secs);
    let resource = format!("{ROOM_RESOURCE_PREFIX}{room_id}");
    let claims = MintClaims {
        aud: AUDIENCE,
        iss: AUDIENCE,
        typ: kind.as_str(),
        jti: crate::app_auth::new_jti(),
        iat: now,
        nbf: now,
        exp: expires_at,
        grants_version: GRANTS_VERSION,
        grants: [MintGrant {
            actions: ["join"],
            resources: [&resource],
        }],
    };
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"Ed25519","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&claims).expect("the claims are plain strings and numbers"));
    let signing_input = format!("{header}.{claims}");
    let signature = URL_SAFE_NO_PAD.encode(key.sign(signing_input.as_bytes()));
    MintedToken {
        token: format!("{signing_input}.{signature}"),
        expires_at,
    }
}

/// Splits a compact JWT into its three parts, refusing oversize tokens first.
fn split(token: &str) -> Result<(&str, &str, &str), RoomsTokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(RoomsTokenError::TooLong { len: token.len() });
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(c), Some(s), None) if !h.is_empty() && !c.is_empty() && !s.is_empty() => {
            Ok((h, c, s))
        }
        _ => Err(RoomsTokenError::Malformed(
            "a join token has three non-empty dot-separated parts",
        )),
    }
}

/// Decodes one base64url (unpadded, canonical) part into a JSON object.
fn json_object(part: &str, what: &'static str) -> Result<Map<String, Value>, RoomsTokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| RoomsTokenError::Malformed(what))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(RoomsTokenError::Malformed(what)),
    }
}

/// At most `max` characters of an untrusted string, for error messages.
fn shorten(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Checks the JOSE header: a JSON object, `alg` `Ed25519`, `typ` (if any) `JWT`, no `crit`.
fn check_header(header: &str) -> Result<(), RoomsTokenError> {
    let header = json_object(header, "the header is not base64url of a JSON object")?;
    match header.get("alg") {
        None => return Err(RoomsTokenError::Malformed("the header has no 'alg'")),
        Some(Value::String(alg)) if alg == ALG => {}
        Some(Value::String(alg)) => {
            return Err(RoomsTokenError::UnsupportedAlgorithm(shorten(alg, 20)));
        }
        Some(_) => {
            return Err(RoomsTokenError::Malformed(
                "the header's 'alg' is not a string",
            ));
        }
    }
    match header.get("typ") {
        None => {}
        Some(Value::String(typ)) if typ == "JWT" => {}
        Some(_) => {
            return Err(RoomsTokenError::Malformed(
                "the header's 'typ' is not 'JWT'",
            ));
        }
    }
    if header.contains_key("crit") {
        return Err(RoomsTokenError::Malformed(
            "the header has a 'crit' extension (RFC 7515), which is not supported",
        ));
    }
    Ok(())
}

/// Cheap shape test, no crypto: a three-part JWT whose header's `alg` is `Ed25519` (so the
/// signaling server can tell a Rooms join token from an OpenTok token before verifying).
/// Never panics.
pub fn is_join_token(token: &str) -> bool {
    let Ok((header, claims, signature)) = split(token) else {
        return false;
    };
    let b64url = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !b64url(claims) || !b64url(signature) {
        return false;
    }
    let Ok(header) = json_object(header, "") else {
        return false;
    };
    header.get("alg").and_then(Value::as_str) == Some(ALG)
}

/// A required string claim.
fn claim_str<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
    missing: &'static str,
) -> Result<&'a str, RoomsTokenError> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .ok_or(RoomsTokenError::Malformed(missing))
}

/// A required integer claim (a JSON integer; floats and strings are refused).
fn claim_int(
    claims: &Map<String, Value>,
    name: &'static str,
    missing: &'static str,
) -> Result<i64, RoomsTokenError> {
    claims
        .get(name)
        .and_then(Value::as_i64)
        .ok_or(RoomsTokenError::Malformed(missing))
}

/// The room of `grants` if it is exactly `[{"actions":["join"],"resources":["telnyx:video:rooms:<room_id>"]}]`.
fn join_grant_room(grants: &Value) -> Result<String, RoomsTokenError> {
    let Value::Array(grants) = grants else {
        return Err(RoomsTokenError::Malformed("'grants' is not an array"));
    };
    let [Value::Object(grant)] = grants.as_slice() else {
        return Err(RoomsTokenError::NoJoinGrant);
    };
    let single_string = |name: &str| match grant.get(name) {
        Some(Value::Array(items)) => match items.as_slice() {
            [Value::String(s)] => Some(s.as_str()),
            _ => None,
        },
        _ => None,
    };
    if grant.len() != 2 || single_string("actions") != Some("join") {
        return Err(RoomsTokenError::NoJoinGrant);
    }
    let room_id = single_string("resources")
        .and_then(|r| r.strip_prefix(ROOM_RESOURCE_PREFIX))
        .ok_or(RoomsTokenError::NoJoinGrant)?;
    if room_id.is_empty() || room_id.len() > MAX_ID_BYTES {
        return Err(RoomsTokenError::NoJoinGrant);
    }
    Ok(room_id.to_owned())
}

/// Verifies signature, audience/issuer, `typ`, `nbf`/`exp` (`now` is Unix seconds; no
/// leeway: refused when `nbf > now` or `exp <= now`), and that the grants are exactly the
/// action `join` on the resource `telnyx:video:rooms:<room_id>`; returns the grant.
///
/// Whether an access or a refresh token was wanted is the caller's ([`expect_kind`]).
/// Claims other than Telnyx's are ignored. Never panics.
pub fn verify(public_key: &[u8; 32], token: &str, now: i64) -> Result<JoinGrant, RoomsTokenError> {
    let (header, claims, signature) = split(token)?;
    check_header(header)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| RoomsTokenError::Malformed("the signature is not base64url"))?;
    if signature.len() != 64 {
        return Err(RoomsTokenError::Malformed(
            "the signature is not 64 bytes long",
        ));
    }
    let signing_input = &token[..header.len() + 1 + claims.len()];
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(signing_input.as_bytes(), &signature)
        .map_err(|_| RoomsTokenError::BadSignature)?;

    // Signed by this server's key; still checked as strictly as if it were not.
    let claims = json_object(claims, "the claims are not base64url of a JSON object")?;
    let aud = claim_str(&claims, "aud", "'aud' is missing or not a string")?;
    if aud != AUDIENCE {
        return Err(RoomsTokenError::WrongAudience(shorten(aud, 64)));
    }
    let iss = claim_str(&claims, "iss", "'iss' is missing or not a string")?;
    if iss != AUDIENCE {
        return Err(RoomsTokenError::WrongIssuer(shorten(iss, 64)));
    }
    let kind = match claim_str(&claims, "typ", "'typ' is missing or not a string")? {
        "access" => TokenKind::Access,
        "refresh" => TokenKind::Refresh,
        other => return Err(RoomsTokenError::UnknownType(shorten(other, 32))),
    };
    let jti = claim_str(&claims, "jti", "'jti' is missing or not a string")?;
    if jti.is_empty() || jti.len() > MAX_ID_BYTES {
        return Err(RoomsTokenError::Malformed(
            "'jti' is empty or longer than 128 bytes",
        ));
    }
    let issued_at = claim_int(&claims, "iat", "'iat' is missing or not an integer")?;
    let not_before = claim_int(&claims, "nbf", "'nbf' is missing or not an integer")?;
    let expires_at = claim_int(&claims, "exp", "'exp' is missing or not an integer")?;
    if claim_int(
        &claims,
        "grants_version",
        "'grants_version' is missing or not an integer",
    )? != GRANTS_VERSION
    {
        return Err(RoomsTokenError::Malformed("'grants_version' is not 1"));
    }
    let room_id = join_grant_room(
        claims
            .get("grants")
            .ok_or(RoomsTokenError::Malformed("'grants' is missing"))?,
    )?;
    if not_before > now {
        return Err(RoomsTokenError::NotYetValid { not_before, now });
    }
    if expires_at <= now {
        return Err(RoomsTokenError::Expired { expires_at, now });
    }
    Ok(JoinGrant {
        room_id,
        kind,
        jti: jti.to_owned(),
        issued_at,
        expires_at,
    })
}

/// Refuses a grant of the other kind: a refresh token presented to join, or an access token
/// presented to `refresh_client_token`.
pub fn expect_kind(grant: &JoinGrant, kind: TokenKind) -> Result<(), RoomsTokenError> {
    if grant.kind == kind {
        Ok(())
    } else {
        Err(RoomsTokenError::WrongKind {
            expected: kind,
            got: grant.kind,
        })
    }
}

#[cfg(test)]
mod tests;
