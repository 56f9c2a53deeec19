use parlor_proto::signaling::ErrorCode;

/// Everything that can go wrong in the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not `http(s)://` or `ws(s)://`.
    #[error("invalid server URL: {0}")]
    Url(String),
    /// The WebSocket could not be opened or broke.
    #[error("signaling connection failed: {0}")]
    Connection(String),
    /// The server refused the token; `reason` is its code (`expired`, `bad_signature`, …).
    #[error("token refused ({reason}): {message}")]
    Auth { reason: String, message: String },
    /// The server refused a request; `reason` details some codes (`limitExceeded`:
    /// `rate_limited`, `session_full`, `stream_limit`, `subscription_limit`).
    #[error("{message} ({code:?})")]
    Server {
        code: ErrorCode,
        reason: Option<String>,
        message: String,
    },
    /// The server said something this client does not understand.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// WebRTC negotiation or the media connection failed.
    #[error("media error: {0}")]
    Media(String),
    /// Something did not happen in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The session is relayed (`p2p.preference=enabled`): its media goes peer to peer
    /// between web clients, which this client does not implement.
    #[error(
        "this session is relayed (p2p.preference=enabled): its clients connect peer to peer, \
         which this native client does not do; publish and subscribe in a routed session \
         (p2p.preference=disabled)"
    )]
    RelayedSession,
    /// The session (or the peer connection) is closed.
    #[error("closed")]
    Closed,
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
