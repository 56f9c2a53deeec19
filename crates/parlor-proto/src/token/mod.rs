//! Client tokens: what lets one client join one session with one role.
//!
//! Two formats exist, both minted by the official OpenTok server SDKs and by `parlor-sdk`,
//! plus the Vonage application kind:
//!
//! * **JWT** (HS256 with the API secret). Node claims: `iss`, `ist`, `iat`, `exp`,
//!   `session_id`, `create_time`, `nonce`, `role`, `expire_time`,
//!   `initial_layout_class_list`, `scope`, `connection_data`; Python omits `create_time` and
//!   `expire_time` and sends `initial_layout_class_list` only when non-empty.
//! * **T1** (legacy): `"T1==" + base64("partner_id=<key>&sig=<hex>:<form data>")` where `sig`
//!   is HMAC-SHA1 of the form data with the secret; fields in any order, `+` or `%20`.
//! * **Application JWT** (RS256 with a Vonage application's private key, what
//!   `@vonage/video`'s `generateClientToken` and PyPI `vonage` mint): claims
//!   `application_id`, `iat`, `jti`, `exp`, `scope`, `session_id`, `role`,
//!   `initial_layout_class_list`, `connection_data`, `sub`, `acl`. Told apart by its
//!   `application_id` claim; verified with [`ParsedToken::verify_application`] against the
//!   application's public keys (see [`crate::app_auth`]), then the same policy.
//!
//! Verification is split in two so the server can find the signing key first:
//! [`ParsedToken::parse`] reads the token and the project it claims, untrusted;
//! [`ParsedToken::verify`] checks the signature with that project's secret, then expiry,
//! role, scope and connection data. Session existence and match are the server's checks
//! (it owns the store); their reasons are here too so every layer reports the same codes.

mod t1;

use serde_json::{Map, Value};

use crate::Role;
use crate::app_auth::{self, PrivateKey, PublicKey};
use crate::jwt::{self, AppJwtError, JwtError};
use crate::limits::{MAX_CONNECTION_DATA_CHARS, MAX_TOKEN_TTL_SECS, REST_AUTH_SKEW_SECS};

/// How a legacy T1 token begins.
pub const T1_PREFIX: &str = t1::PREFIX;

/// The scope every client token carries.
pub const SCOPE: &str = "session.connect";

/// The two token encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenFormat {
    /// HS256 JWT (the default of current SDKs).
    #[default]
    Jwt,
    /// Legacy `T1==` HMAC-SHA1 token.
    T1,
}

impl TokenFormat {
    /// `jwt` or `t1`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenFormat::Jwt => "jwt",
            TokenFormat::T1 => "t1",
        }
    }
}

/// Why a client token was refused. [`TokenError::reason`] gives a stable code for APIs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token expired at {expired_at} (server time {now})")]
    Expired { expired_at: i64, now: i64 },
    #[error("token expires at {expire_time}, more than 30 days after server time {now}")]
    LifetimeTooLong { expire_time: i64, now: i64 },
    #[error("token role '{0}' is not publisher, subscriber, moderator or publisheronly")]
    InvalidRole(String),
    #[error("token connection data is {0} characters; the limit is {MAX_CONNECTION_DATA_CHARS}")]
    DataTooLong(usize),
    #[error("token scope '{0}' is not '{SCOPE}'")]
    InvalidScope(String),
    #[error(
        "this is a REST API credential (a project JWT with no client-token claims such as \
         'session_id' or 'scope'), not a client token"
    )]
    RestCredential,
    #[error("token is for project {0}, which this server does not know")]
    UnknownProject(String),
    #[error("token is for project {token}, but the session belongs to project {session}")]
    WrongProject { token: String, session: String },
    #[error("token is unsigned (alg 'none')")]
    AlgNone,
    #[error(
        "token names application {0} but is signed with a shared secret (HS256); application \
         tokens are RS256, signed with the application's private key"
    )]
    SecretSignedForApplication(String),
    #[error("token is signed with {0}; application keys are RSA and tokens RS256")]
    WrongKeyType(String),
    #[error("token header names key '{0}', which is not one of the application's keys")]
    UnknownKeyId(String),
    #[error("token is for application {0}, which this server does not know")]
    UnknownApplication(String),
    #[error("token is for session {0}, which does not exist")]
    UnknownSession(String),
    #[error("token is for session {token}, not for session {requested}")]
    WrongSession { token: String, requested: String },
}

impl TokenError {
    /// A stable, machine-readable reason code (`expired`, `bad_signature`, …).
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::Malformed(_) => "malformed",
            TokenError::BadSignature => "bad_signature",
            TokenError::Expired { .. } => "expired",
            TokenError::LifetimeTooLong { .. } => "lifetime_too_long",
            TokenError::InvalidRole(_) => "invalid_role",
            TokenError::DataTooLong(_) => "data_too_long",
            TokenError::InvalidScope(_) => "invalid_scope",
            TokenError::RestCredential => "rest_credential",
            TokenError::UnknownProject(_) => "unknown_project",
            TokenError::WrongProject { .. } => "wrong_project",
            TokenError::UnknownSession(_) => "unknown_session",
            TokenError::AlgNone => "alg_none",
            TokenError::SecretSignedForApplication(_) => "secret_signed_application",
            TokenError::WrongKeyType(_) => "wrong_key_type",
            TokenError::UnknownKeyId(_) => "unknown_kid",
            TokenError::UnknownApplication(_) => "unknown_application",
            TokenError::WrongSession { .. } => "wrong_session",
        }
    }

    fn malformed(why: impl Into<String>) -> Self {
        TokenError::Malformed(why.into())
    }
}

/// Which kind of credential signed a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Credential {
    /// An OpenTok project's API secret (HS256 JWT or T1).
    #[default]
    Project,
    /// A Vonage application's RSA private key (RS256 JWT).
    Application,
}

/// What a token grants, independent of its format.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenGrant {
    /// The format the token was in.
    pub format: TokenFormat,
    /// The API key of the project (or the ID of the application) that signed it.
    pub project_id: String,
    /// Whether a project secret or an application key signed it.
    pub credential: Credential,
    /// The one session it admits to.
    pub session_id: String,
    /// What the holder may do.
    pub role: Role,
    /// Connection data the app server attached, shown to every other client.
    pub data: Option<String>,
    /// When it stops admitting (Unix seconds).
    pub expire_time: i64,
    /// Layout classes for the holder's streams in composed archives and broadcasts.
    pub initial_layout_class_list: Vec<String>,
}

/// Everything needed to mint a token; see [`mint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintRequest<'a> {
    pub api_key: &'a str,
    pub api_secret: &'a str,
    pub session_id: &'a str,
    pub role: Role,
    /// Unix seconds at which the token is minted.
    pub create_time: i64,
    /// Unix seconds at which it expires.
    pub expire_time: i64,
    pub data: Option<&'a str>,
    pub initial_layout_class_list: &'a [String],
    pub format: TokenFormat,
}

/// Mints a token exactly as the Node SDK does for `format`. No policy is applied here
/// (an SDK validates its inputs first), so tests can mint expired or oversize tokens.
pub fn mint(req: &MintRequest<'_>) -> String {
    let nonce: f64 = rand::random();
    let layout = req.initial_layout_class_list.join(" ");
    match req.format {
        TokenFormat::Jwt => {
            let mut c = Map::new();
            c.insert("iss".into(), req.api_key.into());
            c.insert("ist".into(), "project".into());
            c.insert("iat".into(), req.create_time.into());
            c.insert("exp".into(), req.expire_time.into());
            c.insert("session_id".into(), req.session_id.into());
            c.insert("create_time".into(), req.create_time.into());
            c.insert("nonce".into(), nonce.into());
            c.insert("role".into(), req.role.as_str().into());
            c.insert("expire_time".into(), req.expire_time.into());
            c.insert("initial_layout_class_list".into(), layout.into());
            c.insert("scope".into(), SCOPE.into());
            if let Some(data) = req.data {
                c.insert("connection_data".into(), data.into());
            }
            jwt::sign_hs256(&c, req.api_secret)
        }
        TokenFormat::T1 => {
            let mut fields = vec![
                ("session_id", req.session_id.to_owned()),
                ("create_time", req.create_time.to_string()),
                ("nonce", nonce.to_string()),
                ("role", req.role.as_str().to_owned()),
                ("expire_time", req.expire_time.to_string()),
            ];
            if let Some(data) = req.data {
                fields.push(("connection_data", data.to_owned()));
            }
            fields.push(("initial_layout_class_list", layout));
            fields.push(("scope", SCOPE.to_owned()));
            t1::encode(req.api_key, req.api_secret, &fields)
        }
    }
}

/// Everything needed to mint an application token; see [`mint_application`].
#[derive(Debug, Clone)]
pub struct AppMintRequest<'a> {
    pub application_id: &'a str,
    pub private_key: &'a PrivateKey,
    pub session_id: &'a str,
    pub role: Role,
    /// Unix seconds at which the token is minted.
    pub create_time: i64,
    /// Unix seconds at which it expires.
    pub expire_time: i64,
    pub data: Option<&'a str>,
    pub initial_layout_class_list: &'a [String],
}

/// Mints an application client token exactly as `@vonage/video` 1.31's
/// `generateClientToken` does (RS256, no `kid`). No policy is applied here.
pub fn mint_application(req: &AppMintRequest<'_>) -> String {
    let mut c = Map::new();
    c.insert("scope".into(), SCOPE.into());
    c.insert("session_id".into(), req.session_id.into());
    c.insert("role".into(), req.role.as_str().into());
    c.insert(
        "initial_layout_class_list".into(),
        req.initial_layout_class_list.join(" ").into(),
    );
    c.insert("exp".into(), req.expire_time.into());
    c.insert("sub".into(), "video".into());
    c.insert(
        "acl".into(),
        serde_json::json!({"paths": {"/session/**": {}}}),
    );
    if let Some(data) = req.data {
        c.insert("connection_data".into(), data.into());
    }
    c.insert("jti".into(), app_auth::new_jti().into());
    c.insert("iat".into(), req.create_time.into());
    c.insert("application_id".into(), req.application_id.into());
    jwt::sign_rs256(&c, req.private_key, false)
}

/// A token read but not yet trusted: it knows which project it claims to be from.
#[derive(Debug, Clone)]
pub struct ParsedToken {
    project_id: String,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    Jwt(String),
    T1(t1::T1Token),
    /// A JWT with an `application_id` claim.
    App(String),
}

impl ParsedToken {
    /// Reads a token of either format. Fails only on tokens that are not tokens at all.
    pub fn parse(token: &str) -> Result<Self, TokenError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(TokenError::malformed("token is empty"));
        }
        if token.starts_with(t1::PREFIX) {
            let t = t1::T1Token::parse(token)?;
            return Ok(ParsedToken {
                project_id: t.partner_id.clone(),
                body: Body::T1(t),
            });
        }
        let claims = jwt::peek_claims(token).map_err(|e| match e {
            JwtError::Malformed(why) => TokenError::malformed(why),
            JwtError::BadSignature => TokenError::BadSignature,
        })?;
        if let Some(application_id) = app_auth::peek_application_id(&claims) {
            return Ok(ParsedToken {
                project_id: application_id,
                body: Body::App(token.to_owned()),
            });
        }
        let project_id = match jwt::string(&claims, "iss") {
            Some(Ok(iss)) if !iss.is_empty() => iss,
            _ => {
                return Err(TokenError::malformed(
                    "JWT has no 'iss' claim naming the API key",
                ));
            }
        };
        Ok(ParsedToken {
            project_id,
            body: Body::Jwt(token.to_owned()),
        })
    }

    /// The API key the token claims to be signed by (untrusted until verified).
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The session the token claims to admit to (untrusted until verified): lets a client
    /// join without being told the session ID separately.
    pub fn claimed_session_id(&self) -> Option<String> {
        match &self.body {
            Body::Jwt(token) | Body::App(token) => {
                match jwt::peek_claims(token).ok()?.get("session_id")? {
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                }
            }
            Body::T1(t) => t
                .fields
                .iter()
                .find(|(k, _)| k == "session_id")
                .map(|(_, v)| v.clone()),
        }
    }

    /// The token format.
    pub fn format(&self) -> TokenFormat {
        match self.body {
            Body::Jwt(_) | Body::App(_) => TokenFormat::Jwt,
            Body::T1(_) => TokenFormat::T1,
        }
    }

    /// Whether the token claims a Vonage application (an `application_id` claim): it must
    /// then be checked with [`ParsedToken::verify_application`], never with a secret.
    pub fn is_application(&self) -> bool {
        matches!(self.body, Body::App(_))
    }

    /// Checks an application token: RS256 by one of `keys` (the one its `kid` names, if
    /// any), then expiry at `now`, role, scope and connection data, as for the other kinds.
    pub fn verify_application(
        self,
        keys: &[PublicKey],
        now: i64,
    ) -> Result<TokenGrant, TokenError> {
        let Body::App(token) = self.body else {
            return Err(TokenError::malformed(
                "this token is signed with a project secret, not an application key",
            ));
        };
        let claims = jwt::verify_rs256(&token, keys).map_err(|e| match e {
            AppJwtError::Malformed(why) => TokenError::malformed(why),
            AppJwtError::AlgNone => TokenError::AlgNone,
            AppJwtError::SecretSigned(_) => {
                TokenError::SecretSignedForApplication(self.project_id.clone())
            }
            AppJwtError::WrongKeyType(alg) => TokenError::WrongKeyType(alg),
            AppJwtError::UnknownKid(kid) => TokenError::UnknownKeyId(kid),
            AppJwtError::NoKeys | AppJwtError::BadSignature => TokenError::BadSignature,
        })?;
        if jwt::client_token_claim(&claims).is_none() {
            return Err(TokenError::RestCredential);
        }
        let mut grant =
            Fields::from_jwt(&claims)?.into_grant(TokenFormat::Jwt, self.project_id, now)?;
        grant.credential = Credential::Application;
        Ok(grant)
    }

    /// Checks the signature against `api_secret`, then expiry at `now` (Unix seconds), role,
    /// scope and connection data; returns what the token grants.
    pub fn verify(self, api_secret: &str, now: i64) -> Result<TokenGrant, TokenError> {
        let format = self.format();
        let fields = match self.body {
            Body::App(_) => {
                return Err(TokenError::UnknownApplication(self.project_id));
            }
            Body::Jwt(token) => {
                let claims = jwt::verify_hs256(&token, api_secret).map_err(|e| match e {
                    JwtError::Malformed(why) => TokenError::malformed(why),
                    JwtError::BadSignature => TokenError::BadSignature,
                })?;
                if jwt::client_token_claim(&claims).is_none() {
                    return Err(TokenError::RestCredential);
                }
                Fields::from_jwt(&claims)?
            }
            Body::T1(t) => {
                t.check_signature(api_secret)?;
                Fields::from_form(t.fields)?
            }
        };
        fields.into_grant(format, self.project_id, now)
    }
}

/// The claims of either format, as strings and numbers, before policy is applied.
#[derive(Default)]
struct Fields {
    session_id: Option<String>,
    role: Option<String>,
    exp: Option<i64>,
    expire_time: Option<i64>,
    create_time: Option<i64>,
    data: Option<String>,
    layout: Vec<String>,
    scope: Option<String>,
    ist: Option<String>,
}

impl Fields {
    fn from_jwt(c: &Map<String, Value>) -> Result<Self, TokenError> {
        let text = |name: &str| -> Result<Option<String>, TokenError> {
            match jwt::string(c, name) {
                None => Ok(None),
                Some(Ok(s)) => Ok(Some(s)),
                Some(Err(())) => Err(TokenError::malformed(format!("'{name}' is not a string"))),
            }
        };
        let secs = |name: &str| -> Result<Option<i64>, TokenError> {
            match jwt::seconds(c, name) {
                None => Ok(None),
                Some(Ok(v)) => Ok(Some(v)),
                Some(Err(())) => Err(TokenError::malformed(format!("'{name}' is not a number"))),
            }
        };
        let layout = match c.get("initial_layout_class_list") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => split_classes(s),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    TokenError::malformed("'initial_layout_class_list' has a non-string item")
                })?,
            Some(_) => {
                return Err(TokenError::malformed(
                    "'initial_layout_class_list' is not a string",
                ));
            }
        };
        Ok(Fields {
            session_id: text("session_id")?,
            role: text("role")?,
            exp: secs("exp")?,
            expire_time: secs("expire_time")?,
            create_time: secs("create_time")?,
            data: text("connection_data")?,
            layout,
            scope: text("scope")?,
            ist: text("ist")?,
        })
    }

    fn from_form(pairs: Vec<(String, String)>) -> Result<Self, TokenError> {
        let mut f = Fields::default();
        for (key, value) in pairs {
            let number = |v: &str| {
                v.parse::<f64>()
                    .map(|x| x as i64)
                    .map_err(|_| TokenError::malformed(format!("'{key}' is not a number")))
            };
            let slot_taken = match key.as_str() {
                "session_id" => f.session_id.replace(value).is_some(),
                "role" => f.role.replace(value).is_some(),
                "expire_time" => f.expire_time.replace(number(&value)?).is_some(),
                "create_time" => f.create_time.replace(number(&value)?).is_some(),
                "connection_data" => f.data.replace(value).is_some(),
                "scope" => f.scope.replace(value).is_some(),
                "initial_layout_class_list" => {
                    let taken = !f.layout.is_empty();
                    f.layout = split_classes(&value);
                    taken
                }
                _ => false, // nonce and fields of future SDKs
            };
            if slot_taken {
                return Err(TokenError::malformed(format!(
                    "field '{key}' appears twice"
                )));
            }
        }
        Ok(f)
    }

    fn into_grant(
        self,
        format: TokenFormat,
        project_id: String,
        now: i64,
    ) -> Result<TokenGrant, TokenError> {
        if let Some(ist) = &self.ist
            && ist != "project"
        {
            return Err(TokenError::malformed(format!(
                "'ist' is '{ist}', not 'project'"
            )));
        }
        let session_id = self
            .session_id
            .filter(|s| !s.is_empty())
            .ok_or_else(|| TokenError::malformed("token has no session_id"))?;
        // The earliest of the stated expiries wins; a T1 token without one lasts the
        // documented default from its creation.
        let expire_time = match (self.exp, self.expire_time) {
            (Some(a), Some(b)) => a.min(b),
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => self
                .create_time
                .map(|c| c.saturating_add(crate::limits::DEFAULT_TOKEN_TTL_SECS))
                .ok_or_else(|| TokenError::malformed("token has no expiry"))?,
        };
        if expire_time <= now {
            return Err(TokenError::Expired {
                expired_at: expire_time,
                now,
            });
        }
        // The documented maximum lifetime, with the REST clock skew as slack.
        if expire_time > now + MAX_TOKEN_TTL_SECS + REST_AUTH_SKEW_SECS {
            return Err(TokenError::LifetimeTooLong { expire_time, now });
        }
        let role = match self.role.as_deref() {
            None | Some("") => Role::default(),
            Some(r) => r
                .parse()
                .map_err(|_| TokenError::InvalidRole(r.to_owned()))?,
        };
        if let Some(scope) = self.scope
            && scope != SCOPE
        {
            return Err(TokenError::InvalidScope(scope));
        }
        let data = self.data.filter(|d| !d.is_empty());
        if let Some(d) = &data {
            let chars = d.chars().count();
            if chars > MAX_CONNECTION_DATA_CHARS {
                return Err(TokenError::DataTooLong(chars));
            }
        }
        Ok(TokenGrant {
            format,
            project_id,
            credential: Credential::Project,
            session_id,
            role,
            data,
            expire_time,
            initial_layout_class_list: self.layout,
        })
    }
}

fn split_classes(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests;
