//! The Rust server SDK for Parlor.
//!
//! An app server uses it to create sessions and mint the client tokens that let its users
//! join them. It speaks the OpenTok REST wire format, so it works against any Parlor server
//! (and the calls it makes are the ones the official OpenTok SDKs make).
//!
//! ```no_run
//! use parlor_sdk::{Parlor, Role, SessionOptions, TokenOptions};
//!
//! # async fn run() -> Result<(), parlor_sdk::Error> {
//! let parlor = Parlor::new("47001234", "0123456789abcdef", "http://127.0.0.1:7600")?;
//! let session = parlor.create_session(SessionOptions::default()).await?;
//! let token = parlor.generate_token(
//!     &session.session_id,
//!     TokenOptions { role: Role::Moderator, data: Some("name=Ann".into()), ..Default::default() },
//! )?;
//! println!("join {} with {token}", session.session_id);
//! # Ok(())
//! # }
//! ```
//!
//! Tokens are minted offline from the API key and secret; no request is made.
//!
//! A Vonage application (an application ID and its RSA private key) works the same way
//! with [`Parlor::with_application`]: REST calls carry `Authorization: Bearer` with an
//! RS256 JWT, and tokens are the RS256 client tokens `@vonage/video` mints.
//!
//! ```no_run
//! # async fn run() -> Result<(), parlor_sdk::Error> {
//! let pem = std::fs::read_to_string("private.key").unwrap();
//! let parlor = parlor_sdk::Parlor::with_application(
//!     "0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f", &pem, "https://video.example.com")?;
//! let session = parlor.create_session(Default::default()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Archives (recordings) are started, stopped, listed and downloaded with the calls in
//! [`archives`] (re-exported here).

use std::net::Ipv4Addr;
use std::time::Duration;

use parlor_proto::app_auth::{self, PrivateKey};
use parlor_proto::limits::{
    ARCHIVE_RESOLUTIONS, DEFAULT_TOKEN_TTL_SECS, MAX_ARCHIVE_NAME_CHARS, MAX_CONNECTION_DATA_CHARS,
    MAX_TOKEN_TTL_SECS,
};
use parlor_proto::{project_auth, session_id, token};
use serde::Deserialize;

pub mod archives;
pub mod broadcasts;

pub use archives::{
    Archive, ArchiveLayout, ArchiveList, ArchiveOptions, ArchiveStatus, ArchiveStream, LayoutType,
    ListArchives, OutputMode, ParseEnumError, StreamMode,
};
pub use broadcasts::{
    Broadcast, BroadcastList, BroadcastOptions, BroadcastStatus, BroadcastUrls, HlsOptions,
    ListBroadcasts, RtmpTarget,
};
pub use parlor_proto::Role;
pub use parlor_proto::token::TokenFormat;

/// The environment variable naming a PEM file of extra CA certificates to trust for
/// `https://` servers (beside the system's), as the native client does for `wss://`.
pub const CA_FILE_ENV: &str = "PARLOR_CA_FILE";

/// How long a REST authentication token lives (the Node SDK's choice).
const REST_AUTH_TTL_SECS: i64 = 300;

/// Everything that can go wrong in the SDK.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An argument was refused before any request was made.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The server refused the credentials (HTTP 401 or 403).
    #[error("authentication failed ({status}): {message}")]
    Auth { status: u16, message: String },
    /// The server does not know the thing named (HTTP 404).
    #[error("not found: {message}")]
    NotFound { message: String },
    /// The server refused the request for another reason.
    #[error("request failed ({status}): {message}")]
    Request { status: u16, message: String },
    /// The request did not complete (connection refused, timeout, …).
    #[error("could not reach the server: {0}")]
    Http(#[from] reqwest::Error),
    /// The server answered 2xx with something this SDK does not understand.
    #[error("unexpected response from the server: {0}")]
    UnexpectedResponse(String),
    /// Writing a download failed.
    #[error("could not write the download: {0}")]
    Io(#[from] std::io::Error),
}

/// Whether media goes through the server's router (`Routed`) or, where the server allows
/// it, directly between clients (`Relayed`). Parlor routes by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaMode {
    #[default]
    Routed,
    Relayed,
}

/// Whether sessions are recorded automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArchiveMode {
    #[default]
    Manual,
    Always,
}

/// Options for [`Parlor::create_session`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionOptions {
    pub media_mode: MediaMode,
    pub archive_mode: ArchiveMode,
    /// A location hint (the IPv4 address of the expected first client).
    pub location: Option<Ipv4Addr>,
    /// End-to-end encryption (routed sessions only; not with `ArchiveMode::Always`).
    pub e2ee: bool,
    /// Name of the automatic archives (`ArchiveMode::Always` only; 1–80 characters).
    pub archive_name: Option<String>,
    /// Resolution of the automatic archives (`ArchiveMode::Always` only), e.g. `1280x720`.
    pub archive_resolution: Option<String>,
}

/// A session the server created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The ID clients join with.
    pub session_id: String,
    /// The project (API key) owning it.
    pub project_id: String,
    /// Creation time as the server formats it.
    pub create_dt: String,
    /// The media server's URL, where the server reports one.
    pub media_server_url: String,
    /// The options it was created with.
    pub options: SessionOptions,
}

/// Options for [`Parlor::generate_token`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenOptions {
    pub role: Role,
    /// Expiry as Unix seconds; default 24 hours from now, at most 30 days.
    pub expire_time: Option<i64>,
    /// Connection data shown to other clients (at most 1000 characters).
    pub data: Option<String>,
    /// Layout classes for the client's streams in composed recordings.
    pub initial_layout_class_list: Vec<String>,
    /// JWT (default) or legacy T1.
    pub format: TokenFormat,
}

/// A client for one project (or Vonage application) on one server.
#[derive(Debug, Clone)]
pub struct Parlor {
    /// The API key, or the application ID.
    api_key: String,
    signer: Signer,
    api_url: String,
    http: reqwest::Client,
}

/// What signs REST JWTs and client tokens.
#[derive(Clone)]
enum Signer {
    /// An OpenTok project's API secret (HS256, `X-OPENTOK-AUTH`).
    Secret(String),
    /// A Vonage application's RSA private key (RS256, `Authorization: Bearer`).
    Application(Box<PrivateKey>),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::Secret(_) => f.write_str("Secret([redacted])"),
            Signer::Application(key) => f.debug_tuple("Application").field(key).finish(),
        }
    }
}

fn check_url_and_client(api_url: &str) -> Result<(String, reqwest::Client), Error> {
    let api_url = api_url.trim_end_matches('/').to_owned();
    if !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
        return Err(Error::InvalidArgument(format!(
            "API URL must start with http:// or https://, got '{api_url}'"
        )));
    }
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        // A kept-alive connection idle this long is not reused: the server closes one idle
        // for 10 s (`--http-header-timeout`), and a request sent on it just as it closes
        // fails ("connection closed before message completed").
        .pool_idle_timeout(Duration::from_secs(5))
        .user_agent(concat!("parlor-sdk-rust/", env!("CARGO_PKG_VERSION")));
    // A private CA (a self-signed server on a LAN): trusted beside the system's roots.
    if let Some(path) = std::env::var_os(CA_FILE_ENV) {
        let pem = std::fs::read(&path).map_err(|e| {
            Error::InvalidArgument(format!("{CA_FILE_ENV}={}: {e}", path.to_string_lossy()))
        })?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Error::InvalidArgument(format!("{CA_FILE_ENV}={}: {e}", path.to_string_lossy()))
        })? {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok((api_url, builder.build()?))
}

impl Parlor {
    /// A client for the project `api_key` on the server at `api_url` (e.g.
    /// `http://127.0.0.1:7600`).
    pub fn new(
        api_key: impl Into<String>,
        api_secret: impl Into<String>,
        api_url: impl AsRef<str>,
    ) -> Result<Self, Error> {
        let api_key = api_key.into();
        let api_secret = api_secret.into();
        if api_key.is_empty() || !api_key.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidArgument(format!(
                "API key must be digits, got '{api_key}'"
            )));
        }
        if api_secret.is_empty() {
            return Err(Error::InvalidArgument("API secret is empty".into()));
        }
        let (api_url, http) = check_url_and_client(api_url.as_ref())?;
        Ok(Parlor {
            api_key,
            signer: Signer::Secret(api_secret),
            api_url,
            http,
        })
    }

    /// A client for the Vonage application `application_id` (a UUID), signing with its RSA
    /// private key (PEM, PKCS#8 as Vonage hands it out, or PKCS#1).
    pub fn with_application(
        application_id: impl Into<String>,
        private_key_pem: &str,
        api_url: impl AsRef<str>,
    ) -> Result<Self, Error> {
        let application_id = application_id.into();
        if !app_auth::is_application_id(&application_id) {
            return Err(Error::InvalidArgument(format!(
                "application ID must be a UUID, got '{application_id}'"
            )));
        }
        let key = PrivateKey::from_pem(private_key_pem)
            .map_err(|e| Error::InvalidArgument(format!("private key: {e}")))?;
        let (api_url, http) = check_url_and_client(api_url.as_ref())?;
        Ok(Parlor {
            api_key: application_id,
            signer: Signer::Application(Box::new(key)),
            api_url,
            http,
        })
    }

    /// Uses `http` for every request: e.g. one that trusts a private CA
    /// (`reqwest::Certificate`) for a server with a self-signed certificate.
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// The project's API key, or the application ID.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Creates a session on the server.
    pub async fn create_session(&self, options: SessionOptions) -> Result<Session, Error> {
        let form = session_form(&options)?;
        let response = self
            .authed(
                reqwest::Method::POST,
                format!("{}/session/create", self.api_url),
            )
            .form(&form)
            .send()
            .await?;
        #[derive(Deserialize)]
        struct Created {
            session_id: String,
            project_id: String,
            #[serde(default)]
            create_dt: String,
            #[serde(default)]
            media_server_url: String,
        }
        let created: Vec<Created> = read_json(response).await?;
        let created = created
            .into_iter()
            .next()
            .ok_or_else(|| Error::UnexpectedResponse("empty session list".into()))?;
        Ok(Session {
            session_id: created.session_id,
            project_id: created.project_id,
            create_dt: created.create_dt,
            media_server_url: created.media_server_url,
            options,
        })
    }

    /// Mints a client token for `session_id` (offline: no request is made).
    pub fn generate_token(&self, session_id: &str, options: TokenOptions) -> Result<String, Error> {
        let parts = session_id::decode(session_id)
            .map_err(|e| Error::InvalidArgument(format!("session ID: {e}")))?;
        if parts.api_key != self.api_key {
            return Err(Error::InvalidArgument(format!(
                "session {session_id} belongs to project {}, not {}",
                parts.api_key, self.api_key
            )));
        }
        let now = parlor_proto::unix_now();
        let expire_time = options.expire_time.unwrap_or(now + DEFAULT_TOKEN_TTL_SECS);
        if expire_time <= now {
            return Err(Error::InvalidArgument(format!(
                "expire_time {expire_time} is in the past"
            )));
        }
        if expire_time > now + MAX_TOKEN_TTL_SECS {
            return Err(Error::InvalidArgument(format!(
                "expire_time {expire_time} is more than 30 days ahead"
            )));
        }
        if let Some(data) = &options.data {
            let chars = data.chars().count();
            if chars > MAX_CONNECTION_DATA_CHARS {
                return Err(Error::InvalidArgument(format!(
                    "data is {chars} characters; the limit is {MAX_CONNECTION_DATA_CHARS}"
                )));
            }
        }
        if let Some(bad) = options
            .initial_layout_class_list
            .iter()
            .find(|c| c.is_empty() || c.contains(char::is_whitespace))
        {
            return Err(Error::InvalidArgument(format!(
                "layout class '{bad}' must be non-empty and without spaces"
            )));
        }
        match &self.signer {
            Signer::Secret(api_secret) => Ok(token::mint(&token::MintRequest {
                api_key: &self.api_key,
                api_secret,
                session_id,
                role: options.role,
                create_time: now,
                expire_time,
                data: options.data.as_deref(),
                initial_layout_class_list: &options.initial_layout_class_list,
                format: options.format,
            })),
            Signer::Application(_) if options.format == TokenFormat::T1 => {
                Err(Error::InvalidArgument(
                    "an application's tokens are RS256 JWTs; the T1 format needs an API secret"
                        .into(),
                ))
            }
            Signer::Application(key) => Ok(token::mint_application(&token::AppMintRequest {
                application_id: &self.api_key,
                private_key: key,
                session_id,
                role: options.role,
                create_time: now,
                expire_time,
                data: options.data.as_deref(),
                initial_layout_class_list: &options.initial_layout_class_list,
            })),
        }
    }

    /// The REST authentication header: name and value.
    fn rest_auth(&self) -> (&'static str, String) {
        let now = parlor_proto::unix_now();
        match &self.signer {
            Signer::Secret(api_secret) => (
                project_auth::HEADER,
                project_auth::mint(&self.api_key, api_secret, now, REST_AUTH_TTL_SECS),
            ),
            Signer::Application(key) => (
                app_auth::HEADER,
                format!(
                    "Bearer {}",
                    app_auth::mint(&self.api_key, key, now, REST_AUTH_TTL_SECS)
                ),
            ),
        }
    }
}

/// The form the OpenTok SDKs post to `/session/create`, after the same checks.
fn session_form(o: &SessionOptions) -> Result<Vec<(&'static str, String)>, Error> {
    let always = o.archive_mode == ArchiveMode::Always;
    if always && o.media_mode == MediaMode::Relayed {
        return Err(Error::InvalidArgument(
            "archive mode 'always' needs the routed media mode".into(),
        ));
    }
    if o.e2ee && (o.media_mode == MediaMode::Relayed || always) {
        return Err(Error::InvalidArgument(
            "e2ee needs the routed media mode and manual archiving".into(),
        ));
    }
    let mut form = vec![
        (
            "p2p.preference",
            match o.media_mode {
                MediaMode::Routed => "disabled",
                MediaMode::Relayed => "enabled",
            }
            .to_owned(),
        ),
        (
            "archiveMode",
            if always { "always" } else { "manual" }.to_owned(),
        ),
        ("e2ee", o.e2ee.to_string()),
    ];
    if let Some(location) = o.location {
        form.push(("location", location.to_string()));
    }
    if let Some(name) = &o.archive_name {
        let n = name.chars().count();
        if !always || n == 0 || n > MAX_ARCHIVE_NAME_CHARS {
            return Err(Error::InvalidArgument(
                "archive_name needs archive mode 'always' and 1–80 characters".into(),
            ));
        }
        form.push(("archiveName", name.clone()));
    }
    if let Some(res) = &o.archive_resolution {
        if !always || !ARCHIVE_RESOLUTIONS.contains(&res.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "archive_resolution needs archive mode 'always' and one of {ARCHIVE_RESOLUTIONS:?}"
            )));
        }
        form.push(("archiveResolution", res.clone()));
    }
    Ok(form)
}

async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, Error> {
    let status = response.status().as_u16();
    let body = response.text().await?;
    if (200..300).contains(&status) {
        return serde_json::from_str(&body).map_err(|e| Error::UnexpectedResponse(e.to_string()));
    }
    Err(status_error(status, &body))
}

/// The error for a non-2xx `status`: the message of an OpenTok error body
/// (`{"code":…,"message":…}`), else the body itself.
fn status_error(status: u16, body: &str) -> Error {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: String,
    }
    let message = serde_json::from_str::<ErrorBody>(body)
        .map(|b| b.message)
        .unwrap_or_else(|_| body.to_owned());
    match status {
        401 | 403 => Error::Auth { status, message },
        404 => Error::NotFound { message },
        _ => Error::Request { status, message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdk() -> Parlor {
        Parlor::new("47001234", "abcdef0123", "http://127.0.0.1:1/").unwrap()
    }

    #[test]
    fn with_application_validates_and_mints_rs256() {
        use parlor_proto::app_auth::test_keys;
        let app = "0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f";
        assert!(Parlor::with_application("12345", test_keys::PRIVATE_A, "http://x").is_err());
        assert!(Parlor::with_application(app, test_keys::PUBLIC_A, "http://x").is_err());
        assert!(Parlor::with_application(app, test_keys::EC_PRIVATE, "http://x").is_err());
        let p = Parlor::with_application(app, test_keys::PRIVATE_A, "http://127.0.0.1:1").unwrap();
        // Debug never shows key material.
        assert!(!format!("{p:?}").contains("MII"));
        let sid = session_id::generate(app, None, 0);
        let token = p
            .generate_token(
                &sid,
                TokenOptions {
                    role: Role::Moderator,
                    ..Default::default()
                },
            )
            .unwrap();
        let key = parlor_proto::app_auth::PublicKey::from_pem(test_keys::PUBLIC_A).unwrap();
        let grant = token::ParsedToken::parse(&token)
            .unwrap()
            .verify_application(std::slice::from_ref(&key), parlor_proto::unix_now())
            .unwrap();
        assert_eq!(
            (grant.role, grant.project_id.as_str()),
            (Role::Moderator, app)
        );
        // T1 needs a secret; another project's session is refused.
        let t1 = TokenOptions {
            format: TokenFormat::T1,
            ..Default::default()
        };
        assert!(p.generate_token(&sid, t1).is_err());
        let other = session_id::generate("47001234", None, 0);
        assert!(p.generate_token(&other, TokenOptions::default()).is_err());
        // The REST header is a Bearer RS256 JWT that verifies with the public key.
        let (name, value) = p.rest_auth();
        assert_eq!(name, "Authorization");
        let jwt = value.strip_prefix("Bearer ").unwrap();
        parlor_proto::app_auth::verify(jwt, &[key], parlor_proto::unix_now()).unwrap();
    }

    #[test]
    fn new_validates() {
        assert!(Parlor::new("abc", "s", "http://x").is_err());
        assert!(Parlor::new("1", "", "http://x").is_err());
        assert!(Parlor::new("1", "s", "ftp://x").is_err());
        assert_eq!(sdk().api_url, "http://127.0.0.1:1");
    }

    #[test]
    fn tokens_are_checked_before_minting() {
        let p = sdk();
        let sid = session_id::generate("47001234", None, 0);
        let other = session_id::generate("99", None, 0);
        assert!(p.generate_token(&sid, TokenOptions::default()).is_ok());
        assert!(p.generate_token(&other, TokenOptions::default()).is_err());
        assert!(
            p.generate_token("nonsense", TokenOptions::default())
                .is_err()
        );
        let too_long = TokenOptions {
            data: Some("x".repeat(1001)),
            ..Default::default()
        };
        assert!(p.generate_token(&sid, too_long).is_err());
        let past = TokenOptions {
            expire_time: Some(1),
            ..Default::default()
        };
        assert!(p.generate_token(&sid, past).is_err());
    }

    #[test]
    fn session_options_are_checked() {
        let bad = SessionOptions {
            media_mode: MediaMode::Relayed,
            archive_mode: ArchiveMode::Always,
            ..Default::default()
        };
        assert!(session_form(&bad).is_err());
        let name_manual = SessionOptions {
            archive_name: Some("x".into()),
            ..Default::default()
        };
        assert!(session_form(&name_manual).is_err());
        let ok = SessionOptions {
            archive_mode: ArchiveMode::Always,
            archive_name: Some("daily".into()),
            archive_resolution: Some("1280x720".into()),
            location: Some(Ipv4Addr::new(1, 2, 3, 4)),
            ..Default::default()
        };
        let form = session_form(&ok).unwrap();
        assert!(form.contains(&("p2p.preference", "disabled".into())));
        assert!(form.contains(&("location", "1.2.3.4".into())));
    }
}

/// A stream of a live session, as the REST API describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamInfo {
    pub id: String,
    /// `camera`, `screen` or `custom`.
    pub video_type: String,
    pub name: String,
    pub layout_class_list: Vec<String>,
}

/// Server-side control of live sessions (the OpenTok moderation and signaling calls).
impl Parlor {
    fn project_url(&self, path: &str) -> String {
        format!("{}/v2/project/{}{path}", self.api_url, self.api_key)
    }

    /// A request to `path` under this project's `/v2/project/{key}` prefix.
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.authed(method, self.project_url(path))
    }

    /// A request to `url` with the project's REST authentication, asking for JSON.
    fn authed(&self, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
        let (header, value) = self.rest_auth();
        self.http
            .request(method, url)
            .header(header, value)
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Sends a signal to every client of a session, or to one connection.
    pub async fn signal(
        &self,
        session_id: &str,
        connection_id: Option<&str>,
        signal_type: &str,
        data: &str,
    ) -> Result<(), Error> {
        let path = match connection_id {
            Some(c) => format!("/session/{session_id}/connection/{c}/signal"),
            None => format!("/session/{session_id}/signal"),
        };
        let body = serde_json::json!({ "type": signal_type, "data": data });
        let response = self
            .request(reqwest::Method::POST, &path)
            .json(&body)
            .send()
            .await?;
        read_empty(response).await
    }

    /// Ends a client's connection (the others see `forceDisconnected`).
    pub async fn force_disconnect(
        &self,
        session_id: &str,
        connection_id: &str,
    ) -> Result<(), Error> {
        let path = format!("/session/{session_id}/connection/{connection_id}");
        read_empty(self.request(reqwest::Method::DELETE, &path).send().await?).await
    }

    /// Mutes one stream's audio.
    pub async fn mute_stream(&self, session_id: &str, stream_id: &str) -> Result<(), Error> {
        let path = format!("/session/{session_id}/stream/{stream_id}/mute");
        read_empty(self.request(reqwest::Method::POST, &path).send().await?).await
    }

    /// Mutes every stream but the excluded ones, and streams published later, until
    /// [`Parlor::disable_force_mute`].
    pub async fn mute_all(
        &self,
        session_id: &str,
        excluded_stream_ids: &[String],
    ) -> Result<(), Error> {
        let body = serde_json::json!({ "active": true, "excludedStreamIds": excluded_stream_ids });
        self.post_mute_all(session_id, body).await
    }

    /// Lifts "mute all": streams published from now on are not muted.
    pub async fn disable_force_mute(&self, session_id: &str) -> Result<(), Error> {
        self.post_mute_all(session_id, serde_json::json!({ "active": false }))
            .await
    }

    async fn post_mute_all(&self, session_id: &str, body: serde_json::Value) -> Result<(), Error> {
        let path = format!("/session/{session_id}/mute");
        let request = self.request(reqwest::Method::POST, &path).json(&body);
        read_empty(request.send().await?).await
    }

    /// The server's live counters (`GET /v1/stats`): rooms, transports and the media
    /// router's datagram, RTP and timer counters. Parlor-only; not part of the OpenTok API.
    pub async fn stats(&self) -> Result<serde_json::Value, Error> {
        let url = format!("{}/v1/stats", self.api_url);
        read_json(self.authed(reqwest::Method::GET, url).send().await?).await
    }

    /// The streams of a live session.
    pub async fn list_streams(&self, session_id: &str) -> Result<Vec<StreamInfo>, Error> {
        #[derive(Deserialize)]
        struct List {
            items: Vec<StreamInfo>,
        }
        let path = format!("/session/{session_id}/stream");
        let list: List = read_json(self.request(reqwest::Method::GET, &path).send().await?).await?;
        Ok(list.items)
    }

    /// One stream of a live session.
    pub async fn get_stream(&self, session_id: &str, stream_id: &str) -> Result<StreamInfo, Error> {
        let path = format!("/session/{session_id}/stream/{stream_id}");
        read_json(self.request(reqwest::Method::GET, &path).send().await?).await
    }

    /// Sets the layout class lists of streams (all or none).
    pub async fn set_stream_class_lists(
        &self,
        session_id: &str,
        items: &[(&str, Vec<String>)],
    ) -> Result<(), Error> {
        let items: Vec<serde_json::Value> = items
            .iter()
            .map(|(id, classes)| serde_json::json!({ "id": id, "layoutClassList": classes }))
            .collect();
        let path = format!("/session/{session_id}/stream");
        let response = self
            .request(reqwest::Method::PUT, &path)
            .json(&serde_json::json!({ "items": items }))
            .send()
            .await?;
        read_empty(response).await
    }
}

/// A response whose body does not matter, only its status.
async fn read_empty(response: reqwest::Response) -> Result<(), Error> {
    if response.status().is_success() {
        return Ok(());
    }
    read_json::<serde_json::Value>(response).await.map(|_| ())
}
