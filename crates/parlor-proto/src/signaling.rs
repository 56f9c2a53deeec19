//! The signaling protocol, version 1: JSON text frames over a WebSocket (`/v1/rtc`).
//!
//! `docs/protocol.md` is the prose specification; these types are its single source of
//! truth in code, shared by the server and the native client. Every message is an object
//! with a `type`. Client requests may carry an `id` (any string the client picks), echoed
//! in the reply (`ok`, `published`, `subscribed`, `pong` or `error`).

use serde::{Deserialize, Serialize};

use crate::Role;
use crate::limits::{MAX_SIGNAL_DATA_BYTES, MAX_SIGNAL_TYPE_CHARS};

mod p2p;
mod stats;

pub use p2p::{
    MAX_P2P_CANDIDATE_BYTES, MAX_P2P_MID_BYTES, MAX_P2P_SDP_BYTES, P2pCandidate, P2pKind,
    validate_p2p,
};
pub use stats::{CandidateType, Media, QualityLimitation, StatsReport, TransportProtocol};

/// The protocol version this crate speaks.
pub const VERSION: u32 = 1;
/// Largest client message accepted, in bytes (a signal's data plus an SDP offer fit).
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 64 * 1024;

/// What a client says it is in `connect`: its SDK's name and version (each at most
/// [`MAX_CLIENT_SDK_CHARS`] characters; longer ones are cut by the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSdk {
    pub name: String,
    pub version: String,
}

/// The largest participant context a Rooms client may give at `connect`.
pub const MAX_CONTEXT_BYTES: usize = 1000;

/// The longest SDK name or version kept.
pub const MAX_CLIENT_SDK_CHARS: usize = 64;

/// How a connection can be resumed (`connected.resume`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumeGrant {
    /// The credential `resume` must present: a secret of this connection alone.
    pub token: String,
    /// How long after losing its WebSocket the connection waits to be resumed, in ms.
    pub grace_ms: u64,
}

impl std::fmt::Debug for ResumeGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumeGrant")
            .field("grace_ms", &self.grace_ms)
            .finish_non_exhaustive()
    }
}

/// A message from a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum ClientMessage {
    /// First message: authenticate with a client token. Nothing else is accepted before.
    #[serde(rename_all = "camelCase")]
    Connect {
        #[serde(default = "default_version")]
        version: u32,
        session_id: String,
        token: String,
        /// The client's SDK, shown in the Inspector (optional).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<ClientSdk>,
        /// With a Rooms join token: the participant's context (its connection data, at
        /// most [`MAX_CONTEXT_BYTES`]). Refused with an OpenTok token, whose connection
        /// data is in the token.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<String>,
        /// The client can resume this connection after a network failure (`resume`):
        /// the server then keeps it for a grace period instead of ending it, and says how
        /// in `connected.resume`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reconnect: bool,
    },
    /// First message on a new WebSocket, instead of `connect`: take back a connection
    /// whose WebSocket was lost, with the credential its `connected.resume` gave.
    /// `received` is how many messages the client had from the server on this connection
    /// (`connected` is the first): the server sends the rest again. Answered `resumed`.
    #[serde(rename_all = "camelCase")]
    Resume {
        #[serde(default = "default_version")]
        version: u32,
        session_id: String,
        connection_id: String,
        resume_token: String,
        received: u64,
    },
    /// Restart ICE on one of the client's peer connections (after a network change): an
    /// SDP offer with new ICE credentials, for its own stream (`streamId`) or
    /// subscription (`subscriptionId`). Answered `iceRestarted` with the SDP answer.
    #[serde(rename_all = "camelCase")]
    RestartIce {
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stream_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subscription_id: Option<String>,
        sdp: String,
    },
    /// Replace the connection's Rooms join token with a fresh one (from
    /// `refresh_client_token`) before it expires; answered with `ok`. A connection whose
    /// token expires is closed with reason `token expired`.
    #[serde(rename_all = "camelCase")]
    UpdateToken { id: Option<String>, token: String },
    /// Publish a stream: an SDP offer with send-only audio and/or video.
    #[serde(rename_all = "camelCase")]
    Publish {
        id: Option<String>,
        #[serde(default)]
        name: String,
        #[serde(default = "yes")]
        has_audio: bool,
        #[serde(default = "yes")]
        has_video: bool,
        #[serde(default)]
        video_type: VideoType,
        video_dimensions: Option<VideoDimensions>,
        /// The video's simulcast layers, lowest first, as its offer's `a=simulcast` lists
        /// their rids (at most [`MAX_SIMULCAST_LAYERS`]); empty for one layer. Subscribers'
        /// preferred resolution and frame rate are matched against them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        simulcast: Vec<SimulcastLayer>,
        /// The SDP offer; empty in a relayed session, whose media goes peer to peer
        /// ([`ClientMessage::P2pSignal`]).
        sdp: String,
    },
    /// Stop publishing a stream of one's own.
    #[serde(rename_all = "camelCase")]
    Unpublish {
        id: Option<String>,
        stream_id: String,
    },
    /// Subscribe to a stream: an SDP offer with receive-only audio and/or video.
    #[serde(rename_all = "camelCase")]
    Subscribe {
        id: Option<String>,
        stream_id: String,
        #[serde(default = "yes")]
        audio: bool,
        #[serde(default = "yes")]
        video: bool,
        /// A pre-call network test's subscription (OpenTok.js's `testNetwork` subscriber
        /// option, which `opentok-network-test-js` sets): the Inspector shows its numbers
        /// as the session's pre-call test.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        test_network: bool,
        /// The SDP offer; empty in a relayed session.
        sdp: String,
    },
    /// Change what a subscription receives (subscribeToAudio / subscribeToVideo, and
    /// setPreferredResolution / setPreferredFrameRate: the simulcast layer it gets). A
    /// preference absent is unchanged; `null` clears it.
    #[serde(rename_all = "camelCase")]
    SetSubscription {
        id: Option<String>,
        subscription_id: String,
        audio: Option<bool>,
        video: Option<bool>,
        #[serde(
            default,
            deserialize_with = "present",
            skip_serializing_if = "Option::is_none"
        )]
        preferred_resolution: Option<Option<VideoDimensions>>,
        #[serde(
            default,
            deserialize_with = "present",
            skip_serializing_if = "Option::is_none"
        )]
        preferred_frame_rate: Option<Option<f64>>,
    },
    /// End a subscription.
    #[serde(rename_all = "camelCase")]
    Unsubscribe {
        id: Option<String>,
        subscription_id: String,
    },
    /// Change a property of one's own stream (publishAudio / publishVideo / dimensions).
    #[serde(rename_all = "camelCase")]
    SetStreamProperty {
        id: Option<String>,
        stream_id: String,
        has_audio: Option<bool>,
        has_video: Option<bool>,
        video_dimensions: Option<VideoDimensions>,
    },
    /// Send a signal to the session, or to one connection with `to`.
    #[serde(rename_all = "camelCase")]
    Signal {
        id: Option<String>,
        to: Option<String>,
        #[serde(default)]
        signal_type: String,
        #[serde(default)]
        data: String,
    },
    /// Moderator: end another connection.
    #[serde(rename_all = "camelCase")]
    ForceDisconnect {
        id: Option<String>,
        connection_id: String,
    },
    /// Moderator: stop another client's stream.
    #[serde(rename_all = "camelCase")]
    ForceUnpublish {
        id: Option<String>,
        stream_id: String,
    },
    /// Moderator: mute one stream's audio.
    #[serde(rename_all = "camelCase")]
    ForceMuteStream {
        id: Option<String>,
        stream_id: String,
    },
    /// Moderator: mute every stream's audio but the excluded ones.
    #[serde(rename_all = "camelCase")]
    ForceMuteAll {
        id: Option<String>,
        #[serde(default)]
        excluded_stream_ids: Vec<String>,
    },
    /// Relayed sessions: an offer, answer or ICE candidate for the peer connection between
    /// a stream's publisher and one of its subscribers, forwarded by the server to `to`
    /// only (as a [`ServerMessage::P2pSignal`]). One of the two must be the stream's
    /// publisher and the other the subscription's owner.
    #[serde(rename_all = "camelCase")]
    P2pSignal {
        id: Option<String>,
        /// The other party's connection ID.
        to: String,
        stream_id: String,
        subscription_id: String,
        kind: P2pKind,
        /// The SDP of an `offer` or `answer` (at most [`MAX_P2P_SDP_BYTES`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp: Option<String>,
        /// The ICE candidate of a `candidate`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        candidate: Option<P2pCandidate>,
    },
    /// Keep-alive; answered with `pong`.
    Ping { id: Option<String> },
    /// What the client measures of its own streams and subscriptions (W3C `getStats`),
    /// sent every `statsInterval` of `connected` for the Inspector. Answered with `ok`
    /// only when it has an `id`.
    #[serde(rename_all = "camelCase")]
    Stats {
        id: Option<String>,
        /// At most [`MAX_STATS_REPORTS`].
        #[serde(default)]
        reports: Vec<StatsReport>,
    },
}

/// Most reports in one `stats` message.
pub const MAX_STATS_REPORTS: usize = 32;

fn default_version() -> u32 {
    VERSION
}

fn yes() -> bool {
    true
}

/// A field that is present, `null` or not: `Some(None)` for `null` (absent is `None`, by
/// `#[serde(default)]`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Most simulcast layers a stream may have.
pub const MAX_SIMULCAST_LAYERS: usize = 3;

/// One simulcast layer of a published video.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimulcastLayer {
    pub width: u32,
    pub height: u32,
    /// The most frames a second it carries, if the publisher caps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_frame_rate: Option<f64>,
}

impl ClientMessage {
    /// Parses one text frame. Oversize frames and unknown messages are errors.
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        if text.len() > MAX_CLIENT_MESSAGE_BYTES {
            return Err(ProtocolError::new(
                ErrorCode::LimitExceeded,
                format!("message is larger than {MAX_CLIENT_MESSAGE_BYTES} bytes"),
            ));
        }
        serde_json::from_str(text)
            .map_err(|e| ProtocolError::new(ErrorCode::BadRequest, format!("invalid message: {e}")))
    }

    /// The request id, for the reply.
    pub fn id(&self) -> Option<&str> {
        match self {
            ClientMessage::Connect { .. } | ClientMessage::Resume { .. } => None,
            ClientMessage::Publish { id, .. }
            | ClientMessage::UpdateToken { id, .. }
            | ClientMessage::Unpublish { id, .. }
            | ClientMessage::Subscribe { id, .. }
            | ClientMessage::SetSubscription { id, .. }
            | ClientMessage::Unsubscribe { id, .. }
            | ClientMessage::SetStreamProperty { id, .. }
            | ClientMessage::Signal { id, .. }
            | ClientMessage::ForceDisconnect { id, .. }
            | ClientMessage::ForceUnpublish { id, .. }
            | ClientMessage::ForceMuteStream { id, .. }
            | ClientMessage::ForceMuteAll { id, .. }
            | ClientMessage::P2pSignal { id, .. }
            | ClientMessage::RestartIce { id, .. }
            | ClientMessage::Ping { id }
            | ClientMessage::Stats { id, .. } => id.as_deref(),
        }
    }
}

/// Checks a signal's type and data against the documented limits.
pub fn validate_signal(signal_type: &str, data: &str) -> Result<(), ProtocolError> {
    let chars = signal_type.chars().count();
    if chars > MAX_SIGNAL_TYPE_CHARS {
        return Err(ProtocolError::new(
            ErrorCode::LimitExceeded,
            format!("signal type is {chars} characters; the limit is {MAX_SIGNAL_TYPE_CHARS}"),
        ));
    }
    if let Some(bad) = signal_type
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '~')))
    {
        return Err(ProtocolError::new(
            ErrorCode::BadRequest,
            format!("signal type may contain only A-Z a-z 0-9 - _ ~, not {bad:?}"),
        ));
    }
    if data.len() > MAX_SIGNAL_DATA_BYTES {
        return Err(ProtocolError::new(
            ErrorCode::LimitExceeded,
            format!(
                "signal data is {} bytes; the limit is {MAX_SIGNAL_DATA_BYTES}",
                data.len()
            ),
        ));
    }
    Ok(())
}

/// camera, screen or custom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoType {
    #[default]
    Camera,
    Screen,
    Custom,
}

/// Width and height in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoDimensions {
    pub width: u32,
    pub height: u32,
}

/// A client's presence in a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub connection_id: String,
    /// Milliseconds since the Unix epoch.
    pub creation_time: i64,
    /// The connection data from the client's token ("" if none).
    pub data: String,
}

/// A published stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stream {
    pub stream_id: String,
    pub connection: Connection,
    pub name: String,
    pub has_audio: bool,
    pub has_video: bool,
    pub video_type: VideoType,
    pub video_dimensions: Option<VideoDimensions>,
    /// Milliseconds since the Unix epoch.
    pub creation_time: i64,
}

/// A STUN or TURN server, as WebRTC's `RTCIceServer`: its URLs, and for TURN the user name
/// and password. `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl std::fmt::Debug for IceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServer")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .field(
                "credential",
                &self.credential.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What the holder of a role may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    pub publish: bool,
    pub subscribe: bool,
    pub signal: bool,
    pub force_disconnect: bool,
    pub force_unpublish: bool,
    pub force_mute: bool,
}

impl From<Role> for Capabilities {
    fn from(role: Role) -> Self {
        Capabilities {
            publish: role.can_publish(),
            subscribe: role.can_subscribe(),
            signal: role.can_signal(),
            force_disconnect: role.can_moderate(),
            force_unpublish: role.can_moderate(),
            force_mute: role.can_moderate(),
        }
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConnectionReason {
    ClientDisconnected,
    ForceDisconnected,
    NetworkDisconnected,
}

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StreamReason {
    ClientDisconnected,
    ForceDisconnected,
    ForceUnpublished,
    MediaStopped,
    NetworkDisconnected,
}

impl From<ConnectionReason> for StreamReason {
    fn from(r: ConnectionReason) -> Self {
        match r {
            ConnectionReason::ClientDisconnected => StreamReason::ClientDisconnected,
            ConnectionReason::ForceDisconnected => StreamReason::ForceDisconnected,
            ConnectionReason::NetworkDisconnected => StreamReason::NetworkDisconnected,
        }
    }
}

/// A step of a subscription's audio-only fallback (`videoQuality`): OpenTok.js's
/// `videoDisableWarning`, `videoDisableWarningLifted`, `videoDisabled` and `videoEnabled`
/// (the last two with reason `quality`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum VideoQualityState {
    /// Even the stream's lowest video layer does not fit the subscriber's downlink: video
    /// may soon be turned off.
    Warning,
    /// The warning is over before video was turned off.
    WarningLifted,
    /// Video is off for this subscription (audio goes on) until the downlink recovers.
    Disabled,
    /// Video is back, on the lowest layer.
    Enabled,
}

/// A message from the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMessage {
    /// The answer to `connect`: who you are and who is here.
    #[serde(rename_all = "camelCase")]
    Connected {
        version: u32,
        session_id: String,
        connection: Connection,
        role: Role,
        capabilities: Capabilities,
        /// The other connections, oldest first.
        connections: Vec<Connection>,
        /// The streams being published, oldest first.
        streams: Vec<Stream>,
        /// How often the server would like `stats` reports, in milliseconds (the
        /// server's quality interval); 0: it wants none.
        #[serde(default)]
        stats_interval: u32,
        /// STUN and TURN servers for this connection's peer connections (an
        /// `RTCConfiguration.iceServers` list), TURN credentials minted for this connection;
        /// absent when the server has none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
        /// The session is relayed (`p2p.preference=enabled`): media goes directly between
        /// clients (`p2pSignal`), never through the media router. Absent: routed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        relayed: bool,
        /// For a client that asked (`connect.reconnect`): how to resume this connection
        /// after a network failure.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<ResumeGrant>,
    },
    /// Reply to `resume`: the connection is the client's again. `heard` is how many
    /// messages the server had from the client on it (after `connect`): the client sends
    /// the rest again. The messages the client missed follow.
    #[serde(rename_all = "camelCase")]
    Resumed {
        connection_id: String,
        heard: u64,
    },
    /// Reply to `restartIce`: the SDP answer, with the router's new ICE credentials.
    #[serde(rename_all = "camelCase")]
    IceRestarted {
        id: Option<String>,
        sdp: String,
    },
    #[serde(rename_all = "camelCase")]
    ConnectionCreated {
        connection: Connection,
    },
    #[serde(rename_all = "camelCase")]
    ConnectionDestroyed {
        connection: Connection,
        reason: ConnectionReason,
        /// A Rooms participant's finer reason, when the server removed it: `kicked`,
        /// `session_terminated` or `token_expired`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    StreamCreated {
        stream: Stream,
    },
    #[serde(rename_all = "camelCase")]
    StreamDestroyed {
        stream: Stream,
        reason: StreamReason,
    },
    #[serde(rename_all = "camelCase")]
    StreamPropertyChanged {
        stream: Stream,
        changed_property: String,
        old_value: serde_json::Value,
        new_value: serde_json::Value,
    },
    /// A signal; `from` is absent when the app server sent it through the REST API.
    #[serde(rename_all = "camelCase")]
    Signal {
        signal_type: String,
        data: String,
        from: Option<Connection>,
    },
    /// The session is being recorded: an archive started (also sent, right after
    /// `connected`, to a client joining while an archive runs).
    #[serde(rename_all = "camelCase")]
    ArchiveStarted {
        id: String,
        name: Option<String>,
    },
    /// An archive of the session stopped.
    #[serde(rename_all = "camelCase")]
    ArchiveStopped {
        id: String,
        name: Option<String>,
    },
    /// A moderator muted this client's stream: the client should stop sending audio.
    #[serde(rename_all = "camelCase")]
    MuteForced {
        stream_id: String,
    },
    /// Rooms: the app server censored a stream's audio (`actions/mute`: `censored` true;
    /// its owner also gets `muteForced`, everyone `streamPropertyChanged` hasAudio false,
    /// and the owner cannot turn it on) or lifted that (`actions/unmute`: false; the
    /// owner may turn its audio on again). Sent to every connection of the session.
    #[serde(rename_all = "camelCase")]
    AudioCensored {
        stream_id: String,
        censored: bool,
    },
    /// Who is speaking, from the router's reading of each stream's audio level (RFC 6464):
    /// the streams speaking now and the dominant speaker (the one speaking most and
    /// loudest; it keeps the place while nobody else speaks, `null` once it is gone). Sent
    /// to every connection of a routed session when either changes, and to a joiner when
    /// anyone speaks.
    #[serde(rename_all = "camelCase")]
    Speakers {
        speaking: Vec<String>,
        dominant: Option<String>,
    },
    /// The simulcast layers a publisher's stream needs to send: its lowest `layers` (the
    /// highest any subscriber may take; all while the stream is recorded). It may pause
    /// the others until told otherwise; sent for streams published with more than one
    /// layer, when the number changes.
    #[serde(rename_all = "camelCase")]
    LayersNeeded {
        stream_id: String,
        layers: u8,
    },
    /// Reply to `publish`: the SDP answer. `streamCreated` follows once media flows.
    #[serde(rename_all = "camelCase")]
    Published {
        id: Option<String>,
        stream_id: String,
        sdp: String,
    },
    /// Reply to `subscribe`: the SDP answer.
    #[serde(rename_all = "camelCase")]
    Subscribed {
        id: Option<String>,
        subscription_id: String,
        sdp: String,
    },
    /// The subscription's media connection is up.
    #[serde(rename_all = "camelCase")]
    SubscriptionConnected {
        subscription_id: String,
    },
    /// A subscription's quality score for one kind of media over the last quality window
    /// (every `--quality-interval` while media flows): 1 (bad) to 5 (excellent), the worse
    /// of the publisher's side and the subscriber's, as the Inspector scores them. The web
    /// SDK turns changes into OpenTok.js's `qualityScoreChanged`.
    #[serde(rename_all = "camelCase")]
    QualityScore {
        subscription_id: String,
        /// `audio` or `video`.
        media: String,
        score: u8,
    },
    /// A step of a subscription's audio-only fallback, as the router estimates the
    /// subscriber's downlink: `warning`, then `warningLifted` or `disabled` (video off,
    /// audio on), and after `disabled`, `enabled`. Sent only for subscriptions whose client
    /// sends transport-wide congestion control feedback. The web SDK turns it into
    /// OpenTok.js's `videoDisableWarning`, `videoDisableWarningLifted`, `videoDisabled`
    /// and `videoEnabled` (reason `quality`).
    #[serde(rename_all = "camelCase")]
    VideoQuality {
        subscription_id: String,
        state: VideoQualityState,
    },
    /// A subscription ended without the client asking (its stream went away).
    #[serde(rename_all = "camelCase")]
    SubscriptionEnded {
        subscription_id: String,
        stream_id: String,
    },
    /// Relayed sessions: a `p2pSignal` from the connection `from`, about one of its
    /// streams or subscriptions (see [`ClientMessage::P2pSignal`]).
    #[serde(rename_all = "camelCase")]
    P2pSignal {
        from: String,
        stream_id: String,
        subscription_id: String,
        kind: P2pKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        candidate: Option<P2pCandidate>,
    },
    /// Reply to any other request that succeeded.
    Ok {
        id: Option<String>,
    },
    /// A request failed, or (without `id`) the connection is refused or ending.
    #[serde(rename_all = "camelCase")]
    Error {
        id: Option<String>,
        code: ErrorCode,
        /// For `authFailed`: the token refusal reason (`expired`, `bad_signature`, …); for
        /// `limitExceeded`: which limit (`rate_limited`, `session_full`, `stream_limit`,
        /// `subscription_limit`), absent for size limits.
        reason: Option<String>,
        message: String,
    },
    /// This client's session ended (it is about to be closed).
    #[serde(rename_all = "camelCase")]
    Disconnected {
        reason: ConnectionReason,
        /// As `connectionDestroyed`'s `detail`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    Pong {
        id: Option<String>,
    },
}

/// Error codes of the `error` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorCode {
    /// The message is not valid JSON or not a known message.
    BadRequest,
    /// The token was refused; `reason` says why.
    AuthFailed,
    /// A request came before `connect` (a second `connect` is a `badRequest`).
    NotConnected,
    /// The role does not allow it.
    PermissionDenied,
    /// No such stream, connection or subscription.
    NotFound,
    /// A size or count limit.
    LimitExceeded,
    /// The SDP could not be negotiated.
    MediaError,
    /// The server failed.
    Internal,
}

/// An error to report to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProtocolError {
    pub code: ErrorCode,
    /// A machine-readable detail for some codes (`limitExceeded`: `rate_limited`,
    /// `session_full`, `stream_limit`, `subscription_limit`).
    pub reason: Option<&'static str>,
    pub message: String,
}

impl ProtocolError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ProtocolError {
            code,
            reason: None,
            message: message.into(),
        }
    }

    /// The same error with a `reason`.
    pub fn with_reason(self, reason: &'static str) -> Self {
        ProtocolError {
            reason: Some(reason),
            ..self
        }
    }

    /// The `error` message for this error, replying to `id`.
    pub fn to_message(&self, id: Option<&str>) -> ServerMessage {
        ServerMessage::Error {
            id: id.map(str::to_owned),
            code: self.code,
            reason: self.reason.map(str::to_owned),
            message: self.message.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
