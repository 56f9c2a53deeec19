//! `parlor serve` configuration: flags, `PARLOR_*` environment variables and an optional
//! TOML file, in that order of precedence, over embedded defaults.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use crate::archives::ArchiveLimits;
pub use crate::limits::{Rates, SessionCaps};
pub use crate::turn::{TurnConfigError, TurnSecret, TurnSettings};

/// Default HTTP + WebSocket address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7600";
/// Default UDP port for WebRTC media.
pub const DEFAULT_MEDIA_PORT: u16 = 7601;
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./parlor-data";
/// Default time a client has to send a request's headers (and, on a kept-alive
/// connection, the next request's), in seconds.
pub const DEFAULT_HTTP_HEADER_TIMEOUT_SECS: u64 = 10;
/// Default time a client has to send a request's whole body, in seconds.
pub const DEFAULT_HTTP_BODY_TIMEOUT_SECS: u64 = 30;
/// Default cap on open HTTP connections from one source address.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 500;
/// How long quality windows are kept by default.
pub const DEFAULT_QUALITY_RETENTION: std::time::Duration =
    std::time::Duration::from_secs(3 * 86_400);
/// How often media quality is sampled by default.
pub const DEFAULT_QUALITY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
/// A client that lost its network has this long to resume (OpenTok's clients try for
/// about as long).
pub const DEFAULT_RECONNECT_GRACE: std::time::Duration = std::time::Duration::from_secs(20);
/// Audio levels are read four times a second: a speaker is announced within half a second.
pub const DEFAULT_SPEAKER_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);
/// How long a session may stay empty and still continue its meeting (OpenTok's 10 minutes).
pub const DEFAULT_MEETING_GAP: std::time::Duration = std::time::Duration::from_secs(600);
/// How long session history is kept by default (OpenTok's Inspector keeps 20 days).
pub const DEFAULT_HISTORY_RETENTION: std::time::Duration =
    std::time::Duration::from_secs(20 * 86_400);
/// The database file inside the data directory.
pub const DB_FILE: &str = "parlor.db";

/// Flags of `parlor serve`. Every one can also be set as an environment variable or in the
/// `--config` file (same name, with `_` for `-`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// TOML file with any of the settings below.
    #[arg(long, env = "PARLOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// HTTP and WebSocket listen address [default: 127.0.0.1:7600].
    #[arg(long, env = "PARLOR_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// UDP port for WebRTC media [default: 7601].
    #[arg(long, env = "PARLOR_MEDIA_PORT")]
    pub media_port: Option<u16>,
    /// TCP port for WebRTC media over ICE-TCP, for clients that cannot use UDP, or `off`
    /// [default: the media port's number].
    #[arg(long, env = "PARLOR_MEDIA_TCP_PORT")]
    pub media_tcp_port: Option<MediaTcpPort>,
    /// Where the database and recordings live [default: ./parlor-data].
    #[arg(long, env = "PARLOR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The project's API key (digits). Created on first start if not given.
    #[arg(long, env = "PARLOR_API_KEY")]
    pub api_key: Option<String>,
    /// The project's API secret. Created on first start if not given.
    #[arg(long, env = "PARLOR_API_SECRET", hide_env_values = true)]
    pub api_secret: Option<String>,
    /// The IP address to advertise to WebRTC clients (default: the listen address's).
    #[arg(long, env = "PARLOR_PUBLIC_IP")]
    pub public_ip: Option<IpAddr>,
    /// Log filter: error, warn, info, debug, trace, or a tracing directive [default: info].
    #[arg(long, env = "PARLOR_LOG")]
    pub log: Option<String>,
    /// Log lines as `text` (for people) or `json` (one object a line, for log pipelines)
    /// [default: text].
    #[arg(long, env = "PARLOR_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// URL receiving every session-monitoring callback (signed JSON POSTs).
    #[arg(long, env = "PARLOR_CALLBACK_URL")]
    pub callback_url: Option<String>,
    /// Serve the demo app and its dev-only session endpoint even on a public address.
    #[arg(long, env = "PARLOR_DEMO", conflicts_with = "no_demo")]
    pub demo: bool,
    /// Never serve the demo app (its pages and its dev-only session endpoint).
    #[arg(long, env = "PARLOR_NO_DEMO")]
    pub no_demo: bool,
    /// Seconds a client has to send a request's headers, and to start the next request on
    /// an idle kept-alive connection [default: 10].
    #[arg(long, env = "PARLOR_HTTP_HEADER_TIMEOUT")]
    pub http_header_timeout: Option<u64>,
    /// Seconds a client has to send a request's whole body [default: 30].
    #[arg(long, env = "PARLOR_HTTP_BODY_TIMEOUT")]
    pub http_body_timeout: Option<u64>,
    /// Most open HTTP connections from one source IP address [default: 500].
    #[arg(long, env = "PARLOR_MAX_CONNECTIONS_PER_IP")]
    pub max_connections_per_ip: Option<usize>,
    /// REST requests per second per credential (project or application), with bursts of
    /// twice as many; past it the answer is 429 with Retry-After [default: 100].
    #[arg(long, env = "PARLOR_REST_RATE_LIMIT")]
    pub rest_rate_limit: Option<u32>,
    /// Signals per second per client connection, with bursts of twice as many; past it a
    /// signal is refused (limitExceeded, reason rate_limited) [default: 50].
    #[arg(long, env = "PARLOR_SIGNAL_RATE_LIMIT")]
    pub signal_rate_limit: Option<u32>,
    /// Most connections in one session; the next connect is refused (OpenTok.js:
    /// OT_CONNECTION_LIMIT_EXCEEDED) [default: 2000].
    #[arg(long, env = "PARLOR_MAX_CONNECTIONS_PER_SESSION")]
    pub max_connections_per_session: Option<usize>,
    /// Most streams published in one session at once; the next publish is refused
    /// (OpenTok.js: OT_STREAM_LIMIT_EXCEEDED) [default: 250].
    #[arg(long, env = "PARLOR_MAX_STREAMS_PER_SESSION")]
    pub max_streams_per_session: Option<usize>,
    /// Most subscriptions in one session at once, over all its clients [default: 10000].
    #[arg(long, env = "PARLOR_MAX_SUBSCRIPTIONS_PER_SESSION")]
    pub max_subscriptions_per_session: Option<usize>,
    /// Bearer token a Prometheus scraper sends for `/metrics` (at least 16 characters);
    /// without it `/metrics` takes a project's REST credentials only.
    #[arg(long, env = "PARLOR_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Publishing time after which an archive stops, e.g. 90m or 4h; it also stops after
    /// three times this including paused time [default: 4h].
    #[arg(long, env = "PARLOR_ARCHIVE_MAX_DURATION")]
    pub archive_max_duration: Option<String>,
    /// How long an archive stays paused (nobody publishes) before it stops [default: 1h].
    #[arg(long, env = "PARLOR_ARCHIVE_PAUSED_TIMEOUT")]
    pub archive_paused_timeout: Option<String>,
    /// How long an archive's files are kept after it stopped, e.g. 72h (OpenTok's); then
    /// they are removed and its status is "expired" [default: kept until deleted].
    #[arg(long, env = "PARLOR_ARCHIVE_RETENTION")]
    pub archive_retention: Option<String>,
    /// When composed archives are composed: `after` the stop, from the stream files, or
    /// `live` while they record, as broadcasts are (ready seconds after the stop; the
    /// paused time stays in the MP4) [default: after].
    #[arg(long, env = "PARLOR_ARCHIVE_COMPOSITION", value_enum)]
    pub archive_composition: Option<ArchiveComposition>,
    /// How long the Inspector's session history (meetings, connections, streams,
    /// subscriptions, events) is kept, e.g. 7d or 72h [default: 20d, OpenTok's].
    #[arg(long, env = "PARLOR_HISTORY_RETENTION")]
    pub history_retention: Option<String>,
    /// How often each stream's and subscription's media quality is sampled for the
    /// Inspector, e.g. 5s, or `off` [default: 5s].
    #[arg(long, env = "PARLOR_QUALITY_INTERVAL")]
    pub quality_interval: Option<String>,
    /// How long quality windows are kept, e.g. 24h: they are most of the history's volume
    /// (two rows per stream and subscription per interval) [default: 3d].
    #[arg(long, env = "PARLOR_QUALITY_RETENTION")]
    pub quality_retention: Option<String>,
    /// How often each stream's audio level is read for speaker detection (the `speakers`
    /// message, Room State's `isSpeaking`), e.g. 250ms or 1s, or `off` [default: 250ms].
    #[arg(long, env = "PARLOR_SPEAKER_INTERVAL")]
    pub speaker_interval: Option<String>,
    /// How long a client that lost its network keeps its connection, streams and
    /// subscriptions, waiting to resume (web SDK: sessionReconnecting, then
    /// sessionReconnected), e.g. 30s, or `off` [default: 20s].
    #[arg(long, env = "PARLOR_RECONNECT_GRACE")]
    pub reconnect_grace: Option<String>,
    /// A session empty for less than this and joined again continues the same meeting in
    /// the Inspector, e.g. 30m [default: 10m, as OpenTok splits meetings].
    #[arg(long, env = "PARLOR_MEETING_GAP")]
    pub meeting_gap: Option<String>,
    /// Serve HTTPS and WSS with this certificate chain (PEM, leaf first); needs --tls-key.
    /// Reloaded on SIGHUP and when the file changes.
    #[arg(long, env = "PARLOR_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1); needs --tls-cert.
    #[arg(long, env = "PARLOR_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// A TURN or STUN server for clients that cannot reach the media port, e.g.
    /// `turn:turn.example.com:3478?transport=udp`, `turns:turn.example.com:5349?transport=tcp`
    /// or `stun:stun.example.com:3478`; repeat it, or separate URLs with commas. turn: URLs
    /// need --turn-secret.
    #[arg(long = "turn-url", env = "PARLOR_TURN_URL", value_delimiter = ',')]
    pub turn_url: Vec<String>,
    /// The TURN server's shared secret (coturn's `static-auth-secret`, with
    /// `use-auth-secret`): each client gets credentials minted with it.
    #[arg(long, env = "PARLOR_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,
    /// How long the TURN credentials minted for a client last, e.g. 12h (10m to 7d)
    /// [default: 1d].
    #[arg(long, env = "PARLOR_TURN_CREDENTIAL_TTL")]
    pub turn_credential_ttl: Option<String>,
    /// Run the embedded TURN server on this UDP and TCP port (0: any free one), relaying to
    /// the media router only [default: off].
    #[arg(long, env = "PARLOR_TURN_PORT")]
    pub turn_port: Option<u16>,
    /// Also serve the embedded TURN server over TLS on this port (e.g. 443 or 5349), with
    /// the certificate of --tls-cert.
    #[arg(long, env = "PARLOR_TURN_TLS_PORT")]
    pub turn_tls_port: Option<u16>,
    /// The host name in the embedded server's turns: URL, matching the certificate
    /// [default: the public IP].
    #[arg(long, env = "PARLOR_TURN_TLS_HOST")]
    pub turn_tls_host: Option<String>,
}

/// The same settings in a TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct FileConfig {
    listen: Option<SocketAddr>,
    media_port: Option<u16>,
    media_tcp_port: Option<MediaTcpPort>,
    data_dir: Option<PathBuf>,
    api_key: Option<String>,
    api_secret: Option<String>,
    public_ip: Option<IpAddr>,
    log: Option<String>,
    log_format: Option<LogFormat>,
    demo: Option<bool>,
    callback_url: Option<String>,
    http_header_timeout: Option<u64>,
    http_body_timeout: Option<u64>,
    max_connections_per_ip: Option<usize>,
    rest_rate_limit: Option<u32>,
    signal_rate_limit: Option<u32>,
    max_connections_per_session: Option<usize>,
    max_streams_per_session: Option<usize>,
    max_subscriptions_per_session: Option<usize>,
    metrics_token: Option<String>,
    archive_max_duration: Option<String>,
    archive_paused_timeout: Option<String>,
    archive_retention: Option<String>,
    archive_composition: Option<ArchiveComposition>,
    history_retention: Option<String>,
    quality_interval: Option<String>,
    quality_retention: Option<String>,
    speaker_interval: Option<String>,
    reconnect_grace: Option<String>,
    meeting_gap: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    turn_url: Option<TurnUrls>,
    turn_secret: Option<String>,
    turn_credential_ttl: Option<String>,
    turn_port: Option<u16>,
    turn_tls_port: Option<u16>,
    turn_tls_host: Option<String>,
}

/// `turn_url` in the file: one string (URLs separated by commas) or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TurnUrls {
    One(String),
    Many(Vec<String>),
}

/// Resolved settings.
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub media_port: u16,
    /// The ICE-TCP port (0: any free one); `None`: media over UDP only.
    pub media_tcp_port: Option<u16>,
    pub data_dir: PathBuf,
    /// Credentials given explicitly (both or neither).
    pub credentials: Option<(String, String)>,
    pub public_ip: Option<IpAddr>,
    pub log: String,
    pub log_format: LogFormat,
    /// Whether the demo app's dev-only endpoint (sessions and tokens for anyone who asks)
    /// is on: by default only on a loopback listen address.
    pub demo: bool,
    /// URL receiving every session-monitoring callback.
    pub callback_url: Option<String>,
    /// HTTP limits against slow or hoarding clients.
    pub http: HttpLimits,
    /// Request rates per credential (REST) and per connection (signals).
    pub rates: Rates,
    /// What one session may hold at once.
    pub session_caps: SessionCaps,
    /// The bearer token of `/metrics` scrapers.
    pub metrics_token: Option<String>,
    /// How long archives run and their files are kept.
    pub archives: ArchiveLimits,
    /// How long the session history is kept.
    pub history_retention: std::time::Duration,
    /// How often media quality is sampled (`None`: off).
    pub quality_interval: Option<std::time::Duration>,
    /// How long quality windows are kept (at most the history's retention).
    pub quality_retention: std::time::Duration,
    /// How often audio levels are read for speaker detection (`None`: off).
    pub speaker_interval: Option<std::time::Duration>,
    /// How long a connection that lost its network waits to be resumed (`None`: it ends
    /// at once, as before reconnection existed).
    pub reconnect_grace: Option<std::time::Duration>,
    /// How long a session may stay empty and still continue its meeting.
    pub meeting_gap: std::time::Duration,
    /// HTTPS/WSS certificate and key files; plain HTTP when absent.
    pub tls: Option<TlsFiles>,
    /// The external STUN/TURN servers clients are given (`Debug` hides the secret).
    pub turn: TurnSettings,
    /// The embedded TURN server, when `--turn-port` is set.
    pub embedded_turn: Option<EmbeddedTurnPorts>,
}

/// `--turn-port`, `--turn-tls-port`, `--turn-tls-host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedTurnPorts {
    pub port: u16,
    pub tls_port: Option<u16>,
    pub tls_host: Option<String>,
    /// `--turn-secret`, when given; a random one per start otherwise (`Debug` hides it).
    pub secret: Option<TurnSecret>,
}

/// The PEM files of the server's TLS certificate chain and private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `--media-tcp-port`: a port number, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum MediaTcpPort {
    Port(u16),
    #[serde(deserialize_with = "off")]
    Off,
}

fn off<'de, D: serde::Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    let s = String::deserialize(d)?;
    if s == "off" {
        Ok(())
    } else {
        Err(serde::de::Error::custom(format!(
            "media_tcp_port must be a port number or \"off\", not {s:?}"
        )))
    }
}

impl std::str::FromStr for MediaTcpPort {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "off" {
            return Ok(MediaTcpPort::Off);
        }
        s.parse()
            .map(MediaTcpPort::Port)
            .map_err(|_| format!("{s:?} is neither a TCP port number (0-65535) nor \"off\""))
    }
}

/// When composed archives are composed (`--archive-composition`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ArchiveComposition {
    /// After the stop, from the stream files (the paused time left out).
    #[default]
    After,
    /// While recording, by the live compositor of broadcasts.
    Live,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line: `timestamp`, `level`, `target`, `fields`, `span`s.
    Json,
}

/// Timeouts and caps of the HTTP server (slowloris and connection hoarding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Time to send a request's headers, or to start the next request on an idle
    /// kept-alive connection.
    pub header_timeout: std::time::Duration,
    /// Time to send a request's whole body.
    pub body_timeout: std::time::Duration,
    /// Open connections from one source IP address.
    pub max_connections_per_ip: usize,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("media_port", &self.media_port)
            .field("media_tcp_port", &self.media_tcp_port)
            .field("data_dir", &self.data_dir)
            .field("api_key", &self.credentials.as_ref().map(|c| &c.0))
            .field("public_ip", &self.public_ip)
            .field("log", &self.log)
            .field("log_format", &self.log_format)
            .field("demo", &self.demo)
            .field("callback_url", &self.callback_url)
            .field("http", &self.http)
            .field("rates", &self.rates)
            .field("session_caps", &self.session_caps)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<set>"),
            )
            .field("archives", &self.archives)
            .field("history_retention", &self.history_retention)
            .field("quality_interval", &self.quality_interval)
            .field("speaker_interval", &self.speaker_interval)
            .field("reconnect_grace", &self.reconnect_grace)
            .field("quality_retention", &self.quality_retention)
            .field("meeting_gap", &self.meeting_gap)
            .field("tls", &self.tls)
            .field("turn", &self.turn)
            .field("embedded_turn", &self.embedded_turn)
            .finish()
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("config file {0} is invalid: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("--api-key and --api-secret must be given together")]
    HalfCredentials,
    #[error("--tls-cert and --tls-key must be given together")]
    HalfTls,
    #[error("invalid API key '{0}': it must be 1 to 20 digits")]
    BadApiKey(String),
    #[error("invalid API secret: it must be 16 to 256 letters and digits (no '.')")]
    BadApiSecret,
    #[error(
        "refusing a weak API secret: {0}. Anyone who guesses it can mint tokens and call the \
         REST API; use a random one, e.g. `openssl rand -hex 20`, or give no credentials and \
         one is created"
    )]
    WeakApiSecret(&'static str),
    #[error("invalid callback URL '{0}': it must start with http:// or https://")]
    BadCallbackUrl(String),
    #[error("invalid --metrics-token: it must be 16 to 256 visible ASCII characters")]
    BadMetricsToken,
    #[error("invalid {0}: it must be at least 1")]
    Zero(&'static str),
    #[error(
        "invalid {0} '{1}': give a whole number of seconds, or one with a unit s, m, h or d \
         (e.g. 90m, 72h), at least 1 s"
    )]
    BadDuration(&'static str, String),
    #[error("invalid {0} '{1}': give {2}, or off")]
    BadInterval(&'static str, String, &'static str),
    #[error(transparent)]
    Turn(#[from] TurnConfigError),
    #[error(
        "--turn-tls-port and --turn-tls-host configure the embedded TURN server: give \
         --turn-port too (its UDP and TCP port)"
    )]
    TurnTlsWithoutPort,
}

impl Config {
    /// Merges flags/env (already merged by clap) over the file over the defaults.
    pub fn resolve(args: ServeArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let api_key = args.api_key.or(file.api_key);
        let api_secret = args.api_secret.or(file.api_secret);
        let credentials = match (api_key, api_secret) {
            (Some(k), Some(s)) => {
                validate_credentials(&k, &s)?;
                Some((k, s))
            }
            (None, None) => None,
            _ => return Err(ConfigError::HalfCredentials),
        };
        if let Some(url) = args.callback_url.as_ref().or(file.callback_url.as_ref())
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::BadCallbackUrl(url.clone()));
        }
        let listen: SocketAddr = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default"));
        let demo = if args.no_demo {
            false
        } else if args.demo {
            true
        } else {
            file.demo.unwrap_or(listen.ip().is_loopback())
        };
        let positive = |v: Option<u64>, default: u64, name: &'static str| match v {
            Some(0) => Err(ConfigError::Zero(name)),
            v => Ok(std::time::Duration::from_secs(v.unwrap_or(default))),
        };
        let http = HttpLimits {
            header_timeout: positive(
                args.http_header_timeout.or(file.http_header_timeout),
                DEFAULT_HTTP_HEADER_TIMEOUT_SECS,
                "--http-header-timeout",
            )?,
            body_timeout: positive(
                args.http_body_timeout.or(file.http_body_timeout),
                DEFAULT_HTTP_BODY_TIMEOUT_SECS,
                "--http-body-timeout",
            )?,
            max_connections_per_ip: match args
                .max_connections_per_ip
                .or(file.max_connections_per_ip)
            {
                Some(0) => return Err(ConfigError::Zero("--max-connections-per-ip")),
                v => v.unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_IP),
            },
        };
        let rate = |v: Option<u32>, default: std::num::NonZeroU32, name: &'static str| match v {
            Some(n) => std::num::NonZeroU32::new(n).ok_or(ConfigError::Zero(name)),
            None => Ok(default),
        };
        let cap = |v: Option<usize>, default: usize, name: &'static str| match v {
            Some(0) => Err(ConfigError::Zero(name)),
            v => Ok(v.unwrap_or(default)),
        };
        let (default_rates, default_caps) = (Rates::default(), SessionCaps::default());
        let rates = Rates {
            rest: rate(
                args.rest_rate_limit.or(file.rest_rate_limit),
                default_rates.rest,
                "--rest-rate-limit",
            )?,
            signals: rate(
                args.signal_rate_limit.or(file.signal_rate_limit),
                default_rates.signals,
                "--signal-rate-limit",
            )?,
        };
        let session_caps = SessionCaps {
            connections: cap(
                args.max_connections_per_session
                    .or(file.max_connections_per_session),
                default_caps.connections,
                "--max-connections-per-session",
            )?,
            streams: cap(
                args.max_streams_per_session
                    .or(file.max_streams_per_session),
                default_caps.streams,
                "--max-streams-per-session",
            )?,
            subscriptions: cap(
                args.max_subscriptions_per_session
                    .or(file.max_subscriptions_per_session),
                default_caps.subscriptions,
                "--max-subscriptions-per-session",
            )?,
        };
        let metrics_token = args.metrics_token.or(file.metrics_token);
        if let Some(t) = &metrics_token
            && (!(16..=256).contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError::BadMetricsToken);
        }
        let turn_urls = if args.turn_url.is_empty() {
            match file.turn_url {
                Some(TurnUrls::One(urls)) => vec![urls],
                Some(TurnUrls::Many(urls)) => urls,
                None => Vec::new(),
            }
        } else {
            args.turn_url
        };
        let turn_port = args.turn_port.or(file.turn_port);
        let mut turn_secret = args.turn_secret.or(file.turn_secret);
        // With the embedded TURN server and no external one, --turn-secret is the embedded
        // server's (otherwise both use it).
        let embedded_only_secret = match (turn_port, turn_urls.is_empty()) {
            (Some(_), true) => turn_secret.take(),
            _ => None,
        };
        let turn = TurnSettings::resolve(
            turn_urls,
            turn_secret,
            args.turn_credential_ttl.or(file.turn_credential_ttl),
        )?;
        let embedded_secret = match embedded_only_secret {
            Some(s) => Some(TurnSecret::new(s).ok_or(TurnConfigError::BadSecret)?),
            None => turn.secret.clone(),
        };
        let embedded_turn = match (
            turn_port,
            args.turn_tls_port.or(file.turn_tls_port),
            args.turn_tls_host.or(file.turn_tls_host),
        ) {
            (Some(port), tls_port, tls_host) => Some(EmbeddedTurnPorts {
                port,
                tls_port,
                tls_host,
                secret: embedded_secret,
            }),
            (None, None, None) => None,
            (None, _, _) => return Err(ConfigError::TurnTlsWithoutPort),
        };
        let duration = |v: Option<String>, name: &'static str| {
            v.map(|v| parse_duration(&v).ok_or(ConfigError::BadDuration(name, v)))
                .transpose()
        };
        let defaults = ArchiveLimits::default();
        let archives = ArchiveLimits {
            max_duration: duration(
                args.archive_max_duration.or(file.archive_max_duration),
                "--archive-max-duration",
            )?
            .unwrap_or(defaults.max_duration),
            paused_timeout: duration(
                args.archive_paused_timeout.or(file.archive_paused_timeout),
                "--archive-paused-timeout",
            )?
            .unwrap_or(defaults.paused_timeout),
            retention: duration(
                args.archive_retention.or(file.archive_retention),
                "--archive-retention",
            )?,
            live_composition: args
                .archive_composition
                .or(file.archive_composition)
                .unwrap_or_default()
                == ArchiveComposition::Live,
        };
        let meeting_gap = duration(args.meeting_gap.or(file.meeting_gap), "--meeting-gap")?
            .unwrap_or(DEFAULT_MEETING_GAP);
        let history_retention = duration(
            args.history_retention.or(file.history_retention),
            "--history-retention",
        )?
        .unwrap_or(DEFAULT_HISTORY_RETENTION);
        let quality_retention = duration(
            args.quality_retention.or(file.quality_retention),
            "--quality-retention",
        )?
        .unwrap_or(DEFAULT_QUALITY_RETENTION)
        .min(history_retention);
        let quality_interval = interval_or_off(
            args.quality_interval.or(file.quality_interval),
            "--quality-interval",
            "a duration of 1 s to 1 h (e.g. 5s, 2m)",
            DEFAULT_QUALITY_INTERVAL,
            |v| parse_duration(v).filter(|d| d.as_secs() <= 3600),
        )?;
        let speaker_interval = interval_or_off(
            args.speaker_interval.or(file.speaker_interval),
            "--speaker-interval",
            "a duration of 50 ms to 10 s (e.g. 250ms, 1s)",
            DEFAULT_SPEAKER_INTERVAL,
            |v| parse_short_duration(v).filter(|d| (50..=10_000).contains(&d.as_millis())),
        )?;
        let reconnect_grace = interval_or_off(
            args.reconnect_grace.or(file.reconnect_grace),
            "--reconnect-grace",
            "a duration of 1 s to 10 m (e.g. 20s, 2m)",
            DEFAULT_RECONNECT_GRACE,
            |v| parse_duration(v).filter(|d| (1..=600).contains(&d.as_secs())),
        )?;
        let tls = match (
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => return Err(ConfigError::HalfTls),
        };
        let media_port = args
            .media_port
            .or(file.media_port)
            .unwrap_or(DEFAULT_MEDIA_PORT);
        Ok(Config {
            http,
            rates,
            session_caps,
            metrics_token,
            archives,
            history_retention,
            quality_interval,
            quality_retention,
            speaker_interval,
            reconnect_grace,
            meeting_gap,
            tls,
            listen,
            media_port,
            media_tcp_port: match args.media_tcp_port.or(file.media_tcp_port) {
                None => Some(media_port),
                Some(MediaTcpPort::Port(p)) => Some(p),
                Some(MediaTcpPort::Off) => None,
            },
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
            credentials,
            public_ip: args.public_ip.or(file.public_ip),
            log: args.log.or(file.log).unwrap_or_else(|| "info".into()),
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            demo,
            callback_url: args.callback_url.or(file.callback_url),
            turn,
            embedded_turn,
        })
    }

    /// The database path.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join(DB_FILE)
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.into(), e))?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse(path.into(), e))
}

/// Checks credentials given by an operator. Keys are digits (the OpenTok SDKs use them as
/// project IDs); secrets are alphanumeric, so never contain the `.` that makes the Python
/// SDK read them as a key file path.
pub fn validate_credentials(key: &str, secret: &str) -> Result<(), ConfigError> {
    if key.is_empty() || key.len() > 20 || !key.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::BadApiKey(key.to_owned()));
    }
    if !(16..=256).contains(&secret.len()) || !secret.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ConfigError::BadApiSecret);
    }
    match weakness(secret) {
        Some(why) => Err(ConfigError::WeakApiSecret(why)),
        None => Ok(()),
    }
}

/// Why a (well-formed) secret is guessable, if it is: the shapes people type when they
/// make one up — few different characters, a repeated pattern, a run like `abcdef…` or
/// `0123…`. A random secret of 16+ characters never has them.
fn weakness(secret: &str) -> Option<&'static str> {
    let b = secret.as_bytes();
    let mut seen = [false; 128];
    for &c in b {
        seen[usize::from(c & 0x7f)] = true;
    }
    if seen.iter().filter(|&&s| s).count() < 8 {
        return Some("it has fewer than 8 different characters");
    }
    if (1..=b.len() / 2).any(|p| (p..b.len()).all(|i| b[i] == b[i - p])) {
        return Some("it repeats a shorter pattern");
    }
    // Steps between neighbours: a run (or a keyboard-walk-like sequence) mostly repeats one.
    let mut steps = [0usize; 256];
    for w in b.windows(2) {
        steps[usize::from(w[1].wrapping_sub(w[0]))] += 1;
    }
    if steps.iter().any(|&n| n * 4 >= (b.len() - 1) * 3) {
        return Some("it is mostly a run of consecutive characters");
    }
    None
}

mod durations;

use durations::interval_or_off;
pub use durations::{parse_duration, parse_short_duration};

#[cfg(test)]
mod tests;
