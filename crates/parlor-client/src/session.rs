//! The signaling connection.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use parlor_proto::Role;
use parlor_proto::signaling::{
    CandidateType, Capabilities, ClientMessage, Connection, ErrorCode, MAX_STATS_REPORTS, Media,
    ServerMessage, StatsReport, Stream, TransportProtocol, VERSION,
};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::ClientError;
use crate::link::LinkState;
use crate::peer::MediaMeasures;
use crate::publisher::{PublishOptions, Publisher};
use crate::subscriber::{SubscribeOptions, Subscriber};

/// How long a request may wait for its reply.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What the server said on connecting.
#[derive(Debug, Clone, PartialEq)]
pub struct Connected {
    pub session_id: String,
    pub connection: Connection,
    pub role: Role,
    pub capabilities: Capabilities,
    /// The other connections at the time of joining.
    pub connections: Vec<Connection>,
    /// The streams at the time of joining.
    pub streams: Vec<Stream>,
    /// How often the server wants `stats` reports ([`Session::report_stats`]), in ms; 0:
    /// none.
    pub stats_interval_ms: u32,
    /// The session is relayed (`p2p.preference=enabled`): its clients connect peer to
    /// peer, which this client does not do, so [`Session::publish`] and
    /// [`Session::subscribe`] fail with [`ClientError::RelayedSession`].
    pub relayed: bool,
    /// The STUN/TURN servers the server hands out, with this connection's credentials
    /// ([`crate::MediaTransport::Relay`] uses the first TURN one).
    pub ice_servers: Vec<parlor_proto::signaling::IceServer>,
}

struct Inner {
    out: mpsc::UnboundedSender<Message>,
    pending: Mutex<HashMap<String, oneshot::Sender<ServerMessage>>>,
    next_id: AtomicU64,
    /// True once the connection is over (closed by either side, or broken): requests then
    /// fail at once, and the session's media peers end.
    closed: tokio::sync::watch::Sender<bool>,
    info: Connected,
    media_ip: IpAddr,
    /// The candidates this session's peers offer ([`Session::set_media_transport`]).
    media_transport: Mutex<crate::MediaTransport>,
    /// The media whose measures go into `stats` reports.
    reporters: Mutex<Vec<Reporter>>,
    /// The application sends its own reports ([`Session::report_stats`]): the automatic
    /// ones stop.
    manual_stats: std::sync::atomic::AtomicBool,
    /// Where the signaling link stands (`link.rs`).
    link: tokio::sync::watch::Receiver<crate::link::LinkState>,
}

/// Whose media a [`MediaMeasures`] measures.
#[derive(Debug, Clone)]
pub(crate) enum Measured {
    /// A stream this client publishes.
    Stream(String),
    /// A subscription of this client's.
    Subscription(String),
}

/// A registered [`MediaMeasures`] and what the last report took of it.
struct Reporter {
    owner: Measured,
    measures: Weak<MediaMeasures>,
    frames: u64,
    at: Instant,
}

/// Sends a `stats` report every `interval` with what each registered peer measured, until
/// the session ends.
async fn report_stats(inner: Weak<Inner>, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        if *inner.closed.borrow() || inner.manual_stats.load(Ordering::Relaxed) {
            return;
        }
        let mut reports = Vec::new();
        if let Ok(mut reporters) = inner.reporters.lock() {
            reporters.retain(|r| r.measures.strong_count() > 0);
            let now = Instant::now();
            for r in reporters.iter_mut() {
                let Some(m) = r.measures.upgrade() else {
                    continue;
                };
                let frames = m.video_frames.load(Ordering::Relaxed);
                let secs = now.duration_since(r.at).as_secs_f64();
                let fps = (secs > 0.0)
                    .then(|| ((frames.saturating_sub(r.frames)) as f64 / secs).min(1000.0));
                (r.frames, r.at) = (frames, now);
                let (stream_id, subscription_id) = match &r.owner {
                    Measured::Stream(id) => (Some(id.clone()), None),
                    Measured::Subscription(id) => (None, Some(id.clone())),
                };
                let base = StatsReport {
                    stream_id,
                    subscription_id,
                    rtt_ms: m.rtt_ms().map(|r| r.min(60_000.0)),
                    // The native client gathers only host candidates over UDP.
                    candidate_type: Some(CandidateType::Host),
                    protocol: Some(TransportProtocol::Udp),
                    ..StatsReport::default()
                };
                let size = m.size();
                reports.push(StatsReport {
                    media: Media::Video,
                    fps: if frames > 0 { fps } else { None },
                    width: size.map(|s| s.0),
                    height: size.map(|s| s.1),
                    ..base.clone()
                });
                reports.push(StatsReport {
                    media: Media::Audio,
                    ..base
                });
            }
        }
        reports.truncate(MAX_STATS_REPORTS);
        if reports.is_empty() {
            continue;
        }
        let msg = ClientMessage::Stats { id: None, reports };
        let _ = inner.out.send(Message::text(
            serde_json::to_string(&msg).expect("serializes"),
        ));
    }
}

/// A connection to one session. Cheap to clone; the connection closes when
/// [`Session::disconnect`] is called or every clone is dropped.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("info", &self.inner.info)
            .finish()
    }
}

/// `http://host:port` → `ws://host:port/v1/rtc` (and https → wss).
fn signaling_url(url: &str) -> Result<(String, String), ClientError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| ClientError::Url(url.to_owned()))?;
    let ws = match scheme {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        _ => return Err(ClientError::Url(url.to_owned())),
    };
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, p.trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(ClientError::Url(url.to_owned()));
    }
    let path = if path.is_empty() { "v1/rtc" } else { path };
    Ok((format!("{ws}://{authority}/{path}"), authority.to_owned()))
}

/// The environment variable naming a PEM file of extra CA certificates to trust for
/// `wss://` (a private CA, a self-signed server certificate), beside the system's.
pub const CA_FILE_ENV: &str = "PARLOR_CA_FILE";

/// The TLS connector for `wss://`: the system's roots (OpenSSL's, so `SSL_CERT_FILE` works
/// too) plus the certificates in `$PARLOR_CA_FILE`. `None` (the default connector) when the
/// variable is unset.
fn tls_connector() -> Result<Option<tokio_tungstenite::Connector>, ClientError> {
    let Some(path) = std::env::var_os(CA_FILE_ENV) else {
        return Ok(None);
    };
    let pem = std::fs::read(&path).map_err(|e| {
        ClientError::Connection(format!("{CA_FILE_ENV}={}: {e}", path.to_string_lossy()))
    })?;
    let mut builder = native_tls::TlsConnector::builder();
    let certs = native_tls::Certificate::stack_from_pem(&pem).map_err(|e| {
        ClientError::Connection(format!("{CA_FILE_ENV}={}: {e}", path.to_string_lossy()))
    })?;
    for cert in certs {
        builder.add_root_certificate(cert);
    }
    let connector = builder
        .build()
        .map_err(|e| ClientError::Connection(format!("TLS: {e}")))?;
    Ok(Some(tokio_tungstenite::Connector::NativeTls(connector)))
}

/// The local IP address that routes to `authority` (host:port), for host candidates.
async fn local_ip_towards(authority: &str) -> Result<IpAddr, ClientError> {
    let with_port = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let remote = tokio::net::lookup_host(&with_port)
        .await?
        .next()
        .ok_or_else(|| ClientError::Url(format!("cannot resolve {authority}")))?;
    let bind = if remote.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let probe = std::net::UdpSocket::bind(bind)?;
    probe.connect(remote)?;
    Ok(probe.local_addr()?.ip())
}

impl Session {
    /// Connects to the server at `url` (e.g. `http://127.0.0.1:7600`) and joins
    /// `session_id` with `token`. Returns the session and its events (every server message
    /// that is not a reply: `connectionCreated`, `streamCreated`, `signal`, …).
    pub async fn connect(
        url: &str,
        session_id: &str,
        token: &str,
    ) -> Result<(Session, mpsc::UnboundedReceiver<ServerMessage>), ClientError> {
        Self::connect_with_context(url, session_id, token, None).await
    }

    /// Joins a Rooms room (Telnyx Video Rooms): `room_id` with a join token, as a
    /// participant with `context` (its connection data). Refresh the token with
    /// [`Session::update_token`] before it expires.
    pub async fn join_room(
        url: &str,
        room_id: &str,
        join_token: &str,
        context: Option<&str>,
    ) -> Result<(Session, mpsc::UnboundedReceiver<ServerMessage>), ClientError> {
        Self::connect_with_context(url, room_id, join_token, context).await
    }

    async fn connect_with_context(
        url: &str,
        session_id: &str,
        token: &str,
        context: Option<&str>,
    ) -> Result<(Session, mpsc::UnboundedReceiver<ServerMessage>), ClientError> {
        let (ws_url, authority) = signaling_url(url)?;
        let media_ip = local_ip_towards(&authority).await?;
        let tls = tls_connector()?;
        let mut ws = crate::link::open(&ws_url, tls.clone()).await?;
        let hello = ClientMessage::Connect {
            version: VERSION,
            session_id: session_id.to_owned(),
            token: token.to_owned(),
            client: Some(parlor_proto::signaling::ClientSdk {
                name: "parlor-client".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            }),
            context: context.map(str::to_owned),
            // Resumes after a network failure (`link.rs`), when the server allows it.
            reconnect: true,
        };
        ws.send(Message::text(
            serde_json::to_string(&hello).expect("serializes"),
        ))
        .await
        .map_err(|e| ClientError::Connection(e.to_string()))?;
        let first = loop {
            match tokio::time::timeout(REQUEST_TIMEOUT, ws.next()).await {
                Err(_) => return Err(ClientError::Timeout("the connect reply")),
                Ok(None) => return Err(ClientError::Connection("closed before connecting".into())),
                Ok(Some(Err(e))) => return Err(ClientError::Connection(e.to_string())),
                Ok(Some(Ok(Message::Text(t)))) => break t,
                Ok(Some(Ok(_))) => continue,
            }
        };
        let grant;
        let info = match serde_json::from_str::<ServerMessage>(&first) {
            Ok(ServerMessage::Connected {
                session_id,
                connection,
                role,
                capabilities,
                connections,
                streams,
                stats_interval,
                relayed,
                ice_servers,
                resume,
                ..
            }) => {
                grant = resume;
                Connected {
                    ice_servers,
                    stats_interval_ms: stats_interval,
                    relayed,
                    session_id,
                    connection,
                    role,
                    capabilities,
                    connections,
                    streams,
                }
            }
            Ok(ServerMessage::Error {
                code: ErrorCode::AuthFailed,
                reason,
                message,
                ..
            }) => {
                return Err(ClientError::Auth {
                    reason: reason.unwrap_or_default(),
                    message,
                });
            }
            Ok(ServerMessage::Error {
                code,
                reason,
                message,
                ..
            }) => {
                return Err(ClientError::Server {
                    code,
                    reason,
                    message,
                });
            }
            _ => {
                return Err(ClientError::Protocol(format!(
                    "unexpected first message: {first}"
                )));
            }
        };

        let (out_tx, out_rx) = mpsc::unbounded_channel::<Message>();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (link_tx, link_rx) = tokio::sync::watch::channel(crate::link::LinkState::Connected);
        let resume = crate::link::Resume {
            ws_url,
            tls,
            session_id: info.session_id.clone(),
            connection_id: info.connection.connection_id.clone(),
            grant,
        };
        let inner = Arc::new(Inner {
            out: out_tx,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            closed: tokio::sync::watch::Sender::new(false),
            info,
            media_ip,
            media_transport: Mutex::new(crate::MediaTransport::default()),
            reporters: Mutex::new(Vec::new()),
            manual_stats: Default::default(),
            link: link_rx,
        });
        if inner.info.stats_interval_ms > 0 {
            tokio::spawn(report_stats(
                Arc::downgrade(&inner),
                Duration::from_millis(u64::from(inner.info.stats_interval_ms)),
            ));
        }
        let weak = Arc::downgrade(&inner);
        let deliver_to = weak.clone();
        let deliver = move |msg: ServerMessage| {
            let reply_id = match &msg {
                ServerMessage::Ok { id }
                | ServerMessage::Pong { id }
                | ServerMessage::Published { id, .. }
                | ServerMessage::Subscribed { id, .. }
                | ServerMessage::Error { id, .. } => id.clone(),
                _ => None,
            };
            let waiter = reply_id.and_then(|id| {
                deliver_to
                    .upgrade()
                    .and_then(|inner| inner.pending.lock().ok()?.remove(&id))
            });
            match waiter {
                Some(w) => {
                    let _ = w.send(msg);
                }
                None => {
                    let _ = events_tx.send(msg);
                }
            }
        };
        tokio::spawn(async move {
            crate::link::run(ws, resume, out_rx, link_tx, deliver).await;
            // Closed: pending requests fail as their senders drop, later ones at once.
            if let Some(inner) = weak.upgrade() {
                inner.closed.send_replace(true);
                if let Ok(mut p) = inner.pending.lock() {
                    p.clear();
                }
            }
        });
        Ok((Session { inner }, events_rx))
    }

    /// Where the signaling connection stands, as it changes: `Reconnecting` while it
    /// resumes after a network failure (the session, its streams and subscriptions are
    /// kept meanwhile; requests wait), `Connected` again after, `Closed` at the end.
    pub fn link_state(&self) -> tokio::sync::watch::Receiver<LinkState> {
        self.inner.link.clone()
    }

    /// Who this client is in the session, and who was there when it joined.
    pub fn info(&self) -> &Connected {
        &self.inner.info
    }

    /// This client's connection ID.
    pub fn connection_id(&self) -> &str {
        &self.inner.info.connection.connection_id
    }

    pub(crate) fn media_ip(&self) -> IpAddr {
        self.inner.media_ip
    }

    /// How the media of publishers and subscribers started from now on reaches the server:
    /// UDP (the default), ICE over TCP, or either.
    pub fn set_media_transport(&self, transport: crate::MediaTransport) {
        *self
            .inner
            .media_transport
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = transport;
    }

    pub(crate) fn media_transport(&self) -> crate::MediaTransport {
        *self
            .inner
            .media_transport
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Includes what a peer measures in this session's `stats` reports (when the server
    /// wants them), for as long as the peer lives.
    pub(crate) fn report_measures(&self, owner: Measured, measures: &Arc<MediaMeasures>) {
        if self.inner.info.stats_interval_ms == 0 {
            return;
        }
        if let Ok(mut reporters) = self.inner.reporters.lock() {
            reporters.push(Reporter {
                owner,
                measures: Arc::downgrade(measures),
                frames: measures.video_frames.load(Ordering::Relaxed),
                at: Instant::now(),
            });
        }
    }

    /// Becomes true when the connection is over; its media peers end with it.
    pub(crate) fn closed_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.closed.subscribe()
    }

    fn next_id(&self) -> String {
        self.inner
            .next_id
            .fetch_add(1, Ordering::Relaxed)
            .to_string()
    }

    /// Sends a request built around a fresh id and waits for its reply.
    pub(crate) async fn request(
        &self,
        build: impl FnOnce(Option<String>) -> ClientMessage,
    ) -> Result<ServerMessage, ClientError> {
        let id = self.next_id();
        let (tx, rx) = oneshot::channel();
        self.inner
            .pending
            .lock()
            .map_err(|_| ClientError::Closed)?
            .insert(id.clone(), tx);
        // Checked after the insert: the reader sets `closed` before it clears `pending`,
        // so a request is either cleared there or sees the flag here.
        if *self.inner.closed.borrow() {
            if let Ok(mut p) = self.inner.pending.lock() {
                p.remove(&id);
            }
            return Err(ClientError::Closed);
        }
        let msg = build(Some(id));
        self.inner
            .out
            .send(Message::text(
                serde_json::to_string(&msg).expect("serializes"),
            ))
            .map_err(|_| ClientError::Closed)?;
        match tokio::time::timeout(REQUEST_TIMEOUT, rx).await {
            Err(_) => Err(ClientError::Timeout("a reply")),
            Ok(Err(_)) => Err(ClientError::Closed),
            Ok(Ok(ServerMessage::Error {
                code,
                reason,
                message,
                ..
            })) => Err(ClientError::Server {
                code,
                reason,
                message,
            }),
            Ok(Ok(reply)) => Ok(reply),
        }
    }

    async fn simple(
        &self,
        build: impl FnOnce(Option<String>) -> ClientMessage,
    ) -> Result<(), ClientError> {
        self.request(build).await.map(|_| ())
    }

    /// Publishes a stream.
    pub async fn publish(&self, options: PublishOptions) -> Result<Publisher, ClientError> {
        if self.info().relayed {
            return Err(ClientError::RelayedSession);
        }
        Publisher::start(self.clone(), options).await
    }

    /// Subscribes to a stream.
    pub async fn subscribe(
        &self,
        stream_id: &str,
        options: SubscribeOptions,
    ) -> Result<Subscriber, ClientError> {
        if self.info().relayed {
            return Err(ClientError::RelayedSession);
        }
        Subscriber::start(self.clone(), stream_id, options).await
    }

    /// Sends a signal to the session, or to one connection.
    pub async fn signal(
        &self,
        to: Option<&str>,
        signal_type: &str,
        data: &str,
    ) -> Result<(), ClientError> {
        self.simple(|id| ClientMessage::Signal {
            id,
            to: to.map(str::to_owned),
            signal_type: signal_type.to_owned(),
            data: data.to_owned(),
        })
        .await
    }

    /// A Rooms participant hands its connection a fresh join token (from the app server's
    /// `refresh_client_token`) before the current one expires; nothing reconnects.
    pub async fn update_token(&self, token: &str) -> Result<(), ClientError> {
        self.simple(|id| ClientMessage::UpdateToken {
            id,
            token: token.to_owned(),
        })
        .await
    }

    /// Changes properties of one's own stream (publishAudio / publishVideo).
    pub async fn set_stream_property(
        &self,
        stream_id: &str,
        has_audio: Option<bool>,
        has_video: Option<bool>,
    ) -> Result<(), ClientError> {
        self.simple(|id| ClientMessage::SetStreamProperty {
            id,
            stream_id: stream_id.to_owned(),
            has_audio,
            has_video,
            video_dimensions: None,
        })
        .await
    }

    /// Moderator: ends another connection.
    pub async fn force_disconnect(&self, connection_id: &str) -> Result<(), ClientError> {
        self.simple(|id| ClientMessage::ForceDisconnect {
            id,
            connection_id: connection_id.to_owned(),
        })
        .await
    }

    /// Moderator: stops another client's stream.
    pub async fn force_unpublish(&self, stream_id: &str) -> Result<(), ClientError> {
        self.simple(|id| ClientMessage::ForceUnpublish {
            id,
            stream_id: stream_id.to_owned(),
        })
        .await
    }

    /// Moderator: mutes one stream.
    pub async fn force_mute_stream(&self, stream_id: &str) -> Result<(), ClientError> {
        self.simple(|id| ClientMessage::ForceMuteStream {
            id,
            stream_id: stream_id.to_owned(),
        })
        .await
    }

    /// Moderator: mutes every stream but the excluded ones.
    pub async fn force_mute_all(&self, excluded_stream_ids: &[String]) -> Result<(), ClientError> {
        self.simple(|id| ClientMessage::ForceMuteAll {
            id,
            excluded_stream_ids: excluded_stream_ids.to_vec(),
        })
        .await
    }

    /// Tells the server what this client measures of its own streams and subscriptions
    /// (the `stats` message), for the Inspector. The server asks for a report every
    /// [`Connected::stats_interval_ms`] and takes at most one a second.
    ///
    /// By default the session reports by itself what its publishers and (frame-mode)
    /// subscribers measure — frame rate, key-frame size, RTT — every interval; the first
    /// call of this method stops that, and the application reports instead.
    pub async fn report_stats(&self, reports: Vec<StatsReport>) -> Result<(), ClientError> {
        self.inner.manual_stats.store(true, Ordering::Relaxed);
        self.simple(|id| ClientMessage::Stats { id, reports }).await
    }

    /// A round trip to the server.
    pub async fn ping(&self) -> Result<(), ClientError> {
        self.simple(|id| ClientMessage::Ping { id }).await
    }

    /// Leaves the session (the others see `connectionDestroyed` clientDisconnected).
    pub async fn disconnect(&self) {
        let _ = self.inner.out.send(Message::Close(None));
        self.inner.closed.send_replace(true);
        // Give the writer a moment to flush the close frame.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            signaling_url("http://127.0.0.1:7600").unwrap().0,
            "ws://127.0.0.1:7600/v1/rtc"
        );
        assert_eq!(
            signaling_url("https://v.example.com/").unwrap().0,
            "wss://v.example.com/v1/rtc"
        );
        assert_eq!(
            signaling_url("ws://h:1/custom/path").unwrap().0,
            "ws://h:1/custom/path"
        );
        assert!(signaling_url("ftp://x").is_err());
        assert!(signaling_url("http://").is_err());
    }
}
