//! Vonage application credentials: the second kind of project credential, beside the
//! OpenTok API key and secret.
//!
//! An application is an application ID (a UUID) with one or more RSA public keys; the
//! private keys stay with the app server. Everything it signs is an RS256 JWT whose claims
//! name the application (`application_id`):
//!
//! * **REST auth** (`Authorization: Bearer <JWT>`, what `@vonage/video` and PyPI `vonage`
//!   send): claims `application_id`, `iat`, `jti`, `exp` (iat + 900 by default). Checked
//!   here by [`claimed_application_id`] (untrusted, to find the keys) and [`verify`], with
//!   the same clock rules as the OpenTok `X-OPENTOK-AUTH` JWT.
//! * **Client tokens** (`generateClientToken`): the same claims plus `scope`, `session_id`,
//!   `role`, `connection_data`, `initial_layout_class_list`, `sub`, `acl`; verified in
//!   [`crate::token`] like the OpenTok kinds.
//!
//! Only RS256 is accepted. A token naming an application but signed with a shared secret
//! (HS256), unsigned (`alg: none`), or signed with another key type (ES256, PS256, EdDSA)
//! is refused with that reason; a header `kid` must name one of the application's keys
//! ([`PublicKey::id`]). Several keys at once allow rotation without downtime.

use rsa::pkcs1::{DecodeRsaPrivateKey as _, DecodeRsaPublicKey as _, EncodeRsaPrivateKey as _};
use rsa::pkcs8::der::Decode as _;
use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePublicKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use serde_json::{Map, Value};
use sha2::Digest as _;

use crate::jwt::{self, AppJwtError};
use crate::limits::{MAX_REST_AUTH_TTL_SECS, REST_AUTH_SKEW_SECS};

/// The HTTP header carrying the JWT, with the `Bearer ` scheme.
pub const HEADER: &str = "Authorization";

/// The lifetime of a REST JWT the Vonage SDKs mint by default (seconds).
pub const DEFAULT_REST_TTL_SECS: i64 = 900;

/// The smallest RSA modulus accepted for an application key.
pub const MIN_RSA_BITS: usize = 2048;

/// Whether `s` has the shape of an application ID: a UUID in its hyphenated form.
pub fn is_application_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Why a PEM key could not be used as an application key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not a PEM key: {0}")]
    NotPem(&'static str),
    #[error("the key is {0}, but application keys must be RSA (RS256)")]
    WrongKeyType(&'static str),
    #[error("the RSA key has {0} bits; application keys need at least {MIN_RSA_BITS}")]
    TooShort(usize),
    #[error(
        "this PEM holds a private key; register the public key (`openssl rsa -in KEY -pubout`)"
    )]
    PrivateKeyGiven,
    #[error("this PEM holds a public key, but signing needs the private key")]
    PublicKeyGiven,
    #[error("invalid RSA key: {0}")]
    Invalid(&'static str),
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_ED448: &str = "1.3.101.113";

fn key_type_name(oid: &str) -> &'static str {
    match oid {
        OID_RSA_PSS => "an RSA-PSS key",
        OID_EC => "an EC key",
        OID_ED25519 => "an Ed25519 key",
        OID_ED448 => "an Ed448 key",
        _ => "not an RSA key",
    }
}

fn pem_label(pem: &str) -> Result<&str, KeyError> {
    let start = pem
        .find("-----BEGIN ")
        .ok_or(KeyError::NotPem("no '-----BEGIN' line"))?;
    let rest = &pem[start + 11..];
    let end = rest
        .find("-----")
        .ok_or(KeyError::NotPem("unterminated BEGIN line"))?;
    Ok(&rest[..end])
}

/// One RSA public key of an application.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    id: String,
    n: Vec<u8>,
    e: Vec<u8>,
    pem: String,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("id", &self.id)
            .field("bits", &self.bits())
            .finish()
    }
}

impl PublicKey {
    /// Reads an RSA public key: SPKI (`PUBLIC KEY`, what `openssl rsa -pubout` and the
    /// Vonage dashboard give) or PKCS#1 (`RSA PUBLIC KEY`). A private key, a non-RSA key or
    /// one shorter than [`MIN_RSA_BITS`] is refused with its reason.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let pem = pem.trim();
        let key = match pem_label(pem)? {
            "PUBLIC KEY" => {
                let (_, der) = rsa::pkcs8::der::pem::decode_vec(pem.as_bytes())
                    .map_err(|_| KeyError::NotPem("the PEM body is not valid base64"))?;
                let spki = rsa::pkcs8::spki::SubjectPublicKeyInfoRef::from_der(&der)
                    .map_err(|_| KeyError::Invalid("not a SubjectPublicKeyInfo"))?;
                let oid = spki.algorithm.oid.to_string();
                if oid != OID_RSA {
                    return Err(KeyError::WrongKeyType(key_type_name(&oid)));
                }
                rsa::RsaPublicKey::from_public_key_der(&der)
                    .map_err(|_| KeyError::Invalid("the RSA public key does not parse"))?
            }
            "RSA PUBLIC KEY" => rsa::RsaPublicKey::from_pkcs1_pem(pem)
                .map_err(|_| KeyError::Invalid("the RSA public key does not parse"))?,
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => {
                return Err(KeyError::PrivateKeyGiven);
            }
            "CERTIFICATE" => {
                return Err(KeyError::NotPem(
                    "this is a certificate, not a public key (`openssl x509 -pubkey -noout`)",
                ));
            }
            _ => return Err(KeyError::NotPem("the PEM label is not a public key's")),
        };
        Self::from_rsa(&key)
    }

    fn from_rsa(key: &rsa::RsaPublicKey) -> Result<Self, KeyError> {
        let bits = key.n().bits();
        if bits < MIN_RSA_BITS {
            return Err(KeyError::TooShort(bits));
        }
        let der = key
            .to_public_key_der()
            .map_err(|_| KeyError::Invalid("the key cannot be encoded"))?;
        let id = hex::encode(&sha2::Sha256::digest(der.as_bytes())[..8]);
        let pem = key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|_| KeyError::Invalid("the key cannot be encoded"))?;
        Ok(PublicKey {
            id,
            n: key.n().to_bytes_be(),
            e: key.e().to_bytes_be(),
            pem,
        })
    }

    /// The key's ID: the first 16 hex digits of the SHA-256 of its SPKI DER. A JWT header's
    /// `kid`, when present, must be this.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`), normalized.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.n.len() * 8 - self.n.first().map_or(8, |b| b.leading_zeros() as usize)
    }

    pub(crate) fn decoding_key(&self) -> jsonwebtoken::DecodingKey {
        jsonwebtoken::DecodingKey::from_rsa_raw_components(&self.n, &self.e)
    }
}

/// An application's RSA private key, for app servers (the Rust SDK, `parlor token`).
/// Its `Debug` output never shows the key.
#[derive(Clone)]
pub struct PrivateKey {
    pkcs1_der: Vec<u8>,
    public: PublicKey,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("public_key_id", &self.public.id)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Reads an RSA private key: PKCS#8 (`PRIVATE KEY`, what Vonage hands out) or PKCS#1
    /// (`RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let pem = pem.trim();
        let key = match pem_label(pem)? {
            "PRIVATE KEY" => {
                let (_, der) = rsa::pkcs8::der::pem::decode_vec(pem.as_bytes())
                    .map_err(|_| KeyError::NotPem("the PEM body is not valid base64"))?;
                let info = rsa::pkcs8::PrivateKeyInfo::from_der(&der)
                    .map_err(|_| KeyError::Invalid("not a PKCS#8 private key"))?;
                let oid = info.algorithm.oid.to_string();
                if oid != OID_RSA {
                    return Err(KeyError::WrongKeyType(key_type_name(&oid)));
                }
                rsa::RsaPrivateKey::from_pkcs8_der(&der)
                    .map_err(|_| KeyError::Invalid("the RSA private key does not parse"))?
            }
            "RSA PRIVATE KEY" => rsa::RsaPrivateKey::from_pkcs1_pem(pem)
                .map_err(|_| KeyError::Invalid("the RSA private key does not parse"))?,
            "EC PRIVATE KEY" => return Err(KeyError::WrongKeyType("an EC key")),
            "PUBLIC KEY" | "RSA PUBLIC KEY" => return Err(KeyError::PublicKeyGiven),
            "ENCRYPTED PRIVATE KEY" => {
                return Err(KeyError::Invalid(
                    "the private key is encrypted; decrypt it first",
                ));
            }
            _ => return Err(KeyError::NotPem("the PEM label is not a private key's")),
        };
        let public = PublicKey::from_rsa(&key.to_public_key())?;
        let pkcs1_der = key
            .to_pkcs1_der()
            .map_err(|_| KeyError::Invalid("the key cannot be encoded"))?
            .as_bytes()
            .to_vec();
        Ok(PrivateKey { pkcs1_der, public })
    }

    /// The matching public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub(crate) fn encoding_key(&self) -> jsonwebtoken::EncodingKey {
        jsonwebtoken::EncodingKey::from_rsa_der(&self.pkcs1_der)
    }
}

/// Why a REST request's application credentials were refused. Each variant names one reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppAuthError {
    #[error("malformed application JWT: {0}")]
    Malformed(&'static str),
    #[error("the Bearer JWT has no 'application_id' claim naming a Vonage application")]
    MissingApplicationId,
    #[error("the JWT is unsigned (alg 'none'); application JWTs must be RS256")]
    AlgNone,
    #[error(
        "the JWT claims application {application_id} but is signed with {alg} (a shared \
         secret); applications have no secret: sign RS256 with the application's private key"
    )]
    SecretSigned { alg: String, application_id: String },
    #[error(
        "the JWT is signed with {0}, a key type applications do not have: application keys are \
         RSA and JWTs are RS256"
    )]
    WrongKeyType(String),
    #[error("unknown application '{0}'")]
    UnknownApplication(String),
    #[error("application {0} has been deleted")]
    DeletedApplication(String),
    #[error("the JWT header names key '{0}', which is not one of the application's keys")]
    UnknownKid(String),
    #[error("the application has no public key (all were removed)")]
    NoKeys,
    #[error("the JWT signature does not match any of the application's public keys")]
    BadSignature,
    #[error("the application JWT has no valid 'exp' claim")]
    MissingExpiry,
    #[error("the application JWT expired at {0} (server time {1})")]
    Expired(i64, i64),
    #[error("the application JWT is issued in the future (iat {0}, server time {1})")]
    IssuedInFuture(i64, i64),
    #[error(
        "the application JWT expires at {0}, more than 24 hours after server time {1}: REST JWTs \
         may live at most {MAX_REST_AUTH_TTL_SECS} s"
    )]
    LifetimeTooLong(i64, i64),
    #[error(
        "the Bearer JWT is a client token (it has the '{0}' claim): client tokens admit a user \
         to a session and cannot authenticate REST calls"
    )]
    ClientToken(&'static str),
    #[error(
        "the JWT is for application {token}, but the path names project {path}: the path's \
         project ID must be the application ID"
    )]
    WrongApplication { token: String, path: String },
}

impl AppAuthError {
    /// A stable, machine-readable reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            AppAuthError::Malformed(_) => "malformed",
            AppAuthError::MissingApplicationId => "missing_application_id",
            AppAuthError::AlgNone => "alg_none",
            AppAuthError::SecretSigned { .. } => "secret_signed_application",
            AppAuthError::WrongKeyType(_) => "wrong_key_type",
            AppAuthError::UnknownApplication(_) => "unknown_application",
            AppAuthError::DeletedApplication(_) => "deleted_application",
            AppAuthError::UnknownKid(_) => "unknown_kid",
            AppAuthError::NoKeys => "no_keys",
            AppAuthError::BadSignature => "bad_signature",
            AppAuthError::MissingExpiry => "missing_expiry",
            AppAuthError::Expired(..) => "expired",
            AppAuthError::IssuedInFuture(..) => "issued_in_future",
            AppAuthError::LifetimeTooLong(..) => "lifetime_too_long",
            AppAuthError::ClientToken(_) => "client_token",
            AppAuthError::WrongApplication { .. } => "wrong_application",
        }
    }
}

fn from_app_jwt(e: AppJwtError, application_id: &str) -> AppAuthError {
    match e {
        AppJwtError::Malformed(why) => AppAuthError::Malformed(why),
        AppJwtError::AlgNone => AppAuthError::AlgNone,
        AppJwtError::SecretSigned(alg) => AppAuthError::SecretSigned {
            alg,
            application_id: application_id.to_owned(),
        },
        AppJwtError::WrongKeyType(alg) => AppAuthError::WrongKeyType(alg),
        AppJwtError::UnknownKid(kid) => AppAuthError::UnknownKid(kid),
        AppJwtError::NoKeys => AppAuthError::NoKeys,
        AppJwtError::BadSignature => AppAuthError::BadSignature,
    }
}

/// The `application_id` claim of a JWT, if it has one (untrusted), without other checks.
pub(crate) fn peek_application_id(claims: &Map<String, Value>) -> Option<String> {
    match claims.get("application_id") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// Reads the application a Bearer JWT claims to be from, without trusting it yet. The
/// header is checked here (RS256 only), so an unsigned or secret-signed token is refused
/// with its reason before any lookup.
pub fn claimed_application_id(token: &str) -> Result<String, AppAuthError> {
    if token.starts_with(crate::token::T1_PREFIX) {
        return Err(AppAuthError::ClientToken("T1=="));
    }
    let claims = jwt::peek_claims(token).map_err(|e| match e {
        jwt::JwtError::Malformed(why) => AppAuthError::Malformed(why),
        jwt::JwtError::BadSignature => AppAuthError::BadSignature,
    })?;
    let id = peek_application_id(&claims).ok_or(AppAuthError::MissingApplicationId)?;
    jwt::check_app_header(token).map_err(|e| from_app_jwt(e, &id))?;
    Ok(id)
}

/// Verifies a REST JWT against the application's public `keys` at time `now` (Unix
/// seconds): RS256 signature by one of them, no client-token claim, `exp` present and not
/// past (±[`REST_AUTH_SKEW_SECS`]), at most [`MAX_REST_AUTH_TTL_SECS`] ahead, `iat` not in
/// the future.
pub fn verify(token: &str, keys: &[PublicKey], now: i64) -> Result<(), AppAuthError> {
    let application_id = jwt::peek_claims(token)
        .ok()
        .and_then(|c| peek_application_id(&c))
        .unwrap_or_default();
    let claims = jwt::verify_rs256(token, keys).map_err(|e| from_app_jwt(e, &application_id))?;
    if let Some(claim) = jwt::client_token_claim(&claims) {
        return Err(AppAuthError::ClientToken(claim));
    }
    let exp = match jwt::seconds(&claims, "exp") {
        Some(Ok(exp)) => exp,
        _ => return Err(AppAuthError::MissingExpiry),
    };
    if exp.saturating_add(REST_AUTH_SKEW_SECS) < now {
        return Err(AppAuthError::Expired(exp, now));
    }
    if exp > now.saturating_add(MAX_REST_AUTH_TTL_SECS + REST_AUTH_SKEW_SECS) {
        return Err(AppAuthError::LifetimeTooLong(exp, now));
    }
    match jwt::seconds(&claims, "iat") {
        Some(Ok(iat)) if iat > now.saturating_add(REST_AUTH_SKEW_SECS) => {
            Err(AppAuthError::IssuedInFuture(iat, now))
        }
        Some(Err(())) => Err(AppAuthError::Malformed("'iat' is not a number")),
        _ => Ok(()),
    }
}

/// Mints a REST JWT for `application_id` as the Vonage SDKs do (`application_id`, `iat`,
/// `jti`, `exp`), valid for `ttl_secs` from `now`.
pub fn mint(application_id: &str, key: &PrivateKey, now: i64, ttl_secs: i64) -> String {
    let mut claims = Map::new();
    claims.insert("application_id".into(), application_id.into());
    claims.insert("iat".into(), now.into());
    claims.insert("jti".into(), new_jti().into());
    claims.insert("exp".into(), (now + ttl_secs).into());
    jwt::sign_rs256(&claims, key, false)
}

/// Signs arbitrary `claims` with RS256 (no `kid`): for tests, fuzzing and tools that need a
/// token of a shape the SDKs would not mint.
pub fn sign_claims(claims: &Map<String, Value>, key: &PrivateKey) -> String {
    jwt::sign_rs256(claims, key, false)
}

/// A random UUID v4 string, for `jti`.
pub(crate) fn new_jti() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Test keys, generated once with `openssl genpkey -algorithm RSA -pkeyopt
/// rsa_keygen_bits:2048` (PKCS#8, as Vonage hands them out), for this crate's tests and
/// the fuzz targets (feature `test-keys`). Never use them for anything else.
#[cfg(any(test, feature = "test-keys"))]
#[doc(hidden)]
pub mod test_keys {
    pub const PRIVATE_A: &str = include_str!("../testdata/app_a.key");
    pub const PRIVATE_B: &str = include_str!("../testdata/app_b.key");
    pub const PUBLIC_A: &str = include_str!("../testdata/app_a.pub");
    pub const PUBLIC_B: &str = include_str!("../testdata/app_b.pub");
    pub const EC_PUBLIC: &str = include_str!("../testdata/ec.pub");
    pub const EC_PRIVATE: &str = include_str!("../testdata/ec.key");
    pub const RSA_1024_PUBLIC: &str = include_str!("../testdata/rsa1024.pub");
}

#[cfg(test)]
mod tests;
